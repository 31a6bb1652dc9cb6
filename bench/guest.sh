#!/bin/bash
# bench/guest.sh: the guest half of bench/run (runs inside the lab guest).
# Prints one "BENCH-RUN {json}" line per measured run and "BENCH-INFO"
# lines about the guest; bench/summarize.py turns them into the tables.
#
#   bench/guest.sh [--rounds R] [--duration S] [--warmup S]
#                  [--concurrency 1,8,64] [--helpers kernel,conntrackd,ftpgated]
#                  (helpers also: ftpgated-rr, ftpgated-alt, ftpgated-alt-rr,
#                  ftpgated-replies, ftpgated-alt-replies, kernel-queue,
#                  kernel-log; see gateway.sh)
#                  [--server vsftpd|pyftpdlib] [--no-ceiling] [--no-epsv]
#                  [--profile]   (strace -c runs of the userspace helpers)
#                  [--callgrind] (one run of each ftpgated build under valgrind's
#                                callgrind: instructions per queued packet, by function)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lab/lib.sh"
BENCH_WORK=$LAB_WORK/bench
mkdir -p "$BENCH_WORK"
. "$here/gateway.sh"

rounds=4 duration=8 warmup=1.5 concurrency=1,8,64
helpers=kernel,conntrackd,ftpgated server=pyftpdlib ceiling=1 epsv=1 profile=0 callgrind=0
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--concurrency) concurrency=$2; shift 2 ;;
	--helpers) helpers=$2; shift 2 ;;
	--server) server=$2; shift 2 ;;
	--no-ceiling) ceiling=0; shift ;;
	--no-epsv) epsv=0; shift ;;
	--profile) profile=1; shift ;;
	--callgrind) callgrind=1; shift ;;
	*) echo "bench/guest.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
BENCH_FTPGATED=${FTPGATE_BUILD_DIR:-$here/../build}/ftpgated
[ -x "$BENCH_FTPGATED" ] || { echo "bench: no $BENCH_FTPGATED" >&2; exit 2; }
BENCH_PASV_LOW=40000 BENCH_PASV_HIGH=44999
BENCH_ROOT=/srv/ftp-bench

# --- servers ---------------------------------------------------------------

bench_root_make() {
	rm -rf "$BENCH_ROOT"
	mkdir -p "$BENCH_ROOT/pub"
	for i in 1 2 3 4 5 6 7 8; do echo "file $i" > "$BENCH_ROOT/pub/file$i.txt"; done
	chmod -R a+rX "$BENCH_ROOT"
}

# vsftpd as a site would run it for anonymous downloads: no per-command
# protocol log (that would be the server's main cost), one transfer log.
bench_vsftpd_start() {
	mkdir -p /run/vsftpd-empty; chmod 755 /run/vsftpd-empty
	cat > "$BENCH_WORK/vsftpd.conf" <<CONF
listen=NO
listen_ipv6=YES
background=NO
anonymous_enable=YES
no_anon_password=NO
local_enable=NO
write_enable=NO
anon_root=$BENCH_ROOT
pasv_enable=YES
pasv_min_port=$BENCH_PASV_LOW
pasv_max_port=$BENCH_PASV_HIGH
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir=/run/vsftpd-empty
xferlog_enable=NO
log_ftp_protocol=NO
max_clients=0
max_per_ip=0
CONF
	ip netns exec server /usr/sbin/vsftpd "$BENCH_WORK/vsftpd.conf" > "$BENCH_WORK/vsftpd.out" 2>&1 &
	echo $! > "$LAB_WORK/ftp-server.pid"
	lab_wait_port server 21
}

bench_pyftpd_start() {
	ip netns exec server "$LAB_PYTHON" "$here/pyftpd-bench.py" "$BENCH_ROOT" \
		"$BENCH_PASV_LOW" "$BENCH_PASV_HIGH" > "$BENCH_WORK/pyftpd.out" 2>&1 &
	echo $! > "$LAB_WORK/ftp-server.pid"
	lab_wait_port server 21
}

bench_server_start() {
	lab_ftp_stop
	case $1 in
	vsftpd) bench_vsftpd_start ;;
	pyftpdlib) bench_pyftpd_start ;;
	*) echo "bench: unknown server $1" >&2; return 2 ;;
	esac
}

# --- capture ---------------------------------------------------------------

BENCH_CAP_PID=

# bench_queue_seq Q: packets queued so far to NFQUEUE Q in the gateway.
bench_queue_seq() {
	lab_ns gateway awk -v q="$1" '$1 == q { print $8 }' /proc/net/netfilter/nfnetlink_queue
}
# Only segments from port 21 whose payload starts with "227 " or "229 ".
BENCH_CAP_FILTER='tcp src port 21 and (tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x32323720 or tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x32323920)'

