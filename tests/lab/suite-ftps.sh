#!/bin/bash
# FTPS through ftpgated (issue 15): under tls = client-range an encrypted
# control connection gets a grant, "client . server . passive range" in
# the nft set ftpgate_grants_ipv4/_ipv6, for as long as it lives. Real
# peers: vsftpd with ssl_enable and a certificate made with openssl
# (explicit FTPS on 21, implicit on 990); clients curl --ssl-reqd, python3
# ftplib FTP_TLS and lftp with ftp:ssl-force, each doing LIST, RETR and
# STOR with the contents checked. Dropped, with no grant for them: the same
# client to another server's range, another client to this range, this
# client after its control connection closed. The grant survives a
# ruleset reload (ftpgated puts it back) and a daemon restart (removed at
# stop, given again at the session's next packet). Refused with a reason
# in the audit log: a range over grant-max-ports, a server without its own
# passive-ports, a client at max-grants-per-client. With tls = opaque the
# transfers fail as before and the audit says why.
#
# The gateway holds rules/ftpgate.nft as shipped and the lab's site table
# (default drop; admits the control port and new connections to high
# ports): what closes the passive range is ftpgate's drop rule, what opens
# it for a granted client is ftpgate's grant rule.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/ftps
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"
AUDIT=$W/audit.log
: > "$AUDIT"
CTL_SOCKET=$W/ftpgated.sock
HOLD_PID= IMPLICIT_PID=
HOLD_PORT=45001		# the held control connection's source port

check() { ftpgate_check "$@"; }
# progress TEXT: a line on the console at once (a check's own output goes
# to its check.out and is shown only when it fails)
exec 3>&1
progress() { echo "  ... $(date +%T) $*" >&3; }

finish() {
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null
	[ -n "$IMPLICIT_PID" ] && kill "$IMPLICIT_PID" 2>/dev/null
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- vsftpd log (last 20 lines):"; tail -n 20 "$LAB_WORK/vsftpd.log" 2>/dev/null | sed 's/^/  /'
		echo "--- pure-ftpd output:"; tail -n 20 "$W/pure-ftpd.out" 2>/dev/null | sed 's/^/  /'
		echo "--- ftpgated log (last 40 lines):"; tail -n 40 "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab ftps"
	exit
}

mark() { wc -l < "$AUDIT"; }
audit() { "$LAB_PYTHON" "$LAB_DIR/audit-check.py" "$@"; }

# conf GLOBAL_LINES SERVER_LINES: the daemon's configuration; the lab
# server 203.0.113.2 gets SERVER_LINES (default: its passive range under
# client-range), the IPv6 server and the second server 192.0.2.7 (in the
# server namespace) the same range under client-range.
conf() {
	FTPGATE_CONFIG_EXACT=1 ftpgate_config <<CONF
audit-log = $AUDIT
control-socket = $CTL_SOCKET
grant-lifetime-seconds = 600
${1:-}
[server $LAB_SERVER4]
${2:-passive-ports = 40000-40099
tls = client-range}
[server $LAB_SERVER6]
passive-ports = 40000-40099
tls = client-range
[server $LAB_THIRD_PARTY4]
passive-ports = 40000-40099
tls = client-range
CONF
}

# The kernel's grants, both families, one element per line.
grants_list() {
	lab_ns gateway nft list set inet ftpgate ftpgate_grants_ipv4 2>&1
	lab_ns gateway nft list set inet ftpgate ftpgate_grants_ipv6 2>&1
}
grant_present() {
	grants_list | grep -qF "$1" && return 0
	echo "no grant element '$1'; the sets: $(grants_list | tr -s '\n\t' '  ')"
	return 1
}
grant_absent() {
	grants_list | grep -qF "$1" || return 0
	echo "grant element '$1' is there: $(grants_list | tr -s '\n\t' '  ')"
	return 1
}
GRANT4="$LAB_CLIENT4 . $LAB_SERVER4 . 40000-40099"
GRANT6="$LAB_CLIENT6 . $LAB_SERVER6 . 40000-40099"

