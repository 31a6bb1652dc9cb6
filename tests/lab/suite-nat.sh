#!/bin/bash
# suite-nat.sh: ftpgated on a NAT gateway that publishes an FTP server by
# DNAT (issue 13, doc/nat.md 2.1), that masquerades its clients (2.2), and
# that does both at once (2.3), beside the kernel's own helper
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
# Masquerade: rules/nat-masq.nft (the clients' IPv4 connections leave
# towards the server as the gateway's 203.0.113.1, the same forward chain);
# "both": rules/nat-both.nft (nat-site.nft's DNAT and that masquerade). In
# active mode the server's data connection reaches the client only when the
# PORT/EPRT was rewritten to name 203.0.113.1 (vsftpd and pyftpdlib refuse
# an address other than their peer's) and a helper's expectation for
# 203.0.113.1:port carries the NAT back to 198.51.100.2:port.
#
# Phases: controls without any helper (the checks can fail), the kernel
# column for DNAT, masquerade and both (printed, not counted: it tests the
# kernel and the lab's wiring), then ftpgated for the same three. Every
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
MASQ=$LAB_DIR/rules/nat-masq.nft BOTH=$LAB_DIR/rules/nat-both.nft
GW4=$LAB_GW_SERVER4 GW6=2001:db8:2::1	# the client as the server sees it under masquerade
GW6_LONG=2001:db8:2::100	# an IPv6 SNAT address longer than the client's
declare -A KCOL FCOL
ORDER=()
LAST=
# COL: the column a scenario runs for (K or F; set by column); SERVER: the
# FTP server running (vsftpd, pyftpdlib or fake-ftpd)
COL=F SERVER=
START=$EPOCHREALTIME

# phase TITLE: a heading, with the time since the suite started (the lab's
# time is a budget: each phase says what it costs)
phase() { echo "--- $1 ($(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')s into the suite)"; }

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
# epsv; active mode ("--ftp-port -": the control connection's own
# address): port (PORT), eprt (EPRT)
curl_flags() {
	case $1 in
	pasv) echo "--disable-epsv --no-ftp-skip-pasv-ip" ;;
	pasv-skip) echo "--disable-epsv" ;;
	epsv) echo "--ftp-pasv" ;;
	port) echo "--ftp-port - --disable-eprt" ;;
	eprt) echo "--ftp-port -" ;;
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
	COL=$col
	if [ "$col" = K ]; then
		# a pass prints what the scenario saw: what the kernel helper wrote
		if out=$("$@" 2>&1); then
			KCOL[$name]=pass
			echo "KERNEL $name: pass${out:+ ($(echo "$out" | tail -n 1))}"
		else
			KCOL[$name]="FAIL: $(echo "$out" | tail -n 1)"
			echo "KERNEL $name: ${KCOL[$name]}"
		fi
		COL=F
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

# --- masquerade (doc/nat.md 2.2, 2.3) -----------------------------------------

vsftpd_up() {
	local i
	LAB_VSFTPD_EXTRA="connect_timeout=4" lab_vsftpd_start || return 1
	for i in $(seq -w 1 50); do echo "numbered file $i" > "$LAB_FTP_ROOT/pub/n$i.txt"; done
	SERVER=vsftpd
}
pyftpd_up() { lab_pyftpd_start && SERVER=pyftpdlib; }
fake_up() { ftpgate_fake_start && SERVER=fake-ftpd; }

# vsftpd_mark: a mark in vsftpd's log (log_ftp_protocol: every command it
# got); the log outlives restarts of vsftpd
vsftpd_mark() { if [ -f "$LAB_WORK/vsftpd.log" ]; then wc -l < "$LAB_WORK/vsftpd.log"; else echo 0; fi; }

