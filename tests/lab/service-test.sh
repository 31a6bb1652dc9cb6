#!/bin/bash
# service-test.sh: the systemd unit, run by `tests/lab/lab-run --systemd` (the
# guest boots the host's systemd). Installs the build's ftpgated and unit into
# the guest's overlay, then checks: started in one transaction with
# nftables.service whose ruleset names the helper, the daemon is ready first
# (Type=notify) so the ruleset loads; it runs with CAP_NET_ADMIN only; reload
# and stop work. Prints "lab service: N passed, N failed".
set -u
LAB_DIR=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$LAB_DIR/../.." && pwd)
build=${FTPGATE_BUILD_DIR:-$repo/build}
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

echo "guest init: $(cat /proc/1/comm), systemd $(systemctl --version | head -n 1 | cut -d' ' -f2)"
install -D -m 755 "$build/ftpgated" /usr/local/sbin/ftpgated
install -D -m 644 "$build/ftpgated.service" /etc/systemd/system/ftpgated.service
install -D -m 644 "$repo/rules/ftpgate.nft" /usr/local/share/ftpgate/ftpgate.nft
install -D -m 644 -t /usr/local/share/man/man8 "$repo/man/ftpgated.8" "$repo/man/ftpgatectl.8"
install -D -m 644 -t /usr/local/share/man/man5 "$repo/man/ftpgate.conf.5"
cat > /etc/nftables.conf <<'CONF'
#!/usr/sbin/nft -f
flush ruleset
include "/usr/local/share/ftpgate/ftpgate.nft"
CONF
# What boot does with both units enabled: one transaction that wants both.
# (`systemctl start a b` would queue two transactions, and ordering only
# binds jobs that are in the queue together.)
printf '[Unit]\nDescription=ftpgate lab boot\nWants=nftables.service ftpgated.service\nAfter=nftables.service ftpgated.service\n' \
	> /etc/systemd/system/ftpgate-lab.target
systemctl daemon-reload
systemctl start systemd-journald.socket systemd-journald.service
export SYSTEMD_PAGER=cat SYSTEMD_COLORS=0

if out=$(systemd-analyze verify /etc/systemd/system/ftpgated.service 2>&1); then
	pass "systemd-analyze verify accepts ftpgated.service"
else
	fail "systemd-analyze verify accepts ftpgated.service" "$out"
fi

# One transaction: systemd must order ftpgated (Before=nftables.service) and
# wait for its READY=1 before nft loads a ruleset that names the helper.
if timeout 60 systemctl start ftpgate-lab.target && systemctl is-active -q nftables.service ftpgated.service; then
	pass "nftables.service and ftpgated.service start in one transaction"
else
	fail "nftables.service and ftpgated.service start in one transaction" "$(systemctl status --no-pager nftables.service ftpgated.service 2>&1 | tail -n 15)"
fi
if nft list table inet ftpgate 2>/dev/null | grep -q 'ct helper ftpgate'; then
	pass "nftables loaded the ruleset naming the helper"
else
	fail "nftables loaded the ruleset naming the helper" "$(systemctl status --no-pager -l nftables.service 2>&1 | tail -n 8; journalctl --no-pager -b 2>&1 | grep -i nft | tail -n 8)"
fi
pid=$(systemctl show -p MainPID --value ftpgated.service)
cap=$(awk '/^CapEff:/ { print $2 }' /proc/$pid/status 2>/dev/null)
if [ "$cap" = 0000000000001000 ]; then
	pass "ftpgated runs with CAP_NET_ADMIN only (CapEff 0000000000001000)"
else
	fail "ftpgated runs with CAP_NET_ADMIN only (CapEff 0000000000001000)" "CapEff ${cap:-none} (pid ${pid:-?}), want 0000000000001000"
fi
ftpgated_started=$(systemctl show -p ActiveEnterTimestampMonotonic --value ftpgated.service)
nft_started=$(systemctl show -p ExecMainStartTimestampMonotonic --value nftables.service)
if [ "${ftpgated_started:-0}" -gt 0 ] && [ "${nft_started:-0}" -gt "${ftpgated_started:-0}" ]; then
	pass "nftables.service started after ftpgated.service was ready"
else
	fail "nftables.service started after ftpgated.service was ready" "ftpgated at $ftpgated_started, nftables at $nft_started (monotonic us)"
fi

