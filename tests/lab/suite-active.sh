#!/bin/bash
# ftpgated and active mode, strict command checking and encrypted control
# channels (doc/protocol.md). Real active transfers (curl, lftp; PORT over
# IPv4, EPRT over IPv6) pass the gateway only when active-mode is on and
# the announcement is the client's own; every refused case leaves the
# client's port closed with no expectation, and the log names the reason.
# Runs inside the lab guest; needs $FTPGATE_BUILD_DIR/ftpgated.
#
# The gateway holds rules/ftpgate.nft as shipped (its active-mode sets
# filled with the lab's client networks, its server sets narrowed to the
# lab's servers, as a deployment would) and the lab's site table, which
# lets any new connection to a high port through: so the server's data
# connection back to the client gets through only by an ftpgate pinhole.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/active
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"; : > "$LAB_WORK/fake-ftpd.log"
HOLD_PID=
# vsftpd: give up a blocked active connect quickly, and accept any PORT
# (port_promiscuous: the FTP bounce hole, on purpose here, so that what
# stops a bad PORT below is ftpgate, not the server)
VSFTPD_BASE="connect_timeout=4
port_promiscuous=YES"

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	if [ "$lab_failed" != 0 ]; then
		echo "--- fake-ftpd log (last 30 lines):"; tail -n 30 "$LAB_WORK/fake-ftpd.log" | sed 's/^/  /'
		echo "--- vsftpd log (last 20 lines):"; tail -n 20 "$LAB_WORK/vsftpd.log" 2>/dev/null | sed 's/^/  /'
		echo "--- ftpgated log (all but the audit lines):"; grep -v '^{' "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab active"
	exit
}

vsftpd_start() { LAB_VSFTPD_EXTRA="$VSFTPD_BASE${1:+
$1}" lab_vsftpd_start; }

# One fake-ftpd plays the crafted servers: it accepts any PORT/EPRT with
# 200 and then connects there on LIST, unless the login says otherwise.
FAKE_ARGS=(
	--auth-reply "234 AUTH TLS ok"
	--user refuse --port-reply "500 Illegal PORT command."
	--user port20 --data-source-port 20
)

# The shipped table's client sets, as a deployment fills them: which hosts
# are FTP clients (their high ports are ftpgate's in active mode). The
# servers' sets are ftpgated's own (from the [server] sections).
active_sets() {
	local t="inet ftpgate"
	lab_ns gateway nft add element $t ftpgate_clients_ipv4 "{ 198.51.100.0/24 }" &&
	lab_ns gateway nft add element $t ftpgate_clients_ipv6 "{ 2001:db8:1::/64 }"
}

