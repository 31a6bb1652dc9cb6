#!/bin/bash
# suite-nat.sh: ftpgated on a NAT gateway that publishes an FTP server by
# DNAT (issue 13, doc/nat.md 2.1), beside the kernel's own helper
# (nf_conntrack_ftp + nf_nat_ftp) in the same boot.
#
# The gateway: the administrator's ruleset rules/nat-site.nft (DNAT of port
# 21 of 198.51.100.1 / 2001:db8:1::1 to the server 203.0.113.2 /
# 2001:db8:2::2, a default-drop forward chain that admits only FTP control
# connections and "ct state related") and, for ftpgated, the shipped
# rules/ftpgate.nft beside it. A data connection reaches the server only
# through a helper's expectation that carries the NAT; a client that takes
# the 227's address connects only when the 227 was rewritten to the
# published address.
#
# Phases: a control without any helper (the checks can fail), the kernel
# column (printed, not counted: it tests the kernel), ftpgated. Every
# transfer compares contents. Refusals assert both sides: the connection is
# dropped (times out) and no expectation exists for the port announced.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/nat
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"; : > "$LAB_WORK/fake-ftpd.log"
PUB4=198.51.100.1 PUB6=2001:db8:1::1
SITE=$LAB_DIR/rules/nat-site.nft
declare -A KCOL FCOL
ORDER=()
LAST=

finish() {
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- ftpgated log (last 40 lines):"; tail -n 40 "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab nat"
	exit
}

# url HOST: the FTP URL of a host address
url() { case $1 in *:*) echo "ftp://[$1]" ;; *) echo "ftp://$1" ;; esac; }

# curl_flags MODE: pasv (PASV, connects where the 227 says), pasv-skip
# (PASV, connects to the control connection's address: curl's default),
# epsv
curl_flags() {
	case $1 in
	pasv) echo "--disable-epsv --no-ftp-skip-pasv-ip" ;;
	pasv-skip) echo "--disable-epsv" ;;
	epsv) echo "--ftp-pasv" ;;
	esac
}

# seen VERBOSE: the 227/229 the client got
seen() {
	local r
	r=$(grep -aoE '^< 22[79] .*' "$1" | head -n 1 | tr -d '\r')
	echo "${r:-no 227/229 seen}"
}

