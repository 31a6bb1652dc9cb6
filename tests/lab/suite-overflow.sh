#!/bin/bash
# Queue overflow: ftpgated too slow to read its queue. The kernel then lets
# control packets pass uninspected (the queue's FAIL_OPEN flag): FTP keeps
# working, and ftpgated must notice the bytes it never saw, count them and
# resynchronise its view of the stream, so that later announcements on the
# same control connection get pinholes again (doc/protocol.md, "When packets
# pass ftpgated uninspected"). Two ways to overflow, each its own daemon:
#   - the queue holds more than queue-max-packets packets (the kernel says
#     nothing; only the resynchronisation shows it);
#   - ftpgated's socket receive buffer is full (queue-receive-buffer-bytes):
#     the kernel also tells ftpgated with ENOBUFS (queue_overruns_total).
# The daemon is made slow with SIGSTOP while a real client (ftp-probe's
# "burst") and a real server (pyftpdlib) exchange a burst of NOOPs; and,
# stopped, while a client resends its SYN (the twin conntrack).
# Runs inside the lab guest; needs $FTPGATE_BUILD_DIR (default <repo>/build).
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/overflow
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"
AUDIT=$W/audit.log

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$FTPGATE_PID" ] && { kill -CONT "$FTPGATE_PID" 2>/dev/null; ftpgate_stop 3; }
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- ftpgated log (last 40 lines):"; tail -n 40 "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab overflow"
	exit
}

lab_topology_up || exit 1
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
lab_pyftpd_start || finish

# queue_empty: nothing waits in our queue (/proc: queue_total, field 3).
queue_empty() {
	local n
	n=$(lab_ns gateway awk -v q="$FTPGATE_QUEUE" '$1 == q { print $3 }' /proc/net/netfilter/nfnetlink_queue)
	[ "$n" = 0 ] || { echo "queue $FTPGATE_QUEUE holds ${n:-no line} packets"; return 1; }
}

# overflow NAME: one held control connection. A PASV works; then, with
# the daemon stopped, a burst of NOOPs each way (their replies must come
# back: the control connection never stalls); then, with the daemon
# running again, PASVs until one gets a pinhole, and its data connection
# must be admitted. The first PASV after the burst may be refused: the
# line right after the skipped bytes is never trusted (fail closed).
overflow() {
	local name=$1 burst=$2 p held i got=
	rm -f "$W/$name"-*
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/$name-before" \
		"connect-announced --expect connected" \
		"wait-file $W/$name-stopped 120" "burst $burst" "save $W/$name-burst" \
		"wait-file $W/$name-resumed 120" \
		pasv "save $W/$name-after1" pasv "save $W/$name-after2" \
		"connect-announced --expect connected" quit > "$W/$name.out" 2>&1 &
	held=$!
	ftpgate_wait_file "$W/$name-before" || { kill "$held"; cat "$W/$name.out"; return 1; }
	# its data connection done, the probe waits: only then stop the daemon
	ftpgate_probe_waiting "$W/$name.out" "$W/$name-stopped" || { kill "$held"; cat "$W/$name.out"; return 1; }
	kill -STOP "$FTPGATE_PID"
	touch "$W/$name-stopped"
	# the burst is answered with the daemon stopped: nothing waits for it
	if ! ftpgate_wait_file "$W/$name-burst"; then
		kill -CONT "$FTPGATE_PID"; touch "$W/$name-resumed"; wait "$held"
		echo "the NOOP burst was not answered while ftpgated was stopped (fail-open did not happen):"
		cat "$W/$name.out"; return 1
	fi
	kill -CONT "$FTPGATE_PID"
	# the PASVs after the burst go once the daemon has read what waited
	ftpgate_retry 10 queue_empty || { touch "$W/$name-resumed"; wait "$held"; return 1; }
	touch "$W/$name-resumed"
	wait "$held" || { echo "the held session failed after the overflow:"; cat "$W/$name.out"; return 1; }
	cat "$W/$name.out"
	ftpgate_alive || { echo "ftpgated died"; return 1; }
}

# --- the queue's packet limit ---------------------------------------------------
ftpgate_config <<CONF
queue-number = $FTPGATE_QUEUE
expect-timeout-seconds = 10
queue-max-packets = 4
audit-log = $AUDIT
CONF
start_and_rules() { ftpgate_start && ftpgate_rules; }
check "ftpgated starts with queue-max-packets = 4" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish

