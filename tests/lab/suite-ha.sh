#!/bin/bash
# suite-ha.sh: a gateway pair with conntrackd (issue 17, doc/ha.md). FTP
# pinholes and sessions survive a failover from gateway A to gateway B and
# a failback to A, with the kernel's nf_conntrack_ftp (the kernel column: it
# tests the lab itself) and with ftpgated (the ftpgated column), in one boot.
#
# Topology, one guest, network namespaces:
#
#   client 198.51.100.2/.3 2001:db8:1::2/::3          server 203.0.113.2 2001:db8:2::2
#      |                                                  |
#   [switch: bridge brc, client LAN]     [switch: bridge brs, server LAN]
#      |            |                         |            |
#   gwa lan0     gwb lan0                  gwa lan1     gwb lan1
#   .11 ::11     .12 ::12                  .11 ::11     .12 ::12
#      gwa ftpsync 192.0.2.1 ---------- 192.0.2.2 ftpsync gwb  (conntrackd)
#
# The floating gateway addresses are the lab's usual ones (198.51.100.1,
# 2001:db8:1::1 | 203.0.113.1, 2001:db8:2::1): client and server route via
# them as in lib.sh. keepalived moves them, with etc/ha/keepalived.conf as
# shipped (only @PRIORITY@ filled in: 100 on A, 90 on B), and starts
# etc/ha/ftpgate-failover, installed as /usr/local/sbin/ftpgate-failover,
# from its notify hooks, exactly as doc/ha.md deploys them. A failure is a
# gateway's LAN links going down: its keepalived goes to FAULT (notify_fault),
# the other's stops hearing advertisements and becomes MASTER
# (notify_master: commit the peer's state), adds the addresses and
# announces them (gratuitous ARP, unsolicited NA). Each check waits, with a
# bound, for the state keepalived reports in its log and for what the
# failover script put in the kernel; nothing depends on a fixed delay.
#
# conntrackd runs in gwa and gwb in FTFW mode over the ftpsync veth, with
# etc/ha/conntrackd.conf as shipped except for the lines doc/ha.md lists
# (the two sync addresses, and, because both run in one guest, their log,
# lock and socket paths; for the kernel column the helper "ftp" instead of
# "ftpgate" in ExpectationSync). Both gateways keep
# nf_conntrack_tcp_loose=0: a packet reaching B before its conntrack is
# committed is INVALID and dropped by the default-drop forward chain.
#
# Lab limitation: conntrack helpers are global to the kernel, not per
# network namespace (kernel-facts 10). The two ftpgated (in gwa and gwb)
# therefore share ONE "ftpgate" helper registration: both register it
# (create-or-update, the same queue number and configuration), and neither
# is stopped before the end of the suite (a stopped ftpgated disables the
# helper for both). Each reads its own NFQUEUE (queues are per netns).
#
# Scenarios, IPv4 (PASV) and IPv6 (EPSV), two control connections per
# family, in both columns: a pinhole announced through A is used through B
# after the failover (ftpgated: adopted on B: ftpgatectl pinholes and the
# audit log's pinhole-adopted); refusals through B (the announced port + 1,
# another client address to the announced port, the used pinhole a second
# time: each times out and B's kernel holds no expectation for it); the
# session continues on B (a NOOP, then a new PASV/EPSV through B gets a
# pinhole, used: ftpgated does not act on the first line of each direction
# it picks up, so a PASV that is the very first command after a failover
# gets no pinhole from ftpgated, where the kernel helper's sequence pickup
# acts on it; doc/ha.md);
# then a pinhole announced through B on a second control connection is used
# through A after the failback, and that session continues on A. Active
# mode (ftpgated: active-mode = on, the clients in ftpgate's sets; the
# kernel column: the clients' high ports closed to anything not expected):
# a PORT/EPRT answered through A, failover, B holds the pinhole (ftpgated:
# adopted), the server to the client's next port is dropped, and the
# server's data connection for a LIST sent through B arrives.
#
# Every check reads only what happened after its own mark (the audit log
# from a line count, the kernel tables at that moment), identifies its own
# objects (the ports the server announced) and waits with a bound.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/ha
rm -rf "$W"; mkdir -p "$W"
HA_CONF=$FTPGATE_REPO/etc/ha/conntrackd.conf
# FTPGATE_HA_FAILOVER: another failover script (only to show that the
# checks fail without the shipped one's steps, e.g. without "-c expect")
HA_FAILOVER=${FTPGATE_HA_FAILOVER:-$FTPGATE_REPO/etc/ha/ftpgate-failover}
KA_CONF=$FTPGATE_REPO/etc/ha/keepalived.conf
# the floating addresses etc/ha/keepalived.conf moves
VIPS=(198.51.100.1/24 2001:db8:1::1/64 203.0.113.1/24 2001:db8:2::1/64)
CLIENT6_OTHER=2001:db8:1::3
declare -A SYNC=([a]=192.0.2.1 [b]=192.0.2.2) PEER=([a]=b [b]=a) OWN=([a]=11 [b]=12) PRIO=([a]=100 [b]=90)
declare -A CTD_PID=() KA_PID=() GW_PID=() RESULT=()
ORDER=()
COL=
PRIMARY=