# counter NAME: packets counted by the ftpgate forward rule with comment NAME
counter() {
	lab_ns gateway nft list chain inet ftpgate ftpgate_forward | awk -v c="comment \"$1\"" '
		index($0, c) { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
		END { print n + 0 }'
}

# has_expect PORT SRC DST SPORT: an ftpgate expectation for the data
# connection SRC:SPORT (0: any) -> DST:PORT, with the matching mask
has_expect() {
	local e mask=0
	[ "$4" != 0 ] && mask=65535
	e=$(ftpgate_expects "$1")
	echo "expectations for port $1: ${e:-none} (all: $(lab_expectations | wc -l))"
	echo "$e" | grep -q "src=$2 dst=$3 sport=$4 dport=$1 " ||
		{ echo "want src=$2 dst=$3 sport=$4 dport=$1"; return 1; }
	echo "$e" | grep -Eq "mask-dst=[^ ]+ sport=$mask dport=65535 " ||
		{ echo "want a source port mask of $mask"; return 1; }
	echo "$e" | grep -q "helper=ftpgate" || { echo "want helper=ftpgate"; return 1; }
}

# hold NAME PROBE-ARGS...: run the probe in the background with
# "save $W/NAME" + a wait + quit after its steps; return once it has saved
# (its announcement is then in $W/NAME). release NAME lets it finish.
hold() {
	local name=$1; shift
	rm -f "$W/$name" "$W/$name-go"
	ftpgate_probe client "$@" "save $W/$name" "wait-file $W/$name-go 120" quit \
		> "$W/$name.out" 2>&1 &
	HOLD_PID=$!
	ftpgate_wait_file "$W/$name" && return 0
	kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID"; HOLD_PID=
	cat "$W/$name.out"
	return 1
}
release() {
	local st
	touch "$W/$1-go"
	wait "$HOLD_PID"; st=$?; HOLD_PID=
	cat "$W/$1.out"
	return $st
}

# refused NAME REASON PROBE-ARGS...: the probe (its last step announces)
# passes, no expectation on the announced port while the control
# connection is still open, and the log names REASON.
refused() {
	local name=$1 reason=$2 mark port st=0; shift 2
	mark=$(ftpgate_log_mark)
	hold "$name" "$@" || return 1
	port=$(ftpgate_announced_port "$W/$name")
	ftpgate_no_expect "$port" || st=1
	ftpgate_log_since "$mark" "pinhole refused \($reason\)" || st=1
	release "$name" || st=1
	return $st
}

# active_session CLIENT HOST [RANGE]: log in, LIST, RETR, STOR in active
# mode (PORT on IPv4, EPRT on IPv6; curl: --ftp-port -, the control
# connection's address) and check contents. RANGE (lftp only): the
# client's data ports, LOW-HIGH.
active_session() {
	local client=$1 host=$2 range=${3:-} tag up got url eprt=--disable-eprt
	tag=$client-active-$RANDOM
	up="$LAB_WORK/up-$tag"; got="$LAB_WORK/got-$tag"
	echo "upload $tag $(date +%s%N)" > "$up"
	rm -f "$got" "$LAB_FTP_ROOT/upload/$tag"
	case $host in *:*) url="ftp://[$host]" eprt= ;; *) url="ftp://$host" ;; esac
	case $client in
	curl)
		local c=(curl -sS --max-time "$LAB_FTP_TIMEOUT" --ftp-port - $eprt)
		lab_ns client "${c[@]}" "$url/pub/" > "$got.list" || return 1
		lab_ns client "${c[@]}" -o "$got" "$url/pub/hello.txt" || return 1
		lab_ns client "${c[@]}" -T "$up" "$url/upload/$tag" || return 1
		;;
	lftp)
		lab_ns client lftp -c "set ftp:passive-mode off; ${range:+set ftp:port-range $range;} \
			set net:timeout $LAB_FTP_TIMEOUT; set net:max-retries 1; set net:persist-retries 0; \
			set ftp:ssl-allow no; set xfer:clobber on; \
			open -u anonymous,lab $url; cls -1 pub > $got.list; \
			get pub/hello.txt -o $got; put $up -o upload/$tag" || return 1
		;;
	esac
	grep -q hello.txt "$got.list" || { echo "LIST did not show hello.txt: $(head -c 200 "$got.list")"; return 1; }
	[ "$(cat "$got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	cmp -s "$up" "$LAB_FTP_ROOT/upload/$tag" || { echo "STOR content differs or missing"; return 1; }
}

fails() { ! "$@" || { echo "succeeded, want a failure"; return 1; }; }

