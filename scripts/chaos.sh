#!/usr/bin/env bash
# chaos.sh [DRILL...] - runs the chaos drills of tests/chaos/ at full size (CHAOS_CONTACTS, 10,000
# contacts by default), one after the other, and ends with a table: drill, verdict, seconds, and
# each drill's RESULT lines (repeated renders, duplicates skipped, kills). With no DRILL, all of
# them. A drill's full output goes to $CHAOS_LOGS (default: a new temp dir, kept).
# Needs VOXCAST_BIN and VOXCAST_TESTBIN (as `make test` sets them); by default ./bin and
# ./build/release/tests of a plain `make all unit-bins`.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
export VOXCAST_BIN=${VOXCAST_BIN:-$root/bin} VOXCAST_TESTBIN=${VOXCAST_TESTBIN:-$root/build/release/tests}
for f in "$VOXCAST_BIN/voxcast-consumer" "$VOXCAST_TESTBIN/audio_check"; do
	[ -x "$f" ] || { echo "chaos.sh: $f not found: build first (make all unit-bins)" >&2; exit 2; }
done
logs=${CHAOS_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/voxcast-chaos.XXXXXX")}
mkdir -p "$logs"

drills=("$@")
if [ ${#drills[@]} -eq 0 ]; then
	for f in "$root"/tests/chaos/*.sh; do
		[ "$(basename "$f")" = lib.sh ] || drills+=("$(basename "$f" .sh)")
	done
fi

failed=0 summary=()
for d in "${drills[@]}"; do
	script=$root/tests/chaos/$d.sh
	[ -f "$script" ] || { echo "chaos.sh: no drill $d" >&2; exit 2; }
	echo "== $d"
	start=$(date +%s)
	if bash "$script" 2>&1 | tee "$logs/$d.log" | grep -E '^(# |FAIL|RESULT)'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		verdict=ok
	else
		verdict=FAIL
		failed=$((failed + 1))
	fi
	summary+=("$(printf '%-15s %-4s %5ss  %s' "$d" "$verdict" "$(($(date +%s) - start))" \
		"$(grep -h '^RESULT' "$logs/$d.log" | sed 's/^RESULT //' | tr '\n' ' ')")")
done
echo
echo "chaos drills (contacts per drill: ${CHAOS_CONTACTS:-10000}; logs in $logs)"
printf '%s\n' "${summary[@]}"
[ "$failed" -eq 0 ] && echo "chaos: all ${#drills[@]} drills passed" || echo "chaos: $failed of ${#drills[@]} drills FAILED"
[ "$failed" -eq 0 ]
