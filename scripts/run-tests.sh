#!/usr/bin/env bash
# run-tests.sh UNIT_BIN... -- INTEGRATION_SCRIPT...
# Runs every Check unit binary and every integration script, never stopping at the first
# failure, and ends with one summary line: "tests: N passed, N failed".
set -u
passed=0 failed=0 failures=()

units=() scripts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do units+=("$1"); shift; done
[ $# -gt 0 ] && shift
scripts=("$@")

for bin in "${units[@]}"; do
	out=$("$bin" 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks:' | tail -1)
	checks=$(printf '%s' "$line" | sed -nE 's/.*Checks: ([0-9]+).*/\1/p')
	bad=$(printf '%s' "$line" | sed -nE 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/p')
	nf=$(( ${bad%% *} + ${bad##* } )) 2>/dev/null || nf=1
	[ -z "$checks" ] && { checks=1; nf=1; }
	if [ "$rc" -ne 0 ] || [ "$nf" -ne 0 ]; then
		printf '%s\n' "$out" | grep -vE '^(Running suite|[0-9]+%: Checks)' >&2
		failures+=("$(basename "$bin")")
		[ "$nf" -eq 0 ] && nf=1
	fi
	passed=$((passed + checks - nf)); failed=$((failed + nf))
	printf '  unit   %-28s %s\n' "$(basename "$bin")" "$line"
done

for t in "${scripts[@]}"; do
	log="${TMPDIR:-/tmp}/voxcast-test-$(basename "$t" .sh).$$.log"
	start=$(date +%s)
	if bash "$t" >"$log" 2>&1; then
		passed=$((passed + 1)); res=ok
		rm -f "$log"
	else
		failed=$((failed + 1)); res=FAIL; failures+=("$(basename "$t")")
		echo "---- $t output (last 40 lines of $log):" >&2
		tail -n 40 "$log" >&2
	fi
	printf '  e2e    %-28s %s (%ss)\n' "$(basename "$t" .sh)" "$res" "$(( $(date +%s) - start ))"
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