finish() {
	local n
	for n in a b; do use_gw "$n"; [ -n "$FTPGATE_PID" ] && ftpgate_stop 3; done
	for n in a b; do ka_stop "$n"; ctd_stop "$n"; done
	rm -rf /etc/netns/gwa /etc/netns/gwb /usr/local/sbin/ftpgate-failover /usr/local/bin/ftpgatectl
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		for n in a b; do
			echo "--- ftpgated in gw$n (last 25 lines):"; tail -n 25 "$W/ftpgated-$n.log" 2>/dev/null | sed 's/^/  /'
			echo "--- conntrackd in gw$n (last 10 lines):"; tail -n 10 "$W/conntrackd-$n.log" 2>/dev/null | sed 's/^/  /'
			echo "--- keepalived in gw$n (states):"; grep -E 'Entering|rror|SECURITY' "$W/keepalived-$n.log" 2>/dev/null | tail -n 10 | sed 's/^/  /'
		done
	fi
	echo "--- gateway pair: kernel helper (nf_conntrack_ftp) and ftpgated, conntrackd FTFW, same boot ($(uname -r))"
	printf '  %-74s | %-8s | %s\n' scenario kernel ftpgated
	for n in "${ORDER[@]}"; do
		printf '  %-74s | %-8s | %s\n' "$n" "${RESULT[$n|kernel]:--}" "${RESULT[$n|ftpgated]:--}"
	done
	for n in client server gwa gwb switch; do ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null; done
	for n in client server gwa gwb switch; do ip netns del "$n" 2>/dev/null; done
	lab_summary "lab ha"
	exit
}
trap finish INT TERM

# use_gw a|b: ftpgate.sh's functions act on that gateway's daemon
use_gw() {
	[ -n "${GW:-}" ] && GW_PID[$GW]=$FTPGATE_PID
	GW=$1
	FTPGATE_NS=gw$1 FTPGATE_LOG=$W/ftpgated-$1.log FTPGATE_CONF=$W/ftpgate-$1.conf
	FTPGATE_PID=${GW_PID[$1]:-}
}

# check NAME COMMAND...: one check of the current column, "COL: NAME"
check() {
	local name=$1 before=$lab_failed; shift
	[ -n "${RESULT[$name|kernel]:-}${RESULT[$name|ftpgated]:-}" ] || ORDER+=("$name")
	ftpgate_check "$COL: $name" "$@"
	if [ "$lab_failed" = "$before" ]; then RESULT[$name|$COL]=pass; else RESULT[$name|$COL]=FAIL; fi
}

# --- topology -------------------------------------------------------------

# port NS IF BRIDGE: a veth from NS (named IF) to a port of BRIDGE
port() {
	ip link add "$2" netns "$1" type veth peer name "sw-$1-$2" netns switch &&
	ip -n switch link set "sw-$1-$2" master "$3" up && ip -n "$1" link set "$2" up
}

# own_addresses N: gateway N's own (not floating) LAN addresses
own_addresses() {
	local o=${OWN[$1]}
	ip -n "gw$1" addr replace "198.51.100.$o/24" dev lan0 &&
	ip -n "gw$1" addr replace "2001:db8:1::$o/64" dev lan0 nodad &&
	ip -n "gw$1" addr replace "203.0.113.$o/24" dev lan1 &&
	ip -n "gw$1" addr replace "2001:db8:2::$o/64" dev lan1 nodad
}

# vips_del N: the floating gateway addresses off gateway N (the lab's
# reset; keepalived adds and removes them otherwise)
vips_del() {
	local a
	for a in "${VIPS[@]}"; do
		ip -n "gw$1" addr del "$a" dev lan0 2>/dev/null || ip -n "gw$1" addr del "$a" dev lan1 2>/dev/null
	done
	return 0
}

topology_up() {
	local ns n
	for ns in client server gwa gwb switch; do
		ip netns add "$ns" && ip -n "$ns" link set lo up || return 1
	done
	for n in a b; do
		lab_ns "gw$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1 || return 1
	done
	ip -n switch link add brc type bridge mcast_snooping 0 &&
	ip -n switch link add brs type bridge mcast_snooping 0 &&
	ip -n switch link set brc up && ip -n switch link set brs up || return 1
	port client c0 brc && port server s0 brs || return 1
	for n in a b; do port "gw$n" lan0 brc && port "gw$n" lan1 brs && own_addresses "$n" || return 1; done
	ip link add ftpsync netns gwa type veth peer name ftpsync-b netns gwb &&
	ip -n gwb link set ftpsync-b name ftpsync &&
	ip -n gwa addr add 192.0.2.1/24 dev ftpsync && ip -n gwb addr add 192.0.2.2/24 dev ftpsync &&
	ip -n gwa link set ftpsync up && ip -n gwb link set ftpsync up || return 1
	ip -n client addr add "$LAB_CLIENT4/24" dev c0 && ip -n client addr add "$LAB_CLIENT4_OTHER/24" dev c0 &&
	ip -n client addr add "$LAB_CLIENT6/64" dev c0 nodad && ip -n client addr add "$CLIENT6_OTHER/64" dev c0 nodad &&
	ip -n server addr add "$LAB_SERVER4/24" dev s0 && ip -n server addr add "$LAB_SERVER6/64" dev s0 nodad || return 1
	ip -n client route add default via 198.51.100.1 && ip -n client -6 route add default via 2001:db8:1::1 &&
	ip -n server route add default via 203.0.113.1 && ip -n server -6 route add default via 2001:db8:2::1 || return 1
	# conntrack must see the data connections the rules and checks look
	# at; a packet B has no conntrack for is INVALID, not picked up
	for n in a b; do lab_ns "gw$n" sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 || return 1; done
}

# reachable: client -> server over both families through the floating
# addresses (whichever gateway holds them)
reachable() {
	lab_reachable "$LAB_SERVER4" || { echo "IPv4 path client->server broken"; return 1; }
	lab_reachable "$LAB_SERVER6" || { echo "IPv6 path client->server broken"; return 1; }
}

# --- conntrackd ------------------------------------------------------------