# endpoint LINE: "ADDR PORT" of a PORT or EPRT command line (its numbers
# read as decimal, whatever their leading zeros; an IPv6 address in its
# shortest form: the kernel's helper writes it in full)
endpoint() {
	local e
	e=$(echo "$1" | tr -d '\r' | awk '
		/^(> )?PORT / { split($NF, n, ","); printf "%d.%d.%d.%d %d\n", n[1], n[2], n[3], n[4], n[5] * 256 + n[6] }
		/^(> )?EPRT / { split($NF, n, "|"); printf "%s %d\n", n[3], n[4] }')
	case $e in
	*:*) "$LAB_PYTHON" -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]), sys.argv[2])' $e ;;
	*) echo "$e" ;;
	esac
}

# family HOST: the client's address (CLI), the gateway's as the server
# sees a masqueraded client (GWA) and the server's (SRV), in HOST's family
family() {
	case $1 in
	*:*) CLI=$LAB_CLIENT6 GWA=$GW6 SRV=$LAB_SERVER6 ;;
	*) CLI=$LAB_CLIENT4 GWA=$GW4 SRV=$LAB_SERVER4 ;;
	esac
}
family "$LAB_SERVER4"

# ep ADDR PORT: the endpoint as ftpgated's log writes it ([ADDR]:PORT for
# IPv6); ep_re: the same as an extended regular expression
ep() { case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }
ep_re() {
	local a
	a=$(echo "$1" | sed 's/\./\\./g')
	case $1 in *:*) echo "\\[$a\\]:$2" ;; *) echo "$a:$2" ;; esac
}

# server_active MARK VERB N: vsftpd got at least N VERB commands (PORT or
# EPRT) since MARK, each naming the gateway's $GWA (what the server sees
# of the client; family), and no PASV or EPSV (the client did not fall back to
# passive mode); prints the last one
server_active() {
	local lines all named
	lines=$(tail -n +"$(($1 + 1))" "$LAB_WORK/vsftpd.log" 2>/dev/null | grep -aoE '"(PORT|EPRT|PASV|EPSV)( [^"]*)?"' | tr -d '"')
	! echo "$lines" | grep -qE '^(PASV|EPSV)' || { echo "vsftpd got $(echo "$lines" | grep -E '^(PASV|EPSV)' | head -n 1): the client fell back to passive mode"; return 1; }
	all=$(echo "$lines" | grep -c "^$2 ")
	named=$(echo "$lines" | grep "^$2 " | while read -r l; do endpoint "$l"; done | grep -c "^$GWA ")
	[ "$all" -ge "$3" ] && [ "$named" = "$all" ] ||
		{ echo "vsftpd got $all $2 commands ($named naming $GWA), want at least $3, all naming $GWA: $(echo "$lines" | tail -n 2 | tr '\n' ' ')"; return 1; }
	echo "$lines" | grep "^$2 " | tail -n 1
}

