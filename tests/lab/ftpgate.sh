# ftpgate.sh: lab helpers for ftpgated. Source it after lib.sh, inside the
# guest. Starts and stops the daemon in the gateway namespace, loads
# rules/ftpgate.nft (plus a "site" table standing for the rest of a real
# gateway's ruleset), runs the raw FTP probe and the crafted-reply server,
# and reads the expectation table and the daemon's log.
#
# Every check reads only what happened after its own mark, identifies its
# own objects (pinhole ID, conntrack ID, a port it chose) and waits on
# conditions with a bound (ftpgate_retry), never on a bare sleep: the rules
# in tests/README.md.

FTPGATE_REPO=$(cd "$LAB_DIR/../.." && pwd)
FTPGATE_BUILD_DIR=${FTPGATE_BUILD_DIR:-$FTPGATE_REPO/build}
FTPGATED=$FTPGATE_BUILD_DIR/ftpgated
FTPGATE_RULES=$FTPGATE_REPO/rules/ftpgate.nft
FTPGATE_LOG=$LAB_WORK/ftpgated.log
FTPGATE_CONF=$LAB_WORK/ftpgate.conf
# FTPGATE_CAPTURE=replies: every ftpgate_config gets "capture = replies"
# (doc/config.md "Capture"), and the queue ftpgated binds is then the
# capture chain's (8), not the helper's (7): suite-capture.sh runs other
# suites so.
FTPGATE_CAPTURE=${FTPGATE_CAPTURE:-helper}
if [ "$FTPGATE_CAPTURE" = replies ]; then
	FTPGATE_QUEUE=${FTPGATE_QUEUE:-8}
else
	FTPGATE_QUEUE=${FTPGATE_QUEUE:-7}
fi
FTPGATE_PID=
# FTPGATE_NS: the network namespace the daemon, its rules and the
# expectation reads use (default gateway; suite-ha.sh switches between its
# two gateways gwa and gwb, with FTPGATE_LOG, FTPGATE_CONF and FTPGATE_PID
# saved per gateway).
FTPGATE_NS=${FTPGATE_NS:-gateway}
LAB_CLIENT4_OTHER=198.51.100.3	# a second client address (ftpgate_lab_extras)
LAB_THIRD_PARTY4=192.0.2.7	# a host behind the server side, not the server

# Kernel facts: nft_objref (behind `ct helper set`) is a module on 6.1 that
# nf_tables loads itself (alias nft-expr-objref) and part of nf_tables since
# 6.2 (Debian 13 has no such module): it is not named here.
ftpgate_modules() {
	modprobe -a nfnetlink_cthelper nfnetlink_queue nft_queue nft_ct nf_conntrack \
		nfnetlink_log nft_log
}

# Addresses the attack scenarios need: a second client address, and a
# third-party address reachable through the gateway (it lives in the server
# namespace, so fake-ftpd's data listeners answer on it too).
ftpgate_lab_extras() {
	ip -n client addr add "$LAB_CLIENT4_OTHER/24" dev c0 &&
	ip -n server addr add "$LAB_THIRD_PARTY4/32" dev lo &&
	ip -n gateway route add "$LAB_THIRD_PARTY4/32" via "$LAB_SERVER4"
}

# ftpgate_rules [SITE]: the site table (default drop, like a real gateway;
# rules/site-gateway.nft unless SITE names another file) and the
# shipped ftpgate table. The helper must be registered first, so retry for
# a few seconds while the daemon comes up; then wait until the daemon has
# filled the table's sets with its configured servers (it checks once a
# second), so that the passive ranges are closed before any check runs.
ftpgate_rules() {
	local i out site=${1:-$LAB_DIR/rules/site-gateway.nft}
	lab_ns "$FTPGATE_NS" nft flush ruleset
	lab_ns "$FTPGATE_NS" nft -f "$site" || return 1
	for i in $(seq 50); do
		out=$(lab_ns "$FTPGATE_NS" nft -f "$FTPGATE_RULES" 2>&1) && { ftpgate_sets_filled; return; }
		ftpgate_alive || break
		sleep 0.1
	done
	echo "cannot load $FTPGATE_RULES: $out" >&2
	return 1
}

# ftpgate_set_count TABLE SET: elements in an nft set of the gateway.
ftpgate_set_count() {
	lab_ns "$FTPGATE_NS" nft list set $1 "$2" 2>/dev/null |
		awk '/elements = \{/ { on = 1 } on { n += gsub(/ \. /, "&") } /\}/ { on = 0 } END { print n + 0 }'
}

