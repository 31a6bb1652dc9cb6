#!/bin/bash
# The audit trail in the lab: ftpgated's audit log (doc/audit.md) says
# what became of every pinhole, learnt from the kernel: opened -> used for
# a completed transfer, opened -> expired for an announced port nobody
# used, removed (and by whom) otherwise, refused with the right reason for
# every refusal case; ftpgatectl (doc/ftpgatectl.md) lists exactly the
# kernel's expectations of the helper, before and after a daemon restart,
# refuses people outside the control group, and explains a daemon that is
# not running; a server with a two-port passive range under repeated
# transfers answers 425 and `ftpgatectl ports` reports the pressure with a
# warning; the metrics are Prometheus text (control socket and textfile);
# an unwritable audit log is said loudly and counted, and the loss is
# recorded once the log works again. Runs inside the lab guest; needs
# $FTPGATE_BUILD_DIR/ftpgated and ftpgatectl (default <repo>/build).
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/audit
rm -rf "$W"; mkdir -p "$W/metrics"
: > "$FTPGATE_LOG"; : > "$LAB_WORK/fake-ftpd.log"
AUDIT=$W/audit.log
SOCK=$W/run/ftpgated.sock
PROM=$W/metrics/ftpgate.prom
FTPGATECTL=$FTPGATE_BUILD_DIR/ftpgatectl
CHECKER=$LAB_DIR/audit-check.py
BUSY=$LAB_THIRD_PARTY4		# a second server address: the busy one
BUSY_RANGE=40100-40101		# its passive range: two ports

ctl() { "$FTPGATECTL" --socket "$SOCK" "$@"; }
acheck() { "$LAB_PYTHON" "$CHECKER" "$@"; }
mark() { if [ -f "$AUDIT" ]; then wc -l < "$AUDIT"; else echo 0; fi; }


check() { ftpgate_check "$@"; }

finish() {
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	mountpoint -q "$W/full" && umount "$W/full"
	if [ -f "$W/ports.txt" ]; then
		echo "--- ftpgatectl ports (the busy-server scenario):"; sed 's/^/  /' "$W/ports.txt"
	fi
	if [ -f "$AUDIT" ]; then
		echo "--- audit log, the busy server's events:"
		grep -E "\"(server|destination)\":\"$BUSY\"" "$AUDIT" | grep -v session- | head -6 | sed 's/^/  /'
	fi
	if [ "$lab_failed" != 0 ]; then
		echo "--- fake-ftpd log (last 20 lines):"; tail -n 20 "$LAB_WORK/fake-ftpd.log" | sed 's/^/  /'
		echo "--- ftpgated log (last 30 lines):"; tail -n 30 "$FTPGATE_LOG" | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab audit"
	exit
}

# audit_conf [EXPECT_TIMEOUT [AUDIT_LOG]]
audit_conf() {
	ftpgate_config <<CONF
expect-timeout-seconds = ${1:-30}
audit-log = ${2:-$AUDIT}
control-socket = $SOCK
control-socket-group = ftpgate-lab
metrics-textfile = $PROM
pressure-window-seconds = 60
# the lab's servers are Linux: a port is busy 60 s after the server closes
time-wait-seconds = 60

[server $LAB_SERVER4]
passive-ports = $LAB_PASV_LOW-$LAB_PASV_HIGH

[server $BUSY]
passive-ports = $BUSY_RANGE
CONF
}

lab_topology_up || exit 1
ftpgate_lab_extras || { echo "cannot add the extra lab addresses" >&2; exit 1; }
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
modprobe nf_conntrack_netlink || { echo "cannot load nf_conntrack_netlink" >&2; exit 1; }
groupadd -f ftpgate-lab && id labmember >/dev/null 2>&1 ||
	useradd -M -s /bin/sh -G ftpgate-lab labmember