# grants_closed SINCE MIN_DATA: every grant-opened after SINCE has its
# grant-closed, and together they counted at least MIN_DATA data
# connections (from conntrack events; control connections of one client
# to one server share an element, so a data connection is counted under
# the newest of them); at least one grant was opened.
grants_closed() {
	"$LAB_PYTHON" - "$AUDIT" "$1" "$2" <<'PY'
import json, sys
path, since, min_data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
opened, closed = {}, {}
for n, line in enumerate(open(path), 1):
    if n <= since:
        continue
    e = json.loads(line)
    if e["event"] == "grant-opened":
        opened[e["grant_id"]] = e
    elif e["event"] == "grant-closed":
        closed[e["grant_id"]] = e
if not opened:
    sys.exit("no grant-opened since line %d" % since)
open_ids = sorted(set(opened) - set(closed))
if open_ids:
    sys.exit("grants %s opened and not closed" % open_ids)
data = sum(closed[g]["data_connections"] for g in opened)
if data < min_data:
    sys.exit("grants %s closed with %d data connections in all, want %d" %
             (sorted(opened), data, min_data))
print("%d grants opened and closed, %d data connections" % (len(opened), data))
PY
}

# connect_from NS SOURCE DEST PORT: connect with a chosen source address;
# prints connected | refused | timeout.
connect_from() {
	lab_ns "$1" "$LAB_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET)
s.bind((sys.argv[1], 0)); s.settimeout(3)
try:
    s.connect((sys.argv[2], int(sys.argv[3]))); print("connected")
except ConnectionRefusedError: print("refused")
except (socket.timeout, TimeoutError): print("timeout")
except OSError as e: print("error", e)
' "$2" "$3" "$4"
}
expect_connect() {
	local r
	r=$(connect_from "$@")
	[ "$r" = "$5" ] && return 0
	echo "connection $2 -> $3 port $4: $r, want $5"
	return 1
}

# ftps_session CLIENT HOST [implicit]: LIST, RETR and STOR over FTPS with
# the contents checked; every grant it got is closed afterwards (its
# control connections ended), with at least one data connection each.
ftps_session() {
	local client=$1 host=$2 how=${3:-explicit} m tag up got url c st=0
	m=$(mark)
	tag=$client-$how-$RANDOM
	up="$W/up-$tag"; got="$W/got-$tag"
	echo "upload $tag $(date +%s%N)" > "$up"
	case $host in *:*) url="ftp://[$host]" ;; *) url="ftp://$host" ;; esac
	[ "$how" = implicit ] && url="ftps://$host:990"
	case $client in
	curl)
		lab_ns client curl -sS -k --ssl-reqd --max-time $LAB_FTP_TIMEOUT "$url/pub/" > "$got.list" || return 1
		lab_ns client curl -sS -k --ssl-reqd --max-time $LAB_FTP_TIMEOUT -o "$got" "$url/pub/hello.txt" || return 1
		lab_ns client curl -sS -k --ssl-reqd --max-time $LAB_FTP_TIMEOUT -T "$up" "$url/upload/$tag" || return 1
		;;
	lftp)
		lab_ns client lftp -c "set ftp:ssl-force true; set ftp:ssl-protect-data true; \
			set ssl:verify-certificate no; set ftp:passive-mode on; \
			set net:timeout $LAB_FTP_TIMEOUT; set net:max-retries 1; set net:persist-retries 0; \
			set xfer:clobber on; open -u anonymous,lab $url; cls -1 pub > $got.list; \
			get pub/hello.txt -o $got; put $up -o upload/$tag" || return 1
		;;
	ftplib)
		lab_ns client "$LAB_PYTHON" "$LAB_DIR/ftps-client.py" "$host" "$LAB_FTP_TIMEOUT" \
			login list "$got.list" retr "$got" stor "$up" "upload/$tag" quit > /dev/null || return 1
		;;
	esac
	grep -q hello.txt "$got.list" || { echo "LIST did not show hello.txt: $(head -c 200 "$got.list")"; return 1; }
	[ "$(cat "$got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	cmp -s "$up" "$LAB_FTP_ROOT/upload/$tag" || { echo "STOR content differs or missing"; return 1; }
	case $host in *:*) c=$LAB_CLIENT6 ;; *) c=$LAB_CLIENT4 ;; esac
	audit event "$AUDIT" "$m" grant-opened client="$c" server="$host" ports=40000-40099 || st=1
	ftpgate_retry 30 grants_closed "$m" 3 || st=1
	return $st
}