# rewritten MARK VERB [PORT...]: (ftpgated's column) its log since MARK
# has "VERB rewritten from CLI:Q to GWA:Q (same length | length +-D,
# sequence adjusted; conntrack N)" lines (family: the addresses), none
# moving the port, one for each PORT given (every one found otherwise),
# each with its pinhole "SRV -> GWA:Q tcp ..., NAT to CLI:Q". Prints how
# many.
rewritten() {
	local mark=$1 verb=$2 lines moved q; shift 2
	lines=$(tail -n +"$((mark + 1))" "$FTPGATE_LOG" |
		grep -aE "$verb rewritten from $(ep_re "$CLI" "[0-9]+") to $(ep_re "$GWA" "[0-9]+") \((same length|length [+-][0-9]+, sequence adjusted); conntrack [0-9]+\)")
	[ -n "$lines" ] || { echo "no \"$verb rewritten from $(ep "$CLI" Q) to $(ep "$GWA" Q) (...)\" in ftpgated's log since line $mark; it says: $(tail -n +"$((mark + 1))" "$FTPGATE_LOG" | grep -v '^{' | tail -n 3 | tr '\n' ' ')"; return 1; }
	moved=$(echo "$lines" | sed -E 's/.* from [^ ]+:([0-9]+) to [^ ]+:([0-9]+) .*/\1 \2/' | awk '$1 != $2' | head -n 1)
	[ -z "$moved" ] || { echo "a $verb rewrite moved the port: $moved"; return 1; }
	# shellcheck disable=SC2046 # ports: one word each
	[ $# -gt 0 ] || set -- $(echo "$lines" | sed -E 's/.* from [^ ]+:([0-9]+) to .*/\1/')
	for q in "$@"; do
		echo "$lines" | grep -qF " from $(ep "$CLI" "$q") to " || { echo "no $verb rewrite for port $q in: $(echo "$lines" | tail -n 2 | tr '\n' ' ')"; return 1; }
		ftpgate_log_since "$mark" "pinhole opened: $(echo "$SRV" | sed 's/\./\\./g') -> $(ep_re "$GWA" "$q") tcp( \\(active mode\\))?, NAT to $(ep_re "$CLI" "$q")[, ]" > /dev/null ||
			{ echo "no \"pinhole opened: $SRV -> $(ep "$GWA" "$q") tcp ..., NAT to $(ep "$CLI" "$q")\" in ftpgated's log since line $mark"; return 1; }
	done
	echo "$(echo "$lines" | wc -l) $verb rewrites, e.g. $(echo "$lines" | tail -n 1 | sed -E "s/.*($verb rewritten)/\\1/")"
}

# active_curl MODE HOST: LIST and RETR with curl in active mode (port:
# PORT, eprt: EPRT; "--ftp-port -": the control connection's own address),
# the file compared. curl must have sent the client's own address; vsftpd
# must have got the gateway's, with the same port; ftpgated's column: its
# log has the rewrite and the pinhole for that port.
active_curl() {
	local mode=$1 host=$2 tag=$W/$1-$RANDOM verb vm lm sent se got ge
	verb=$(echo "$mode" | tr a-z A-Z)
	family "$host"
	vm=$(vsftpd_mark) lm=$(ftpgate_log_mark)
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time "$LAB_FTP_TIMEOUT" $(curl_flags "$mode") \
		-o "$tag.list" "$(url "$host")/pub/" 2> "$tag.v1" || { echo "LIST failed: $(tail -n 1 "$tag.v1") [$(active_seen "$tag.v1")]"; return 1; }
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time "$LAB_FTP_TIMEOUT" $(curl_flags "$mode") \
		-o "$tag.got" "$(url "$host")/pub/hello.txt" 2> "$tag.v2" || { echo "RETR failed: $(tail -n 1 "$tag.v2") [$(active_seen "$tag.v2")]"; return 1; }
	grep -q hello.txt "$tag.list" || { echo "LIST did not show hello.txt"; return 1; }
	[ "$(cat "$tag.got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	sent=$(grep -aE "^> $verb " "$tag.v2" | tail -n 1 | tr -d '\r'); sent=${sent#> }
	se=$(endpoint "$sent")
	[ "${se% *}" = "$CLI" ] || { echo "curl sent '$sent', want $verb naming $CLI"; return 1; }
	if [ "$SERVER" = vsftpd ]; then
		got=$(server_active "$vm" "$verb" 2) || { echo "$got"; return 1; }
		ge=$(endpoint "$got")
		[ "${ge#* }" = "${se#* }" ] || { echo "curl sent '$sent', vsftpd got '$got': the port moved"; return 1; }
	fi
	if [ "$COL" = F ]; then rewritten "$lm" "$verb" "${se#* }" || return 1; fi
	echo "curl sent $sent${got:+, vsftpd got $got}"
}

# active_seen VERBOSE: the PORT/EPRT curl sent and the reply it got
active_seen() {
	grep -aE '^> (PORT|EPRT) |^< (200|5[0-9][0-9]) ' "$1" | tail -n 2 | tr -d '\r' | tr '\n' ' '
}

# active_ftplib HOST: python3 ftplib in active mode (set_pasv(False): PORT)
# LIST, RETR and STOR, both contents compared; vsftpd got 3 PORTs naming
# the gateway; ftpgated's column: 3 rewrites at least, each with its pinhole
active_ftplib() {
	local vm lm got=
	family "$1"
	vm=$(vsftpd_mark) lm=$(ftpgate_log_mark)
	lab_ftp_session ftplib "$1" port || return 1
	if [ "$SERVER" = vsftpd ]; then got=$(server_active "$vm" PORT 3) || { echo "$got"; return 1; }; fi
	if [ "$COL" = F ]; then rewritten "$lm" PORT || return 1; fi
	echo "ftplib LIST/RETR/STOR in active mode${got:+, vsftpd got $got}"
}

# active_lftp HOST: lftp in active mode (ftp:passive-mode off; PORT over
# IPv4) cls, get, put, both contents compared, and vsftpd got only PORTs
# naming the gateway (no fallback to passive mode)
active_lftp() {
	local host=$1 tag up got url vm lm last
	tag=lftp-active-$RANDOM
	up="$LAB_WORK/up-$tag"; got="$LAB_WORK/got-$tag"; url=$(url "$host")
	echo "upload $tag $(date +%s%N)" > "$up"
	family "$host"
	vm=$(vsftpd_mark) lm=$(ftpgate_log_mark)
	lab_ns client timeout 120 lftp -c "set ftp:passive-mode off; \
		set net:timeout $LAB_FTP_TIMEOUT; set net:max-retries 1; set net:persist-retries 0; \
		set ftp:ssl-allow no; set xfer:clobber on; \
		open -u anonymous,lab $url; cls -1 pub > $got.list; \
		get pub/hello.txt -o $got; put $up -o upload/$tag" || { echo "lftp failed [$(server_active "$vm" PORT 1)]"; return 1; }
	grep -q hello.txt "$got.list" || { echo "LIST did not show hello.txt: $(head -c 200 "$got.list")"; return 1; }
	[ "$(cat "$got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	cmp -s "$up" "$LAB_FTP_ROOT/upload/$tag" || { echo "STOR content differs or missing"; return 1; }
	last=$(server_active "$vm" PORT 3) || { echo "$last"; return 1; }
	if [ "$COL" = F ]; then rewritten "$lm" PORT || return 1; fi
	echo "lftp cls/get/put in active mode, vsftpd got $last"
}

# many_active HOST N: N RETRs over one control connection in active mode
# (curl's URL globbing reuses it; PORT): N PORTs, every file compared;
# curl sent N PORTs naming the client, vsftpd got N naming the gateway,
# and (ftpgated's column) exactly N "PORT rewritten" lines since the mark
many_active() {
	local host=$1 n=$2 tag=$W/many-active-$RANDOM i got sent vm lm last
	mkdir -p "$tag"
	family "$host"
	vm=$(vsftpd_mark) lm=$(ftpgate_log_mark)
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time 300 $(curl_flags port) \
		"$(url "$host")/pub/n[01-$(printf %02d "$n")].txt" -o "$tag/#1.txt" 2> "$tag.v" ||
		{ echo "curl failed: $(tail -n 1 "$tag.v") [$(active_seen "$tag.v")]"; return 1; }
	got=0
	for i in $(seq -w 1 "$n"); do
		[ "$(cat "$tag/$i.txt" 2>/dev/null)" = "numbered file $i" ] && got=$((got + 1))
	done
	sent=$(grep -acE "^> PORT $(echo "$LAB_CLIENT4" | tr . ,)," "$tag.v")
	[ "$got" = "$((10#$n))" ] || { echo "$got of $n files intact, curl sent $sent PORTs naming $LAB_CLIENT4 [$(active_seen "$tag.v")]"; return 1; }
	[ "$sent" = "$((10#$n))" ] || { echo "curl sent $sent PORTs naming $LAB_CLIENT4, want $n"; return 1; }
	[ "$(grep -acE 'Re-using existing ([a-z]+: )?connection' "$tag.v")" -ge $((10#$n - 1)) ] ||
		{ echo "curl did not reuse one control connection"; return 1; }
	last=$(server_active "$vm" PORT "$((10#$n))") || { echo "$last"; return 1; }
	if [ "$COL" = F ]; then
		last=$(rewritten "$lm" PORT) || { echo "$last"; return 1; }
		[ "${last%% *}" = "$((10#$n))" ] || { echo "ftpgated's log: $last; want exactly $n"; return 1; }
	fi
	echo "$got files intact over one control connection, $sent PORTs naming $LAB_CLIENT4 sent; $last"
}

# active_refused NAME REASON HOST PORT-STEP: the probe logs in and sends
# the PORT of PORT-STEP (fake-ftpd says 200 to any); while the control
# connection holds, no expectation exists for the port it named; then LIST:
# fake-ftpd's connection to the address and port it got never reaches the
# client (425); ftpgated's column: the log says "pinhole refused (REASON)".
# Its last line says what happened on each side and what fake-ftpd got.
active_refused() {
	local name=$1 reason=$2 host=$3 step=$4 lm fm pid port e conn got st=0 what
	lm=$(ftpgate_log_mark) fm=$(wc -l < "$LAB_WORK/fake-ftpd.log")
	rm -f "$W/$name" "$W/$name-go"
	ftpgate_probe client --timeout 15 "$host" login "$step" "save $W/$name" "wait-file $W/$name-go 120" \
		"send LIST" "accept --expect timeout --timeout 4" "expect 425" quit > "$W/$name.out" 2>&1 &
	pid=$!
	ftpgate_wait_file "$W/$name" || { kill "$pid"; wait "$pid"; cat "$W/$name.out"; return 1; }
	port=$(ftpgate_announced_port "$W/$name")
	e=$(ftpgate_expects "$port")
	[ -z "$e" ] || st=1
	touch "$W/$name-go"
	wait "$pid" || st=1
	cat "$W/$name.out"
	conn=$(grep -aoE 'data connection on port [0-9]+: [a-z]+( from [^ ]+ port [0-9]+)?' "$W/$name.out" | tail -n 1)
	got=$(tail -n +"$((fm + 1))" "$LAB_WORK/fake-ftpd.log" | grep -aoE -- '-> (PORT|EPRT) .*' | tail -n 1)
	if [ "$COL" = F ]; then ftpgate_log_since "$lm" "pinhole refused \\($reason\\)" || st=1; fi
	what=$(echo "$e" | grep -oE '(src|dst|sport|dport)=[^ ]+|helper=[^ ]+' | sed -n '1,4p;$p' | tr '\n' ' ')
	echo "expectation for port $port: ${what:-none}; ${conn:-no data connection result}; fake-ftpd got ${got#-> }"
	return $st
}

# third_party NAME HOST: active_refused for a PORT naming another address
# behind the gateway ($LAB_CLIENT4_OTHER; the probe listens on every
# address), which must also reach the server unchanged: fake-ftpd got it
# naming $LAB_CLIENT4_OTHER, and (ftpgated's column) nothing was rewritten
third_party() {
	local lm fm out st=0 other
	lm=$(ftpgate_log_mark) fm=$(wc -l < "$LAB_WORK/fake-ftpd.log")
	other=$(echo "$LAB_CLIENT4_OTHER" | tr . ,)
	out=$(active_refused "$1" third-party-address "$2" "port --addr $LAB_CLIENT4_OTHER") || st=1
	echo "$out"
	if ! tail -n +"$((fm + 1))" "$LAB_WORK/fake-ftpd.log" | grep -aqE -- "-> PORT $other,"; then
		echo "fake-ftpd did not get the PORT naming $other unchanged"; st=1
	fi
	if [ "$COL" = F ] && ftpgate_log_since "$lm" "rewritten from" > /dev/null; then
		echo "ftpgated rewrote: $(tail -n +"$((lm + 1))" "$FTPGATE_LOG" | grep 'rewritten from' | head -n 1)"; st=1
	fi
	echo "$(echo "$out" | tail -n 1)"
	return $st
}

# eprt6_refused: (ftpgated's column) the IPv6 clients SNATed to the longer
# $GW6_LONG (a rule before the masquerade, the address on g1): rewriting
# their EPRT would change the line's length, which the kernel's sequence
# adjustment gets wrong for IPv6 (doc/nat.md 2.5, measured there). The EPRT
# passes unchanged and vsftpd refuses it (500), the log says why, nothing
# expects its port, and the control connection goes on: EPSV, and a data
# connection to the port the 229 names.
eprt6_refused() {
	local lm vm port e h st=0
	lab_ns gateway ip addr add "$GW6_LONG/64" dev g1 nodad || return 1
	h=$(lab_ns gateway nft --echo --handle insert rule inet site srcnat oifname g1 meta nfproto ipv6 snat ip6 to "$GW6_LONG" |
		grep -oE 'handle [0-9]+' | awk '{ print $2 }')
	lm=$(ftpgate_log_mark) vm=$(vsftpd_mark)
	rm -f "$W/eprt6"
	ftpgate_probe client "$LAB_SERVER6" login "eprt --expect 500" "save $W/eprt6" epsv \
		"connect-announced --expect connected" quit || st=1
	port=$(awk '{ print $2 }' "$W/eprt6" 2>/dev/null)
	e=$(ftpgate_expects "${port:-0}")
	[ -z "$e" ] || { echo "an expectation for port $port: $e"; st=1; }
	ftpgate_log_since "$lm" "EPRT naming $(ep_re "$LAB_CLIENT6" "${port:-0}") passed unchanged \\(conntrack [0-9]+\\): changing its length needs the kernel's sequence adjustment, which is wrong for IPv6" || st=1
	tail -n +"$((vm + 1))" "$LAB_WORK/vsftpd.log" | grep -aqF "EPRT |2|$LAB_CLIENT6|${port:-0}|" ||
		{ echo "vsftpd did not get the EPRT naming $LAB_CLIENT6 unchanged"; st=1; }
	[ -n "$h" ] && lab_ns gateway nft delete rule inet site srcnat handle "$h"
	lab_ns gateway ip addr del "$GW6_LONG/64" dev g1
	return $st
}

# no_helper_active HOST: without any helper, curl's active PORT through the
# masquerade fails (the check above can fail)
no_helper_active() {
	! active_curl port "$1" || { echo "an active transfer through masquerade worked without a helper"; return 1; }
}

# masq_scenarios COL SETUP HOST WANT227 [all]: the scenarios of one gateway
# setup (masq: the client dials the server $LAB_SERVER4; both: the
# published $PUB4) for one column. WANT227: what a 227 the client gets must
# name. "all" (the masquerade phase): every scenario, and, in ftpgated's
# column, the refusals (the kernel helper has no such policy). Without it
# (DNAT + masquerade) only what the DNAT changes on the wire: the active
# data connection's way back (SNAT to the published address) and the 227.
# The rest takes the same paths as under masquerade alone, and the suite's
# time is a budget (each scenario costs 4 to 16 s on an idle machine).
masq_scenarios() {
	local c=$1 s=$2 h=$3 w=$4 all=${5:-}
	vsftpd_up || return 1
	column "$c" "$s, vsftpd: curl IPv4 PORT (vsftpd gets $GW4, same port)" active_curl port "$h"
	if [ -n "$all" ]; then
		column "$c" "$s, vsftpd: curl IPv4 EPRT (vsftpd gets $GW4, same port)" active_curl eprt "$h"
		column "$c" "$s, vsftpd: ftplib PORT, LIST/RETR/STOR" active_ftplib "$h"
		column "$c" "$s, vsftpd: lftp PORT, cls/get/put" active_lftp "$h"
		column "$c" "$s, vsftpd: 50 PORTs in one control session, every file compared" many_active "$h" 50
		column "$c" "$s, vsftpd: curl IPv6 EPRT (vsftpd gets $GW6, same port)" active_curl eprt "$LAB_SERVER6"
		column "$c" "$s, vsftpd: curl IPv6 EPSV (229)" curl_session epsv "$LAB_SERVER6" "229 "
		[ "$c" = K ] || column F "$s, vsftpd: IPv6 SNAT to $GW6_LONG (longer): EPRT not rewritten, refused by vsftpd, no expectation, log says why, the control connection goes on" eprt6_refused
	fi
	column "$c" "$s, vsftpd: curl IPv4 PASV trusting the 227 (must name $(echo "$w" | tr , .))" curl_session pasv "$h" "$w"
	[ -n "$all" ] || return 0
	column "$c" "$s, vsftpd: curl IPv4 EPSV (229)" curl_session epsv "$h" "229 "
	pyftpd_up || return 1
	# pyftpdlib connects before it answers PORT: ftpgated's default
	# (active-open = reply) opens the pinhole only on the 200, too late;
	# its column runs it with active-open = command for the server (the
	# pinhole at the PORT, like the kernel helper; doc/protocol.md)
	if [ "$c" = K ]; then
		column "$c" "$s, pyftpdlib: curl IPv4 PORT" active_curl port "$h"
	else
		column "$c" "$s, pyftpdlib: curl IPv4 PORT" active_curl_command port "$h"
	fi
	[ "$c" = F ] || return 0
	fake_up || return 1
	column F "$s: PORT naming $LAB_CLIENT4_OTHER, server says 200: not rewritten, dropped, no expectation, log third-party-address" \
		third_party "tp-$s" "$h"
	column F "$s: PORT naming the client's port 22, server says 200: dropped, no expectation, log privileged-port" \
		active_refused "p22-$s" privileged-port "$h" "port --data-port 22"
}

# active_curl_command MODE HOST: active_curl with ftpgated reloaded with
# active-open = command for the lab's servers, then reloaded with the
# suite's own configuration again (whatever the outcome); its log must
# show the pinhole opened at the command
active_curl_command() {
	local rc=0 out lm
	nat_config command || return 1
	ftpgate_reload || { nat_config reply; ftpgate_reload; return 1; }
	lm=$(ftpgate_log_mark)
	out=$(active_curl "$@") || rc=1
	echo "$out"
	if [ "$rc" = 0 ]; then
		ftpgate_log_since "$lm" "pinhole opened: .* \\(active mode\\), NAT to .*\\(at the command \"PORT " > /dev/null ||
			{ echo "no \"pinhole opened: ... (at the command \"PORT ...\"\" in ftpgated's log"; rc=1; }
	fi
	nat_config reply || rc=1
	ftpgate_reload || { echo "reload back to active-open = reply failed"; rc=1; }
	return "$rc"
}

# counter NAME: packets counted by the ftpgate forward rule with comment NAME
counter() {
	lab_ns gateway nft list chain inet ftpgate ftpgate_forward | awk -v c="comment \"$1\"" '
		index($0, c) { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
		END { print n + 0 }'
}

# gateway_setup SITE [ftpgate]: the gateway's ruleset for a phase: SITE and
# the kernel helper's table (kernel.nft), or, with "ftpgate", SITE and the
# shipped ftpgate table with the client sets filled as a deployment fills
# them; no conntrack or expectation of an earlier phase left
gateway_setup() {
	if [ "${2:-}" = ftpgate ]; then
		ftpgate_rules "$1" || return 1
		lab_ns gateway nft add element inet ftpgate ftpgate_clients_ipv4 "{ 198.51.100.0/24 }" || return 1
		lab_ns gateway nft add element inet ftpgate ftpgate_clients_ipv6 "{ 2001:db8:1::/64 }" || return 1
	else
		lab_ns gateway nft flush ruleset
		lab_ns gateway nft -f "$1" && lab_ns gateway nft -f "$W/kernel.nft" || return 1
	fi
	lab_ns gateway conntrack -F >/dev/null 2>&1
	lab_ns gateway conntrack -F expect >/dev/null 2>&1
	return 0
}

lab_topology_up || exit 1
ftpgate_lab_extras || { echo "cannot add the extra lab addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
modprobe -a nf_conntrack_ftp nf_nat_ftp nft_nat nft_chain_nat 2>/dev/null
for m in nf_conntrack_ftp nf_nat_ftp nft_nat nft_chain_nat nf_nat; do
	grep -q "^$m " /proc/modules || { echo "cannot load $m" >&2; exit 1; }
done
# masquerade: a module on 6.1 (nft -f of nat-masq.nft says so if missing)
modprobe nft_masq 2>/dev/null
uname -r
vsftpd_up || exit 1

# --- control: the NAT gateway without any helper ------------------------------
phase "controls: no helper"
lab_ns gateway nft flush ruleset
lab_ns gateway nft -f "$SITE" || exit 1
nohelper_fails() {
	! curl_session pasv-skip "$PUB4" || { echo "a passive transfer through DNAT worked without a helper"; return 1; }
}
check "control (no helper): a passive transfer to the published server fails" nohelper_fails
lab_ns gateway nft -f "$MASQ" || exit 1
check "control (no helper): an active transfer (curl PORT) through the masquerade fails" no_helper_active "$LAB_SERVER4"

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
phase "kernel helper: DNAT (nat-site.nft)"
gateway_setup "$SITE" || exit 1
scenarios K
phase "kernel helper: masquerade (nat-masq.nft)"
gateway_setup "$MASQ" || exit 1
masq_scenarios K masq "$LAB_SERVER4" "203,0,113,2" all
phase "kernel helper: DNAT + masquerade (nat-both.nft)"
gateway_setup "$BOTH" || exit 1
masq_scenarios K both "$PUB4" "198,51,100,1"
lab_ns gateway nft flush ruleset
lab_ns gateway conntrack -F >/dev/null 2>&1
lab_ns gateway conntrack -F expect >/dev/null 2>&1
# the kernel's expectations must not answer for ftpgated below
rmmod nf_nat_ftp nf_conntrack_ftp 2>/dev/null

# --- ftpgated -----------------------------------------------------------------
phase "ftpgated: DNAT (nat-site.nft)"
# active mode for the masquerade phases (the DNAT phase is passive only);
# nat_config ACTIVE-OPEN: with active-open = reply (the suite's) or
# command (active_curl_command, pyftpdlib's PORT)
nat_config() {
	ftpgate_config <<CONF
queue-number = 7
expect-timeout-seconds = 30
passive-ports = 1024-65535
max-pinholes-per-session = 8
audit-log = $W/audit.log
control-socket = $W/ftpgated.sock
[server $LAB_SERVER4]
active-mode = on
active-open = $1
[server $LAB_SERVER6]
active-mode = on
active-open = $1
CONF
}
nat_config reply
vsftpd_up || finish
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

pyftpd_up || finish
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

# --- ftpgated under masquerade (2.2), and DNAT + masquerade (2.3) -------------
# The active-mode data connections pass ftpgate's "ftpgate active pinholes"
# rule: the forward chain sees them after the expectation's NAT to the
# client (a network in ftpgate_clients_ipv4).
active_counted() {
	local n
	n=$(counter "ftpgate active pinholes")
	echo "\"ftpgate active pinholes\" counted $n packets since the rules were loaded"
	[ "$n" -gt 0 ]
}
phase "ftpgated: masquerade (nat-masq.nft)"
check "masquerade: nat-masq.nft and rules/ftpgate.nft load, client sets filled" gateway_setup "$MASQ" ftpgate
masq_scenarios F masq "$LAB_SERVER4" "203,0,113,2" all
check "masquerade: the server's data connections passed the \"ftpgate active pinholes\" rule (as to $LAB_CLIENT4)" active_counted
phase "ftpgated: DNAT + masquerade (nat-both.nft)"
check "DNAT + masquerade: nat-both.nft and rules/ftpgate.nft load, client sets filled" gateway_setup "$BOTH" ftpgate
masq_scenarios F both "$PUB4" "198,51,100,1"
check "DNAT + masquerade: the server's data connections passed the \"ftpgate active pinholes\" rule" active_counted
check "ftpgated still running" ftpgate_alive
phase "end"

echo "--- kernel helper (nf_conntrack_ftp + nf_nat_ftp) beside ftpgated, same boot ($(uname -r))"
for name in "${ORDER[@]}"; do
	printf '  %-78s kernel: %-6s ftpgated: %s\n' "$name" "${KCOL[$name]:--}" "${FCOL[$name]:--}"
done
finish