# ftpgate_sets_filled [TABLE]: within 3 s, the table's (default inet
# ftpgate) ftpgate_servers_ipv4/_ipv6 hold as many elements as
# $FTPGATE_CONF has [server] sections of each family.
ftpgate_sets_filled() {
	local t=${1:-inet ftpgate} want4 want6 i
	want4=$(grep -cE '^\[server [0-9.]+\]' "$FTPGATE_CONF")
	want6=$(grep -cE '^\[server [0-9a-fA-F:]*:[0-9a-fA-F:.]*\]' "$FTPGATE_CONF")
	for i in $(seq 30); do
		[ "$(ftpgate_set_count "$t" ftpgate_servers_ipv4)" = "$want4" ] &&
		[ "$(ftpgate_set_count "$t" ftpgate_servers_ipv6)" = "$want6" ] && return 0
		sleep 0.1
	done
	echo "ftpgated did not fill the sets of $t within 3 s: want $want4 IPv4 and $want6 IPv6 servers; they hold: $(lab_ns "$FTPGATE_NS" nft list set $t ftpgate_servers_ipv4 2>&1 | tr -s '\n\t' '  ') $(lab_ns "$FTPGATE_NS" nft list set $t ftpgate_servers_ipv6 2>&1 | tr -s '\n\t' '  ')" >&2
	return 1
}

ftpgate_alive() { [ -n "$FTPGATE_PID" ] && [ -d "/proc/$FTPGATE_PID" ] && ! grep -q '^[^)]*) Z' "/proc/$FTPGATE_PID/stat" 2>/dev/null; }

# ftpgate_queue_bound: someone reads our NFQUEUE in the gateway namespace.
ftpgate_queue_bound() {
	lab_ns "$FTPGATE_NS" awk -v q="$FTPGATE_QUEUE" '$1 == q { f = 1 } END { exit !f }' \
		/proc/net/netfilter/nfnetlink_queue 2>/dev/null
}

# ftpgate_config: the daemon's config file, from stdin, followed by a
# [server] section (global passive range) for each lab FTP server the text
# does not configure itself: 203.0.113.2, 2001:db8:2::2 and the
# third-party host 192.0.2.7, as a deployment lists its FTP servers so
# that ftpgate's rules close their passive ranges. FTPGATE_CONFIG_EXACT=1:
# the text only.
ftpgate_config() {
	local a
	if [ "$FTPGATE_CAPTURE" = replies ]; then
		# global: before any [server] section of the text
		{ echo "capture = replies"; cat; } > "$FTPGATE_CONF"
	else
		cat > "$FTPGATE_CONF"
	fi
	[ -n "${FTPGATE_CONFIG_EXACT:-}" ] && return 0
	for a in "$LAB_SERVER4" "$LAB_SERVER6" "$LAB_THIRD_PARTY4"; do
		grep -qF "[server $a]" "$FTPGATE_CONF" || printf '\n[server %s]\n' "$a" >> "$FTPGATE_CONF"
	done
}

# ftpgate_start: start the daemon with $FTPGATE_CONF and wait (5 s at most)
# until it has bound its queue and, since it binds the queue before it
# (re-)enables the helper, until it logs that it is ready (2 s at most for
# that line: its wording is not an interface, the queue is).
ftpgate_start() {
	local i j mark
	[ -x "$FTPGATED" ] || { echo "no daemon binary $FTPGATED (FTPGATE_BUILD_DIR=$FTPGATE_BUILD_DIR)" >&2; return 1; }
	echo "--- lab: ftpgated start $(date +%T.%N)" >> "$FTPGATE_LOG"
	mark=$(ftpgate_log_mark)
	# not "lab_ns ... &": $! must be the daemon, not a subshell
	ip netns exec "$FTPGATE_NS" "$FTPGATED" --foreground --config "$FTPGATE_CONF" >> "$FTPGATE_LOG" 2>&1 &
	FTPGATE_PID=$!
	for i in $(seq 50); do
		if ftpgate_queue_bound; then
			for j in $(seq 20); do
				tail -n +"$((mark + 1))" "$FTPGATE_LOG" | grep -qw ready && break
				ftpgate_alive || break
				sleep 0.1
			done
			ftpgate_alive && return 0
			break
		fi
		ftpgate_alive || break
		sleep 0.1
	done
	if ftpgate_alive; then
		echo "ftpgated (pid $FTPGATE_PID) did not bind queue $FTPGATE_QUEUE within 5 s; log: $(tail -n 5 "$FTPGATE_LOG")" >&2
	else
		wait "$FTPGATE_PID"
		echo "ftpgated exited $? at start; log: $(tail -n 5 "$FTPGATE_LOG" | tr '\n' ' ')" >&2
	fi
	return 1
}

