#!/bin/bash
# ftpgate beside the firewall a gateway already has (issue 19). The
# administrator's own default-drop ruleset (rules/admin-site.nft) admits
# services on high ports (8443, 2222) on the FTP server and on another
# host, and the passive range 40000-40199 wholesale. With ftpgate deployed
# in each of the three ways of README "Deploying" (standalone table; its
# forward rules included in the administrator's table; beside firewalld):
# the fate of every non-FTP connection is what it was with the
# administrator's rules alone, FTP transfers work through pinholes,
# unannounced ports in a configured server's passive range are dropped by
# ftpgate's rule with no expectation, and the same ports on a host that is
# not a configured server are left to the administrator. Also: no
# [server] section means ftpgate drops nothing; SIGHUP with a changed range
# replaces the set while an established data connection keeps transferring;
# ftpgated notices, says once and counts a set that is missing, emptied or
# changed. Runs inside the lab guest.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/coexist
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"
OTHER4=203.0.113.3 OTHER6=2001:db8:2::3	# another host, not an FTP server
SHARE=/usr/local/share/ftpgate		# where meson install puts the rules
CTL=("$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$W/ctl.sock")
FIREWALLD_PID= DBUS_PID=

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	firewalld_stop
	lab_listeners_stop
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- ftpgated log (last 40 lines):"; tail -n 40 "$FTPGATE_LOG" | sed 's/^/  /'
		[ -f "$W/firewalld.log" ] && { echo "--- firewalld log (last 20 lines):"; tail -n 20 "$W/firewalld.log" | sed 's/^/  /'; }
	fi
	lab_topology_down
	lab_summary "lab coexist"
	exit
}

# --- connections and their fates -------------------------------------------

# The non-FTP connections whose fate ftpgate must not change: the
# administrator's services on both hosts, a passive-range port on the
# host that is not an FTP server, and a port the administrator drops.
SVC="$LAB_SERVER4/8443 $LAB_SERVER4/2222 $LAB_SERVER6/8443 $LAB_SERVER6/2222
$OTHER4/8443 $OTHER4/2222 $OTHER6/8443 $OTHER6/2222"
UNTOUCHED="$SVC $OTHER4/40077 $OTHER6/40077 $OTHER4/40177 $OTHER6/40177
$LAB_SERVER4/9999 $OTHER6/9999"
# unannounced ports in the FTP server's configured range(s)
PASV_OLD="$LAB_SERVER4/40077 $LAB_SERVER6/40077"
PASV_NEW="$LAB_SERVER4/40177 $LAB_SERVER6/40177"

listen_all() {
	local t targets=
	for t in $UNTOUCHED $PASV_OLD $PASV_NEW; do
		case $t in */9999) continue ;; esac	# nobody listens: dropped or refused
		targets="$targets $t"
	done
	ip netns exec server "$LAB_PYTHON" "$LAB_DIR/listen-many.py" $targets > "$W/listen.out" 2>&1 &
	echo $! >> "$LAB_WORK/listeners.pid"
	ftpgate_retry 5 grep -q listening "$W/listen.out" >/dev/null ||
		{ echo "listen-many did not start: $(cat "$W/listen.out")"; return 1; }
}

# fates FILE TARGET...: connect to every target from the client, record
# "TARGET RESULT" lines in FILE (2 s timeout: a drop is a timeout).
fates() {
	local file=$1; shift
	lab_ns client "$LAB_PYTHON" "$LAB_DIR/connect-many.py" 2 "$@" > "$file"
	cat "$file"
}

# want_fate FILE RESULT TARGET...: each target's recorded result is RESULT.
want_fate() {
	local file=$1 want=$2 t got bad=0; shift 2
	for t in "$@"; do
		got=$(awk -v t="$t" '$1 == t { print $2 }' "$file")
		[ "$got" = "$want" ] || { echo "$t: $got, want $want"; bad=1; }
	done
	return $bad
}

# same_fates BEFORE AFTER: every target has the same result in both.
same_fates() {
	if ! diff "$1" "$2" > "$W/fates.diff"; then
		echo "the fate of non-FTP connections changed (< admin only, > with ftpgate):"
		cat "$W/fates.diff"
		return 1
	fi
	echo "$(wc -l < "$2") connections, each as with the administrator's rules alone"
}

# --- ftpgate's rules -------------------------------------------------------

