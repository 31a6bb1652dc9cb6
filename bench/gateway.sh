# bench/gateway.sh: the three helpers on the lab gateway, each behind the
# same firewall. Sourced by bench/guest.sh (after tests/lab/lib.sh).
#
# Every helper gets the same ruleset (bench_rules): a ct helper object of
# the helper's type attached to new connections to port 21 in prerouting,
# and a default-drop forward chain that admits established traffic, the
# control connections and `ct state related` (what the helper expected).
# The helper is the only thing that differs between the runs.
#
#   kernel     nf_conntrack_ftp (type "ftp"), IPv4 and IPv6
#   conntrackd conntrackd's userspace ftp helper (nfct add helper ftp inet
#              tcp + a Helper section), queue 5, IPv4 only (its helper is
#              registered for inet = IPv4)
#   ftpgated   ftpgated with its defaults (queue 7), IPv4 and IPv6
#   ftpgated-alt  the same with $FTPGATE_ALT_BUILD_DIR/ftpgated (another
#              version of the daemon, e.g. the last commit, to compare)
#   ftpgated-rr, ftpgated-alt-rr  the same under SCHED_RR priority 99
#              (chrt): the scheduling conntrackd gives itself by default
#              (conntrackd.conf(5), Scheduler: RR, priority 99)
#   ftpgated-replies, ftpgated-alt-replies  the same under capture =
#              replies (issue 16): the helper registered disabled, the
#              capture chains of rules/ftpgate.nft (taken from that file,
#              port 21) holding the server's data segments on queue 8 and
#              copying the rest to NFLOG group 8
#   kernel-queue, kernel-log  the kernel helper, and every packet of the
#              control connections also queued to (kernel-queue: NFQUEUE 9,
#              accepted unread) or copied to (kernel-log: NFLOG group 9,
#              threshold 1, read and dropped) bench/nullqueue, bound as
#              ftpgated binds its queue and its copies, in postrouting after
#              NAT like the userspace helper's queueing: the round trip to
#              userspace alone, the FTP work done in the kernel (issue 16)
#   none       no helper, forward policy accept: the ceiling
#   kernel-nat, ftpgated-nat, ftpgated-alt-nat  the same helper on a NAT
#              gateway (issue 13): clients dial the gateway's 198.51.100.1,
#              DNATed to the server (port 21 only); the data connections
#              follow the helper's NAT expectations and every 227 is
#              rewritten to name 198.51.100.1 (same length with vsftpd's
#              and pyftpdlib's text; nf_nat_ftp for the kernel). The helper
#              is attached at priority mangle (-150), before dstnat, as on a
#              real NAT gateway (kernel facts: seqadj)

BENCH_CONNTRACKD_QUEUE=5
BENCH_FTPGATE_QUEUE=7
BENCH_CAPTURE_QUEUE=8
BENCH_CAPTURE=
BENCH_NULL_QUEUE=9
BENCH_NULL=		# kernel-queue: queue, kernel-log: log
BENCH_NULLQUEUE=${FTPGATE_BUILD_DIR:-$here/../build-bench}/bench/nullqueue
BENCH_DAEMON_PID=
BENCH_NAT=
# the address the clients dial: the server's, or the published one
BENCH_PUBLIC4=198.51.100.1

# bench_rules TYPE L3PROTO: the gateway ruleset for one helper; TYPE "" =
# no helper and nothing dropped (the ceiling).
bench_rules() {
	local type=$1 l3=$2 f=$BENCH_WORK/gateway.nft prio=filter nat=
	if [ -n "$BENCH_NAT" ]; then
		prio=mangle
		nat="chain dstnat {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $BENCH_PUBLIC4 tcp dport 21 dnat ip to $LAB_SERVER4
	}"
	fi
	if [ -n "$type" ]; then
		cat > "$f" <<EOF
table inet bench {
	$(bench_capture_chains)
	$(bench_null_chain)
	ct helper ftp-helper {
		type "$type" protocol tcp
		l3proto $l3
	}
	chain pre {
		type filter hook prerouting priority $prio; policy accept;
		tcp dport 21 ct state new ct helper set "ftp-helper"
	}
	$nat
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established accept
		ct state related accept
		meta l4proto { icmp, ipv6-icmp } accept
		tcp dport 21 ct state new accept
		counter comment "dropped"
	}
}
EOF
	else
		cat > "$f" <<EOF