# journal_has SINCE REGEX [SECONDS]: the unit's journal since SINCE has a
# line matching REGEX (grep), polled for up to SECONDS (30) of wall time:
# journalctl itself takes seconds on a loaded machine, so a count of tries
# would be no bound.
journal_has() {
	local end=$((SECONDS + ${3:-30}))
	while :; do
		journalctl -u ftpgated --no-pager --since "$1" 2>/dev/null | grep -q "$2" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}
# systemctl reload sends SIGHUP and returns: wait for the daemon's word
mark=$(date '+%Y-%m-%d %H:%M:%S')
systemctl reload ftpgated.service
if journal_has "$mark" 'configuration reloaded\|no configuration file' && systemctl is-active -q ftpgated.service; then
	pass "systemctl reload: daemon reloads and stays active"
else
	fail "systemctl reload: daemon reloads and stays active" "$(journalctl -u ftpgated --no-pager 2>&1 | tail -n 5)"
fi

# SIGKILL: no shutdown of its own, so ExecStopPost disables the helper (new
# FTP connections would fail otherwise, see suite-faults.sh), then
# Restart=on-failure brings it back 1 s later, helper enabled again.
# "enabled" or "disabled" when both registrations (IPv4, IPv6) say so
helper_status() {
	nfct list helper 2>/dev/null | awk '
		/\.name = / { name = $3; sub(/,$/, "", name) }
		/\.status = / { s = $3; sub(/,$/, "", s); if (name == "ftpgate") print s }' | sort | uniq -c |
		awk 'NR == 1 && $1 == 2 { st = $2 } END { print (NR == 1 ? st : "mixed") }'
}
old=$(systemctl show -p MainPID --value ftpgated.service)
mark=$(date '+%Y-%m-%d %H:%M:%S')
# --kill-whom=main: the daemon dies, as in a crash; the default (all)
# also SIGKILLed the ExecStopPost process systemd 257 had just started on
# a Debian 13 host ("Control process exited, code=killed")
systemctl kill --kill-whom=main -s KILL ftpgated.service
if journal_has "$mark" 'helper "ftpgate" (queue [0-9]*) disabled'; then
	pass "SIGKILL: ExecStopPost ran ftpgated --disable-helper, which disabled the helper"
else
	fail "SIGKILL: ExecStopPost ran ftpgated --disable-helper, which disabled the helper" "$(journalctl -u ftpgated --no-pager --since "$mark" 2>&1 | tail -n 8)"
fi
end=$((SECONDS + 30))	# Restart=on-failure after 1 s; wall time, as above
while :; do
	new=$(systemctl show -p MainPID --value ftpgated.service)
	[ "${new:-0}" != 0 ] && [ "$new" != "$old" ] && systemctl is-active -q ftpgated.service && break
	[ "$SECONDS" -lt "$end" ] || break
	sleep 0.2
done
status=$(helper_status)
if systemctl is-active -q ftpgated.service && [ "$new" != "$old" ] && [ "$status" = enabled ]; then
	echo "  restarted: pid $old -> $new"
	pass "SIGKILL: restarted (a new pid), helper enabled again"
else
	fail "SIGKILL: restarted (a new pid), helper enabled again" "active=$(systemctl is-active ftpgated.service) pid $old -> ${new:-?} helper status '${status}'; $(nfct list helper 2>&1 | head -n 12 | tr '\n' ' ')"
fi
if out=$(/usr/local/sbin/ftpgated --disable-helper 2>&1); then
	fail "--disable-helper while ftpgated runs: refused, helper left enabled" "it did not refuse: $out"
elif echo "$out" | grep -q 'an ftpgated is running' && [ "$(helper_status)" = enabled ]; then
	pass "--disable-helper while ftpgated runs: refused, helper left enabled"
else
	fail "--disable-helper while ftpgated runs: refused, helper left enabled" "$out; helper status '$(helper_status)'"
fi

start=$(date +%s%N)
systemctl stop ftpgated.service
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if ! systemctl is-active -q ftpgated.service && [ $ms -lt 5000 ]; then
	echo "  stopped in ${ms} ms"
	pass "systemctl stop: stopped within 5 s"
else
	fail "systemctl stop: stopped within 5 s" "still active or took ${ms} ms"
fi

echo "lab service: $passed passed, $failed failed"
[ $failed = 0 ] && [ $passed -gt 0 ]
