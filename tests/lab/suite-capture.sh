#!/bin/bash
# suite-capture.sh: ftpgated under capture = replies (doc/config.md
# "Capture"). Runs inside the lab guest.
#  1. The main suite (suite-ftpgated.sh: real transfers with every server,
#     client and family, crafted replies, limits, lifecycle) again, with
#     the helper registered disabled and the shipped ruleset's capture
#     chains holding only the server's data segments.
#  2. What capture = replies promises of itself: the helper disabled but
#     on every control connection; exactly the server's segments that carry
#     data held (counted against tcpdump's count of them on the wire); the
#     rest copied; after SIGKILL new control connections still work (the
#     queue's bypass confirms them: no --disable-helper needed) and open
#     no pinhole; a restart works again.
set -u
export FTPGATE_CAPTURE=replies
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/capture
rm -rf "$W"; mkdir -p "$W"

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- ftpgated log (last 30 lines):"; tail -n 30 "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab capture"
	exit
}

# --- 1. the main suite ------------------------------------------------------
bash "$LAB_DIR/suite-ftpgated.sh" 2>&1 | tee "$W/main.out" | sed -u 's/^/  /'
main_passed() {
	tail -n 1 "$W/main.out"
	grep -qE '^lab ftpgated: [1-9][0-9]* passed, 0 failed$' "$W/main.out"
}
check "suite-ftpgated.sh under capture = replies: every check passed" main_passed

# --- 2. capture = replies itself --------------------------------------------
: > "$FTPGATE_LOG"
lab_topology_up || exit 1
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
lab_vsftpd_start || exit 1
ftpgate_config < /dev/null
start_and_rules() { ftpgate_start && ftpgate_rules; }
check "ftpgated (capture = replies) starts on queue $FTPGATE_QUEUE, rules/ftpgate.nft loads" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish

# helper_registrations: "STATUS QUEUE" of each ftpgate helper (one per family)
helper_registrations() {
	lab_ns gateway nfct list helper 2>/dev/null | awk '
		/\.name = / { name = $3; sub(/,$/, "", name) }
		/\.queuenum = / { q = $3; sub(/,$/, "", q) }
		/\.status = / { s = $3; sub(/,$/, "", s); if (name == "ftpgate") print s, q }'
}

# metric NAME: one of ftpgated's counters
metric() {
	"$FTPGATE_BUILD_DIR/ftpgatectl" metrics 2>/dev/null |
		awk -v n="$1" '$1 ~ ("^[a-z]*_?" n "$") { print $2; exit }'
}

# One curl PASV LIST, with tcpdump on the gateway's client-side interface
# counting the server's segments that carry data (IP length minus both
# headers not 0), which is what the capture chain must hold, no more and
# no fewer.
held_exactly() {
	local p0 c0 p1 c1 held copied wire td h
	h=$(helper_registrations)
	echo "helper (status queue): $h"
	[ "$(echo "$h" | grep -c '^disabled ')" = 2 ] ||
		{ echo "want the helper registered disabled for IPv4 and IPv6"; return 1; }
	# not "lab_ns ... &": $! must be tcpdump itself; -U writes each packet
	ip netns exec gateway tcpdump -n -U -i g0 -w "$W/list.pcap" \
		'tcp src port 21 and ((ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) != 0)' \
		2> "$W/tcpdump.err" &
	td=$!
	sleep 1
	p0=$(metric packets_total) c0=$(metric packets_copied_total)
	lab_ns client curl -sS --disable-epsv --max-time 10 "ftp://$LAB_SERVER4/pub/" > "$W/list.txt" ||
		{ kill "$td"; return 1; }
	sleep 1
	p1=$(metric packets_total) c1=$(metric packets_copied_total)
	kill -INT "$td"; wait "$td" 2>/dev/null
	wire=$(tcpdump -r "$W/list.pcap" 2>/dev/null | wc -l)
	held=$(( (p1 - c1) - (p0 - c0) )) copied=$((c1 - c0))
	echo "held $held, copied $copied; the server's data segments on the wire: $wire" | tee "$W/held.txt"
	grep -q hello "$W/list.txt" || { echo "the listing is missing: $(head -c 200 "$W/list.txt")"; return 1; }
	[ "$wire" -ge 4 ] || { echo "tcpdump saw too few segments: $(cat "$W/tcpdump.err")"; return 1; }
	[ "$held" = "$wire" ] || { echo "want every server data segment held and nothing else"; return 1; }
	# at least the client's SYN, its commands (USER, PASS, PASV, LIST,
	# QUIT, ...) and both FINs
	[ "$copied" -ge 8 ] || { echo "want the client's commands and the SYN and FIN segments copied"; return 1; }
	lab_ns gateway conntrack -L -p tcp --dport 21 2>/dev/null | grep -q 'helper=ftpgate' ||
		{ echo "the control conntrack has no helper=ftpgate"; return 1; }
}
check "helper disabled; a PASV LIST: exactly the server's data segments held (tcpdump's count), the rest copied" held_exactly
[ -f "$W/held.txt" ] && echo "capture: one curl PASV LIST: $(cat "$W/held.txt")"

killed() {
	local r e
	kill -KILL "$FTPGATE_PID" || return 1
	wait "$FTPGATE_PID" 2>/dev/null
	FTPGATE_PID=
	echo "--- lab: ftpgated killed (SIGKILL)" >> "$FTPGATE_LOG"
	! ftpgate_queue_bound || { echo "queue $FTPGATE_QUEUE still bound after SIGKILL"; return 1; }
	r=$(lab_connect client "$LAB_SERVER4" 21 3)
	[ "$r" = connected ] || { echo "a new control connection with ftpgated killed: $r, want connected"; return 1; }
	# a whole session: the control connection works, the data
	# connection has no pinhole and is dropped by the site's rules
	if lab_ns client curl -sS --disable-epsv --max-time 8 "ftp://$LAB_SERVER4/pub/" > "$W/dead.txt" 2> "$W/dead.err"; then
		echo "a listing got through with ftpgated dead"; return 1
	fi
	grep -qiE 'timed out|timeout|connect' "$W/dead.err" || { echo "curl failed otherwise: $(cat "$W/dead.err")"; return 1; }
	e=$(lab_expectations gateway)
	[ -z "$e" ] || { echo "an expectation exists: $e"; return 1; }
	echo "control connection $r; listing: $(tr '\n' ' ' < "$W/dead.err")"
}
check "SIGKILL: new control connections are established (no --disable-helper), the data connection is dropped, no expectation" killed

restarted() {
	ftpgate_start || return 1
	lab_ftp_session curl "$LAB_SERVER4" pasv
}
check "restart: ftpgated starts again, curl IPv4 PASV LIST/RETR/STOR" restarted

finish