bench_capture_start() {
	local i
	rm -f "$BENCH_WORK/cap.pcap" "$BENCH_WORK/cap.err"
	# ip netns exec execs tcpdump: $! is tcpdump itself. A background job
	# of a script ignores SIGINT, so it is stopped with SIGTERM.
	ip netns exec gateway tcpdump -i any -y LINUX_SLL2 --time-stamp-precision=nano \
		-s 200 -U -B 8192 -Z root -w "$BENCH_WORK/cap.pcap" "$BENCH_CAP_FILTER" \
		2> "$BENCH_WORK/cap.err" &
	BENCH_CAP_PID=$!
	for i in $(seq 100); do
		grep -q listening "$BENCH_WORK/cap.err" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench: tcpdump did not start: $(cat "$BENCH_WORK/cap.err")" >&2
	return 1
}

bench_capture_stop() {
	[ -n "$BENCH_CAP_PID" ] || return 0
	kill -TERM "$BENCH_CAP_PID" 2>/dev/null
	wait "$BENCH_CAP_PID" 2>/dev/null
	BENCH_CAP_PID=
}

# --- one run ---------------------------------------------------------------

# bench_run PHASE HELPER N ROUND MODE [PROFILER]: start HELPER, run the load
# at concurrency N, print the result, stop HELPER.
bench_run() {
	local phase=$1 helper=$2 n=$3 round=$4 mode=$5 prof=${6:-} load queue= meta
	# callgrind: the daemon runs under valgrind (which execs nothing: $!
	# stays the daemon) and writes its profile when it exits
	BENCH_WRAP=
	[ "$prof" = callgrind ] && BENCH_WRAP="valgrind --tool=callgrind --callgrind-out-file=$BENCH_WORK/callgrind-$helper.out"
	if ! bench_helper_up "$helper"; then
		echo "BENCH-ERROR helper $helper did not start: $(tail -n 3 "$BENCH_WORK"/*.out "$BENCH_WORK/ftpgated.log" 2>/dev/null | tr '\n' ' ')"
		bench_helper_down "$helper"
		return 1
	fi
	case $helper in
	conntrackd) queue=$BENCH_CONNTRACKD_QUEUE ;;
	ftpgated*-replies) queue=$BENCH_CAPTURE_QUEUE ;;
	kernel-queue) queue=$BENCH_NULL_QUEUE ;;
	ftpgated*) queue=$BENCH_FTPGATE_QUEUE ;;
	esac
	bench_capture_start || { bench_helper_down "$helper"; return 1; }
	local profpid= q0=
	case $prof in
	strace)
		strace -c -f -p "$BENCH_DAEMON_PID" -o "$BENCH_WORK/strace-$helper.txt" \
			2> "$BENCH_WORK/strace-$helper.err" &
		profpid=$!; sleep 0.5 ;;
	esac
	[ -n "$queue" ] && q0=$(bench_queue_seq "$queue")
	local dial=$LAB_SERVER4
	case $helper in *-nat) dial=$BENCH_PUBLIC4 ;; esac
	load=$(lab_ns client "$LAB_PYTHON" "$here/ftpload.py" "$dial" --mode "$mode" \
		--concurrency "$n" --duration "$duration" --warmup "$warmup" \
		--timeout "${BENCH_SESSION_TIMEOUT:-20}" ${BENCH_DAEMON_PID:+--pid "$BENCH_DAEMON_PID"} ${queue:+--queue "$queue"})
	if [ -n "$prof" ]; then
		local q1=0
		[ -n "$queue" ] && q1=$(bench_queue_seq "$queue")
		[ -n "$profpid" ] && { kill -TERM "$profpid" 2>/dev/null; wait "$profpid" 2>/dev/null; }
		echo "$((q1 - ${q0:-0}))" > "$BENCH_WORK/$prof-$helper.packets"
	fi
	bench_capture_stop
	[ -n "$load" ] || load='{"error": "load generator failed"}'
	meta=$(printf '{"phase": "%s", "helper": "%s", "server": "%s", "round": %s, "profiler": "%s"}' \
		"$phase" "$helper" "$bench_server" "$round" "$prof")
	"$LAB_PYTHON" "$here/latency.py" "$BENCH_WORK/cap.pcap" "$load" "$meta"
	bench_helper_down "$helper"
}

# --- the benchmark ---------------------------------------------------------

lab_topology_up || exit 1
modprobe -a nf_conntrack nf_conntrack_netlink nfnetlink_cthelper nfnetlink_queue \
	nft_ct || exit 1
# Many short connections: let the client reuse its TIME_WAIT ports, and
# keep conntrack's tables far from full (they are emptied between runs).
lab_ns client sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 65000"
lab_ns server sysctl -qw net.core.somaxconn=1024
sysctl -qw net.netfilter.nf_conntrack_max=262144 2>/dev/null
bench_root_make

echo "BENCH-INFO kernel $(uname -r) $(uname -v)"
echo "BENCH-INFO cpus $(nproc) $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "BENCH-INFO memory $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
echo "BENCH-INFO ftpgated $BENCH_FTPGATED"
echo "BENCH-INFO conntrackd $(conntrackd -v 2>&1 | head -n 1)"
echo "BENCH-INFO vsftpd $(dpkg-query -W -f='${Version}' vsftpd 2>/dev/null) pyftpdlib $(dpkg-query -W -f='${Version}' python3-pyftpdlib 2>/dev/null)"
echo "BENCH-INFO options rounds=$rounds duration=$duration warmup=$warmup concurrency=$concurrency helpers=$helpers server=$server"