# ctd_conf N HELPER: etc/ha/conntrackd.conf for gateway N, with only the
# substitutions doc/ha.md lists; prints the differences
ctd_conf() {
	local n=$1 helper=$2
	sed -e "/^[[:space:]]*#/!s/@LOCAL_SYNC_ADDRESS@/${SYNC[$n]}/" -e "/^[[:space:]]*#/!s/@PEER_SYNC_ADDRESS@/${SYNC[${PEER[$n]}]}/" \
		-e "s|^\([[:space:]]*LogFile\) .*|\1 $W/conntrackd-$n.log|" \
		-e "s|^\([[:space:]]*LockFile\) .*|\1 $W/conntrackd-$n.lock|" \
		-e "s|^\([[:space:]]*Path\) .*|\1 $W/conntrackd-$n.ctl|" \
		-e "/ExpectationSync {/,/}/ s/^\([[:space:]]*\)ftpgate\$/\1$helper/" \
		"$HA_CONF" > "$W/conntrackd-$n.conf" &&
	mkdir -p "/etc/netns/gw$n/conntrackd" && cp "$W/conntrackd-$n.conf" "/etc/netns/gw$n/conntrackd/conntrackd.conf" || return 1
	diff "$HA_CONF" "$W/conntrackd-$n.conf" | grep '^>' | sed "s/^/  gw$n conntrackd.conf: /"
}

# ctd N ARGS...: conntrackd's client against gateway N's daemon (20 s at
# most: a daemon that does not answer must not hang the suite)
ctd() { local n=$1; shift; lab_ns "gw$n" timeout 20 conntrackd -C "$W/conntrackd-$n.conf" "$@"; }

# ctd_start N: conntrackd in gateway N, up when it answers on its socket
ctd_start() {
	local n=$1 i
	rm -f "$W/conntrackd-$n.lock" "$W/conntrackd-$n.ctl"
	# ip netns exec execs conntrackd: $! is its pid
	ip netns exec "gw$n" conntrackd -C "$W/conntrackd-$n.conf" >> "$W/conntrackd-$n.out" 2>&1 &
	CTD_PID[$n]=$!
	for i in $(seq 50); do
		ctd "$n" -s > /dev/null 2>&1 && return 0
		[ -d "/proc/${CTD_PID[$n]}" ] || break
		sleep 0.1
	done
	echo "conntrackd in gw$n did not answer within 5 s: $(tail -n 3 "$W/conntrackd-$n.out" "$W/conntrackd-$n.log" 2>/dev/null | tr '\n' ' ')"
	return 1
}

ctd_stop() {
	local n=$1 i pid=${CTD_PID[$1]:-}
	[ -n "$pid" ] || return 0
	ctd "$n" -k > /dev/null 2>&1
	for i in $(seq 30); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	CTD_PID[$n]=
}

# --- keepalived -------------------------------------------------------------

# ka_conf N: etc/ha/keepalived.conf for gateway N, with only the
# substitution doc/ha.md names (the priority); prints it
ka_conf() {
	mkdir -p "/etc/netns/gw$1/keepalived" &&
	sed "/^[[:space:]]*#/!s/@PRIORITY@/${PRIO[$1]}/" "$KA_CONF" > "/etc/netns/gw$1/keepalived/keepalived.conf" || return 1
	diff "$KA_CONF" "/etc/netns/gw$1/keepalived/keepalived.conf" | grep '^>' | sed "s/^/  gw$1 keepalived.conf: /"
}

# ka_start N: keepalived (VRRP only) in gateway N; it reads
# /etc/keepalived/keepalived.conf, which is gateway N's (node_etc)
ka_start() {
	ip netns exec "gw$1" keepalived --vrrp --dont-fork --log-console --log-detail \
		--pid "$W/keepalived-$1.pid" --vrrp_pid "$W/keepalived-$1-vrrp.pid" >> "$W/keepalived-$1.log" 2>&1 &
	KA_PID[$1]=$!
}

ka_stop() {
	local pid=${KA_PID[$1]:-} i
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	for i in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	KA_PID[$1]=
}

ka_mark() { if [ -f "$W/keepalived-$1.log" ]; then wc -l < "$W/keepalived-$1.log"; else echo 0; fi; }

# ka_entered N MARK STATE: since line MARK, keepalived in gateway N logged
# both instances entering STATE (MASTER, BACKUP, FAULT)
ka_entered_once() {
	local t
	t=$(tail -n +"$(($2 + 1))" "$W/keepalived-$1.log")
	grep -q "(client_side) Entering $3 STATE" <<< "$t" && grep -q "(server_side) Entering $3 STATE" <<< "$t"
}
ka_entered() {
	within 20 ka_entered_once "$@" && return 0
	echo "keepalived in gw$1: both instances did not enter $3 within 20 s: $(tail -n +"$(($2 + 1))" "$W/keepalived-$1.log" | grep -E 'Entering|Sync|error|rror' | tail -n 4 | tr '\n' ' ')"
	return 1
}

# vips_on N: gateway N holds the four floating addresses
vips_on() {
	local a out
	out=$(ip -n "gw$1" addr show)
	for a in "${VIPS[@]}"; do
		grep -qF " $a " <<< "$out" || { echo "gw$1 lacks floating address $a"; return 1; }
	done
}

# fail N: gateway N fails (its LAN links go down); keepalived on the other
# sees no advertisements, becomes master (notify_master: ftpgate-failover
# primary) and takes the floating addresses, announcing them with
# gratuitous ARP and unsolicited neighbour advertisements; gateway N's
# keepalived goes to FAULT (notify_fault: ftpgate-failover fault)
fail() {
	local n=$1 o=${PEER[$1]} mo mn
	mo=$(ka_mark "$o"); mn=$(ka_mark "$n")
	ip -n "gw$n" link set lan0 down; ip -n "gw$n" link set lan1 down
	ka_entered "$n" "$mn" FAULT || return 1
	ka_entered "$o" "$mo" MASTER || return 1
	within 10 vips_on "$o" || return 1
	PRIMARY=$o
	echo "gw$n: FAULT; gw$o: MASTER with the floating addresses"
}