table inet bench {
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		tcp dport 21 ct state new counter
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established accept
		ct state related accept
		meta l4proto { icmp, ipv6-icmp } accept
		tcp dport 21 ct state new accept
		counter comment "would be dropped"
	}
}
EOF
	fi
	lab_ns gateway nft flush ruleset && lab_ns gateway nft -f "$f"
}

# bench_capture_chains: under capture = replies (BENCH_CAPTURE set), the
# capture chains of the shipped rules/ftpgate.nft, for port 21; else
# nothing.
bench_capture_chains() {
	[ -n "$BENCH_CAPTURE" ] || return 0
	awk '/# --- capture:/ { on = 1 } /# --- end of capture/ { on = 0 } on' \
		"$here/../rules/ftpgate.nft" | sed 's/@ftp_control_ports/21/'
}

# bench_null_chain: for kernel-queue and kernel-log (BENCH_NULL set),
# every packet of a control connection to bench/nullqueue; else nothing.
bench_null_chain() {
	local what
	case $BENCH_NULL in
	queue) what="queue num $BENCH_NULL_QUEUE bypass" ;;
	log) what="log group $BENCH_NULL_QUEUE queue-threshold 1" ;;
	*) return 0 ;;
	esac
	printf 'chain null_postrouting {\n\t\ttype filter hook postrouting priority 300; policy accept;\n\t\tmeta l4proto tcp ct original proto-dst 21 %s\n\t}\n' "$what"
}

# bench_log_bound G: someone reads NFLOG group G in the gateway namespace.
bench_log_bound() {
	lab_ns gateway awk -v g="$1" '$1 == g { f = 1 } END { exit !f }' \
		/proc/net/netfilter/nfnetlink_log 2>/dev/null
}

# bench_queue_bound Q: someone reads NFQUEUE Q in the gateway namespace.
bench_queue_bound() {
	lab_ns gateway awk -v q="$1" '$1 == q { f = 1 } END { exit !f }' \
		/proc/net/netfilter/nfnetlink_queue 2>/dev/null
}

# bench_wait_queue Q [log]: wait until the daemon binds queue Q (or NFLOG
# group Q); 1 if it dies or does not within 10 s.
bench_wait_queue() {
	local i check=bench_queue_bound
	[ "${2:-}" = log ] && check=bench_log_bound
	# under valgrind (BENCH_WRAP) start-up takes far longer
	for i in $(seq $([ -n "${BENCH_WRAP:-}" ] && echo 1200 || echo 100)); do
		$check "$1" && return 0
		[ -d "/proc/$BENCH_DAEMON_PID" ] || break
		sleep 0.1
	done
	echo "bench: nothing bound queue $1 (daemon pid $BENCH_DAEMON_PID)" >&2
	return 1
}

bench_daemon_stop() {
	local pid=$BENCH_DAEMON_PID i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq $([ -n "${BENCH_WRAP:-}" ] && echo 2400 || echo 100)); do
		[ -d "/proc/$pid" ] || break
		grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null && break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	BENCH_DAEMON_PID=
}

bench_conntrackd_conf() {
	cat > "$BENCH_WORK/conntrackd.conf" <<EOF
General {
	Systemd off
	HashSize 8192
	HashLimit 65535
	LogFile $BENCH_WORK/conntrackd.log
	Syslog off
	LockFile $BENCH_WORK/conntrackd.lock
	UNIX {
		Path $BENCH_WORK/conntrackd.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
}
Helper {
	Type ftp inet tcp {
		QueueNum $BENCH_CONNTRACKD_QUEUE
		QueueLen 10240
		Policy ftp {
			ExpectMax 1
			ExpectTimeout 300
		}
	}
}
EOF
}

# bench_helper_up HELPER: start the helper and load its rules. Sets
# BENCH_DAEMON_PID for the userspace helpers.
bench_helper_up() {
	BENCH_DAEMON_PID=
	BENCH_NAT=
	BENCH_CAPTURE=
	BENCH_NULL=
	case $1 in
	*-nat)
		modprobe -a nf_nat nf_nat_ftp nft_chain_nat nft_nat || return 1
		BENCH_NAT=1
		bench_helper_start "${1%-nat}"
		;;
	*) bench_helper_start "$1" ;;
	esac
}