id labother >/dev/null 2>&1 || useradd -M -s /bin/sh labother
# The two users run a copy of ftpgatectl that they may execute: the
# checkout can sit under a directory only root may enter (/root, where a
# fresh machine's administrator clones it; tests/fresh-machine does).
CTL_SHARED=/run/ftpgate-lab-bin/ftpgatectl
install -D -m 0755 "$FTPGATECTL" "$CTL_SHARED" || { echo "cannot copy ftpgatectl to $CTL_SHARED" >&2; exit 1; }
[ -x "$FTPGATECTL" ] || { echo "no $FTPGATECTL (FTPGATE_BUILD_DIR=$FTPGATE_BUILD_DIR)" >&2; exit 1; }
# A tiny file system for the unwritable-audit-log case, mounted before the
# daemon starts: `ip netns exec` gives it a copy of the mount table, and a
# later mount would not show in it.
mkdir -p "$W/full"
mount -t tmpfs -o size=16k tmpfs "$W/full" || { echo "cannot mount a tmpfs" >&2; exit 1; }

# --- start, control socket, access --------------------------------------------
# 300 s: the pinholes held across the restart below must outlive it and
# the checks up to the flush (60 s ran out on a loaded machine)
audit_conf 300
started() {
	ftpgate_start && ftpgate_rules || return 1
	ftpgate_retry 5 acheck event "$AUDIT" 0 daemon-started helper=ftpgate
}
check "ftpgated starts with an audit log, a control socket and a metrics textfile; audit: daemon-started" started
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish

socket_modes() {
	local s d
	s=$(stat -c '%a %U %G %F' "$SOCK") d=$(stat -c '%a %U %G' "$(dirname "$SOCK")")
	echo "socket: $s; directory: $d"
	[ "$s" = "660 root ftpgate-lab socket" ] && [ "$d" = "750 root ftpgate-lab" ]
}
check "control socket: mode 0660 root:ftpgate-lab in a directory 0750 root:ftpgate-lab" socket_modes
check "ftpgatectl ping as root" sh -c "'$FTPGATECTL' --socket '$SOCK' ping | grep -q '^ftpgated .* pid $FTPGATE_PID'"
member() { runuser -u labmember -- "$CTL_SHARED" --socket "$SOCK" stats | grep '^packets_total '; }
check "ftpgatectl as a member of control-socket-group ftpgate-lab: stats" member
# Setting the role relabels what the kernel removes (handed-over): root
# or the daemon's user only. A member may show it; its "role backup" is
# refused, the role stays primary, and no role-changed line is written.
member_role() {
	local out status m; m=$(mark)
	runuser -u labmember -- "$CTL_SHARED" --socket "$SOCK" role | grep '^role: primary for ' || return 1
	out=$(runuser -u labmember -- "$CTL_SHARED" --socket "$SOCK" role backup 2>&1); status=$?
	echo "member's role backup: exit $status: $out"
	[ "$status" = 1 ] && echo "$out" | grep -q "only root" || return 1
	ctl role | grep '^role: primary for ' || return 1
	! tail -n +"$((m + 1))" "$AUDIT" | grep -q '"event":"role-changed"' || { echo "role-changed in the audit log"; return 1; }
}
check "ftpgatectl as a member: role shown; role backup refused ('only root', exit 1), still primary, nothing audited" member_role
outsider() {
	local out status
	out=$(runuser -u labother -- "$CTL_SHARED" --socket "$SOCK" stats 2>&1); status=$?
	echo "exit $status: $out"
	[ "$status" = 3 ] && echo "$out" | grep -q "permission denied" && echo "$out" | grep -q "ftpgate-lab"
}
check "ftpgatectl outside the group: 'permission denied ... ftpgate-lab', exit 3" outsider

# --- completed transfers: opened -> used ---------------------------------------
lab_vsftpd_start || finish
m=$(mark)
used4() {
	lab_ftp_session curl "$LAB_SERVER4" pasv || return 1
	ftpgate_retry 5 acheck all-used "$AUDIT" "$m" "$LAB_SERVER4" 3
}
check "vsftpd, curl IPv4 PASV LIST/RETR/STOR: every pinhole opened -> used (data connection from the kernel's event)" used4
check "audit: the control connections ended (session-ended, reason closed)" \
	ftpgate_retry 5 acheck event "$AUDIT" "$m" session-ended reason=closed server="$LAB_SERVER4"