lab_topology_up || exit 1
ftpgate_lab_extras || { echo "cannot add the extra lab addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
modprobe nf_conntrack_ftp || { echo "cannot load nf_conntrack_ftp" >&2; exit 1; }

# --- control: the kernel's nf_conntrack_ftp --------------------------------
# It opens a pinhole for a PORT as soon as it sees the command, before (and
# whatever) the server answers. ftpgate waits for the 200 by default
# (active-open = reply; active-open = command is checked below).
sed 's|@HELPER@|ct helper set "ftp-kernel"|' "$LAB_DIR/rules/baseline-gateway.nft" > "$W/control.nft"
lab_ns gateway nft -f "$W/control.nft" || exit 1
ftpgate_fake_start "${FAKE_ARGS[@]}" || exit 1
kernel_refused_port() {
	local port st=0
	hold kport "$LAB_SERVER4" "login refuse" "port --expect 500" || return 1
	port=$(ftpgate_announced_port "$W/kport")
	ftpgate_expects "$port" | grep -q "dport=$port" || { echo "no expectation for port $port"; st=1; }
	ftpgate_expects "$port"
	release kport || st=1
	return $st
}
check "control (kernel helper): a PORT the server refuses (500) still gets an expectation" kernel_refused_port
lab_ns gateway nft flush ruleset
lab_ns gateway conntrack -F >/dev/null 2>&1
lab_ns gateway conntrack -F expect >/dev/null 2>&1

# --- ftpgated, defaults: active mode off ----------------------------------
ftpgate_config <<'CONF'
# lab: defaults (active-mode off, strict on)
expect-timeout-seconds = 30
CONF
start_and_rules() { ftpgate_start && ftpgate_rules && active_sets; }
check "ftpgated starts; rules/ftpgate.nft loads; client and server sets filled" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish
vsftpd_start || finish

off_dropped() {
	local mark before after
	mark=$(ftpgate_log_mark)
	before=$(counter "unannounced active data connection")
	LAB_FTP_TIMEOUT=12 fails active_session curl "$LAB_SERVER4" || return 1
	after=$(counter "unannounced active data connection")
	echo "\"unannounced active data connection\" counted $before, then $after"
	[ "$after" -gt "$before" ] || { echo "the server's data connection was not dropped by ftpgate's table"; return 1; }
	ftpgate_log_since "$mark" "pinhole refused \(active-mode-disabled\)" "PORT $(echo $LAB_CLIENT4 | tr . ,)"
}
check "active-mode off (default): curl IPv4 PORT fails, server's connection dropped, log active-mode-disabled" off_dropped

# --- active mode on for the lab's two server addresses ---------------------
# active_on_config [OPEN]: the configuration with active mode on for the
# lab's two server addresses, and active-open = OPEN for $LAB_SERVER4 when
# given (the daemon reads it at the next reload)
active_on_config() {
	ftpgate_config <<CONF
[server $LAB_SERVER4]
active-mode = on
${1:+active-open = $1}
[server $LAB_SERVER6]
active-mode = on
CONF
}
active_on_config
check "SIGHUP: active-mode = on for $LAB_SERVER4 and $LAB_SERVER6" ftpgate_reload
mark=$(ftpgate_log_mark)
before=$(counter "ftpgate active pinholes")
check "vsftpd: curl IPv4 PORT LIST/RETR/STOR" active_session curl "$LAB_SERVER4"
check "vsftpd: lftp IPv4 PORT LIST/RETR/STOR" active_session lftp "$LAB_SERVER4"
check "vsftpd: curl IPv6 EPRT LIST/RETR/STOR" active_session curl "$LAB_SERVER6"
check "vsftpd: lftp IPv6 EPRT LIST/RETR/STOR" active_session lftp "$LAB_SERVER6"
check "log: \"pinhole opened\" server -> client:port (active mode), IPv4" \
	ftpgate_log_since "$mark" "pinhole opened: $LAB_SERVER4 -> $LAB_CLIENT4:[0-9]+ tcp \(active mode\)" "reply 200 to \"PORT "
check "log: \"pinhole opened\" server -> client:port (active mode), IPv6 EPRT" \
	ftpgate_log_since "$mark" "pinhole opened: $LAB_SERVER6 -> \[$LAB_CLIENT6\]:[0-9]+ tcp \(active mode\)" "reply 200 to \"EPRT \|2\|"
active_counted() {
	local after
	after=$(counter "ftpgate active pinholes")
	echo "\"ftpgate active pinholes\" counted $before, then $after"
	[ "$after" -gt "$before" ]
}
check "data connections admitted by the \"ftpgate active pinholes\" rule" active_counted

# The expectation itself, while the control connection holds it.
port_table() {
	local port st=0
	hold tbl4 "$LAB_SERVER4" login port || return 1
	port=$(ftpgate_announced_port "$W/tbl4")
	has_expect "$port" "$LAB_SERVER4" "$LAB_CLIENT4" 0 || st=1
	release tbl4 || st=1
	return $st
}
check "PORT accepted (200): expectation $LAB_SERVER4:any -> $LAB_CLIENT4:port, helper ftpgate" port_table
eprt_table() {
	local port st=0
	hold tbl6 "$LAB_SERVER6" login eprt || return 1
	port=$(ftpgate_announced_port "$W/tbl6")
	has_expect "$port" "$LAB_SERVER6" "$LAB_CLIENT6" 0 || st=1
	release tbl6 || st=1
	return $st
}
check "EPRT accepted (200): expectation [$LAB_SERVER6]:any -> [$LAB_CLIENT6]:port" eprt_table
check "PORT, then LIST: vsftpd's data connection reaches the client (150, 226)" \
	ftpgate_probe client "$LAB_SERVER4" login port "send LIST" "accept --expect connected" \
	"expect 150" "expect 226" quit

# Refused announcements; vsftpd itself accepts each of them (promiscuous).
third_party() {
	local mark st=0
	mark=$(ftpgate_log_mark)
	ftpgate_probe client --timeout 10 "$LAB_SERVER4" login "port --addr $LAB_CLIENT4_OTHER" \
		"save $W/third" "send LIST" "accept --expect timeout --timeout 6" "expect 425" quit || st=1
	ftpgate_no_expect "$(ftpgate_announced_port "$W/third")" || st=1
	ftpgate_log_since "$mark" "pinhole refused \(third-party-address\)" "$LAB_CLIENT4_OTHER" || st=1
	return $st
}
check "PORT naming another client address ($LAB_CLIENT4_OTHER), server says 200: its connection dropped, no expectation, log third-party-address" third_party
check "PORT to port 22, server says 200: no expectation, log privileged-port" \
	refused p22 privileged-port "$LAB_SERVER4" login "port --data-port 22"
check "EPRT naming the server's own address: no expectation, log third-party-address" \
	refused eprt6 third-party-address "$LAB_SERVER6" login "eprt --addr $LAB_SERVER6"
malformed_eprt() {
	local mark
	mark=$(ftpgate_log_mark)
	ftpgate_probe client "$LAB_SERVER4" login "send EPRT |3|$LAB_CLIENT4|40000|" "expect 5" quit || return 1
	ftpgate_no_expect 40000 && ftpgate_log_since "$mark" "pinhole refused \(malformed-command\)" "EPRT protocol not 1 or 2"
}
check "EPRT with protocol 3: no expectation, log malformed-command" malformed_eprt

ftpgate_fake_start "${FAKE_ARGS[@]}" || finish
check "server refuses the PORT (500): no expectation, log not-accepted" \
	refused refuse not-accepted "$LAB_SERVER4" "login refuse" "port --expect 500"

# --- active-open = command: the pinhole at the PORT ---------------------------
# As the kernel helper does (the control above): for servers that connect
# before they answer PORT (pyftpdlib). A PORT the server refuses loses its
# pinhole at the refusal.
active_on_config command
check "SIGHUP: active-open = command for $LAB_SERVER4" ftpgate_reload
command_refused() {
	local mark port st=0
	mark=$(ftpgate_log_mark)
	hold cref "$LAB_SERVER4" "login refuse" "port --expect 500" || return 1
	port=$(ftpgate_announced_port "$W/cref")
	ftpgate_no_expect "$port" || st=1
	ftpgate_log_since "$mark" "pinhole opened: $LAB_SERVER4 -> $LAB_CLIENT4:$port tcp \\(active mode\\), expires in [0-9]+s \\(at the command \"PORT " || st=1
	ftpgate_log_since "$mark" "pinhole removed \\(refused-by-server\\): -> $LAB_CLIENT4:$port tcp" || st=1
	release cref || st=1
	return $st
}
check "active-open = command: a PORT the server refuses (500) is opened at the command and removed at the 500: no expectation afterwards, log refused-by-server" command_refused
lab_pyftpd_start || finish
check "active-open = command: pyftpdlib (connects before its 200), curl IPv4 PORT LIST/RETR/STOR" \
	active_session curl "$LAB_SERVER4"
ftpgate_fake_start "${FAKE_ARGS[@]}" || finish
active_on_config
check "SIGHUP: back to active-open = reply (the default)" ftpgate_reload

# --- pinholes never outlive their purpose (fake-ftpd) ----------------------
supersede() {
	local mark p1 p2 p3 st=0
	mark=$(ftpgate_log_mark)
	rm -f "$W"/sup*
	ftpgate_probe client "$LAB_SERVER4" login port "save $W/sup1" port "save $W/sup2" \
		"wait-file $W/sup-go1 120" pasv "save $W/sup3" "wait-file $W/sup-go2 120" quit \
		> "$W/sup.out" 2>&1 &
	HOLD_PID=$!
	ftpgate_wait_file "$W/sup2" || { cat "$W/sup.out"; return 1; }
	p1=$(ftpgate_announced_port "$W/sup1") p2=$(ftpgate_announced_port "$W/sup2")
	ftpgate_no_expect "$p1" || st=1
	has_expect "$p2" "$LAB_SERVER4" "$LAB_CLIENT4" 0 || st=1
	touch "$W/sup-go1"
	ftpgate_wait_file "$W/sup3" || st=1
	p3=$(ftpgate_announced_port "$W/sup3")
	ftpgate_no_expect "$p2" || st=1
	ftpgate_expects "$p3" | grep -q "dport=$p3" || { echo "PASV port $p3 has no expectation"; st=1; }
	touch "$W/sup-go2"
	wait "$HOLD_PID" || st=1; HOLD_PID=
	cat "$W/sup.out"
	ftpgate_no_expect "$p3" || st=1
	ftpgate_log_since "$mark" "pinhole removed \(superseded\)" ":$p1 tcp \(active mode\)" || st=1
	ftpgate_log_since "$mark" "pinhole removed \(superseded\)" ":$p2 tcp \(active mode\)" || st=1
	ftpgate_log_since "$mark" "pinhole removed \(quit\)" ":$p3 tcp" || st=1
	return $st
}
check "PORT, PORT, PASV, QUIT: each removes the pinhole before it, QUIT the last (log pinhole removed)" supersede
lifecycle() {
	local name=$1 cause=$2 mark port st=0; shift 2
	mark=$(ftpgate_log_mark)
	hold "$name" "$LAB_SERVER4" "$@" || return 1
	port=$(ftpgate_announced_port "$W/$name")
	ftpgate_no_expect "$port" || st=1
	ftpgate_log_since "$mark" "pinhole removed \($cause\)" ":$port tcp" || st=1
	release "$name" || st=1
	return $st
}
check "ABOR (225) removes the unused PASV pinhole" lifecycle abor abort login pasv "send ABOR" "expect 225"
check "REIN (220) removes the unused PORT pinhole" lifecycle rein reinitialize login port "send REIN" "expect 220"
check "EPSV ALL, then PORT the server accepts: no expectation, log epsv-all" \
	refused epsvall epsv-all "$LAB_SERVER4" login "send EPSV ALL" "expect 200" port

# --- strict mode (on by default) -------------------------------------------
strict_line() {
	local name=$1 rule=$2 port=$3 mark st=0; shift 3
	mark=$(ftpgate_log_mark)
	rm -f "$W/$name-go"
	ftpgate_probe client "$@" "wait-file $W/$name-go 120" quit > "$W/$name.out" 2>&1 &
	HOLD_PID=$!
	for _ in $(seq 100); do
		ftpgate_log_since "$mark" "line rejected" "\($rule" > /dev/null && break
		sleep 0.1
	done
	ftpgate_log_since "$mark" "line rejected" "\($rule" || st=1
	# the probe waits for the go file only once it has read the server's
	# answer (200 for a PORT): by then ftpgate has judged it
	ftpgate_probe_waiting "$W/$name.out" "$W/$name-go" || st=1
	ftpgate_no_expect "$port" || st=1
	touch "$W/$name-go"
	wait "$HOLD_PID" || st=1; HOLD_PID=
	cat "$W/$name.out"
	return $st
}
c4=$(echo "$LAB_CLIENT4" | tr . ,)
check "strict: \"NOOP \" then a segment starting \"PORT ...\" (NAT slipstreaming): not a command, log embedded-command" \
	strict_line slip embedded-command 40017 "$LAB_SERVER4" login "send-raw NOOP\\x20" "sleep 0.3" \
	"send-raw PORT $c4,156,81\\r\\n" "expect 2"
check "strict: PORT hidden behind a bare CR: log bare-cr, no pinhole" \
	strict_line barecr bare-cr 40018 "$LAB_SERVER4" login "send-raw NOOP\\rPORT $c4,156,82\\r\\n" "expect 5"
check "strict: PORT with a NUL byte, server says 200: log nul-byte, no pinhole" \
	strict_line nul nul-byte 40019 "$LAB_SERVER4" login "send-raw PORT $c4,156,83\\x00\\r\\n" "expect 200"
check "strict: over-long PORT line (600 bytes), server says 200: log too-long, no pinhole" \
	strict_line long too-long 40020 "$LAB_SERVER4" login \
	"send-raw PORT $c4,156,84$(printf '%600s' '')\\r\\n" "expect 200"

ftpgate_fake_start --greeting-delay 1 "${FAKE_ARGS[@]}" || finish
check "strict: a PORT sent before the server's greeting (server says 200): log before-greeting, no pinhole" \
	strict_line early before-greeting 40021 --early "PORT $c4,156,85" "$LAB_SERVER4" "expect 200"
ftpgate_config <<CONF
[server $LAB_SERVER4]
active-mode = on
strict = off
CONF
check "SIGHUP: strict = off for $LAB_SERVER4" ftpgate_reload
relaxed_early() {
	local st=0
	rm -f "$W/relaxed-go"
	ftpgate_probe client --early "PORT $c4,156,86" "$LAB_SERVER4" "expect 200" \
		"wait-file $W/relaxed-go 120" quit > "$W/relaxed.out" 2>&1 &
	HOLD_PID=$!
	for _ in $(seq 50); do [ -n "$(ftpgate_expects 40022)" ] && break; sleep 0.1; done
	has_expect 40022 "$LAB_SERVER4" "$LAB_CLIENT4" 0 || st=1
	touch "$W/relaxed-go"
	wait "$HOLD_PID" || st=1; HOLD_PID=
	cat "$W/relaxed.out"
	return $st
}
check "strict = off: the same early PORT gets its pinhole (the rule is what stopped it)" relaxed_early

# --- active-client-ports, active-source-port -------------------------------
ftpgate_config <<CONF
active-mode = on
active-client-ports = 50000-50999
[server $LAB_SERVER4]
active-source-port = 20
CONF
check "SIGHUP: active-mode = on globally, active-client-ports = 50000-50999, active-source-port = 20 for $LAB_SERVER4" ftpgate_reload
ftpgate_fake_start "${FAKE_ARGS[@]}" || finish
check "PORT to port 40123, outside active-client-ports: no expectation, log port-out-of-range" \
	refused range port-out-of-range "$LAB_SERVER4" login "port --data-port 40123"
port20_table() {
	local st=0
	hold p20 "$LAB_SERVER4" login "port --data-port 50123" || return 1
	has_expect 50123 "$LAB_SERVER4" "$LAB_CLIENT4" 20 || st=1
	release p20 || st=1
	return $st
}
check "active-source-port = 20: expectation from $LAB_SERVER4 port 20 exactly" port20_table
check "active-source-port = 20, server connects from port 20: the data connection passes" \
	ftpgate_probe client "$LAB_SERVER4" "login port20" "port --data-port 50124" "send LIST" \
	"accept --expect connected" "expect 150" "expect 226" quit
check "active-source-port = 20, server connects from another port: dropped" \
	ftpgate_probe client "$LAB_SERVER4" login "port --data-port 50125" "send LIST" \
	"accept --expect timeout --timeout 4" "expect 425" quit
vsftpd_start || finish
check "active-client-ports 50000-50999: lftp EPRT (IPv6) from that range, LIST/RETR/STOR (vsftpd)" \
	active_session lftp "$LAB_SERVER6" 50000-50999

# --- encrypted control channels --------------------------------------------
ftpgate_fake_start "${FAKE_ARGS[@]}" || finish
auth_234() {
	local mark port st=0
	mark=$(ftpgate_log_mark)
	ftpgate_probe client "$LAB_SERVER4" "send AUTH TLS" "expect 234" login pasv "save $W/tls" \
		"connect-announced --expect timeout --timeout 2" "port --data-port 50124" quit || return 1
	port=$(ftpgate_announced_port "$W/tls")
	ftpgate_no_expect "$port" || st=1
	ftpgate_no_expect 50124 || st=1
	ftpgate_log_since "$mark" "control channel encrypted; ftpgate cannot open data pinholes for it" \
		"AUTH TLS" "234" "$LAB_CLIENT4" || st=1
	! ftpgate_log_since "$mark" "line rejected" > /dev/null || { echo "lines after the 234 were parsed"; st=1; }
	return $st
}
check "lab server answers AUTH TLS with 234: session reported opaque, later PASV/PORT in clear get nothing" auth_234

tls_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$W/tls.key" -out "$W/tls.pem" -days 2 -subj /CN=ftp-lab 2>&1
}
vsftpd_tls() {
	tls_cert || return 1
	vsftpd_start "ssl_enable=YES
ssl_ciphers=HIGH
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
require_ssl_reuse=NO
rsa_cert_file=$W/tls.pem
rsa_private_key_file=$W/tls.key"
}
check "vsftpd with TLS (ssl_enable, certificate made with openssl) starts" vsftpd_tls
curl_tls() {
	local mark
	mark=$(ftpgate_log_mark)
	fails lab_ns client curl -sS -k --ssl-reqd --max-time 8 "ftp://$LAB_SERVER4/pub/" || return 1
	ftpgate_log_since "$mark" "control channel encrypted; ftpgate cannot open data pinholes for it" \
		"AUTH (TLS|SSL)" "$LAB_CLIENT4"
}
check "curl AUTH TLS to vsftpd: session reported opaque (its passive transfer cannot pass)" curl_tls

finish