# queue_holds N: at least N packets wait in our queue.
queue_holds() {
	local n
	n=$(lab_ns gateway awk -v q="$FTPGATE_QUEUE" '$1 == q { print $3 }' /proc/net/netfilter/nfnetlink_queue)
	[ "${n:-0}" -ge "$1" ] || { echo "queue $FTPGATE_QUEUE holds ${n:-no line} packets, want $1"; return 1; }
}
# sessions_none: the daemon tracks no control connection (gauge sessions).
sessions_none() {
	local sock v
	sock=$(sed -n 's/^control-socket *= *//p' "$FTPGATE_CONF")
	v=$("$FTPGATE_BUILD_DIR/ftpgatectl" --socket "${sock:-/run/ftpgate/ftpgated.sock}" metrics |
		awk '$1 == "ftpgate_sessions" { print $2 }')
	[ "$v" = 0 ] || { echo "ftpgate_sessions is ${v:-missing}, want 0"; return 1; }
}
# A client SYN resent while the first one waits in the queue: the kernel
# gives it a twin conntrack (the first is not confirmed yet) that it never
# confirms nor reports destroyed. One session, ended by the QUIT; the twin
# counted in syn_twins_total. (Before the fix: a second session that only
# idle expiry ended; suite-soak's 'not settled' under load.)
syn_twin() {
	local amark held n
	amark=$(wc -l < "$AUDIT")
	kill -STOP "$FTPGATE_PID"
	ftpgate_probe client --timeout 60 "$LAB_SERVER4" login pasv "connect-announced --expect connected" quit \
		> "$W/twin.out" 2>&1 &
	held=$!
	# the SYN and the client's resend of it, 1 s later, both queued
	if ! ftpgate_retry 30 queue_holds 2; then kill -CONT "$FTPGATE_PID"; wait "$held"; return 1; fi
	kill -CONT "$FTPGATE_PID"
	wait "$held" || { echo "the session failed:"; cat "$W/twin.out"; return 1; }
	ftpgate_retry 30 sessions_none || return 1
	ftpgate_stat_at_least '^ftpgate_syn_twins_total' 1 || return 1
	n=$(tail -n +"$((amark + 1))" "$AUDIT" | grep -c '"event":"session-started"')
	[ "$n" = 1 ] || { echo "$n session-started events for one connection, want 1"; return 1; }
}
check "SYN resent while the first waits in the queue (ftpgated stopped): one session, ended by QUIT; the twin conntrack counted (syn_twins_total), no session for it" syn_twin
check "queue-max-packets = 4: a burst of 200 NOOPs passes while ftpgated is stopped; afterwards the session gets a pinhole again and its data connection is admitted" \
	overflow maxlen 200
maxlen_counted() {
	ftpgate_stat_at_least '^ftpgate_streams_resynchronized_total' 1 &&
	ftpgate_log_since 0 'passed uninspected' &&
	grep -q '"event":"stream-resynchronized"' "$AUDIT" ||
		{ echo "no stream-resynchronized event in $AUDIT"; return 1; }
}
check "queue-max-packets: the skipped bytes are counted (streams_resynchronized_total), logged and audited" maxlen_counted
ftpgate_stop 3

# --- the socket's receive buffer --------------------------------------------------
: > "$AUDIT"
ftpgate_config <<CONF
queue-number = $FTPGATE_QUEUE
expect-timeout-seconds = 10
queue-receive-buffer-bytes = 4096
audit-log = $AUDIT
CONF
check "ftpgated starts with queue-receive-buffer-bytes = 4096" ftpgate_start
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish
mark=$(ftpgate_log_mark)
check "receive buffer full: a burst of 200 NOOPs passes while ftpgated is stopped; afterwards the session gets a pinhole again" \
	overflow rcvbuf 200
rcvbuf_counted() {
	ftpgate_stat_at_least '^ftpgate_queue_overruns_total' 1 &&
	ftpgate_stat_at_least '^ftpgate_streams_resynchronized_total' 1 &&
	ftpgate_log_since "$mark" 'receive buffer' 'queue-receive-buffer-bytes'
}
check "receive buffer full: ENOBUFS counted (queue_overruns_total) and said with the fix; the stream resynchronised" rcvbuf_counted

finish