# ftps_fails HOST: curl's FTPS LIST does not get through (its data
# connection is dropped) and leaves no grant of the lab client to HOST.
ftps_fails() {
	if lab_ns client curl -sS -k --ssl-reqd --max-time 8 "ftp://$1/pub/" > /dev/null 2>&1; then
		echo "an FTPS LIST to $1 got through"
		return 1
	fi
	grant_absent "$LAB_CLIENT4 . $1 . "
}

lab_topology_up || exit 1
ftpgate_lab_extras || { echo "cannot add the extra lab addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }

tls_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$W/tls.key" -out "$W/tls.pem" -days 2 -subj /CN=ftp-lab 2>&1
}
VSFTPD_TLS="ssl_enable=YES
ssl_ciphers=HIGH
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=NO
rsa_cert_file=$W/tls.pem
rsa_private_key_file=$W/tls.key"
vsftpd_tls() { tls_cert && LAB_VSFTPD_EXTRA=$VSFTPD_TLS lab_vsftpd_start; }
# A second vsftpd, implicit FTPS on port 990 (the same root and range).
vsftpd_implicit() {
	sed -e '$a listen_port=990' -e '$a implicit_ssl=YES' \
		-e "s|^vsftpd_log_file=.*|vsftpd_log_file=$W/vsftpd990.log|" \
		"$LAB_WORK/vsftpd.conf" > "$W/vsftpd990.conf"
	ip netns exec server /usr/sbin/vsftpd "$W/vsftpd990.conf" > "$W/vsftpd990.out" 2>&1 &
	IMPLICIT_PID=$!
	lab_wait_port server 990
}

conf
start_and_rules() {
	ftpgate_start && ftpgate_rules || return 1
	lab_ns gateway nft list set inet ftpgate ftpgate_grants_ipv4 > /dev/null &&
		lab_ns gateway nft list set inet ftpgate ftpgate_grants_ipv6 > /dev/null
}
check "ftpgated starts; rules/ftpgate.nft loads with the grant sets" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish
check "vsftpd with ssl_enable (forced TLS, certificate made with openssl) starts" vsftpd_tls
# Listeners on passive port 40050 of the server, of the second server
# 192.0.2.7 and of the IPv6 server: bound here, vsftpd never announces it,
# so a connection there is admitted only by a grant.
lab_listen server "$LAB_SERVER4" 40050
lab_listen server "$LAB_THIRD_PARTY4" 40050
lab_listen server "$LAB_SERVER6" 40051

# --- client-range: real transfers ---------------------------------------------
check "client-range: curl --ssl-reqd IPv4 LIST/RETR/STOR, grants closed with their sessions" \
	ftps_session curl "$LAB_SERVER4"
check "client-range: curl --ssl-reqd IPv6 LIST/RETR/STOR, grants closed with their sessions" \
	ftps_session curl "$LAB_SERVER6"
check "client-range: ftplib FTP_TLS IPv4 LIST/RETR/STOR, grant closed with its session" \
	ftps_session ftplib "$LAB_SERVER4"