m=$(mark)
used6() {
	lab_ftp_session lftp "$LAB_SERVER6" epsv || return 1
	ftpgate_retry 5 acheck all-used "$AUDIT" "$m" "$LAB_SERVER6" 3
}
check "vsftpd, lftp IPv6 EPSV LIST/RETR/STOR: every pinhole opened -> used" used6

# --- ftpgatectl pinholes = the kernel's expectation table ------------------------
rm -f "$W"/hold-*
HOLDERS=
# The held sessions stay open until the flush check below is over: vsftpd
# keeps a session's passive port bound until its next command, so no later
# check is announced a port whose expectation (adopted after the restarts)
# belongs to a held session. (Released earlier, vsftpd could announce one
# of those ports again: the kernel refuses a second expectation for the
# same tuple, and the check saw another session's pinhole end instead of
# its own; CI, 2026-12-05.)
hold() {	# hold NAME HOST pasv|epsv
	ftpgate_probe client "$2" login "$3" "save $W/hold-$1" "wait-file $W/hold-go 300" quit \
		> "$W/hold-$1.out" 2>&1 &
	HOLDERS="$HOLDERS $!"
}
hold a "$LAB_SERVER4" pasv; hold b "$LAB_SERVER4" epsv; hold c "$LAB_SERVER6" epsv
for h in a b c; do ftpgate_wait_file "$W/hold-$h" || true; done
same_as_kernel() {
	ctl pinholes --json > "$W/pinholes.json" || return 1
	lab_expectations > "$W/expect.txt"
	acheck compare "$W/pinholes.json" "$W/expect.txt" || return 1
	[ "$(acheck field "$W/pinholes.json" count)" -ge "${1:-3}" ] ||
		{ echo "want at least ${1:-3} pinholes: $(cat "$W/pinholes.json")"; return 1; }
}
check "3 pinholes held open (IPv4 PASV, IPv4 EPSV, IPv6 EPSV): ftpgatectl pinholes --json lists exactly the kernel's (conntrack -L expect, helper ftpgate)" same_as_kernel
table() { ctl pinholes | tee /dev/stderr | grep -q "3 pinholes open"; }
check "ftpgatectl pinholes: a table with the command and reply of each" table

not_running() {
	local out status
	out=$(ctl ping 2>&1); status=$?
	echo "exit $status: $out"
	[ "$status" = 3 ] && echo "$out" | grep -q "ftpgated is not running"
}
restart_same() {
	ftpgate_stop 3 || return 1
	not_running || return 1
	m=$(mark)
	ftpgate_start || return 1
	ftpgate_retry 5 same_as_kernel || return 1
	[ "$(acheck field "$W/pinholes.json" pinholes.0.adopted)" = True ] ||
		{ echo "pinholes not marked adopted: $(cat "$W/pinholes.json")"; return 1; }
	ftpgate_retry 5 acheck event "$AUDIT" "$m" pinhole-adopted
}
m_adopted=$(mark)
check "daemon stopped: ftpgatectl says it is not running (exit 3); restarted, it lists the same pinholes (found in the kernel, audit: pinhole-adopted)" restart_same