# recover N: gateway N's LAN links come back; its keepalived leaves FAULT
# for BACKUP (notify_backup: ftpgate-failover backup) and, nopreempt, does
# not take over
recover() {
	local m
	m=$(ka_mark "$1")
	ip -n "gw$1" link set lan0 up && ip -n "gw$1" link set lan1 up && own_addresses "$1" || return 1
	ka_entered "$1" "$m" BACKUP || return 1
	echo "gw$1: BACKUP"
}

# --- probes and the kernel's tables ---------------------------------------

# connect_from SRC DST PORT [TIMEOUT]: from the client namespace, source
# address SRC: connected | refused | timeout
connect_from() { connect_in client "$@"; }
# connect_in NS SRC DST PORT [TIMEOUT]: the same from namespace NS
connect_in() {
	local ns=$1; shift
	lab_ns "$ns" "$LAB_PYTHON" -c '
import socket, sys
src, dst, port, t = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
s.settimeout(t)
try:
    s.bind((src, 0)); s.connect((dst, port)); print("connected")
except ConnectionRefusedError: print("refused")
except (socket.timeout, TimeoutError): print("timeout")
except OSError as e: print("error", e)
' "$1" "$2" "$3" "${4:-3}"
}

# expects N SERVER PORT [SRC]: gateway N's expectations to SERVER:PORT
# (and from SRC), read from the tuple (not the mask or master)
expects() {
	lab_expectations "gw$1" | awk -v d="dst=$2" -v p="dport=$3" -v s="${4:+src=$4}" '{
		hd = hp = hs = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^mask-/) break
			if ($i == d) hd = 1; if ($i == p) hp = 1; if (s == "" || $i == s) hs = 1
		}
		if (hd && hp && hs) print
	}'
}

# within SECONDS COMMAND...: until COMMAND succeeds, SECONDS of wall time at
# most (a poll that itself takes long on a loaded guest does not stretch
# the bound); prints COMMAND's last output
within() {
	local end=$((SECONDS + $1)) out; shift
	while :; do
		out=$("$@" 2>&1) && { echo "$out"; return 0; }
		[ "$SECONDS" -lt "$end" ] || break
		sleep 0.2
	done
	echo "$out"
	return 1
}

# fam_vars 4|6: SRV CLI OTHER for the family
fam_vars() {
	if [ "$1" = 4 ]; then SRV=$LAB_SERVER4 CLI=$LAB_CLIENT4 OTHER=$LAB_CLIENT4_OTHER
	else SRV=$LAB_SERVER6 CLI=$LAB_CLIENT6 OTHER=$CLIENT6_OTHER; fi
}

# ends F STEP: SRV CLI OTHER for family F, and the pinhole's two ends: DST
# (where the data connection goes) and FROM (where it comes from). Steps
# p1..p4 are passive (the client connects to the server), a1 active (the
# server connects to the client's PORT/EPRT).
ends() {
	fam_vars "$1"
	case $2 in a*) DST=$CLI FROM=$SRV ;; *) DST=$SRV FROM=$CLI ;; esac
}

# portof F STEP: the port the server announced at STEP (fails when none)
portof() {
	local p
	p=$(ftpgate_announced_port "$W/$COL-$1-$2" 2>/dev/null)
	[ -n "$p" ] || { echo "no port announced at $2 (IPv$1)" >&2; return 1; }
	echo "$p"
}

# announced F STEP TAG: the probe TAG of family F saved the port of STEP
# (60 s)
announced() {
	ftpgate_wait_file "$W/$COL-$1-$2" 60 || { echo "probe: $(tail -n 3 "$W/$COL-$1-$3.out" | tr '\n' ' ')"; return 1; }
	echo "announced: $(cat "$W/$COL-$1-$2")"
}

# synced N F STEP: gateway N's conntrackd holds, in its external cache,
# the expectation of STEP (30 s)
synced_one() { ctd "$1" -e expect 2>/dev/null | grep -F "dst=$3 " | grep -qF "dport=$4 "; }
synced() {
	local p; ends "$2" "$3"; p=$(portof "$2" "$3") || return 1
	within 30 synced_one "$1" "$2" "$DST" "$p" > /dev/null && { echo "gw$1 holds the pinhole to $DST:$p in its external cache"; return 0; }
	echo "gw$1's conntrackd has no expectation to $DST port $p in its external cache within 30 s: $(ctd "$1" -e expect 2>&1 | head -n 5 | tr '\n' ' ')"
	return 1
}

# committed N F STEP: after the failover, gateway N's kernel holds the
# pinhole of STEP (ftpgate-failover primary, which keepalived started,
# put it there with conntrackd -c expect: 20 s)
committed() { within 20 committed_once "$@"; }
committed_once() {
	local p e; ends "$2" "$3"; p=$(portof "$2" "$3") || return 1
	e=$(expects "$1" "$DST" "$p" "$FROM")
	[ -n "$e" ] || { echo "gw$1's kernel has no expectation $FROM -> $DST:$p: $(lab_expectations "gw$1" | head -n 4 | tr '\n' ' ')"; return 1; }
	echo "gw$1: $e"
}

