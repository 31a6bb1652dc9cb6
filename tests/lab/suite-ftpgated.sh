#!/bin/bash
# ftpgated in the lab: real passive transfers pass the gateway with the
# shipped ruleset, and every announcement ftpgate must refuse leaves the
# data port closed (the client's connect times out) with no expectation in
# the gateway. Also the daemon's lifecycle: down, SIGTERM, restart
# mid-session, SIGHUP. Runs inside the lab guest; needs
# $FTPGATE_BUILD_DIR/ftpgated (default <repo>/build). FTPGATE_LAB_VERBOSE=1
# prints the daemon's and fake-ftpd's logs even when everything passed.
#
# The gateway holds two tables: rules/ftpgate.nft as shipped and
# rules/site-gateway.nft, the rest of a real gateway (default drop, control
# port and high ports open), so that a pinhole to port 22 would be visible.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/ftpgated
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"; : > "$LAB_WORK/fake-ftpd.log"

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- fake-ftpd log (last 30 lines):"; tail -n 30 "$LAB_WORK/fake-ftpd.log" | sed 's/^/  /'
		echo "--- ftpgated log (last 40 lines):"; tail -n 40 "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab ftpgated"
	exit
}

# One fake-ftpd plays every crafted scenario, chosen by the login name.
FAKE_ARGS=(
	--user unsolicited --unsolicited "227 Entering Passive Mode ({h},{p1},{p2})."
	--user unsolicited-same-segment --unsolicited-delay 0
		--unsolicited "227 Entering Passive Mode ({h},{p1},{p2})."
	--user thirdparty --pasv-reply "227 Entering Passive Mode (192,0,2,7,{p1},{p2})."
	--user port22 --pasv-reply "227 Entering Passive Mode ({h},0,22)."
	--user family --pasv-reply "227 Entering Passive Mode (203,0,113,2,{p1},{p2})."
	--user malformed --pasv-reply "227 Entering Passive Mode (203,0,113,256,{p1},{p2})."
	--user highport --pasv-reply "227 Entering Passive Mode ({h},195,80)."
	--user split --reply-chunks 3
	--user coalesce --coalesce
)