# bench_helper_start HELPER: bench_helper_up without the NAT suffix.
bench_helper_start() {
	case $1 in
	none)
		bench_rules "" ""
		;;
	kernel)
		modprobe nf_conntrack_ftp || return 1
		bench_rules ftp inet
		;;
	kernel-queue|kernel-log)
		BENCH_NULL=${1#kernel-}
		[ -x "$BENCH_NULLQUEUE" ] || { echo "bench: no $BENCH_NULLQUEUE (a build configured with -Dbench=true)" >&2; return 1; }
		modprobe -a nf_conntrack_ftp nft_queue nfnetlink_log nft_log || return 1
		ip netns exec gateway "$BENCH_NULLQUEUE" "$BENCH_NULL" $BENCH_NULL_QUEUE \
			>> "$BENCH_WORK/nullqueue.out" 2>&1 &
		BENCH_DAEMON_PID=$!
		bench_wait_queue $BENCH_NULL_QUEUE "$BENCH_NULL" || return 1
		bench_rules ftp inet
		;;
	conntrackd)
		rmmod nf_conntrack_ftp 2>/dev/null
		lab_ns gateway nfct add helper ftp inet tcp || return 1
		rm -f "$BENCH_WORK/conntrackd.lock" "$BENCH_WORK/conntrackd.ctl"
		bench_conntrackd_conf
		# ip netns exec execs the daemon: $! is its pid (what
		# ftpload.py samples)
		ip netns exec gateway conntrackd -C "$BENCH_WORK/conntrackd.conf" \
			>> "$BENCH_WORK/conntrackd.out" 2>&1 &
		BENCH_DAEMON_PID=$!
		bench_wait_queue $BENCH_CONNTRACKD_QUEUE || return 1
		bench_rules ftp ip
		;;
	ftpgated|ftpgated-alt|ftpgated-rr|ftpgated-alt-rr|ftpgated-replies|ftpgated-alt-replies)
		local bin=$BENCH_FTPGATED sched= queue=$BENCH_FTPGATE_QUEUE
		case $1 in ftpgated-alt*) bin=${FTPGATE_ALT_BUILD_DIR:-}/ftpgated ;; esac
		case $1 in *-rr) sched="chrt --rr 99" ;; esac
		[ -x "$bin" ] || { echo "bench: no daemon binary $bin" >&2; return 1; }
		: > "$BENCH_WORK/ftpgate.conf"
		case $1 in *-replies)
			modprobe -a nfnetlink_log nft_log || return 1
			BENCH_CAPTURE=1 queue=$BENCH_CAPTURE_QUEUE
			echo "capture = replies" > "$BENCH_WORK/ftpgate.conf" ;;
		esac
		echo "--- bench: $1 start $(date +%T)" >> "$BENCH_WORK/$1.log"
		# chrt and ip netns exec both exec: $! is the daemon
		ip netns exec gateway $sched ${BENCH_WRAP:-} "$bin" --foreground --config "$BENCH_WORK/ftpgate.conf" \
			--queue $BENCH_FTPGATE_QUEUE >> "$BENCH_WORK/$1.log" 2>&1 &
		BENCH_DAEMON_PID=$!
		bench_wait_queue $queue || return 1
		bench_rules ftpgate inet
		;;
	*) echo "bench: unknown helper $1" >&2; return 2 ;;
	esac
}

# bench_helper_down HELPER: rules off, daemon stopped, helper unregistered,
# connection tracking state emptied, so the next run starts from the same
# state whatever ran before.
bench_helper_down() {
	lab_ns gateway nft flush ruleset
	bench_daemon_stop
	case $1 in
	conntrackd) lab_ns gateway nfct del helper ftp inet tcp 2>/dev/null ;;
	kernel|kernel-queue|kernel-log) rmmod nf_conntrack_ftp 2>/dev/null ;;
	kernel-nat) rmmod nf_nat_ftp nf_conntrack_ftp 2>/dev/null ;;
	esac
	lab_ns gateway conntrack -F >/dev/null 2>&1
	lab_ns gateway conntrack -F expect >/dev/null 2>&1
	return 0
}