# curl_session MODE HOST [WANT]: LIST and RETR with curl, the file
# compared; WANT: a text the 227/229 the client got must hold
curl_session() {
	local mode=$1 host=$2 want=${3:-} tag=$W/$1-$RANDOM
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time "$LAB_FTP_TIMEOUT" $(curl_flags "$mode") \
		-o "$tag.list" "$(url "$host")/pub/" 2> "$tag.v1" || { echo "LIST failed: $(tail -n 1 "$tag.v1") [$(seen "$tag.v1")]"; return 1; }
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time "$LAB_FTP_TIMEOUT" $(curl_flags "$mode") \
		-o "$tag.got" "$(url "$host")/pub/hello.txt" 2> "$tag.v2" || { echo "RETR failed: $(tail -n 1 "$tag.v2") [$(seen "$tag.v2")]"; return 1; }
	grep -q hello.txt "$tag.list" || { echo "LIST did not show hello.txt"; return 1; }
	[ "$(cat "$tag.got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	[ -z "$want" ] || seen "$tag.v2" | grep -qF -- "$want" || { echo "the client got $(seen "$tag.v2"), want it to name $want"; return 1; }
	echo "saw: $(seen "$tag.v2")"
}

# many HOST N: N RETRs over one control connection, PASV, curl trusting
# the 227 (curl's URL globbing reuses the connection): N 227s, every one
# must name the published address, every file compared
many() {
	local host=$1 n=$2 tag=$W/many-$RANDOM i got named
	mkdir -p "$tag"
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time 300 $(curl_flags pasv) \
		"$(url "$host")/pub/n[01-$(printf %02d "$n")].txt" -o "$tag/#1.txt" 2> "$tag.v" ||
		{ echo "curl failed: $(tail -n 1 "$tag.v") [$(seen "$tag.v")]"; return 1; }
	got=0
	for i in $(seq -w 1 "$n"); do
		[ "$(cat "$tag/$i.txt" 2>/dev/null)" = "numbered file $i" ] && got=$((got + 1))
	done
	named=$(grep -acE '^< 227 .*\(198,51,100,1,' "$tag.v")
	[ "$got" = "$((10#$n))" ] || { echo "$got of $n files intact, $named 227s naming $PUB4 [$(seen "$tag.v")]"; return 1; }
	[ "$named" = "$((10#$n))" ] || { echo "$named of $n 227s named $PUB4 [$(seen "$tag.v")]"; return 1; }
	# curl 7.88 (Debian 12): "Re-using existing connection #0 with host
	# ..."; curl 8.14 (Debian 13): "Re-using existing ftp: connection with
	# host ..."
	[ "$(grep -acE 'Re-using existing ([a-z]+: )?connection' "$tag.v")" -ge $((10#$n - 1)) ] ||
		{ echo "curl did not reuse one control connection"; return 1; }
	echo "$got files intact over one control connection, $named 227s naming $PUB4"
}

# ftplib_session MODE HOST: python3 ftplib LIST, RETR and STOR (pasv:
# ignores the 227's address; pasv-trust: connects where it says; epsv)
ftplib_session() { lab_ftp_session ftplib "$2" "$1"; }

# column COL NAME COMMAND...: run a scenario for the kernel column (K,
# printed and not counted) or ftpgated's (F, a counted check)
column() {
	local col=$1 name=$2 out; shift 2
	[ -n "${KCOL[$name]:-}${FCOL[$name]:-}" ] || ORDER+=("$name")
	if [ "$col" = K ]; then
		if out=$("$@" 2>&1); then KCOL[$name]=pass; else KCOL[$name]="FAIL: $(echo "$out" | tail -n 1)"; fi
		echo "KERNEL $name: ${KCOL[$name]}"
		return
	fi
	check "$name" "$@"
	FCOL[$name]=$LAST
}

# The scenarios both columns run (the yardstick's dnat phase).
scenarios() {
	local col=$1
	column "$col" "vsftpd: curl IPv4 PASV, trusting the 227 (must name $PUB4)" curl_session pasv "$PUB4" "198,51,100,1"
	column "$col" "vsftpd: curl IPv4 PASV, ignoring the 227's address" curl_session pasv-skip "$PUB4"
	column "$col" "vsftpd: curl IPv4 EPSV (229)" curl_session epsv "$PUB4" "229 "
	column "$col" "vsftpd: curl IPv6 EPSV (229)" curl_session epsv "$PUB6" "229 "
	column "$col" "vsftpd: ftplib IPv4 PASV trusting the 227, LIST/RETR/STOR" ftplib_session pasv-trust "$PUB4"
	column "$col" "vsftpd: ftplib IPv4 PASV ignoring the 227's address, LIST/RETR/STOR" ftplib_session pasv "$PUB4"
	column "$col" "vsftpd: 50 RETRs in one control session, curl trusting every 227" many "$PUB4" 50
}

# check NAME COMMAND...: ftpgate_check, remembering the outcome in LAST
# for the table at the end
check() {
	local before=$lab_failed
	ftpgate_check "$@"
	if [ "$lab_failed" = "$before" ]; then LAST=pass; else LAST=FAIL; fi
}

# refused NAME REASON PROBE-ARGS...: the probe's connection to the
# announced endpoint times out (its last step), no expectation exists for
# the announced port, and the log says why
refused() {
	local name=$1 reason=$2 mark port; shift 2
	mark=$(ftpgate_log_mark)
	rm -f "$W/$name"
	ftpgate_probe client "$@" "save $W/$name" || return 1
	port=$(ftpgate_announced_port "$W/$name")
	ftpgate_no_expect "$port" || return 1
	ftpgate_log_since "$mark" "pinhole refused" "$reason"
}

# unannounced PORT: a listener on the server's PORT that nothing
# announced: the client's connection to it (the server's own address) and
# to the published address are not let through, and nothing expects PORT
unannounced() {
	local r
	lab_expect_blocked client "$LAB_SERVER4" "$1" || return 1
	r=$(lab_connect client "$PUB4" "$1" 2)
	[ "$r" != connected ] || { echo "connected to $PUB4:$1"; return 1; }
	ftpgate_no_expect "$1"
}

# nat_pinhole: a probe's PASV through the gateway: the 227 it reads names
# the published address, and ftpgated's expectation for the announced port
# is for that address (the probe waits, so the expectation is unused)
nat_pinhole() {
	local port e m
	rm -f "$W/natp" "$W/natp-go"
	m=$(nat_audit_mark)
	ftpgate_probe client "$PUB4" login pasv "save $W/natp" "wait-file $W/natp-go 120" quit > "$W/natp.out" 2>&1 &
	local pid=$!
	ftpgate_wait_file "$W/natp" || { kill "$pid"; cat "$W/natp.out"; return 1; }
	port=$(ftpgate_announced_port "$W/natp")
	e=$(ftpgate_expects "$port")
	"$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$W/ftpgated.sock" pinholes --json > "$W/natp.json" 2>&1
	touch "$W/natp-go"; wait "$pid"
	echo "227 told the probe: $(cat "$W/natp"); expectation: $e"
	grep -q "^$PUB4 " "$W/natp" || { echo "the 227 did not name $PUB4"; return 1; }
	echo "$e" | grep -q "dst=$PUB4 " || { echo "no expectation for $PUB4:$port"; return 1; }
	nat_both_sides "$W/natp.json" "$port" "ftpgatectl pinholes --json (from the kernel)" || return 1
	tail -n +"$((m + 1))" "$W/audit.log" | grep '"event":"pinhole-opened"' > "$W/natp-audit.json"
	nat_both_sides "$W/natp-audit.json" "$port" "audit pinhole-opened"
}

nat_audit_mark() { if [ -f "$W/audit.log" ]; then wc -l < "$W/audit.log"; else echo 0; fi; }

# nat_both_sides FILE PORT WHAT: FILE (an ftpgatectl pinholes --json
# answer, or audit lines) has the pinhole to $PUB4:PORT with
# translated_destination $LAB_SERVER4 and translated_port PORT.
nat_both_sides() {
	"$LAB_PYTHON" - "$1" "$2" "$PUB4" "$LAB_SERVER4" "$3" <<'PY'
import json, sys
path, port, pub, real, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
text = open(path).read()
try:
    objs = json.loads(text)["pinholes"]
except (ValueError, KeyError, TypeError):
    objs = [json.loads(l) for l in text.splitlines() if l.strip()]
mine = [o for o in objs if o.get("destination") == pub and o.get("port") == port]
if len(mine) != 1:
    sys.exit("%s: want one pinhole to %s:%d, found %d in %r" % (what, pub, port, len(mine), text[:600]))
o = mine[0]
if o.get("translated_destination") != real or o.get("translated_port") != port:
    sys.exit("%s: want translated_destination %s, translated_port %d; got %r, %r" %
             (what, real, port, o.get("translated_destination"), o.get("translated_port")))
print("%s: %s:%d => %s:%d" % (what, pub, port, real, port))
PY
}

lab_topology_up || exit 1
ftpgate_lab_extras || { echo "cannot add the extra lab addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
modprobe -a nf_conntrack_ftp nf_nat_ftp nft_nat nft_chain_nat 2>/dev/null
for m in nf_conntrack_ftp nf_nat_ftp nft_nat nft_chain_nat nf_nat; do
	grep -q "^$m " /proc/modules || { echo "cannot load $m" >&2; exit 1; }
done
uname -r
LAB_VSFTPD_EXTRA="connect_timeout=4" lab_vsftpd_start || exit 1
for i in $(seq -w 1 50); do echo "numbered file $i" > "$LAB_FTP_ROOT/pub/n$i.txt"; done

# --- control: the NAT gateway without any helper ------------------------------
lab_ns gateway nft flush ruleset
lab_ns gateway nft -f "$SITE" || exit 1
nohelper_fails() {
	! curl_session pasv-skip "$PUB4" || { echo "a passive transfer through DNAT worked without a helper"; return 1; }
}
check "control (no helper): a passive transfer to the published server fails" nohelper_fails

# --- the kernel column: nf_conntrack_ftp + nf_nat_ftp, helper at -150 ---------
cat > "$W/kernel.nft" <<'NFT'
table inet kernelhelper {
	ct helper ftp-kernel {
		type "ftp" protocol tcp
		l3proto inet
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		tcp dport 21 ct state new ct helper set "ftp-kernel"
	}
}
NFT
lab_ns gateway nft -f "$W/kernel.nft" || exit 1
lab_ns gateway conntrack -F >/dev/null 2>&1
scenarios K
lab_ns gateway nft flush ruleset
lab_ns gateway conntrack -F >/dev/null 2>&1
lab_ns gateway conntrack -F expect >/dev/null 2>&1
# the kernel's expectations must not answer for ftpgated below
rmmod nf_nat_ftp nf_conntrack_ftp 2>/dev/null

# --- ftpgated -----------------------------------------------------------------
ftpgate_config <<CONF
queue-number = 7
expect-timeout-seconds = 30
passive-ports = 1024-65535
max-pinholes-per-session = 8
audit-log = $W/audit.log
control-socket = $W/ftpgated.sock
CONF
start_and_rules() { ftpgate_start && ftpgate_rules "$SITE"; }
check "ftpgated starts; nat-site.nft and rules/ftpgate.nft load" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish

mark=$(ftpgate_log_mark)
scenarios F
check "log: a 227 rewritten from $LAB_SERVER4 to $PUB4, same length" \
	ftpgate_log_since "$mark" "227 rewritten from $LAB_SERVER4:[0-9]+ to $PUB4:[0-9]+ \\(same length"
check "log: pinholes to $PUB4 NAT to $LAB_SERVER4" \
	ftpgate_log_since "$mark" "pinhole opened: $LAB_CLIENT4 -> $PUB4:[0-9]+ tcp, NAT to $LAB_SERVER4:"
check "the expectation of a 227 is for $PUB4 and the 227 names it; ftpgatectl pinholes (from the kernel) and the audit show both sides, $PUB4:port => $LAB_SERVER4:port" nat_pinhole

lab_pyftpd_start || finish
column F "pyftpdlib: curl IPv4 PASV, trusting the 227 (must name $PUB4)" curl_session pasv "$PUB4" "198,51,100,1"
column F "pyftpdlib: ftplib IPv4 PASV trusting the 227, LIST/RETR/STOR" ftplib_session pasv-trust "$PUB4"
column F "pyftpdlib: ftplib IPv4 PASV ignoring the 227's address, LIST/RETR/STOR" ftplib_session pasv "$PUB4"
column F "pyftpdlib: curl IPv6 EPSV (229)" curl_session epsv "$PUB6" "229 "

# --- refusals under NAT -------------------------------------------------------
FAKE_ARGS=(
	--user unsolicited --unsolicited "227 Entering Passive Mode ({h},{p1},{p2})."
	--user thirdparty --pasv-reply "227 Entering Passive Mode (192,0,2,7,{p1},{p2})."
	--user port22 --pasv-reply "227 Entering Passive Mode ({h},0,22)."
	--user short --pasv-reply "227 ({h},{p1},{p2})"
	--user fixed --pasv-reply "227 Entering Passive Mode ({h},157,108)."
)
ftpgate_fake_start "${FAKE_ARGS[@]}" || finish
check "under DNAT: 227 naming a third-party address ($LAB_THIRD_PARTY4): dropped, no expectation, log third-party-address" \
	refused thirdparty third-party-address "$PUB4" "login thirdparty" pasv \
	"connect-announced --expect timeout --timeout 2"
check "under DNAT: unsolicited 227: dropped, no expectation, log unsolicited-reply" \
	refused unsolicited unsolicited-reply "$PUB4" "login unsolicited" "expect 227" \
	"connect-announced --expect timeout --timeout 2"
check "under DNAT: 227 naming the server's port 22: dropped, no expectation, log privileged-port" \
	refused port22 privileged-port "$PUB4" "login port22" pasv \
	"connect-announced --expect timeout --timeout 2"
lab_listen server "$LAB_SERVER4" 40050
check "under DNAT: unannounced port 40050 (listener there): dropped, not connected via $PUB4, no expectation" \
	unannounced 40050
lab_listeners_stop

# --- resized 227s and a clash under DNAT (fake-ftpd) ---------------------------
# user short: "227 (h,p1,p2)" has no text before "(" to absorb the one
# byte more that 198,51,100,1 takes: every rewrite changes the length and
# asks the kernel to adjust the connection's sequence numbers. user fixed:
# every 227 names port 40300, so two control connections of one client
# clash on 198.51.100.1:40300 (doc/nat.md 2.4).
resized_227s() {
	local steps=() i n mark
	mark=$(ftpgate_log_mark)
	for i in $(seq 50); do steps+=(pasv "connect-announced --expect connected"); done
	ftpgate_probe client "$PUB4" "login short" "${steps[@]}" quit || return 1
	n=$(tail -n +"$((mark + 1))" "$FTPGATE_LOG" | grep -c "227 rewritten from $LAB_SERVER4:[0-9]* to $PUB4:[0-9]* (length +1, sequence adjusted")
	echo "$n resized 227 rewrites"
	[ "$n" -ge 50 ]
}
clash() {
	local first ok=0
	rm -f "$W/clash1" "$W/clash2" "$W/clash-go"
	ftpgate_probe client "$PUB4" "login fixed" pasv "save $W/clash1" \
		"wait-file $W/clash-go 30" "connect-announced --expect connected" quit > "$W/clash1.out" 2>&1 &
	first=$!
	for _ in $(seq 150); do [ -s "$W/clash1" ] && break; sleep 0.1; done
	ftpgate_probe client "$PUB4" "login fixed" pasv "save $W/clash2" \
		"connect-announced --expect connected" quit || ok=1
	touch "$W/clash-go"
	wait "$first" || { echo "first session: $(tail -n 2 "$W/clash1.out" | tr '\n' ' ')"; ok=1; }
	echo "first announced $(cat "$W/clash1" 2>/dev/null), second $(cat "$W/clash2" 2>/dev/null)"
	[ "$ok" = 0 ] && [ "$(cat "$W/clash1")" = "$PUB4 40300" ] && [ "$(cat "$W/clash2")" = "$PUB4 40301" ]
}
check "under DNAT: 50 227s one byte longer once rewritten, in one session: each connects where it says, the control connection goes on (kernel sequence adjustment)" resized_227s
check "under DNAT: one client's two control connections both told port 40300: the second pinhole and its 227 move to 40301, both connect" clash
check "ftpgated still running" ftpgate_alive

echo "--- kernel helper (nf_conntrack_ftp + nf_nat_ftp) beside ftpgated, same boot ($(uname -r))"
for name in "${ORDER[@]}"; do
	printf '  %-78s kernel: %-6s ftpgated: %s\n' "$name" "${KCOL[$name]:--}" "${FCOL[$name]:--}"
done
finish