lab_topology_up || exit 1
ftpgate_lab_extras || { echo "cannot add the extra lab addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }

# --- control: the tools against the kernel's nf_conntrack_ftp ---------------
# Known kernel behaviour, so these prove the probe and fake-ftpd drive a
# helper (and that their "timeout" later is the gateway's doing).
modprobe nf_conntrack_ftp || { echo "cannot load nf_conntrack_ftp" >&2; exit 1; }
sed 's|@HELPER@|ct helper set "ftp-kernel"|' "$LAB_DIR/rules/baseline-gateway.nft" > "$W/control.nft"
lab_ns gateway nft -f "$W/control.nft" || exit 1
ftpgate_fake_start "${FAKE_ARGS[@]}" || exit 1
check "control (kernel helper): unsolicited 227 gets a pinhole, as known" \
	ftpgate_probe client "$LAB_SERVER4" "login unsolicited" "expect 227" \
	"connect-announced --expect connected"
check "control (kernel helper): 227 naming port 22 gets a pinhole, listener answers" \
	ftpgate_probe client "$LAB_SERVER4" "login port22" pasv "connect-announced --expect connected"
check "control (kernel helper): misses a 227 behind another reply in one segment" \
	ftpgate_probe client "$LAB_SERVER4" "login coalesce" "pipeline NOOP PASV" \
	"connect-announced --expect timeout --timeout 2"
# The kernel helper drops a segment holding a partial 227, so the reply
# stalls (retransmitted and dropped again) and the probe fails.
split_fails() {
	! ftpgate_probe client "$LAB_SERVER4" "login split" pasv \
		"connect-announced --expect connected --timeout 2" ||
		{ echo "a 227 split over 3 segments worked through the kernel helper"; return 1; }
}
check "control (kernel helper): a 227 split over 3 segments does not get through" split_fails
lab_ns gateway nft insert rule inet baseline forward ip daddr "$LAB_THIRD_PARTY4" accept
check "control: third-party address $LAB_THIRD_PARTY4 answers when the gateway lets it" \
	ftpgate_probe client "$LAB_SERVER4" "login thirdparty" pasv "connect-announced --expect connected"
lab_ns gateway nft flush ruleset
lab_ns gateway conntrack -F >/dev/null 2>&1
lab_ns gateway conntrack -F expect >/dev/null 2>&1

# --- ftpgated with its defaults -----------------------------------------------
ftpgate_config <<'CONF'
# lab: the documented defaults, spelled out
queue-number = 7
expect-timeout-seconds = 30
passive-ports = 1024-65535
max-pinholes-per-session = 8
CONF
start_and_rules() { ftpgate_start && ftpgate_rules; }
check "ftpgated starts, registers helper \"ftpgate\", rules/ftpgate.nft loads" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish

# Listeners on two passive ports from the start: bound here, these ports
# cannot be announced by the servers on these addresses, so no transfer
# below leaves an expectation on them, and the checks of unannounced ports
# find only their own connection attempts.
lab_listen server "$LAB_SERVER4" 40050
lab_listen server "$LAB_SERVER6" 40051
lab_vsftpd_start || finish
mark=$(ftpgate_log_mark)
check "vsftpd: curl IPv4 PASV LIST/RETR/STOR" lab_ftp_session curl "$LAB_SERVER4" pasv
check "vsftpd: lftp IPv6 EPSV LIST/RETR/STOR" lab_ftp_session lftp "$LAB_SERVER6" epsv
check "vsftpd: ftplib IPv4 EPSV LIST/RETR/STOR" lab_ftp_session ftplib "$LAB_SERVER4" epsv
check "log: \"pinhole opened\" names the server and port" \
	ftpgate_log_since "$mark" "pinhole opened" "$LAB_SERVER4" "[^0-9]4[0-9]{4}([^0-9]|$)"
pinholes_counted() {
	local n
	n=$(lab_ns gateway nft list chain inet ftpgate ftpgate_forward | awk '/ftpgate pinholes/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
	[ "${n:-0}" -gt 0 ] || { echo "rule \"ftpgate pinholes\" counted ${n:-nothing}"; return 1; }
}
check "data connections admitted by the ftpgate pinholes rule" pinholes_counted

check "unannounced passive port 40050 IPv4 (listener there): dropped, no expectation" \
	ftpgate_blocked client "$LAB_SERVER4" 40050
check "unannounced passive port 40051 IPv6 (listener there): dropped, no expectation" \
	ftpgate_blocked client "$LAB_SERVER6" 40051
lab_listeners_stop

# The announced port from another client address: dropped, and the
# expectation that exists names the real client.
other_client() {
	local port e status
	ftpgate_probe client "$LAB_SERVER4" login pasv \
		"connect-announced --from $LAB_CLIENT4_OTHER --expect timeout --timeout 2" \
		"save $W/other" "wait-file $W/other-go 120" "connect-announced --expect connected" quit \
		> "$W/other.out" 2>&1 &
	local pid=$!
	ftpgate_wait_file "$W/other" || { kill "$pid"; cat "$W/other.out"; return 1; }
	port=$(ftpgate_announced_port "$W/other")
	e=$(ftpgate_expects "$port")
	touch "$W/other-go"
	wait "$pid"; status=$?
	cat "$W/other.out"
	echo "expectations for port $port: $e"
	[ "$status" = 0 ] || return 1
	echo "$e" | grep -q "src=$LAB_CLIENT4 " || { echo "no expectation names the client $LAB_CLIENT4"; return 1; }
	! echo "$e" | grep -q "src=$LAB_CLIENT4_OTHER " || { echo "an expectation names $LAB_CLIENT4_OTHER"; return 1; }
}
check "announced port from another client address ($LAB_CLIENT4_OTHER): dropped; the expectation names $LAB_CLIENT4" other_client

lab_pyftpd_start || finish
check "pyftpdlib: ftplib IPv4 PASV LIST/RETR/STOR" lab_ftp_session ftplib "$LAB_SERVER4" pasv
check "pyftpdlib: curl IPv6 EPSV LIST/RETR/STOR" lab_ftp_session curl "$LAB_SERVER6" epsv
check "pyftpdlib: lftp IPv4 PASV LIST/RETR/STOR" lab_ftp_session lftp "$LAB_SERVER4" pasv

# Kernel facts (include/queue.h, `expected`): Debian's 6.1.176 gives a data
# connection its control connection's helper, so its packets are queued
# to ftpgated as well (6.1.192 and 6.12.118 do not). They must pass unread:
# tracked as a control session, an upload was a "line before the greeting".
data_untracked() {
	local bad sock
	bad=$(grep '"event":"session-started"' "$FTPGATE_LOG" | grep -v '"server_port":21,')
	[ -z "$bad" ] || { echo "data connections tracked as control sessions: $(echo "$bad" | head -n 3)"; return 1; }
	sock=$(sed -n 's/^control-socket *= *//p' "$FTPGATE_CONF")
	echo "this kernel queued $("$FTPGATE_BUILD_DIR/ftpgatectl" --socket "${sock:-/run/ftpgate/ftpgated.sock}" metrics |
		awk '$1 == "ftpgate_packets_data_connection_total" { print $2 }') packets of data connections to ftpgated"
}
check "the transfers' data connections: never tracked as control sessions (audit session-started only for port 21)" data_untracked

# --- crafted replies ------------------------------------------------------------
ftpgate_fake_start "${FAKE_ARGS[@]}" || finish

# probe_refused NAME REASON PROBE-ARGS...: the probe (which ends with a
# "save" of the announcement) passes, nothing is expected on the announced
# port and the log names REASON since the probe started.
probe_refused() {
	local name=$1 reason=$2 mark port; shift 2
	mark=$(ftpgate_log_mark)
	rm -f "$W/$name"
	ftpgate_probe client "$@" "save $W/$name" || return 1
	port=$(ftpgate_announced_port "$W/$name")
	ftpgate_no_expect "$port" || return 1
	ftpgate_log_since "$mark" "pinhole refused" "$reason"
}

reuse() {
	local port
	rm -f "$W/reuse"
	ftpgate_probe client "$LAB_SERVER4" login pasv "connect-announced --expect connected" \
		"connect-announced --expect timeout --timeout 2" "save $W/reuse" || return 1
	port=$(ftpgate_announced_port "$W/reuse")
	ftpgate_no_expect "$port"
}
check "227 behind another reply in one segment: pinhole opens" \
	ftpgate_probe client "$LAB_SERVER4" "login coalesce" "pipeline NOOP TYPE\ I PASV" \
	"connect-announced --expect connected"
check "227 split over 3 segments: pinhole opens" \
	ftpgate_probe client "$LAB_SERVER4" "login split" pasv "connect-announced --expect connected"
check "229 split over 3 segments (IPv6): pinhole opens" \
	ftpgate_probe client "$LAB_SERVER6" "login split" epsv "connect-announced --expect connected"
check "second connection to a used pinhole: dropped, no expectation left" reuse
check "227 naming a third-party address ($LAB_THIRD_PARTY4): dropped, no expectation, log third-party-address" \
	probe_refused thirdparty third-party-address "$LAB_SERVER4" "login thirdparty" pasv \
	"connect-announced --expect timeout --timeout 2"
check "227 naming port 22: dropped, no expectation, log privileged-port" \
	probe_refused port22 privileged-port "$LAB_SERVER4" "login port22" pasv \
	"connect-announced --expect timeout --timeout 2"
check "unsolicited 227 after login: dropped, no expectation, log unsolicited-reply" \
	probe_refused unsolicited unsolicited-reply "$LAB_SERVER4" "login unsolicited" "expect 227" \
	"connect-announced --expect timeout --timeout 2"
check "unsolicited 227 in the 230's segment: no expectation, log unsolicited-reply" \
	probe_refused unsolicited0 unsolicited-reply "$LAB_SERVER4" "login unsolicited-same-segment" "expect 227"
check "227 naming an IPv4 address on an IPv6 control connection: no expectation, log address-family-mismatch" \
	probe_refused family address-family-mismatch "$LAB_SERVER6" "login family" pasv
check "227 with a number over 255: no expectation, log malformed-reply" \
	probe_refused malformed malformed-reply "$LAB_SERVER4" "login malformed" pasv

# --- SIGHUP: a per-server passive range and a pinhole cap ------------------------
ftpgate_config <<CONF
expect-timeout-seconds = 30
max-pinholes-per-session = 2

[server $LAB_SERVER4]
passive-ports = $LAB_PASV_LOW-$LAB_PASV_HIGH
CONF
check "SIGHUP: daemon reloads and stays up" ftpgate_reload
# Each PASV the server answers replaces the listener it announced before
# (doc/protocol.md), so ftpgate removes the older pinhole: one live pinhole
# per session, however many PASVs come before a transfer. The cap stays a
# backstop (unit-tested).
cap() {
	local mark p1 p2 p3
	mark=$(ftpgate_log_mark)
	rm -f "$W"/cap-*
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/cap-1" pasv "save $W/cap-2" \
		pasv "save $W/cap-3" "wait-file $W/cap-go 120" quit > "$W/cap.out" 2>&1 &
	local pid=$!
	ftpgate_wait_file "$W/cap-3" || { kill "$pid"; cat "$W/cap.out"; return 1; }
	p1=$(ftpgate_announced_port "$W/cap-1") p2=$(ftpgate_announced_port "$W/cap-2")
	p3=$(ftpgate_announced_port "$W/cap-3")
	local e1 e2 e3
	e1=$(ftpgate_expects "$p1") e2=$(ftpgate_expects "$p2") e3=$(ftpgate_expects "$p3")
	touch "$W/cap-go"; wait "$pid"
	[ -z "$e1" ] && [ -z "$e2" ] || { echo "earlier PASVs ($p1, $p2) should have lost their pinholes: '$e1' '$e2'"; return 1; }
	[ -n "$e3" ] || { echo "the last PASV ($p3) should have a pinhole"; return 1; }
	ftpgate_log_since "$mark" "pinhole removed \\(superseded\\)" ":$p1 tcp" &&
	ftpgate_log_since "$mark" "pinhole removed \\(superseded\\)" ":$p2 tcp"
}
check "max-pinholes-per-session = 2 (reloaded): three PASVs, each removes the one before, the last stays (log superseded)" cap
check "server passive-ports 40000-40099 (reloaded): port 50000 refused, log port-out-of-range" \
	probe_refused highport port-out-of-range "$LAB_SERVER4" "login highport" pasv

# --- limits: pinholes per client address, tracked sessions ----------------------
ftpgate_config <<CONF
expect-timeout-seconds = 30
max-pinholes-per-client = 2
max-sessions = 3

[server $LAB_SERVER4]
passive-ports = $LAB_PASV_LOW-$LAB_PASV_HIGH
CONF
check "SIGHUP: max-pinholes-per-client = 2, max-sessions = 3" ftpgate_reload
# sessions_below N: the daemon tracks fewer than N control connections.
sessions_below() {
	local n
	n=$("$FTPGATE_BUILD_DIR/ftpgatectl" stats | awk '$1 == "sessions" { print $2 }')
	[ -n "$n" ] && [ "$n" -lt "$1" ] || { echo "ftpgated tracks ${n:-?} sessions, want fewer than $1"; return 1; }
}
# Three held control connections from one client, each with a PASV it does
# not use: two pinholes, the third refused. A fourth connection finds the
# session table full: its PASV reply passes, untracked, no pinhole. After
# all quit, a new session gets its pinhole again.
limits() {
	local mark i pids=() p n=0 refused
	mark=$(ftpgate_log_mark)
	rm -f "$W"/lim-*
	# the third one's data connection must be dropped (no pinhole)
	for i in 1 2 3; do
		local try=()
		[ "$i" = 3 ] && try=("connect-announced --expect timeout --timeout 2")
		ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/lim-$i" "${try[@]}" \
			"wait-file $W/lim-go 120" quit > "$W/lim-$i.out" 2>&1 &
		pids+=($!)
		ftpgate_wait_file "$W/lim-$i" || { touch "$W/lim-go"; wait "${pids[@]}"; cat "$W/lim-$i.out"; return 1; }
	done
	for i in 1 2 3; do
		p=$(ftpgate_announced_port "$W/lim-$i")
		[ -n "$(ftpgate_expects "$p")" ] && n=$((n + 1))
	done
	p=$(ftpgate_announced_port "$W/lim-3")
	refused=$(ftpgate_expects "$p")
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/lim-4" \
		"connect-announced --expect timeout --timeout 2" quit > "$W/lim-4.out" 2>&1 ||
		{ touch "$W/lim-go"; wait "${pids[@]}"; echo "4th session failed (must pass untracked, its data connection dropped):"; cat "$W/lim-4.out"; return 1; }
	local p4; p4=$(ftpgate_announced_port "$W/lim-4")
	local e4; e4=$(ftpgate_expects "$p4")
	touch "$W/lim-go"
	for p in "${pids[@]}"; do wait "$p" || { echo "a held session failed"; cat "$W"/lim-[123].out; return 1; }; done
	[ "$n" = 2 ] || { echo "want 2 pinholes for 3 PASVs from one client, got $n"; return 1; }
	[ -z "$refused" ] || { echo "the 3rd PASV ($p) got a pinhole: $refused"; return 1; }
	[ -z "$e4" ] || { echo "the untracked 4th session got a pinhole: $e4"; return 1; }
	ftpgate_log_since "$mark" "pinhole refused \\(client-pinhole-cap\\)" "2 pinholes open" &&
	ftpgate_log_since "$mark" "not tracking a new control connection: session table full" "max-sessions 3" &&
	ftpgate_stat_at_least pinholes_refused_total.*client-pinhole-cap 1 &&
	ftpgate_stat_at_least sessions_untracked_total 1 || return 1
	# the held sessions are gone (the daemon has seen them close, so the
	# table of max-sessions 3 has room): a new one is tracked, gets its pinhole
	ftpgate_retry 10 sessions_below 3 || return 1
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/lim-5" "wait-file $W/lim-go5 120" quit > "$W/lim-5.out" 2>&1 &
	p=$!
	ftpgate_wait_file "$W/lim-5" || { kill "$p"; cat "$W/lim-5.out"; return 1; }
	local e5; e5=$(ftpgate_expects "$(ftpgate_announced_port "$W/lim-5")")
	touch "$W/lim-go5"; wait "$p"
	[ -n "$e5" ] || { echo "after the others quit, a new session got no pinhole"; return 1; }
}
check "limits: 3rd pinhole of one client refused (client-pinhole-cap), 4th session untracked (max-sessions): no expectation, data connections dropped, both counted; later sessions work" limits

# --- lifecycle: SIGTERM, down, restart mid-session -------------------------------
# The restarted daemon picks the held connection up mid-stream and does not
# trust the first line of each direction (doc/protocol.md "Pickup"): a NOOP
# goes first.
rm -f "$W"/held*
ftpgate_probe client "$LAB_SERVER4" login pasv "connect-announced --expect connected" "save $W/held-up" \
	"wait-file $W/held-go1 120" pasv "connect-announced --expect timeout --timeout 2" "save $W/held-down" \
	"wait-file $W/held-go2 120" "send NOOP" "expect 2" pasv "connect-announced --expect connected" quit \
	> "$W/held.out" 2>&1 &
held=$!
check "held session: PASV opens a pinhole before the restart" ftpgate_wait_file "$W/held-up"

sigterm() {
	ftpgate_alive || { echo "ftpgated was not running before SIGTERM"; return 1; }
	ftpgate_stop 3 || { echo "still running ${FTPGATE_STOP_SECONDS}s after SIGTERM: killed"; return 1; }
	echo "exited after ${FTPGATE_STOP_SECONDS}s with status $FTPGATE_STOP_STATUS"
	awk -v s="$FTPGATE_STOP_SECONDS" 'BEGIN { exit !(s < 1.0) }' ||
		{ echo "took ${FTPGATE_STOP_SECONDS}s to exit after SIGTERM, want < 1 s"; return 1; }
	[ "$FTPGATE_STOP_STATUS" = 0 ] || { echo "exit status $FTPGATE_STOP_STATUS after SIGTERM, want 0"; return 1; }
}
check "SIGTERM: daemon exits within 1 s, status 0" sigterm
lab_log "ftpgated stopped after ${FTPGATE_STOP_SECONDS}s (status $FTPGATE_STOP_STATUS)"

down_new() {
	local port
	rm -f "$W/down"
	ftpgate_probe client "$LAB_SERVER4" login pasv "connect-announced --expect timeout --timeout 2" \
		"save $W/down" quit || return 1
	port=$(ftpgate_announced_port "$W/down")
	ftpgate_no_expect "$port"
}
check "daemon down: new control connection works (greeting, login, PASV reply), no pinhole" down_new
down_held() {
	touch "$W/held-go1"
	ftpgate_wait_file "$W/held-down" || { cat "$W/held.out"; return 1; }
	ftpgate_no_expect "$(ftpgate_announced_port "$W/held-down")"
}
check "daemon down: held control connection still answers PASV, no pinhole" down_held

ftpgate_config <<'CONF'
expect-timeout-seconds = 3
CONF
check "restart: ftpgated starts again (rules left loaded)" ftpgate_start
held_after() {
	touch "$W/held-go2"
	wait "$held"; local status=$?
	cat "$W/held.out"
	[ "$status" = 0 ]
}
check "restart mid-session: a later PASV on the held control connection opens a pinhole" held_after

# The pinhole's life is read from the audit events (stdout, so in the
# daemon's log: no audit-log is set), which come from the kernel's own
# expectation events: a look at conntrack -L within its 3 s would race it
# on a slow guest.
expiry() {
	local port mark out life
	mark=$(ftpgate_log_mark)
	rm -f "$W"/expiry*
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/expiry" "wait-file $W/expiry-go 120" \
		"connect-announced --expect timeout --timeout 2" > "$W/expiry.out" 2>&1 &
	local pid=$!
	ftpgate_wait_file "$W/expiry" || { kill "$pid"; cat "$W/expiry.out"; return 1; }
	port=$(ftpgate_announced_port "$W/expiry")
	out=$(ftpgate_retry 15 expiry_audited "$mark" "$port") || { echo "$out"; touch "$W/expiry-go"; wait "$pid"; return 1; }
	echo "$out"
	touch "$W/expiry-go"
	wait "$pid" || { cat "$W/expiry.out"; return 1; }
	life=$(echo "$out" | sed -n 's/.*after \([0-9.]*\)s).*/\1/p')
	# not before its 3 s, and not on the 30 s the kernel had before
	awk -v l="${life:-0}" 'BEGIN { exit !(l >= 2.9 && l < 15) }' ||
		{ echo "the pinhole for port $port expired after ${life:-?}s, want 3 s (15 s at most on a slow guest)"; return 1; }
	ftpgate_no_expect "$port"
}
# expiry_audited MARK PORT: the audit lines in the daemon's log after MARK
# show the pinhole for PORT opened with timeout_s 3 and expired.
expiry_audited() {
	tail -n +"$(($1 + 1))" "$FTPGATE_LOG" | grep '^{' > "$W/expiry-audit.log"
	"$LAB_PYTHON" "$LAB_DIR/audit-check.py" outcome "$W/expiry-audit.log" 0 "$2" expired timeout_s=3
}
check "expect-timeout-seconds = 3: the unused pinhole expires on the kernel timer after 3 s (audit), then the connect is dropped, no expectation" expiry

finish