# A control connection made while no one listened to conntrack events has
# no event cache in the kernel: its expectations report nothing when they
# go. ftpgated polls the pinholes of sessions it picked up mid-stream.
# (The first line of a picked-up session is not trusted: a NOOP goes
# first.)
no_event_cache() {
	local port m pid
	rm -f "$W"/nec*
	ftpgate_stop 3 || return 1
	ftpgate_probe client "$LAB_SERVER4" login "wait-file $W/nec-go1 120" "send NOOP" "expect 2" pasv "save $W/nec" \
		"wait-file $W/nec-go2 120" quit > "$W/nec.out" 2>&1 &
	pid=$!
	# logged in while the daemon is down: that is the point of the check
	ftpgate_probe_waiting "$W/nec.out" "$W/nec-go1" || { kill "$pid"; return 1; }
	m=$(mark)
	ftpgate_start || { kill "$pid"; return 1; }
	touch "$W/nec-go1"
	ftpgate_wait_file "$W/nec" || { kill "$pid"; cat "$W/nec.out"; return 1; }
	port=$(ftpgate_announced_port "$W/nec")
	touch "$W/nec-go2"; wait "$pid" || { cat "$W/nec.out"; return 1; }
	ftpgate_retry 8 acheck outcome "$AUDIT" "$m" "$port" removed-by-ftpgate || return 1
	acheck event "$AUDIT" "$m" session-started reason=picked-up-mid-stream
}
check "session made while ftpgated was down (no kernel event cache), pinhole removed at QUIT: still audited removed-by-ftpgate (polled)" no_event_cache

# --- how pinholes end ------------------------------------------------------------
# flush_said: what ftpgated saw, as the last line of a failed flush check
# (the FAIL line shows it): the kernel events it read and lost, and the
# pinholes it still holds as open or awaiting a decision.
flush_said() {
	echo "ftpgated: $(ctl stats | grep -E '^(conntrack_event|pinholes_recorded)' | tr -s ' ' '=' | tr '\n' ' ')"
}
flushed() {
	local port m
	m=$(mark)
	rm -f "$W"/flush*
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/flush" "wait-file $W/flush-go 120" quit \
		> "$W/flush.out" 2>&1 &
	local pid=$! ok
	ftpgate_wait_file "$W/flush" || { kill "$pid"; return 1; }
	port=$(ftpgate_announced_port "$W/flush")
	lab_ns gateway conntrack -F expect
	ftpgate_retry 5 acheck outcome "$AUDIT" "$m" "$port" removed-in-kernel
	ok=$?
	[ $ok = 0 ] || flush_said
	# the pinholes adopted at the restart went with the flush too
	[ $ok = 0 ] && ftpgate_retry 5 acheck outcome "$AUDIT" "$m_adopted" \
		"$(ftpgate_announced_port "$W/hold-a")" removed-in-kernel adopted=true
	ok=$((ok + $?))
	touch "$W/flush-go"; wait "$pid"
	return $ok
}
check "conntrack -F expect under a live session (and the adopted ones): audit pinhole-removed, reason removed-in-kernel" flushed
touch "$W/hold-go"
for pid in $HOLDERS; do wait "$pid"; done
quit_first() {
	local port m
	m=$(mark)
	rm -f "$W/quit"
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/quit" quit || return 1
	port=$(ftpgate_announced_port "$W/quit")
	ftpgate_retry 5 acheck outcome "$AUDIT" "$m" "$port" removed-by-ftpgate || return 1
	acheck event "$AUDIT" "$m" pinhole-removed port="$port" cause=quit
}
check "QUIT before the data connection: audit pinhole-removed, removed-by-ftpgate, cause quit" quit_first

audit_conf 3
check "SIGHUP: expect-timeout-seconds = 3" ftpgate_reload
# Judged by its own pinhole's ID after its own mark: the lab's passive range
# is small, so an earlier check's pinhole-used may name the same port.
expired() {
	local port m out id
	m=$(mark)
	rm -f "$W/exp"
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/exp" "sleep 6" quit || return 1
	port=$(ftpgate_announced_port "$W/exp")
	out=$(ftpgate_retry 5 acheck outcome "$AUDIT" "$m" "$port" expired timeout_s=3) || { echo "$out"; return 1; }
	echo "$out"
	id=$(echo "$out" | sed -n 's/^pinhole \([0-9][0-9]*\): .*/\1/p')
	[ -n "$id" ] || { echo "no pinhole ID in: $out"; return 1; }
	acheck no-event "$AUDIT" "$m" pinhole-used pinhole="$id"
}
check "announced, never connected: audit opened -> expired (expect-timeout-seconds 3), no pinhole-used" expired
# Back to 30 s: the transfers below connect right after their PASV, and a
# 3 s pinhole would make them race a slow guest.
audit_conf 30
check "SIGHUP: expect-timeout-seconds = 30 again" ftpgate_reload