# data_ok F STEP: the client's data connection to the port of STEP gets
# through (whichever gateway holds the floating addresses)
data_ok() {
	local p r; fam_vars "$1"; p=$(portof "$1" "$2") || return 1
	r=$(connect_from "$CLI" "$SRV" "$p" 10)
	[ "$r" = connected ] || { echo "data connection $CLI -> $SRV:$p: $r, want connected"; return 1; }
	echo "data connection $CLI -> $SRV:$p connected"
}

# refused_conn N SRC DST PORT [EXPSRC]: the connection times out (dropped)
# and gateway N holds no expectation to DST:PORT (from EXPSRC, when given)
refused_conn() {
	local n=$1 src=$2 dst=$3 p=$4 r e
	r=$(connect_from "$src" "$dst" "$p" 2)
	[ "$r" = timeout ] || { echo "$src -> $dst:$p: $r, want timeout (dropped)"; return 1; }
	e=$(expects "$n" "$dst" "$p" "${5:-}")
	[ -z "$e" ] || { echo "gw$n holds an expectation for it: $e"; return 1; }
	echo "$src -> $dst:$p dropped, gw$n expects nothing for it"
}

# the announced port + 1, or - 1 for the range's last port: a port of the
# server's passive range that nothing announced (40100 is outside the
# range, where the server's RST answers: a trixie run announced 40099)
ref_plus_one() {
	local p; fam_vars "$2"; p=$(portof "$2" "$3") || return 1
	[ "$p" -lt "$LAB_PASV_HIGH" ] && p=$((p + 1)) || p=$((p - 1))
	refused_conn "$1" "$CLI" "$SRV" "$p"
}
ref_other() { local p; fam_vars "$2"; p=$(portof "$2" "$3") || return 1; refused_conn "$1" "$OTHER" "$SRV" "$p" "$OTHER"; }
ref_reuse() { local p; fam_vars "$2"; p=$(portof "$2" "$3") || return 1; refused_conn "$1" "$CLI" "$SRV" "$p"; }

# adopted N F STEP MARK: within 10 s, ftpgated in gateway N lists the
# pinhole of STEP as adopted (ftpgatectl pinholes --json) and its audit log
# has a pinhole-adopted line for it after line MARK (the daemon learns of
# a committed expectation from the kernel's event: asynchronous)
adopted() { within 10 adopted_once "$@"; }
adopted_once() {
	local n=$1 p; ends "$2" "$3"; p=$(portof "$2" "$3") || return 1
	"$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$W/ftpgated-$n.sock" pinholes --json > "$W/pinholes-$n.json" 2>&1
	tail -n +"$(($4 + 1))" "$W/audit-$n.log" 2>/dev/null | grep '"event":"pinhole-adopted"' > "$W/adopted-$n.json"
	"$LAB_PYTHON" - "$W/pinholes-$n.json" "$W/adopted-$n.json" "$DST" "$p" "gw$n" <<'PY'
import json, sys
ctl, audit, dst, port, gw = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
text = open(ctl).read()
try:
    rows = json.loads(text)["pinholes"]
except (ValueError, KeyError, TypeError):
    sys.exit("%s: ftpgatectl pinholes --json: %r" % (gw, text[:300]))
mine = [r for r in rows if r.get("destination") == dst and r.get("port") == port]
if len(mine) != 1 or mine[0].get("adopted") is not True:
    sys.exit("%s: ftpgatectl pinholes --json: want one pinhole to %s:%d with adopted true, got %r" % (gw, dst, port, mine or text[:300]))
lines = [json.loads(l) for l in open(audit) if l.strip()]
mine = [o for o in lines if o.get("destination") == dst and o.get("port") == port]
if len(mine) != 1:
    sys.exit("%s: audit log: want one pinhole-adopted line for %s:%d since the mark, got %d" % (gw, dst, port, len(mine)))
print("%s: %s:%d adopted (ftpgatectl and audit)" % (gw, dst, port))
PY
}

audit_mark() { if [ -f "$W/audit-$1.log" ]; then wc -l < "$W/audit-$1.log"; else echo 0; fi; }

# role_pair P B: gateway P's ftpgated is primary, B's backup
role_pair() { role_is "$1" primary && role_is "$2" backup; }

# role_is N ROLE: ftpgated in gateway N says it is ROLE (ftpgatectl role,
# set by ftpgate-failover from keepalived's hooks; 10 s)
role_is_once() {
	"$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$W/ftpgated-$1.sock" role --json 2>&1 | grep -q "\"role\":\"$2\""
}
role_is() {
	within 10 role_is_once "$@" > /dev/null && { echo "gw$1: ftpgated role $2"; return 0; }
	echo "gw$1: ftpgatectl role: $("$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$W/ftpgated-$1.sock" role --json 2>&1), want $2"
	return 1
}

