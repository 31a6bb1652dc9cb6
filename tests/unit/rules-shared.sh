#!/bin/sh
# The shipped rulesets must not drift apart: the forward part of
# rules/ftpgate.nft (between its "shared with" markers, one tab less) is
# rules/ftpgate-include.nft from its first set on, and the helper part of
# rules/ftpgate.nft is rules/ftpgate-helper.nft's table.
set -eu
rules=${1:?usage: rules-shared.sh RULES_DIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
awk '/^\t# --- from here to the end/ { on = 1; next } /^\t# --- end of the part shared/ { on = 0 } on' \
	"$rules/ftpgate.nft" | sed 's/^\t//' > "$tmp/standalone-forward"
awk '/^# Filled by ftpgated/ { on = 1 } on' "$rules/ftpgate-include.nft" > "$tmp/include-forward"
awk '/^table inet ftpgate \{/ { on = 1 } /^\t# --- from here to the end/ { on = 0 } on' \
	"$rules/ftpgate.nft" | sed '$d' > "$tmp/standalone-helper"
awk '/^table inet ftpgate \{/ { on = 1 } on' "$rules/ftpgate-helper.nft" | sed '$d' > "$tmp/helper"
fail=0
[ -s "$tmp/include-forward" ] && [ -s "$tmp/helper" ] || { echo "FAIL: markers not found"; exit 1; }
diff -u "$tmp/include-forward" "$tmp/standalone-forward" || { echo "FAIL: ftpgate.nft's forward part differs from ftpgate-include.nft"; fail=1; }
diff -u "$tmp/helper" "$tmp/standalone-helper" || { echo "FAIL: ftpgate.nft's helper part differs from ftpgate-helper.nft"; fail=1; }
[ $fail = 0 ] && echo "rules-shared: 2 passed, 0 failed"
exit $fail