# --- refusals ---------------------------------------------------------------------
ftpgate_fake_start \
	--user unsolicited --unsolicited "227 Entering Passive Mode ({h},{p1},{p2})." \
	--user thirdparty --pasv-reply "227 Entering Passive Mode (192,0,2,7,{p1},{p2})." \
	--user port22 --pasv-reply "227 Entering Passive Mode ({h},0,22)." \
	--user family --pasv-reply "227 Entering Passive Mode (203,0,113,2,{p1},{p2})." \
	--user malformed --pasv-reply "227 Entering Passive Mode (203,0,113,256,{p1},{p2})." \
	--user highport --pasv-reply "227 Entering Passive Mode ({h},195,80)." \
	--user clash --pasv-reply "227 Entering Passive Mode ({h},156,120)." \
	--user busy --passive-range "$BUSY_RANGE" || finish

# refused NAME REASON HOST PROBE-STEPS... -- KEY=VALUE...: the probe runs,
# and the audit log has a pinhole-refused with REASON and every KEY=VALUE.
refused() {
	local name=$1 reason=$2 host=$3 m steps=() conds=(); shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do steps+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	conds=("$@")
	m=$(mark)
	ftpgate_probe client "$host" "login $name" "${steps[@]}" quit || return 1
	ftpgate_retry 5 acheck event "$AUDIT" "$m" pinhole-refused reason="$reason" "${conds[@]}"
}
check "refused: unsolicited 227 (no PASV asked) -> reason unsolicited-reply" \
	refused unsolicited unsolicited-reply "$LAB_SERVER4" "expect 227" -- command=null server="$LAB_SERVER4"
check "refused: 227 naming a third party -> reason third-party-address, announced 192.0.2.7" \
	refused thirdparty third-party-address "$LAB_SERVER4" pasv -- announced=192.0.2.7 command=PASV
check "refused: 227 naming port 22 -> reason privileged-port, port 22" \
	refused port22 privileged-port "$LAB_SERVER4" pasv -- port=22 announced="$LAB_SERVER4"
check "refused: IPv4 227 on an IPv6 control connection -> reason address-family-mismatch" \
	refused family address-family-mismatch "$LAB_SERVER6" pasv -- family=ipv6 announced=203.0.113.2
check "refused: 227 with a number over 255 -> reason malformed-reply, no address" \
	refused malformed malformed-reply "$LAB_SERVER4" "send PASV" "expect 227" -- announced=null port=null
check "refused: port 50000 outside the server's passive-ports -> reason port-out-of-range" \
	refused highport port-out-of-range "$LAB_SERVER4" pasv -- port=50000

# Two control connections of one client announced the same port (40056):
# the kernel keeps one expectation per tuple, the first one's. The second
# is audited pinhole-failed, not opened (before the fix it was audited as
# opened, with no expectation of its own, and never ended).
clash() {
	local m pid n
	m=$(mark)
	rm -f "$W/clash-a" "$W/clash-go"
	ftpgate_probe client "$LAB_SERVER4" "login clash" pasv "save $W/clash-a" \
		"wait-file $W/clash-go 120" quit > "$W/clash-a.out" 2>&1 &
	pid=$!
	ftpgate_wait_file "$W/clash-a" || { kill "$pid"; cat "$W/clash-a.out"; return 1; }
	ftpgate_probe client "$LAB_SERVER4" "login clash" pasv quit
	lab_expectations > "$W/clash-expect.txt"
	touch "$W/clash-go"; wait "$pid"
	n=$(tail -n +"$((m + 1))" "$AUDIT" | grep '"event":"pinhole-opened"' | grep -c '"port":40056,')
	[ "$n" = 1 ] || { echo "$n pinhole-opened for port 40056, want 1 (the first connection's)"; return 1; }
	n=$(grep -c "dport=40056 " "$W/clash-expect.txt")
	[ "$n" = 1 ] || { echo "$n expectations for port 40056 in the kernel, want 1: $(cat "$W/clash-expect.txt")"; return 1; }
	ftpgate_retry 5 acheck event "$AUDIT" "$m" pinhole-failed port=40056 reply_code=227
}
check "the same port announced to a second control connection while the first one's pinhole is open: the kernel keeps the first, the second is audited pinhole-failed (not opened)" clash