# handed_over N MARK SESSIONS F:STEP...: the old primary N's kernel table
# was flushed (ftpgate-failover fault: conntrackd -t, PurgeTimeout 5 s
# later); since line MARK its audit log has at least SESSIONS session-ended
# lines, every one "handed-over", and a pinhole-removed "handed-over" for
# the pinhole of each F:STEP (30 s): the pair's two logs count nothing
# twice
handed_over() { within 30 handed_over_once "$@"; }
handed_over_once() {
	local n=$1 mark=$2 want=$3 fs p wants=(); shift 3
	for fs in "$@"; do
		ends "${fs%%:*}" "${fs#*:}"; p=$(portof "${fs%%:*}" "${fs#*:}") || return 1
		wants+=("$DST" "$p")
	done
	tail -n +"$((mark + 1))" "$W/audit-$n.log" 2>/dev/null > "$W/handover-$n.json"
	"$LAB_PYTHON" - "$W/handover-$n.json" "gw$n" "$want" "${wants[@]}" <<'PY'
import json, sys
path, gw, want, rest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
lines = [json.loads(l) for l in open(path) if l.strip()]
ended = [o.get("reason") for o in lines if o.get("event") == "session-ended"]
if len(ended) < want or set(ended) != {"handed-over"}:
    sys.exit("%s: session-ended reasons since the failover %r, want at least %d, all handed-over" % (gw, ended, want))
for dst, port in zip(rest[0::2], rest[1::2]):
    mine = [o.get("reason") for o in lines if o.get("event") == "pinhole-removed"
            and o.get("destination") == dst and o.get("port") == int(port)]
    if mine != ["handed-over"]:
        sys.exit("%s: pinhole-removed for %s:%s: %r, want one handed-over" % (gw, dst, port, mine))
print("%s: %d sessions and %d pinholes handed over, none ended" % (gw, len(ended), len(rest) // 2))
PY
}

# --- one column --------------------------------------------------------------

# start_probe F TAG FIRST LAST: a control connection of family F (its
# output in $COL-F-TAG.out), one PASV (IPv4) or EPSV (IPv6) for each step
# FIRST..LAST, each saved ("save $COL-F-pSTEP") and then waiting for the
# test's go ("go F STEP"), QUIT at the end
start_probe() {
	local f=$1 tag=$2 cmd=pasv host=$LAB_SERVER4 from=$LAB_CLIENT4 s steps=()
	[ "$f" = 6 ] && cmd=epsv host=$LAB_SERVER6 from=$LAB_CLIENT6
	for s in $(seq "$3" "$4"); do
		# a session continuing on the other gateway (p2, p4) sends NOOP
		# first: ftpgated does not act on a pickup's first line of each
		# direction (doc/protocol.md "Pickup", doc/ha.md)
		[ $((s % 2)) = 0 ] && steps+=("send NOOP" "expect 2")
		steps+=("$cmd" "save $W/$COL-$f-p$s" "wait-file $W/$COL-$f-go$s 240")
	done
	# --bind: the client has two addresses per family; the pinhole is
	# for the first, the second is "another client"
	ftpgate_probe client --bind "$from" --timeout 20 "$host" login "${steps[@]}" quit > "$W/$COL-$f-$tag.out" 2>&1 &
	PROBE_PID[$f-$tag]=$!
}

# start_active F: a control connection of family F in active mode: PORT
# (IPv4) or EPRT (IPv6) naming a port the probe listens on (saved as step
# a1), then, at the test's go, LIST: the server connects to that port
# (vsftpd connects before its 150) and the probe accepts it; QUIT
start_active() {
	local f=$1 cmd=port host=$LAB_SERVER4 from=$LAB_CLIENT4
	[ "$f" = 6 ] && cmd=eprt host=$LAB_SERVER6 from=$LAB_CLIENT6
	ftpgate_probe client --bind "$from" --timeout 20 "$host" login "$cmd" "save $W/$COL-$f-a1" \
		"wait-file $W/$COL-$f-goa1 240" "send LIST" "expect 150" "accept --expect connected --timeout 10" \
		"expect 226" quit > "$W/$COL-$f-act.out" 2>&1 &
	PROBE_PID[$f-act]=$!
}

go() { touch "$W/$COL-$1-go$2"; }

# active_used F: after its go, the active probe of family F accepted the
# server's data connection (30 s)
active_used_once() { grep -q "data connection on port $2: connected" "$W/$COL-$1-act.out"; }
active_used() {
	local p; p=$(portof "$1" a1) || return 1
	within 30 active_used_once "$1" "$p" > /dev/null && { echo "the server's data connection to port $p arrived"; return 0; }
	echo "probe: $(tail -n 3 "$W/$COL-$1-act.out" | tr '\n' ' ')"
	return 1
}

# ref_active N F: from the server, the client's announced port + 1 is
# dropped (an active pinhole admits only its own port) and gateway N holds
# no expectation for it
ref_active() {
	local p r e; ends "$2" a1; p=$(portof "$2" a1) || return 1
	p=$((p + 1))
	r=$(connect_in server "$SRV" "$CLI" "$p" 2)
	[ "$r" = timeout ] || { echo "$SRV -> $CLI:$p: $r, want timeout (dropped)"; return 1; }
	e=$(expects "$1" "$CLI" "$p")
	[ -z "$e" ] || { echo "gw$1 holds an expectation for it: $e"; return 1; }
	echo "$SRV -> $CLI:$p dropped, gw$1 expects nothing for it"
}

# column NAME: the scenarios, A primary at the start. Two control
# connections per family: the first is answered through A (p1), fails over
# to B and continues there (p2); the second starts through B (p3), fails
# back to A and continues there (p4). The pinholes in flight (p1, p3) do not
# depend on the sessions continuing.
column() {
	local f mark amark bmark
	COL=$1
	declare -gA PROBE_PID=()
	for f in 4 6; do start_probe "$f" one 1 2; start_active "$f"; done
	for f in 4 6; do check "IPv$f: PASV/EPSV through A announces a port" announced "$f" p1 one; done
	for f in 4 6; do check "IPv$f: active: PORT/EPRT through A announces a port" announced "$f" a1 act; done
	for f in 4 6; do
		check "IPv$f: B's conntrackd holds A's pinhole" synced b "$f" p1
		check "IPv$f: active: B's conntrackd holds A's pinhole" synced b "$f" a1
	done
	mark=$(audit_mark b); amark=$(audit_mark a)
	check "failover A->B: A's links down; keepalived: A FAULT, B MASTER with the floating addresses" fail a
	use_gw b
	if [ "$COL" = ftpgated ]; then
		check "ftpgatectl role: A backup, B primary (ftpgate-failover fault, primary)" role_pair b a
		check "A's flushed table: its sessions and pinholes audited handed-over, none ended" handed_over a "$amark" 4 4:p1 6:p1 4:a1 6:a1
	fi
	for f in 4 6; do
		check "IPv$f: B's kernel holds the committed pinhole" committed b "$f" p1
		[ "$COL" = ftpgated ] && check "IPv$f: B's ftpgated adopted the pinhole (ftpgatectl, audit)" adopted b "$f" p1 "$mark"
		check "IPv$f: active: B's kernel holds the committed pinhole" committed b "$f" a1
		[ "$COL" = ftpgated ] && check "IPv$f: active: B's ftpgated adopted the pinhole (ftpgatectl, audit)" adopted b "$f" a1 "$mark"
	done
	for f in 4 6; do
		check "IPv$f: active: refused through B: the server to the client's port + 1" ref_active b "$f"
		go "$f" a1
		check "IPv$f: active pinhole in flight A->B: the server's data connection through B (LIST)" active_used "$f"
	done
	for f in 4 6; do
		check "IPv$f: refused through B: announced port + 1 (- 1 at the range end)" ref_plus_one b "$f" p1
		check "IPv$f: refused through B: another client to the pinhole" ref_other b "$f" p1
		check "IPv$f: pinhole in flight A->B: data connection through B" data_ok "$f" p1
		check "IPv$f: refused through B: the used pinhole again" ref_reuse b "$f" p1
		go "$f" 1
	done
	for f in 4 6; do
		check "IPv$f: session continues on B: new PASV/EPSV announced" announced "$f" p2 one
		check "IPv$f: session continues on B: B's pinhole, data connection" session_on b "$f" p2
		go "$f" 2
	done
	for f in 4 6; do start_probe "$f" two 3 4; done
	for f in 4 6; do
		check "IPv$f: new control connection: PASV/EPSV through B announces a port" announced "$f" p3 two
		check "IPv$f: A's conntrackd holds B's pinhole" synced a "$f" p3
	done
	mark=$(audit_mark a); bmark=$(audit_mark b)
	check "A recovers: links up; keepalived: A BACKUP (nopreempt: B stays MASTER)" recover a
	check "failback B->A: B's links down; keepalived: B FAULT, A MASTER with the floating addresses" fail b
	use_gw a
	if [ "$COL" = ftpgated ]; then
		check "ftpgatectl role: B backup, A primary" role_pair a b
		check "B's flushed table: its sessions and pinholes audited handed-over, none ended" handed_over b "$bmark" 2 4:p3 6:p3
	fi
	for f in 4 6; do
		[ "$COL" = ftpgated ] && check "IPv$f: A's ftpgated adopted the pinhole (ftpgatectl, audit)" adopted a "$f" p3 "$mark"
		check "IPv$f: pinhole in flight B->A: data connection through A" data_ok "$f" p3
		go "$f" 3
	done
	for f in 4 6; do
		check "IPv$f: session continues on A after failback: new PASV/EPSV announced" announced "$f" p4 two
		check "IPv$f: session continues on A: A's pinhole, data connection" session_on a "$f" p4
		go "$f" 4
	done
	for f in 4 6; do
		wait_probe "$f" one; wait_probe "$f" two; wait_probe "$f" act
		check "IPv$f: the three control connections end with 221 (QUIT)" probe_done "$f"
	done
}

# session_on N F STEP: gateway N's kernel holds a pinhole for the new
# announcement, and the data connection through N uses it
session_on() { committed "$@" && data_ok "$2" "$3"; }

# wait_probe F TAG: the probe ends (30 s), else it is killed
wait_probe() {
	local end=$((SECONDS + 30)) pid=${PROBE_PID[$1-$2]}
	while [ -d "/proc/$pid" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
	kill "$pid" 2>/dev/null
	wait "$pid"
	echo $? > "$W/$COL-$1-$2.rc"
}
probe_done() {
	local t rc=0
	for t in one two act; do
		[ "$(cat "$W/$COL-$1-$t.rc")" = 0 ] && grep -q 221 "$W/$COL-$1-$t.out" && continue
		echo "probe $t: exit $(cat "$W/$COL-$1-$t.rc"): $(tail -n 3 "$W/$COL-$1-$t.out" | tr '\n' ' ')"
		rc=1
	done
	return $rc
}

# reset: both gateways up, empty tables, both conntrackd (re)started with
# the configurations ctd_conf wrote, then keepalived: A first (it becomes
# MASTER: notify_backup at its start, then notify_master), then B (BACKUP:
# notify_backup). Each failover script runs as keepalived starts it.
reset() {
	local n m
	for n in a b; do ka_stop "$n"; ctd_stop "$n"; done
	for n in a b; do
		ip -n "gw$n" link set lan0 up && ip -n "gw$n" link set lan1 up && own_addresses "$n" || return 1
		vips_del "$n"
		lab_ns "gw$n" conntrack -F > /dev/null 2>&1; lab_ns "gw$n" conntrack -F expect > /dev/null 2>&1
		lab_ns "gw$n" conntrack -F -f ipv6 > /dev/null 2>&1; lab_ns "gw$n" conntrack -F expect -f ipv6 > /dev/null 2>&1
		ctd_start "$n" || return 1
	done
	m=$(ka_mark a); ka_start a
	ka_entered a "$m" MASTER || return 1
	within 10 vips_on a || return 1
	m=$(ka_mark b); ka_start b
	ka_entered b "$m" BACKUP || return 1
	PRIMARY=a
	reachable
}

# kernel_rules N: the site table and the kernel's ftp helper, with the
# server's passive range closed to anything not expected (what
# rules/ftpgate.nft does for ftpgated's column)
kernel_rules() {
	lab_ns "gw$1" nft flush ruleset &&
	lab_ns "gw$1" nft -f "$LAB_DIR/rules/site-gateway.nft" &&
	lab_ns "gw$1" nft -f - <<NFT
table inet hakernel {
	ct helper ftp-kernel {
		type "ftp" protocol tcp
		l3proto inet
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		tcp dport 21 ct state new ct helper set "ftp-kernel"
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state new ip daddr $LAB_SERVER4 tcp dport $LAB_PASV_LOW-$LAB_PASV_HIGH counter drop
		ct state new ip6 daddr $LAB_SERVER6 tcp dport $LAB_PASV_LOW-$LAB_PASV_HIGH counter drop
		ct state new ip daddr $LAB_CLIENT4 tcp dport 1024-65535 counter drop
		ct state new ip6 daddr $LAB_CLIENT6 tcp dport 1024-65535 counter drop
	}
}
NFT
}

# --- the suite ---------------------------------------------------------------

# nf_conntrack first: its sysctls (tcp_loose) exist only once it is loaded
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; finish; }
modprobe -a nf_conntrack_netlink nf_conntrack_ftp 2>/dev/null
for m in nf_conntrack_netlink nf_conntrack_ftp; do
	grep -q "^$m " /proc/modules || { echo "cannot load $m" >&2; finish; }
done
topology_up || { echo "cannot build the topology" >&2; finish; }
uname -r
LAB_VSFTPD_EXTRA="connect_timeout=4" lab_vsftpd_start || finish
for n in a b; do : > "$W/ftpgated-$n.log"; done
# doc/ha.md's installation, in this guest's throw-away root: the failover
# script where keepalived.conf calls it, and each gateway's
# /etc/keepalived/keepalived.conf and /etc/conntrackd/conntrackd.conf as
# files under /etc/netns/gwN/, which ip netns exec binds over /etc/ for
# everything started in gateway N (conntrackd, keepalived, and the scripts
# keepalived runs)
command -v keepalived > /dev/null || { echo "keepalived is not installed (tests/lab/install-deps installs it)" >&2; finish; }
install -m 755 "$HA_FAILOVER" /usr/local/sbin/ftpgate-failover || finish
# ftpgatectl in PATH for the failover script (ftpgatectl role), reading
# each gateway's /etc/ftpgate/ftpgate.conf for its socket
install -m 755 "$FTPGATE_BUILD_DIR/ftpgatectl" /usr/local/bin/ftpgatectl && mkdir -p /etc/ftpgate || finish
for n in a b; do ka_conf "$n" || { echo "cannot write gw$n's keepalived.conf" >&2; finish; }; done

# FTPGATE_HA_COLUMNS: the columns to run (default both; "kernel" alone to
# try the lab or a failover script quickly)
COLUMNS=${FTPGATE_HA_COLUMNS:-kernel ftpgated}

# --- the kernel column: nf_conntrack_ftp, ExpectationSync { ftp } ------------
COL=kernel
use_gw a
if [[ " $COLUMNS " == *" kernel "* ]]; then
	for n in a b; do kernel_rules "$n" || { echo "cannot load the kernel column's rules in gw$n" >&2; finish; }; done
	for n in a b; do ctd_stop "$n"; ctd_conf "$n" ftp; done
	check "setup: both conntrackd up, A primary, B backup, client reaches server" reset
	[ "${RESULT[setup: both conntrackd up, A primary, B backup, client reaches server|kernel]}" = pass ] || finish
	column kernel
	for n in a b; do lab_ns "gw$n" nft flush ruleset; done
fi

# --- the ftpgated column: ftpgated in both, ExpectationSync { ftpgate } ------
[[ " $COLUMNS " == *" ftpgated "* ]] || finish
COL=ftpgated
for n in a b; do
	use_gw "$n"
	ftpgate_config <<CONF
queue-number = $FTPGATE_QUEUE
expect-timeout-seconds = 120
active-mode = on
audit-log = $W/audit-$n.log
control-socket = $W/ftpgated-$n.sock
CONF
	mkdir -p "/etc/netns/gw$n/ftpgate" && cp "$W/ftpgate-$n.conf" "/etc/netns/gw$n/ftpgate/ftpgate.conf" || finish
done
# the two daemons register the one helper "ftpgate" with the same
# configuration (kernel-facts 10: helpers are global)
# active mode: the clients' networks in ftpgate's sets (rules/ftpgate.nft:
# only a pinhole opens their high ports)
start_gw() {
	use_gw "$1" && ftpgate_start && ftpgate_rules &&
	lab_ns "gw$1" nft add element inet ftpgate ftpgate_clients_ipv4 "{ 198.51.100.0/24 }" &&
	lab_ns "gw$1" nft add element inet ftpgate ftpgate_clients_ipv6 "{ 2001:db8:1::/64 }"
}
for n in a b; do check "setup: ftpgated in gw$n starts; site table and rules/ftpgate.nft load" start_gw "$n"; done
for n in a b; do use_gw "$n"; ftpgate_alive || finish; done
for n in a b; do lab_ns "gw$n" conntrack -F > /dev/null 2>&1; lab_ns "gw$n" conntrack -F -f ipv6 > /dev/null 2>&1; done
rmmod nf_conntrack_ftp 2>/dev/null
use_gw a
for n in a b; do ctd_stop "$n"; ctd_conf "$n" ftpgate; done
check "setup: both conntrackd up, A primary, B backup, client reaches server" reset
[ "${RESULT[setup: both conntrackd up, A primary, B backup, client reaches server|ftpgated]}" = pass ] || finish
column ftpgated
for n in a b; do use_gw "$n"; check "ftpgated in gw$n still running" ftpgate_alive; done
finish