check "client-range: lftp ftp:ssl-force IPv4 LIST/RETR/STOR, grants closed with their sessions" \
	ftps_session lftp "$LAB_SERVER4"
rule_counted() {
	local n
	n=$(lab_ns gateway nft list chain inet ftpgate ftpgate_forward | awk '/ftpgate grants/ && /ip saddr/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
	[ "${n:-0}" -gt 0 ] || { echo "rule \"ftpgate grants\" (IPv4) counted ${n:-nothing}"; return 1; }
	ftpgate_stat_at_least '^ftpgate_grant_data_connections_total ' 3
}
check "the data connections were admitted by the grant rule and counted from conntrack events" rule_counted

implicit_session() {
	local m
	vsftpd_implicit || return 1
	# as an administrator enabling implicit FTPS: the site admits the
	# control port, ftpgate's table attaches its helper there
	lab_ns gateway nft insert rule inet site forward tcp dport 990 ct state new accept || return 1
	lab_ns gateway nft add element inet ftpgate ftp_control_ports '{ 990 }' || return 1
	m=$(mark)
	ftps_session curl "$LAB_SERVER4" implicit || return 1
	audit event "$AUDIT" "$m" grant-opened tls=implicit-tls control.server_port=990
}
check "client-range: implicit FTPS on 990 (ClientHello first), curl ftps:// LIST/RETR/STOR" implicit_session

# --- a held control connection: what its grant admits, and what not -----------
# start_hold PORT: a held FTPS control connection from source port PORT.
start_hold() {
	rm -f "$W"/hold-*
	ip netns exec client "$LAB_PYTHON" "$LAB_DIR/ftps-client.py" "$LAB_SERVER4" 60 \
		--source-port "$1" login touch "$W/hold-ready" \
		wait "$W/hold-go1" list "$W/hold-list1" touch "$W/hold-listed1" \
		wait "$W/hold-go2" quit > "$W/hold.out" 2>&1 &
	HOLD_PID=$!
	ftpgate_wait_file "$W/hold-ready" 60
}
held() {
	local m st=0
	m=$(mark)
	start_hold "$HOLD_PORT" || return 1
	ftpgate_retry 10 grant_present "$GRANT4" || st=1
	audit event "$AUDIT" "$m" grant-opened client="$LAB_CLIENT4" server="$LAB_SERVER4" \
		ports=40000-40099 tls=auth-tls control.client_port=$HOLD_PORT || st=1
	return $st
}
check "a held FTPS session (ftplib, source port $HOLD_PORT): its grant is in the kernel and audited" held
ctl_grants() {
	local out
	out=$("$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$CTL_SOCKET" grants --json) || { echo "$out"; return 1; }
	echo "$out" | "$LAB_PYTHON" -c '
import json, sys
g = json.load(sys.stdin)["grants"]
mine = [x for x in g if x["control"]["client_port"] == int(sys.argv[1])]
assert len(mine) == 1, g
x = mine[0]
assert (x["client"], x["server"], x["ports"]) == (sys.argv[2], sys.argv[3], "40000-40099"), x
print("ftpgatectl grants: ok")
' "$HOLD_PORT" "$LAB_CLIENT4" "$LAB_SERVER4" || return 1
	"$FTPGATE_BUILD_DIR/ftpgatectl" --socket "$CTL_SOCKET" grants | grep -F "$LAB_CLIENT4" | grep -qF "40000-40099"
}
check "ftpgatectl grants (and --json) lists the held session's grant" ctl_grants
check "granted: the client reaches port 40050 of its server" \
	expect_connect client "$LAB_CLIENT4" "$LAB_SERVER4" 40050 connected
other_server() {
	expect_connect client "$LAB_CLIENT4" "$LAB_THIRD_PARTY4" 40050 timeout || return 1
	grant_absent " . $LAB_THIRD_PARTY4 . " && ftpgate_no_expect 40050
}
check "the same client to another server's range (192.0.2.7:40050): dropped, no grant, no expectation" other_server
other_client() {
	expect_connect client "$LAB_CLIENT4_OTHER" "$LAB_SERVER4" 40050 timeout || return 1
	grant_absent "$LAB_CLIENT4_OTHER . " && ftpgate_no_expect 40050
}
check "another client (198.51.100.3) to this range: dropped, no grant, no expectation" other_client

reload_ruleset() {
	local m
	m=$(ftpgate_log_mark)
	lab_ns gateway nft -f "$FTPGATE_RULES" || return 1
	ftpgate_retry 15 grant_present "$GRANT4" || return 1
	ftpgate_log_since "$m" "ftpgate_grants_ipv4 had lost 1 of its 1 grant elements" || return 1
	ftpgate_stat_at_least '^ftpgate_grants_restored_total ' 1 || return 1
	expect_connect client "$LAB_CLIENT4" "$LAB_SERVER4" 40050 connected
}
check "the ruleset loaded again (grants dropped): ftpgated puts the grant back within seconds" reload_ruleset

restart() {
	local m st=0
	m=$(mark)
	progress "restart: stopping ftpgated"
	ftpgate_stop 5 || return 1
	progress "restart: stopped in ${FTPGATE_STOP_SECONDS}s"
	audit event "$AUDIT" "$m" grant-closed reason=daemon-stopped control.client_port=$HOLD_PORT || st=1
	grant_absent "$GRANT4" || st=1
	ftpgate_start || return 1
	progress "restart: started; the held session lists"
	touch "$W/hold-go1"
	ftpgate_wait_file "$W/hold-listed1" 60 || { cat "$W/hold.out"; return 1; }
	grep -q "hello.txt" "$W/hold-list1" || { echo "LIST after the restart: $(cat "$W/hold-list1")"; st=1; }
	audit event "$AUDIT" "$m" grant-opened tls=tls-picked-up control.client_port=$HOLD_PORT || st=1
	grant_present "$GRANT4" || st=1
	return $st
}
check "daemon stopped: grant removed; restarted: the session picked up (TLS) gets it again, LIST passes" restart

closed() {
	local m st=0
	m=$(mark)
	touch "$W/hold-go2"
	progress "closed: the held session quits"
	wait "$HOLD_PID" || { echo "held client: $(tail -n 3 "$W/hold.out")"; st=1; }
	HOLD_PID=
	ftpgate_retry 15 audit event "$AUDIT" "$m" grant-closed control.client_port=$HOLD_PORT || st=1
	grant_absent "$GRANT4" || st=1
	expect_connect client "$LAB_CLIENT4" "$LAB_SERVER4" 40050 timeout || st=1
	ftpgate_no_expect 40050 || st=1
	return $st
}
check "this client after its control connection closed: grant gone, dropped, no expectation" closed

# --- refusals ------------------------------------------------------------------
# refused REASON [HOST]: an FTPS LIST of the lab client to HOST (default
# the lab server) fails, refused a grant for REASON.
refused() {
	local reason=$1 host=${2:-$LAB_SERVER4} m st=0
	m=$(mark)
	ftps_fails "$host" || st=1
	audit event "$AUDIT" "$m" grant-refused reason="$reason" client="$LAB_CLIENT4" server="$host" || st=1
	audit no-event "$AUDIT" "$m" grant-opened client="$LAB_CLIENT4" || st=1
	ftpgate_stat_at_least "^ftpgate_grants_refused_total\\{reason=\"$reason\"\\} " 1 || st=1
	return $st
}
too_large() { conf "grant-max-ports = 50" && ftpgate_reload && refused range-too-large; }
check "grant-max-ports 50 < the 100-port range: refused (range-too-large), dropped, no grant" too_large
no_range() { conf "" "tls = client-range" && ftpgate_reload && refused no-passive-range; }
check "a server without its own passive-ports: refused (no-passive-range), dropped, no grant" no_range
capped() {
	local st=0
	conf "max-grants-per-client = 1" && ftpgate_reload || return 1
	start_hold 45002 || return 1
	ftpgate_retry 10 grant_present "$GRANT4" || st=1
	# another server (vsftpd answers on 192.0.2.7 too): the held grant
	# to 203.0.113.2 would admit a second session to the same server
	# anyway, being the same client . server . range
	refused client-grant-cap "$LAB_THIRD_PARTY4" || st=1
	touch "$W/hold-go1" "$W/hold-go2"
	wait "$HOLD_PID"; HOLD_PID=
	return $st
}
check "max-grants-per-client 1 with one held session: a session to another server refused (client-grant-cap)" capped

# --- opaque: as before ---------------------------------------------------------
opaque() {
	local m st=0
	conf "" "passive-ports = 40000-40099" && ftpgate_reload || return 1
	m=$(mark)
	ftps_fails "$LAB_SERVER4" || st=1
	audit event "$AUDIT" "$m" session-encrypted reason=auth-tls client="$LAB_CLIENT4" \
		detail="control channel encrypted; ftpgate cannot open data pinholes for it" || st=1
	audit no-event "$AUDIT" "$m" grant-opened || st=1
	audit no-event "$AUDIT" "$m" grant-refused || st=1
	return $st
}
check "tls = opaque (the default): the FTPS transfer fails as before, the audit says why, no grant" opaque

# --- a second server: pure-ftpd ------------------------------------------------
# pure-ftpd conflicts with vsftpd as a package: install-deps unpacks it
# into the lab cache. It replaces vsftpd on 203.0.113.2 port 21, TLS
# required (-Y 2), the same certificate and passive range, anonymous
# only; its anonymous root is the ftp user's home, so the lab's FTP root
# is bound there in its own mount namespace (ip netns exec makes one).
PUREFTPD=${FTPGATE_LAB_CACHE:-$LAB_DIR/../../.cache/lab}/pure-ftpd/usr/sbin/pure-ftpd
port21_free() { ! lab_ns server ss -Hltn "sport = :21" | grep -q LISTEN || { echo "port 21 still in use"; return 1; }; }
pureftpd_tls() {
	local home
	[ -x "$PUREFTPD" ] || { echo "$PUREFTPD is missing; run tests/lab/install-deps (it unpacks pure-ftpd there)"; return 1; }
	home=$(getent passwd ftp | cut -d: -f6)
	[ -d "$home" ] || { echo "the ftp user's home '$home' is not a directory"; return 1; }
	conf && ftpgate_reload || return 1
	lab_ftp_stop
	ftpgate_retry 10 port21_free || return 1
	ip netns exec server sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$LAB_FTP_ROOT" "$home" \
		"$PUREFTPD" -S "$LAB_SERVER4,21" -p "$LAB_PASV_LOW:$LAB_PASV_HIGH" -Y 2 -2 "$W/tls.pem,$W/tls.key" \
		-e -A -H > "$W/pure-ftpd.out" 2>&1 &
	echo $! > "$LAB_WORK/ftp-server.pid"
	lab_wait_port server 21 || return 1
	# TLS required: a plain FTP LIST does not get through
	if lab_ns client curl -sS --max-time 8 "ftp://$LAB_SERVER4/pub/" > /dev/null 2>&1; then
		echo "a plain FTP LIST to pure-ftpd got through"; return 1
	fi
}
check "pure-ftpd -Y 2 (TLS required, the same certificate) replaces vsftpd; plain FTP does not get through" pureftpd_tls
check "client-range: curl --ssl-reqd to pure-ftpd IPv4 LIST/RETR/STOR, grants closed with their sessions" \
	ftps_session curl "$LAB_SERVER4"
check "client-range: ftplib FTP_TLS to pure-ftpd IPv4 LIST/RETR/STOR, grant closed with its session" \
	ftps_session ftplib "$LAB_SERVER4"

finish