# --- a two-port passive range under repeated transfers ------------------------------
m=$(mark)
busy_transfer() {
	ftpgate_probe client "$BUSY" "login busy" pasv "connect-announced --expect connected --read"
}
busy_two() {
	busy_transfer && busy_transfer || return 1
	ftpgate_retry 5 acheck all-used "$AUDIT" "$m" "$BUSY" 2
}
check "server $BUSY, passive range $BUSY_RANGE: two transfers, one per port, opened -> used" busy_two
busy_425() {
	ftpgate_probe client "$BUSY" "login busy" "send PASV" "expect 425" "send EPSV" "expect 425" || return 1
	ftpgate_retry 5 acheck event "$AUDIT" "$m" data-trouble code=425 server="$BUSY"
}
check "third and fourth: both ports in TIME_WAIT, the server answers 425; audit data-trouble with its text" busy_425
ports_report() {
	ctl ports | tee "$W/ports.txt" || return 1
	ctl ports --json > "$W/ports.json" || return 1
	grep -E "^$BUSY +$BUSY_RANGE +2 .* 2/2 +2 +saturated" "$W/ports.txt" ||
		{ echo "no saturated row for $BUSY with 2/2 occupied and two 425s"; return 1; }
	grep -q "WARNING $BUSY: passive ports exhausted" "$W/ports.txt" || return 1
	"$LAB_PYTHON" - "$W/ports.json" "$BUSY" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
s = [x for x in doc["servers"] if x["server"] == sys.argv[2]][0]
want = {"range_size": 2, "occupied": 2, "trouble_replies": 2, "level": "saturated",
        "time_wait_s": 60, "last_trouble_code": 425}
bad = {k: s[k] for k in want if s[k] != want[k]}
assert not bad, "ports --json: %r, want %r" % (bad, want)
assert s["announcements"] == 2 and s["distinct_ports"] == 2, s
assert abs(s["sustainable_per_min"] - 2.0) < 1e-6, s
assert s["warning"].startswith("passive ports exhausted"), s
others = [x for x in doc["servers"] if x["server"] != sys.argv[2]]
assert all(x["level"] == "ok" for x in others), others
print("ports --json:", {k: s[k] for k in ("range_size", "announcements", "rate_per_min",
      "sustainable_per_min", "occupied", "trouble_replies", "level")})
PY
}
check "ftpgatectl ports: $BUSY range 2 ports, 2 announced, 2/2 occupied (TIME_WAIT), 2 x 425, saturated, with a warning" ports_report

