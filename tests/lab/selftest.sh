#!/bin/bash
# selftest.sh: the lab must fail loudly and in bounded time when the guest is
# broken. Runs on the host; prints "lab selftest: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
check() {	# NAME WANT_STATUS WANT_MESSAGE_REGEX -- lab-run args
	local name=$1 want=$2 regex=$3 out status; shift 4
	out=$("$here/lab-run" "$@" 2>&1); status=$?
	if [ "$status" = "$want" ] && echo "$out" | grep -Eq "$regex"; then
		echo "PASS $name"; passed=$((passed + 1))
	else
		echo "FAIL $name: exit $status (want $want), output: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
}
check "missing kernel image is named" 2 "guest kernel image '/nonexistent/vmlinuz' does not exist" \
	-- --kernel /nonexistent/vmlinuz -- true
check "unknown kernel line is named" 2 "unknown kernel line 'sid'" \
	-- --kernel-line sid -- true
check "hung guest is killed and reported" 124 "did not finish within 15s" \
	-- --timeout 15 -- sleep 600
check "guest exit status comes back" 7 "guest command exited 7" \
	-- -- bash -c 'exit 7'
# (FTPGATE_LAB_RDINIT: lab-run's kernel runs that instead of /init.)
FTPGATE_LAB_RDINIT=/nonexistent check "kernel dying before /init: booted 3 times, then reported" 2 \
	"died before /init ran, 3 boots in a row" -- --timeout 120 -- true
echo "lab selftest: $passed passed, $failed failed"
[ "$failed" = 0 ]