# ftpgate_stop [MAX_SECONDS]: SIGTERM, wait for the exit (default 3 s, then
# SIGKILL). Sets FTPGATE_STOP_SECONDS and FTPGATE_STOP_STATUS; returns 1
# when it had to be killed. The exit is waited for with "wait" (the shell
# learns of it at once) and a watchdog that kills at the deadline: polling
# /proc in a loop added its own process starts to the time measured, a
# second and more on a loaded guest.
FTPGATE_STOP_SECONDS= FTPGATE_STOP_STATUS=
ftpgate_stop() {
	local max=${1:-3} start pid=$FTPGATE_PID watchdog status
	[ -n "$pid" ] || return 0
	rm -f "$LAB_WORK/ftpgate-stop-killed"
	( sleep "$max"; touch "$LAB_WORK/ftpgate-stop-killed"; kill -KILL "$pid" ) 2>/dev/null &
	watchdog=$!
	start=$EPOCHREALTIME
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	status=$?
	# not this shell's child (127): watch /proc instead, until the watchdog
	while [ "$status" = 127 ] && ftpgate_alive; do sleep 0.02; done
	FTPGATE_STOP_SECONDS=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	FTPGATE_PID=
	if [ -e "$LAB_WORK/ftpgate-stop-killed" ]; then
		FTPGATE_STOP_STATUS=killed
		echo "--- lab: ftpgated killed after ${FTPGATE_STOP_SECONDS}s (no exit within ${max}s of SIGTERM)" >> "$FTPGATE_LOG"
		return 1
	fi
	FTPGATE_STOP_STATUS=$status
	echo "--- lab: ftpgated stopped after ${FTPGATE_STOP_SECONDS}s, exit $FTPGATE_STOP_STATUS" >> "$FTPGATE_LOG"
	return 0
}

# ftpgate_reload: SIGHUP, then wait (10 s at most) until the daemon logs
# that it reloaded: a check that goes on before that would race the new
# configuration. Fails when the reload failed, never came or killed it.
ftpgate_reload() {
	local before i new
	before=$(wc -l < "$FTPGATE_LOG")
	kill -HUP "$FTPGATE_PID" || return 1
	for i in $(seq 100); do
		new=$(tail -n +"$((before + 1))" "$FTPGATE_LOG")
		echo "$new" | grep -q 'configuration reloaded from' && break
		echo "$new" | grep -q 'reload failed' && break
		ftpgate_alive || break
		sleep 0.1
	done
	ftpgate_alive || { echo "ftpgated died on SIGHUP: $(tail -n 5 "$FTPGATE_LOG" | tr '\n' ' ')" >&2; return 1; }
	echo "$new" | grep -q 'configuration reloaded from' && return 0
	echo "$new" | grep -q 'reload failed' &&
		{ echo "SIGHUP: reload failed: $(echo "$new" | tail -n 3 | tr '\n' ' ')" >&2; return 1; }
	echo "SIGHUP: no 'configuration reloaded' in the daemon's log within 10 s" >&2
	return 1
}

# --- log -------------------------------------------------------------------

ftpgate_log_mark() { wc -l < "$FTPGATE_LOG"; }

# ftpgate_log_since MARK REGEX...: the log after MARK has a line matching
# every REGEX (grep -E, all on one line).
ftpgate_log_since() {
	local mark=$1 lines r; shift
	lines=$(tail -n +"$((mark + 1))" "$FTPGATE_LOG")
	for r in "$@"; do lines=$(echo "$lines" | grep -E -- "$r"); done
	[ -n "$lines" ] && return 0
	echo "daemon log has no line matching '$*' since line $mark; it says: $(tail -n +"$((mark + 1))" "$FTPGATE_LOG" | tail -n 4 | tr '\n' ' ')"
	return 1
}

# --- expectations ----------------------------------------------------------

# ftpgate_expects PORT: expectations whose tuple's destination port is PORT.
ftpgate_expects() {
	lab_expectations "$FTPGATE_NS" | awk -v p="dport=$1" '{
		for (i = 1; i <= NF; i++) { if ($i ~ /^mask-/) break; if ($i == p) { print; break } }
	}'
}

# ftpgate_no_expect PORT: the gateway expects nothing on PORT.
ftpgate_no_expect() {
	local e
	e=$(ftpgate_expects "$1")
	[ -z "$e" ] && return 0
	echo "unexpected expectation for port $1: $e"
	return 1
}

# ftpgate_blocked NS ADDR PORT: connecting times out and nothing is expected
# on PORT.
ftpgate_blocked() {
	lab_expect_blocked "$1" "$2" "$3" 2 && ftpgate_no_expect "$3"
}

# --- tools -----------------------------------------------------------------

# ftpgate_probe NS [probe options] HOST STEP...: the raw FTP client.
ftpgate_probe() {
	local ns=$1; shift
	lab_ns "$ns" "$LAB_PYTHON" "$LAB_DIR/ftp-probe.py" "$@"
}