# --- counters and metrics -----------------------------------------------------------
stats_match() {
	local r
	ctl stats > "$W/stats.txt" || return 1
	for r in unsolicited-reply third-party-address privileged-port address-family-mismatch \
		 malformed-reply port-out-of-range; do
		grep -Eq "^pinholes_refused_total\{reason=\"$r\"\} +[1-9]" "$W/stats.txt" ||
			{ echo "stats: no refusal counted for $r"; return 1; }
	done
	# counters are the running daemon's: since the restart above
	grep -Eq '^pinholes_closed_total\{outcome="used"\} +([2-9]|[1-9][0-9])' "$W/stats.txt" &&
	grep -Eq '^pinholes_closed_total\{outcome="expired"\} +[1-9]' "$W/stats.txt" &&
	grep -Eq '^data_trouble_replies_total\{code="425"\} +2$' "$W/stats.txt" &&
	grep -Eq '^replies_parsed_total +[1-9]' "$W/stats.txt" &&
	grep -Eq '^packets_total +[1-9]' "$W/stats.txt" ||
		{ cat "$W/stats.txt"; return 1; }
}
check "ftpgatectl stats: packets, replies, pinholes by outcome, refusals by reason, 425s" stats_match
metrics() {
	ctl metrics > "$W/metrics.txt" || return 1
	grep -q '^# TYPE ftpgate_pinholes_closed_total counter$' "$W/metrics.txt" &&
	grep -Eq '^ftpgate_pinholes_refused_total\{reason="privileged-port"\} [1-9]' "$W/metrics.txt" &&
	grep -q "^ftpgate_passive_range_ports{server=\"$BUSY\"} 2$" "$W/metrics.txt" &&
	grep -q "^ftpgate_data_trouble_replies_total{code=\"425\"} 2$" "$W/metrics.txt"
}
check "ftpgatectl metrics: Prometheus text (HELP/TYPE, labelled counters, per-server gauges)" metrics
textfile() {
	ftpgate_retry 20 grep -q '^ftpgate_data_trouble_replies_total{code="425"} 2$' "$PROM" || return 1
	[ "$(stat -c %a "$PROM")" = 644 ] && ! ls "$PROM".tmp.* 2>/dev/null
}
check "metrics-textfile $PROM: the same metrics, replaced atomically every 15 s, mode 0644" textfile

# --- an audit log that cannot be written -----------------------------------------------
audit_conf 3 "$W/full/audit.log"
unwritable() {
	local m
	# full before the daemon opens the (empty) file: its first write fails
	dd if=/dev/zero of="$W/full/fill" bs=4k 2>/dev/null
	m=$(ftpgate_log_mark)
	ftpgate_reload || return 1
	ftpgate_probe client "$LAB_SERVER4" "login highport" pasv quit >/dev/null
	ftpgate_retry 5 ftpgate_log_since "$m" "AUDIT LOG NOT WRITTEN" "$W/full/audit.log" || return 1
	ctl stats | grep -E '^audit_events_lost_total +[1-9]'
}
check "audit log on a full file system: the daemon log says AUDIT LOG NOT WRITTEN, stats count the lost events" unwritable
recovered() {
	local m
	rm -f "$W/full/fill"
	ftpgate_reload || return 1
	ftpgate_probe client "$LAB_SERVER4" "login highport" pasv quit >/dev/null
	ftpgate_retry 5 acheck event "$W/full/audit.log" 0 audit-lost || return 1
	acheck valid "$W/full/audit.log"
}
check "space again, SIGHUP: the first line written is an audit-lost event with the count" recovered
audit_conf 3
ftpgate_reload >/dev/null

# --- the end ------------------------------------------------------------------------------
stopped() {
	ftpgate_stop 3 || return 1
	[ "$(tail -n 1 "$AUDIT" | "$LAB_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["event"])')" = daemon-stopped ] ||
		{ echo "last line: $(tail -n 1 "$AUDIT")"; return 1; }
	acheck valid "$AUDIT"
}
check "SIGTERM: the audit log ends with daemon-stopped; every line is one valid JSON event" stopped
check "daemon stopped: ftpgatectl ping says it is not running, exit 3" not_running
stale() {
	local out status
	ftpgate_start || return 1
	ftpgate_retry 5 ctl ping >/dev/null || return 1
	kill -KILL "$FTPGATE_PID"; wait "$FTPGATE_PID" 2>/dev/null; FTPGATE_PID=
	out=$(ctl ping 2>&1); status=$?
	echo "exit $status: $out"
	[ "$status" = 3 ] && echo "$out" | grep -q "nothing answers"
}
check "daemon killed (socket left behind): ftpgatectl says nothing answers, exit 3" stale

finish