# unannounced_dropped TABLE TARGET...: each target times out, ftpgate's
# "unannounced passive port" rule (in TABLE's ftpgate_forward) counted
# them, and no expectation exists for their ports.
drop_counter() {
	lab_ns gateway nft list chain $1 ftpgate_forward | awk '
		index($0, "comment \"unannounced passive port\"") {
			for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
		END { print n + 0 }'
}
unannounced_dropped() {
	local table=$1 before after t; shift
	before=$(drop_counter "$table")
	fates "$W/unannounced" "$@" || return 1
	want_fate "$W/unannounced" timeout "$@" || return 1
	for t in "$@"; do ftpgate_no_expect "${t##*/}" || return 1; done
	after=$(drop_counter "$table")
	echo "ftpgate's \"unannounced passive port\" rule counted $before, then $after packets"
	[ "$after" -ge $((before + $#)) ] || { echo "ftpgate's rule did not drop them: someone else did"; return 1; }
}

# set_is TABLE SET ELEMENTS: the set lists exactly ELEMENTS (nft's text
# between "elements = {" and "}", normalised).
set_is() {
	local got
	got=$(lab_ns gateway nft list set $1 "$2" | tr -s ' \t\n' ' ' |
		sed -n 's/.*elements = { \([^}]*\) }.*/\1/p' | sed 's/ *$//')
	[ "$got" = "$3" ] || { echo "set $1 $2 holds '${got}', want '$3'"; return 1; }
}

# metric NAME: the daemon's value of ftpgate_NAME (may carry a label).
metric() {
	"${CTL[@]}" metrics | awk -v n="ftpgate_$1" '$1 == n { print $2 }'
}
want_metric() {
	local v
	v=$(metric "$1")
	[ "$v" = "$2" ] || { echo "ftpgate_$1 is '$v', want $2"; return 1; }
}

transfers() {
	lab_ftp_session curl "$LAB_SERVER4" pasv && lab_ftp_session lftp "$LAB_SERVER6" epsv
}

# The checks every deployment mode must pass; BEFORE: the fates with the
# administrator's rules alone; TABLE: where ftpgate_forward lives.
mode_checks() {
	local mode=$1 before=$2 table=$3
	check "$mode: FTP through pinholes (curl IPv4 PASV, lftp IPv6 EPSV; LIST, RETR, STOR)" transfers
	check "$mode: unannounced 40077 on the FTP server (IPv4, IPv6): dropped by ftpgate's rule, no expectation" \
		unannounced_dropped "$table" $PASV_OLD
	fates "$W/$mode.after" $UNTOUCHED > /dev/null
	check "$mode: every non-FTP connection has the fate it had without ftpgate" same_fates "$before" "$W/$mode.after"
	check "$mode: services 8443, 2222 reachable on the FTP server and the other host (IPv4, IPv6)" \
		want_fate "$W/$mode.after" connected $SVC
	check "$mode: 40077, 40177 on the other host (not an FTP server): the administrator's rule admits them" \
		want_fate "$W/$mode.after" connected $OTHER4/40077 $OTHER6/40077 $OTHER4/40177 $OTHER6/40177
}

servers_config() {	# servers_config LOW HIGH [extra global lines]
	FTPGATE_CONFIG_EXACT=1 ftpgate_config <<CONF
control-socket = $W/ctl.sock
${3:-}
[server $LAB_SERVER4]
passive-ports = $1-$2
[server $LAB_SERVER6]
passive-ports = $1-$2
CONF
}

lab_topology_up || exit 1
ip -n server addr add "$OTHER4/24" dev s0 && ip -n server addr add "$OTHER6/64" dev s0 nodad ||
	{ echo "cannot add the other host's addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
install -D -m 644 -t "$SHARE" "$FTPGATE_REPO"/rules/ftpgate.nft \
	"$FTPGATE_REPO"/rules/ftpgate-helper.nft "$FTPGATE_REPO"/rules/ftpgate-include.nft || exit 1
lab_vsftpd_start 40000 40099 || exit 1
head -c 4194304 /dev/urandom > "$LAB_FTP_ROOT/pub/big.bin"
listen_all || finish

# --- the administrator's rules alone ----------------------------------------
lab_ns gateway nft -f "$LAB_DIR/rules/admin-site.nft" || finish
fates "$W/admin.full" $UNTOUCHED $PASV_OLD > /dev/null
check "admin rules alone: services, 40077 and 40177 reachable on both hosts; 9999 dropped" eval '
	want_fate "$W/admin.full" connected $SVC $PASV_OLD $OTHER4/40077 $OTHER4/40177 &&
	want_fate "$W/admin.full" timeout $LAB_SERVER4/9999 $OTHER6/9999'
fates "$W/admin.before" $UNTOUCHED > /dev/null

# --- standalone table, no [server] section: ftpgate drops nothing -----------
FTPGATE_CONFIG_EXACT=1 ftpgate_config <<CONF
control-socket = $W/ctl.sock
CONF
check "no servers: ftpgated starts, rules/ftpgate.nft loads beside the admin's table" eval '
	ftpgate_start && lab_ns gateway nft -f "$SHARE/ftpgate.nft" &&
	ftpgate_retry 3 want_metric nft_sets_out_of_sync 0'
[ -n "$FTPGATE_PID" ] || finish
check "no servers: the sets are empty; ftpgated manages them (nft_sets_managed 1)" eval '
	[ "$(ftpgate_set_count "inet ftpgate" ftpgate_servers_ipv4)" = 0 ] &&
	[ "$(ftpgate_set_count "inet ftpgate" ftpgate_servers_ipv6)" = 0 ] && want_metric nft_sets_managed 1'
check "no servers: FTP works through pinholes (helper attached, pinholes accepted)" transfers
fates "$W/none.after" $UNTOUCHED $PASV_OLD > /dev/null
check "no servers: ftpgate drops nothing: every connection as without it, 40077 on the FTP server too" \
	same_fates "$W/admin.full" "$W/none.after"

# --- standalone table with the FTP servers (SIGHUP fills the sets) -----------
servers_config 40000 40099
check "standalone: SIGHUP with [server] sections fills the sets, one element per server" eval '
	ftpgate_reload && ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099" &&
	set_is "inet ftpgate" ftpgate_servers_ipv6 "$LAB_SERVER6 . 40000-40099" &&
	want_metric nft_sets_out_of_sync 0'
mode_checks standalone "$W/admin.before" "inet ftpgate"

# --- reload with a changed range while a data connection is open ------------
hold_start() {
	rm -f "$W/ready" "$W/go"
	ip netns exec client "$LAB_PYTHON" "$LAB_DIR/hold-transfer.py" "$LAB_SERVER4" pub/big.bin 4194304 \
		"$W/ready" "$W/go" > "$W/hold.out" 2>&1 &
	HOLD_PID=$!
	ftpgate_wait_file "$W/ready" 20
}
held_reload() {
	local port
	hold_start || return 1
	port=$(cat "$W/ready")
	echo "data connection open to $LAB_SERVER4:$port, reading paused"
	lab_ns gateway conntrack -L -p tcp --dport "$port" 2>/dev/null | grep -q ESTABLISHED ||
		{ echo "no established conntrack for the data connection"; return 1; }
	servers_config 40100 40199
	ftpgate_reload || return 1
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40100-40199" || return 1
	set_is "inet ftpgate" ftpgate_servers_ipv6 "$LAB_SERVER6 . 40100-40199" || return 1
	touch "$W/go"
	wait "$HOLD_PID" || { echo "the held transfer failed: $(cat "$W/hold.out")"; return 1; }
	cat "$W/hold.out"
}
check "SIGHUP 40000-40099 -> 40100-40199: sets replaced; the open data connection finishes its 4 MiB RETR" held_reload
check "after the reload: unannounced 40177 (new range) dropped by ftpgate's rule, no expectation" \
	unannounced_dropped "inet ftpgate" $PASV_NEW
check "after the reload: 40077 (old range) is the administrator's again: reachable" eval '
	fates "$W/old" $PASV_OLD && want_fate "$W/old" connected $PASV_OLD'
servers_config 40000 40099
check "SIGHUP back to 40000-40099" eval '
	ftpgate_reload && ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099"'

# --- rules and configuration disagree: said once, counted, mended -----------
changed_restored() {
	local mark before
	mark=$(ftpgate_log_mark)
	before=$(metric 'nft_sets_problems_total{problem="changed"}')
	lab_ns gateway nft add element inet ftpgate ftpgate_servers_ipv4 "{ $OTHER4 . 8443 }" || return 1
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099" || return 1
	ftpgate_log_since "$mark" "set inet ftpgate ftpgate_servers_ipv4 did not hold the configured servers \(0 missing, 1 not configured\); restored" || return 1
	want_metric 'nft_sets_problems_total{problem="changed"}' $((before + 1))
}
check "an element added by hand ($OTHER4 . 8443) is removed within 3 s, logged, counted (changed)" changed_restored
emptied_refilled() {
	local mark before
	mark=$(ftpgate_log_mark)
	before=$(metric 'nft_sets_problems_total{problem="emptied"}')
	lab_ns gateway nft -f "$SHARE/ftpgate.nft" || return 1
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099" || return 1
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv6 "$LAB_SERVER6 . 40000-40099" || return 1
	ftpgate_log_since "$mark" "set inet ftpgate ftpgate_servers_ipv4 was empty \(the ruleset was loaded\); filled" || return 1
	want_metric 'nft_sets_problems_total{problem="emptied"}' $((before + 2))
}
check "the ruleset loaded again (sets empty): refilled within 3 s, logged, counted (emptied)" emptied_refilled
missing_said_once() {
	local mark n before
	mark=$(ftpgate_log_mark)
	before=$(metric 'nft_sets_problems_total{problem="missing"}')
	lab_ns gateway nft delete table inet ftpgate || return 1
	ftpgate_retry 3 want_metric nft_sets_out_of_sync 1 || return 1
	"${CTL[@]}" stats --json | grep -q '"nft_sets_out_of_sync":1' || { echo "stats --json lacks nft_sets_out_of_sync 1"; return 1; }
	sleep 2.5	# let the once-a-second check run twice more: still one line
	n=$(tail -n +"$((mark + 1))" "$FTPGATE_LOG" | grep -c "nftables set inet ftpgate ftpgate_servers_ipv4 does not exist")
	[ "$n" = 1 ] || { echo "the missing set was said $n times, want once"; return 1; }
	ftpgate_log_since "$mark" "does not exist.*load rules/ftpgate.nft" || return 1
	want_metric 'nft_sets_problems_total{problem="missing"}' $((before + 2))
}
check "table deleted: said once (with the fix), counted per set, nft_sets_out_of_sync 1 in stats --json" missing_said_once
check "table loaded again: filled, nft_sets_out_of_sync 0" eval '
	lab_ns gateway nft -f "$SHARE/ftpgate.nft" &&
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099" &&
	ftpgate_retry 3 want_metric nft_sets_out_of_sync 0'
ftpgate_stop 3

# --- inside the administrator's own ruleset ---------------------------------
lab_ns gateway nft flush ruleset
servers_config 40000 40099 "nft-table = inet filter"
check "include: ftpgated (nft-table = inet filter), ftpgate-helper.nft, the admin's table including ftpgate-include.nft" eval '
	ftpgate_start && lab_ns gateway nft -f "$SHARE/ftpgate-helper.nft" &&
	lab_ns gateway nft -f "$LAB_DIR/rules/admin-include.nft" &&
	ftpgate_retry 3 set_is "inet filter" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099" &&
	set_is "inet filter" ftpgate_servers_ipv6 "$LAB_SERVER6 . 40000-40099"'
check "include: ftpgate's own table only attaches the helper (no forward hook, no set of servers)" eval '
	! lab_ns gateway nft list table inet ftpgate | grep -qE "hook forward|ftpgate_servers"'
mode_checks include "$W/admin.before" "inet filter"
ftpgate_stop 3

# --- beside firewalld --------------------------------------------------------
firewalld_stop() {
	[ -n "$FIREWALLD_PID" ] && kill "$FIREWALLD_PID" 2>/dev/null && wait "$FIREWALLD_PID" 2>/dev/null
	[ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
	FIREWALLD_PID= DBUS_PID=
}
# firewall-cmd's D-Bus calls give up after 25 s; under the lab's software
# emulation a reload can take longer and still complete. fwcmd runs one
# (its output in $W/fwcmd.out) and, when it got no reply, waits (300 s at
# most) until firewalld answers again; the caller then checks the effect.
fwcmd() {
	local st end
	firewall-cmd "$@" > "$W/fwcmd.out" 2>&1; st=$?
	[ $st = 0 ] && return 0
	if grep -q "Did not receive a reply" "$W/fwcmd.out"; then
		echo "firewall-cmd $*: no D-Bus reply within 25 s (emulated guest); waiting for firewalld"
		end=$((SECONDS + 300))
		while [ $SECONDS -lt $end ]; do
			[ "$(firewall-cmd --state 2>/dev/null)" = running ] && return 0
			sleep 1
		done
	fi
	echo "firewall-cmd $* (exit $st): $(cat "$W/fwcmd.out")"
	return 1
}
# The administrator's firewalld, as it was before ftpgate: g0 (clients) in
# zone internal, g1 (servers) in zone dmz, and a policy from internal to
# dmz admitting what admin-site.nft admits. Written as permanent
# configuration before firewalld starts (firewall-cmd is slow here); it is
# the configuration README "firewalld" starts from (the guest's root is
# a throw-away overlay).
firewalld_admin_config() {
	mkdir -p /etc/firewalld/zones /etc/firewalld/policies
	printf '<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>Internal</short>\n  <interface name="g0"/>\n</zone>\n' \
		> /etc/firewalld/zones/internal.xml
	printf '<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>DMZ</short>\n  <interface name="g1"/>\n</zone>\n' \
		> /etc/firewalld/zones/dmz.xml
	cp "$LAB_DIR/rules/firewalld-lan-to-dmz.xml" /etc/firewalld/policies/lan-to-dmz.xml
}
# The system bus firewalld needs is started by hand (no systemd here);
# firewalld runs in the gateway namespace.
firewalld_start() {
	local end
	firewalld_admin_config || return 1
	install -D -m 644 "$FTPGATE_REPO/firewalld/ftpgate.xml" /usr/lib/firewalld/services/ftpgate.xml || return 1
	mkdir -p /run/dbus /var/lib/dbus
	dbus-uuidgen --ensure=/var/lib/dbus/machine-id
	dbus-daemon --system --fork --print-pid > "$W/dbus.pid" || return 1
	DBUS_PID=$(cat "$W/dbus.pid")
	ip netns exec gateway firewalld --nofork --nopid > "$W/firewalld.log" 2>&1 &
	FIREWALLD_PID=$!
	end=$((SECONDS + 300))
	while [ $SECONDS -lt $end ]; do
		[ "$(firewall-cmd --state 2>/dev/null)" = running ] && break
		kill -0 "$FIREWALLD_PID" 2>/dev/null || break
		sleep 1
	done
	[ "$(firewall-cmd --state 2>/dev/null)" = running ] ||
		{ echo "firewalld did not come up within 300 s: $(tail -n 5 "$W/firewalld.log")"; return 1; }
	lab_ns gateway nft list table inet firewalld > /dev/null || { echo "no table inet firewalld"; return 1; }
	firewall-cmd --get-active-zones
	firewall-cmd --policy lan-to-dmz --list-ports | grep -q 8443/tcp
}
# README: enable ftpgate with firewalld commands, then ftpgate's table.
firewalld_ftpgate() {
	fwcmd --permanent --policy lan-to-dmz --add-service ftpgate &&
	fwcmd --reload &&
	firewall-cmd --policy lan-to-dmz --list-services | grep -qw ftpgate &&
	ftpgate_start && lab_ns gateway nft -f "$SHARE/ftpgate.nft" &&
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099"
}
lab_ns gateway nft flush ruleset
servers_config 40000 40099
check "firewalld: dbus-daemon and firewalld (nftables backend) run in the guest with the administrator's zones and policy" firewalld_start
[ -n "$FIREWALLD_PID" ] || finish
fates "$W/fwd.before" $UNTOUCHED $PASV_OLD $LAB_SERVER4/21 > /dev/null
check "firewalld alone: services and 40077 reachable; FTP control port 21 not admitted yet" eval '
	want_fate "$W/fwd.before" connected $SVC $PASV_OLD &&
	! want_fate "$W/fwd.before" connected $LAB_SERVER4/21 > /dev/null'
fates "$W/fwd.before" $UNTOUCHED > /dev/null
check "firewalld: service ftpgate added to the policy (--permanent, --reload), ftpgated started, rules/ftpgate.nft loaded and filled" firewalld_ftpgate
check "firewalld: ftpgate's service, not firewalld's ftp: no kernel helper in firewalld's rules, the control conntrack has helper=ftpgate" eval '
	lab_ftp_session curl "$LAB_SERVER4" pasv &&
	! lab_ns gateway nft list table inet firewalld | grep -q "ct helper" &&
	ftpgate_retry 3 sh -c "ip netns exec gateway conntrack -L -p tcp --dport 21 2>/dev/null | grep -q helper=ftpgate"'
mode_checks firewalld "$W/fwd.before" "inet ftpgate"
check "firewalld: firewall-cmd --reload keeps ftpgate's table and its sets; FTP and the drop still work" eval '
	fwcmd --reload && lab_ns gateway nft list table inet ftpgate > /dev/null &&
	ftpgate_retry 3 set_is "inet ftpgate" ftpgate_servers_ipv4 "$LAB_SERVER4 . 40000-40099" &&
	transfers && unannounced_dropped "inet ftpgate" $PASV_OLD'

finish
