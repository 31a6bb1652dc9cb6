#!/bin/bash
# suite-doctor.sh: `ftpgatectl doctor` (doc/ftpgatectl.md) on the lab
# gateway. First a good gateway: the site's default-drop forward chain
# beside ftpgate's table, ftpgated running, a passive transfer through a
# pinhole works and an unannounced passive port is dropped: every line ok,
# exit 0. Then each broken setup the lab can build, one at a time and
# undone after: doctor's line for it says fail (exit 1) or warn (exit 0),
# as doc/ftpgatectl.md documents, and every other line is ok except the
# lines documented as following from the same cause (a stopped daemon has
# no control socket either). Where the lab can show the breakage itself
# (the passive range open, NAT present) it does so beside doctor's line.
# Doctor runs in the gateway's network namespace, as root, like the daemon.
# Prints "lab doctor: N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"
W=$LAB_WORK/doctor
FTPGATECTL=$FTPGATE_BUILD_DIR/ftpgatectl
SOCK=/run/ftpgate/ftpgated.sock
FULL=$W/full AUDIT=$W/full/audit.log
CHECKS="config kernel-cthelper kernel-queue kernel-glue kernel-nft-ct kernel-nft-objref helper ruleset helper-chain passive-ports expect-table conntrack-table audit-log control-socket ruleset-sets"
SYSCTLS="net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_expect_max"
declare -A SAVED
mkdir -p "$W"
rm -f "$W"/*.json "$W"/*.txt

check() { ftpgate_check "$@"; }

# doctor_run: doctor in the gateway netns, text and --json
doctor_run() {
	ip netns exec gateway "$FTPGATECTL" --config "$FTPGATE_CONF" doctor > "$W/doctor.txt" 2>&1
	DOCTOR_TEXT_RC=$?
	ip netns exec gateway "$FTPGATECTL" --config "$FTPGATE_CONF" doctor --json > "$W/doctor.json" 2> "$W/doctor.err"
	DOCTOR_RC=$?
}

# "check=status ..." from doctor --json
doctor_statuses() {
	"$LAB_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["fail"] + d["warn"] + d["ok"] == len(d["checks"])
print(" ".join("%s=%s" % (c["check"], c["status"]) for c in d["checks"]))' "$W/doctor.json"
}

# doctor_expect RC [CHECK=STATUS...] [-- CHECK REGEX]: doctor exits RC (text
# and JSON alike); the named checks have those statuses, every other one of
# $CHECKS is ok and no other line exists; with "--", CHECK's text line
# matches REGEX (grep -E). Prints the lines that are not ok.
doctor_expect() {
	local rc=$1 got c st w; shift
	local -a want=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do want+=("$1"); shift; done
	doctor_run
	got=$(doctor_statuses) || { echo "doctor --json is not its JSON: $(head -c 300 "$W/doctor.json") $(cat "$W/doctor.err")"; return 1; }
	[ "$DOCTOR_RC" = "$rc" ] && [ "$DOCTOR_TEXT_RC" = "$rc" ] ||
		{ echo "doctor exited $DOCTOR_RC (text: $DOCTOR_TEXT_RC), want $rc"; cat "$W/doctor.txt"; return 1; }
	for c in $CHECKS; do
		st=ok
		for w in "${want[@]}"; do [ "${w%%=*}" = "$c" ] && st=${w#*=}; done
		case " $got " in *" $c=$st "*) ;; *) echo "want $c=$st; got $got"; cat "$W/doctor.txt"; return 1 ;; esac
		grep -qE "^$st +$c " "$W/doctor.txt" || { echo "text form: no '$st $c' line"; cat "$W/doctor.txt"; return 1; }
	done
	[ "$(echo "$got" | wc -w)" = "$(echo "$CHECKS" | wc -w)" ] || { echo "checks $got, want exactly: $CHECKS"; return 1; }
	if [ "${1:-}" = -- ]; then
		grep -E "^[a-z]+ +$2 " "$W/doctor.txt" | grep -qE -- "$3" ||
			{ echo "the $2 line does not match '$3':"; grep -E "^[a-z]+ +$2 " "$W/doctor.txt"; return 1; }
	fi
	grep -v '^ok ' "$W/doctor.txt"
	return 0
}

restore_sysctls() {
	local k
	for k in $SYSCTLS; do [ -n "${SAVED[$k]:-}" ] && sysctl -qw "$k=${SAVED[$k]}"; done
	return 0
}
# limit_set NAME VALUE: a global limit, set in the initial netns (it is
# read-only in the others: see suite-faults.sh), read back in the gateway
limit_set() {
	sysctl -qw "$1=$2" || { echo "cannot set $1=$2"; return 1; }
	[ "$(lab_ns gateway sysctl -n "$1")" = "$2" ] || { echo "the gateway does not read $1=$2"; return 1; }
}

finish() {
	restore_sysctls
	mountpoint -q "$MODDIR" 2>/dev/null && umount "$MODDIR"
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	lab_topology_down
	mountpoint -q "$FULL" && umount "$FULL"
	lab_summary "lab doctor"
	exit
}
trap restore_sysctls EXIT

# --- set-up ----------------------------------------------------------------
lab_topology_up || exit 1
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
modprobe nf_conntrack_netlink || { echo "cannot load nf_conntrack_netlink" >&2; exit 1; }
[ -x "$FTPGATECTL" ] || { echo "no $FTPGATECTL (FTPGATE_BUILD_DIR=$FTPGATE_BUILD_DIR)" >&2; exit 1; }
for k in $SYSCTLS; do SAVED[$k]=$(sysctl -n "$k") || { echo "no sysctl $k" >&2; exit 1; }; done
KVER=$(uname -r)
MODDIR=/lib/modules/$KVER/kernel/net/netfilter
# Debian keeps the kernel's configuration in /boot/config-VERSION; the
# guest's /boot is the host's, so put the guest kernel's there (overlay).
KROOT=$(cat "${LAB_RESULTS:-/lab-results}/kernel-root" 2>/dev/null)
[ -f "/boot/config-$KVER" ] || cp "$KROOT/boot/config-$KVER" /boot/ ||
	{ echo "no kernel configuration for $KVER in $KROOT/boot" >&2; exit 1; }
# The audit log on a tiny file system of its own, mounted before the daemon
# starts (ip netns exec copies the mount table)
mkdir -p "$FULL"
mount -t tmpfs -o size=64k tmpfs "$FULL" || { echo "cannot mount a tmpfs" >&2; exit 1; }
ftpgate_config <<CONF
audit-log = $AUDIT
control-socket = $SOCK
expect-timeout-seconds = 60
CONF
lab_vsftpd_start || { echo "vsftpd did not start" >&2; finish; }
lab_listen server "$LAB_SERVER4" 40050 || { echo "no listener on 40050" >&2; finish; }

# --- a good gateway ------------------------------------------------------------
good_gateway() {
	ftpgate_start && ftpgate_rules || return 1
	lab_ftp_session curl "$LAB_SERVER4" pasv || { echo "passive transfer failed"; return 1; }
	ftpgate_blocked client "$LAB_SERVER4" 40050 || return 1
	doctor_expect 0 -- passive-ports 'dropped by rule inet ftpgate ftpgate_forward handle'
}
check "good gateway (transfer through a pinhole, unannounced port 40050 dropped): every line ok, exit 0" good_gateway
ftpgate_alive || finish
# every line ok; ftpgated refills its sets within its once-a-second check
# after a ruleset reload, so allow it a few seconds (bounded)
good_again() {
	local i
	for i in 1 2 3 4 5; do doctor_expect 0 >/dev/null 2>&1 && break; sleep 1; done
	doctor_expect 0
}

# --- another rule accepts the passive range --------------------------------------
passive_open() {
	lab_ns gateway nft insert rule inet ftpgate forward tcp dport 40000-40099 accept || return 1
	[ "$(lab_connect client "$LAB_SERVER4" 40050)" = connected ] ||
		{ echo "port 40050 is not reachable with the accept rule: the setup is not broken"; return 1; }
	# both forward chains now admit first (the site's high ports, then the
	# inserted rule): the line names the first and counts the other
	doctor_expect 0 passive-ports=warn -- passive-ports 'accepts new TCP connections to ports [0-9]+-[0-9]+ of the passive range before anything drops them, and no forward chain drops them \(and 1 more chains\)'
}
check "an accept for 40000-40099 before ftpgate's drop (port 40050 reachable): passive-ports warn, exit 0" passive_open
check "ruleset reloaded: 40050 dropped again, every line ok" eval 'ftpgate_rules && ftpgate_blocked client "$LAB_SERVER4" 40050 && good_again'

# --- the helper attached after dstnat, NAT present -------------------------------
after_dstnat() {
	sed 's/type filter hook prerouting priority mangle;/type filter hook prerouting priority filter;/' "$FTPGATE_RULES" > "$W/ftpgate-0.nft"
	grep -q 'hook prerouting priority filter;' "$W/ftpgate-0.nft" || { echo "could not make the priority-filter ruleset"; return 1; }
	lab_ns gateway nft -f "$W/ftpgate-0.nft" || return 1
	lab_ns gateway nft -f - <<'NFT' || return 1
table ip labnat {
	chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
	doctor_expect 1 helper-chain=fail -- helper-chain 'priority 0\) runs at or after dstnat \(-100\) and NAT chain ip labnat prerouting exists'
}
check "a NAT chain beside a ruleset whose prerouting has priority filter: helper-chain fail" after_dstnat
before_dstnat() {
	# the shipped ruleset attaches the helper at priority mangle (-150);
	# ftpgate_rules starts from a flushed ruleset: the NAT chain again
	ftpgate_rules || return 1
	lab_ns gateway nft -f - <<'NFT' || return 1
table ip labnat {
	chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
NFT
	doctor_expect 0 -- helper-chain 'priority -150\): after conntrack \(-200\), before dstnat \(-100\)'
}
check "the same with the shipped ruleset (helper at priority mangle, -150): every line ok" before_dstnat
check "NAT table deleted, shipped ruleset: every line ok" eval 'lab_ns gateway nft delete table ip labnat && ftpgate_rules && good_again'

# --- the ruleset not loaded ----------------------------------------------------------
no_ruleset() {
	lab_ns gateway nft delete table inet ftpgate || return 1
	# ftpgated notices its sets gone within its once-a-second check
	ftpgate_retry 10 ftpgate_stat_at_least '_nft_sets_out_of_sync ' 1 >/dev/null ||
		{ echo "ftpgated did not report its sets out of sync"; return 1; }
	# the site table alone admits new connections to high ports
	doctor_expect 1 ruleset=fail helper-chain=warn passive-ports=warn ruleset-sets=fail -- ruleset 'no ct helper object of type "ftpgate"'
}
check "ftpgate's table not loaded: ruleset fail, ruleset-sets fail (the daemon's sets gone; helper-chain not checked, passive-ports open: warn)" no_ruleset
check "ruleset loaded again: every line ok" eval 'ftpgate_rules && good_again'

# --- the expectation table nearly full ---------------------------------------------
expect_full() {
	rm -f "$W"/e-*
	ftpgate_probe client "$LAB_SERVER4" login pasv "save $W/e-1" "wait-file $W/e-go 30" quit > "$W/e.out" 2>&1 &
	EPROBE=$!
	ftpgate_wait_file "$W/e-1" 15 || { cat "$W/e.out"; return 1; }
	[ -n "$(ftpgate_expects "$(ftpgate_announced_port "$W/e-1")")" ] || { echo "no pinhole for the held session"; return 1; }
	limit_set net.netfilter.nf_conntrack_expect_max 1 || return 1
	doctor_expect 1 expect-table=fail -- expect-table 'expectation table [1-9][0-9]* of 1 used \([0-9]+%\): new pinholes fail'
}
check "one pinhole held open, nf_conntrack_expect_max = 1: expect-table fail" expect_full
touch "$W/e-go"; [ -n "${EPROBE:-}" ] && wait "$EPROBE"
check "nf_conntrack_expect_max restored: every line ok" eval 'restore_sysctls && good_again'

# --- the conntrack table nearly full --------------------------------------------
conntrack_full() {
	local i n
	for i in 1 2 3 4 5 6 7 8; do
		lab_ns gateway conntrack -I -p tcp -s 198.51.100.9 -d 203.0.113.9 --sport $((2000 + i)) --dport 80 \
			--state ESTABLISHED -t 600 -u ASSURED >/dev/null 2>&1 || { echo "conntrack -I failed"; return 1; }
	done
	n=$(lab_ns gateway cat /proc/sys/net/netfilter/nf_conntrack_count)
	limit_set net.netfilter.nf_conntrack_max "$n" || return 1
	doctor_expect 1 conntrack-table=fail -- conntrack-table "conntrack table [0-9]+ of $n used"
}
check "nf_conntrack_max = the gateway's conntrack count: conntrack-table fail" conntrack_full
check "nf_conntrack_max restored: every line ok" eval 'restore_sysctls && lab_ns gateway conntrack -D -s 198.51.100.9 >/dev/null 2>&1; good_again'

# --- the audit log cannot be written -------------------------------------------
audit_full() {
	dd if=/dev/zero of="$FULL/fill" bs=4k 2>/dev/null
	# (a short append may still fit the audit log's last page: show it
	# with a new file, which needs a block of its own)
	[ "$(stat -f -c %f "$FULL")" = 0 ] && ! echo x 2>/dev/null > "$FULL/probe" ||
		{ echo "$FULL is not full: $(df "$FULL" | tail -n 1)"; return 1; }
	doctor_expect 1 audit-log=fail -- audit-log "$AUDIT \\(from ftpgated\\): its file system is full"
}
check "the audit log's file system full: audit-log fail" audit_full
check "space freed: every line ok" eval 'rm -f "$FULL/fill" "$FULL/probe" && good_again'

# --- the control socket gone -------------------------------------------------------
no_socket() {
	rm -f "$SOCK" || return 1
	doctor_expect 1 control-socket=fail ruleset-sets=warn -- control-socket "no control socket $SOCK"
}
check "the control socket removed (daemon running): control-socket fail, helper still ok" no_socket
check "daemon restarted: every line ok" eval 'ftpgate_stop && ftpgate_start && good_again'

# --- the daemon stopped, or killed -------------------------------------------------
stopped() {
	ftpgate_stop || return 1
	doctor_expect 1 helper=fail control-socket=fail ruleset-sets=warn -- helper 'registered but disabled'
}
check "ftpgated stopped (SIGTERM): helper fail (disabled), control-socket fail" stopped
killed() {
	ftpgate_start || return 1
	kill -KILL "$FTPGATE_PID"; wait "$FTPGATE_PID" 2>/dev/null; FTPGATE_PID=
	doctor_expect 1 helper=fail control-socket=fail ruleset-sets=warn -- helper 'enabled but nothing reads its queue 7'
}
check "ftpgated killed (SIGKILL): helper fail (enabled, queue unread), control-socket fail" killed
lab_ns gateway "$FTPGATED" --disable-helper >/dev/null 2>&1

# --- the helper's module unloaded, then missing ----------------------------------
# The ct helper object holds the module: without the daemon and the ruleset
# it can go. Unloaded but loadable is ok (the unit loads it); the daemon's
# registration is gone with it (helper: not registered).
unloaded() {
	lab_ns gateway nft delete table inet ftpgate || return 1
	rmmod nfnetlink_cthelper || { echo "cannot unload nfnetlink_cthelper: $(cat /sys/module/nfnetlink_cthelper/refcnt 2>&1)"; return 1; }
	doctor_expect 1 helper=fail ruleset=fail helper-chain=warn passive-ports=warn control-socket=fail ruleset-sets=warn \
		-- kernel-cthelper 'nfnetlink_cthelper loadable'
}
check "nfnetlink_cthelper unloaded: kernel-cthelper ok (loadable); helper, ruleset, control-socket fail" unloaded
missing() {
	rmmod nfnetlink_cthelper 2>/dev/null	# the helper query loaded it again
	[ ! -d /sys/module/nfnetlink_cthelper ] || { echo "nfnetlink_cthelper is still loaded"; return 1; }
	mount -t tmpfs -o size=4k,mode=755 tmpfs "$MODDIR" || return 1
	! modprobe nfnetlink_cthelper 2>/dev/null || { echo "modprobe still finds it"; return 1; }
	doctor_expect 1 kernel-cthelper=fail helper=fail ruleset=fail helper-chain=warn passive-ports=warn control-socket=fail ruleset-sets=warn \
		-- kernel-cthelper 'nfnetlink_cthelper is neither loaded, built in, nor in /lib/modules'
}
check "nfnetlink_cthelper missing from /lib/modules: kernel-cthelper fail" missing
mountpoint -q "$MODDIR" && umount "$MODDIR"
check "module back, daemon and ruleset restarted: every line ok" eval 'modprobe nfnetlink_cthelper && ftpgate_start && ftpgate_rules && good_again'

finish