# ftpgate_fake_start ARGS...: fake-ftpd on port 21 of the server namespace
# (it replaces the running FTP server).
ftpgate_fake_start() {
	lab_ftp_stop
	ip netns exec server "$LAB_PYTHON" "$LAB_DIR/fake-ftpd.py" "$@" >> "$LAB_WORK/fake-ftpd.log" 2>&1 &
	echo $! > "$LAB_WORK/ftp-server.pid"
	lab_wait_port server 21
}

# ftpgate_wait_file PATH [SECONDS]: wait for PATH (a probe's "save"), 60 s
# at most. A bound is a deadline for calling a failure, not a guess at the
# speed: a passing run never waits it out, so it is generous (the guest is
# emulated and the machine shared; 15 s was not enough on a loaded one).
ftpgate_wait_file() {
	local i n=$(( ${2:-60} * 20 ))
	for i in $(seq "$n"); do [ -e "$1" ] && return 0; sleep 0.05; done
	echo "$1 did not appear within ${2:-60}s" >&2
	return 1
}

# ftpgate_probe_waiting OUT PATH [SECONDS]: a background probe writing to
# OUT has done every step before its "wait-file PATH" (60 s at most).
ftpgate_probe_waiting() {
	local i n=$(( ${3:-60} * 20 ))
	for i in $(seq "$n"); do
		grep -qF "wait-file: waiting for $2" "$1" 2>/dev/null && return 0
		grep -Eq '^(FAILED|BROKEN) ' "$1" 2>/dev/null && break
		sleep 0.05
	done
	echo "the probe did not reach 'wait-file $2' (${3:-60}s at most): $(tail -n 3 "$1" | tr '\n' ' ')"
	return 1
}

# ftpgate_announced_port FILE: the port a probe saved ("ADDR PORT").
ftpgate_announced_port() { awk '{ print $2 }' "$1"; }

# ftpgate_debug: what the gateway looks like (printed after a failure).
ftpgate_debug() {
	echo "--- $FTPGATE_NS expectations:"; lab_expectations "$FTPGATE_NS" | sed 's/^/  /'
	echo "--- $FTPGATE_NS conntrack (ftp):"; lab_ns "$FTPGATE_NS" conntrack -L 2>/dev/null | grep -E 'dport=(21|4[0-9]{4}|22) ' | sed 's/^/  /' | head -20
	echo "--- daemon log (last 15 lines):"; tail -n 15 "$FTPGATE_LOG" | sed 's/^/  /'
}

# ftpgate_stat_at_least REGEX N: the daemon's metrics (ftpgatectl metrics,
# on the socket the config names, default /run/ftpgate/ftpgated.sock) have a
# line matching REGEX (grep -E) whose value is at least N.
ftpgate_stat_at_least() {
	local sock out v
	sock=$(sed -n 's/^control-socket *= *//p' "$FTPGATE_CONF" 2>/dev/null)
	out=$("$FTPGATE_BUILD_DIR/ftpgatectl" --socket "${sock:-/run/ftpgate/ftpgated.sock}" metrics 2>&1) ||
		{ echo "ftpgatectl metrics failed: $out"; return 1; }
	v=$(echo "$out" | grep -v '^#' | grep -E -- "$1" | awk '{ print $NF }' | head -n 1)
	[ -n "$v" ] && [ "$v" -ge "$2" ] && return 0
	echo "metric matching '$1' is '${v:-missing}', want at least $2"
	return 1
}

# ftpgate_check NAME COMMAND...: like lab_check, but COMMAND runs in this
# shell (it may start or stop the daemon and wait for background probes),
# its output in $W/check.out. On failure: its last lines, the gateway's
# state and, when $AUDIT names a file, the audit log's tail.
ftpgate_check() {
	local name=$1 start; shift
	start=$EPOCHREALTIME
	if "$@" > "$W/check.out" 2>&1; then
		lab_pass "$name" "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }')"
	else
		lab_fail "$name" "$(tail -n 6 "$W/check.out" | tr '\n' ' ')"
		ftpgate_debug
		if [ -n "${AUDIT:-}" ] && [ -f "$AUDIT" ]; then
			echo "--- audit log (last 8 lines):"; tail -n 8 "$AUDIT" | cut -c1-400 | sed 's/^/  /'
		fi
	fi
}

# ftpgate_retry SECONDS COMMAND...: until COMMAND succeeds (kernel events,
# timers and the daemon's once-a-second decisions are asynchronous); prints
# its last output.
ftpgate_retry() {
	local n=$(( $1 * 5 )) i out; shift
	for i in $(seq "$n"); do
		out=$("$@" 2>&1) && { echo "$out"; return 0; }
		sleep 0.2
	done
	echo "$out"
	return 1
}