IFS=, read -r -a ns_list <<< "$concurrency"
IFS=, read -r -a helper_list <<< "$helpers"
start=$SECONDS

# 1. The ceiling: each server with no helper and nothing dropped.
if [ "$ceiling" = 1 ]; then
	for bench_server in vsftpd pyftpdlib; do
		bench_server_start "$bench_server" || exit 1
		for n in "${ns_list[@]}"; do
			bench_run ceiling none "$n" 1 pasv
		done
	done
fi

# 2. The comparison: A B C A B C ... at each concurrency, PASV.
bench_server=$server
bench_server_start "$bench_server" || exit 1
for round in $(seq "$rounds"); do
	for n in "${ns_list[@]}"; do
		for helper in "${helper_list[@]}"; do
			bench_run main "$helper" "$n" "$round" pasv
		done
	done
	echo "BENCH-INFO round $round done after $((SECONDS - start))s"
done

# 3. EPSV, once per helper at the middle concurrency (conntrackd's ftp
# helper does not handle EPSV: its data connections are dropped).
if [ "$epsv" = 1 ]; then
	n=${ns_list[$(( ${#ns_list[@]} / 2 ))]}
	for helper in "${helper_list[@]}"; do
		BENCH_SESSION_TIMEOUT=4 bench_run epsv "$helper" "$n" 1 epsv
	done
fi

# 4. Where the userspace helpers spend it: one run each under strace -c -f
# (system calls per queued packet). strace slows the daemon down: these
# runs are not compared. (perf does not help here: in this guest perf 6.1
# gets no samples with -p, and with -a it asserts on the processes that
# ip netns exec put in their own mount namespaces.)
if [ "$profile" = 1 ]; then
	n=${ns_list[$(( ${#ns_list[@]} / 2 ))]}
	for helper in "${helper_list[@]}"; do
		[ "$helper" = kernel ] && continue
		bench_run profile "$helper" "$n" 1 pasv strace
		echo "BENCH-PROFILE strace -c -f $helper: $(cat "$BENCH_WORK/strace-$helper.packets") packets queued while attached"
		sed 's/^/BENCH-PROFILE   /' "$BENCH_WORK/strace-$helper.txt"
	done
fi

# 5. Where ftpgated's user time goes: one run of each ftpgated build at one
# client under callgrind. Instruction counts do not depend on how slow the
# guest is; divide by the packets queued during the run. The run includes
# start-up and shutdown (a few percent at this length).
if [ "$callgrind" = 1 ]; then
	for helper in "${helper_list[@]}"; do
		case $helper in ftpgated|ftpgated-alt|ftpgated-replies|ftpgated-alt-replies) ;; *) continue ;; esac
		bench_run callgrind "$helper" 1 1 pasv callgrind
		out=$BENCH_WORK/callgrind-$helper.out
		[ -f "$out" ] || { echo "BENCH-ERROR no callgrind profile for $helper"; continue; }
		echo "BENCH-PROFILE callgrind $helper: $(cat "$BENCH_WORK/callgrind-$helper.packets") packets queued"
		callgrind_annotate --inclusive=no "$out" 2>&1 | head -n 45 | sed 's/^/BENCH-PROFILE   /'
		callgrind_annotate --inclusive=yes "$out" 2>&1 | head -n 45 | sed 's/^/BENCH-PROFILE   incl /'
	done
fi

# What the daemons said (warnings would explain outliers).
for f in "$BENCH_WORK"/ftpgated*.log "$BENCH_WORK/conntrackd.log"; do
	[ -f "$f" ] || continue
	echo "BENCH-INFO log $(basename "$f"): $(wc -l < "$f") lines, $(grep -ciE 'warn|error|overr|lost|fail' "$f") warning/error lines"
	grep -iE 'warn|error|overr|lost|fail' "$f" | sort | uniq -c | sort -rn | head -n 5 | cut -c1-300 | sed 's/^/BENCH-INFO   /'
	# what it writes per session: audit events by name, log lines by
	# level and first words
	sed -nE 's/.*"event":"([a-z-]+)".*/audit \1/p; s/^[^ ]+ ftpgated ([a-z]+): ([^ ]+ [^ ]+ [^ ]+).*/\1: \2/p' "$f" |
		sort | uniq -c | sort -rn | head -n 14 | sed 's/^/BENCH-INFO   by kind /'
done
grep -v '^---' "$BENCH_WORK/ftpgated.log" 2>/dev/null | head -n 6 | cut -c1-200 | sed 's/^/BENCH-INFO   ftpgated.log: /'

echo "BENCH-INFO total $((SECONDS - start))s"
lab_ftp_stop
lab_topology_down
echo "bench: done"
