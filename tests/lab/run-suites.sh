#!/bin/bash
# run-suites.sh SUITE...: run lab suites one after another in this guest
# and add up their "NAME: N passed, N failed" lines.
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0
for suite in "$@"; do
	start=$EPOCHREALTIME
	echo "=== $suite"
	out=$(mktemp)
	bash "$here/$suite" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	line=$(grep -E '^[a-z0-9 ]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
		f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
	else
		echo "FAIL $suite: ended (exit $status) without a summary line"
		p=0 f=1
	fi
	[ "$status" != 0 ] && [ "$f" = 0 ] && { echo "FAIL $suite: exit $status"; f=1; }
	passed=$((passed + p)) failed=$((failed + f))
	awk -v a="$start" -v b="$EPOCHREALTIME" -v s="$suite" 'BEGIN { printf "=== %s took %.0fs\n", s, b - a }'
	rm -f "$out"
done
echo "lab: $passed passed, $failed failed"
[ "$failed" = 0 ]
