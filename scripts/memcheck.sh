#!/usr/bin/env bash
# memcheck.sh - integration tests with every voxcast program under valgrind memcheck.
#
# usage: scripts/memcheck.sh [TEST...]    TEST: integration scripts (default: launch, engine,
#                                         invalid, failover, dlq, observability)
# environment: VOXCAST_BIN (the real programs), VOXCAST_TESTBIN (test tools),
#              MEMCHECK_OUT=DIR (valgrind logs; default build/memcheck)
#
# The tests run unchanged: VOXCAST_BIN points them at wrappers that exec the real programs under
# valgrind, one log per process. A process that exits on its own (SIGTERM and SIGINT included)
# must end with no memory errors and nothing definitely or indirectly lost; a process a test
# kills with SIGKILL leaves no summary and is counted apart. Exit 1 on any error or leak.
set -euo pipefail
cd "$(dirname "$0")/.."

REAL=${VOXCAST_BIN:?set VOXCAST_BIN to the directory holding voxcast programs}
OUT=${MEMCHECK_OUT:-build/memcheck}
tests=("$@")
[ $# -eq 0 ] && tests=(launch engine invalid failover dlq observability)

command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT/bin" "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
for prog in voxcast voxcast-consumer voxcast-ttsd; do
	cat >"$OUT/bin/$prog" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \\
	--errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=30 \\
	--log-file="$OUT/logs/$prog.%p.log" "$REAL/$prog" "\$@"
EOF
	chmod +x "$OUT/bin/$prog"
done

failed=0
for t in "${tests[@]}"; do
	script=tests/integration/t_${t#t_}.sh
	script=${script%.sh.sh}
	[ -f "$script" ] || script=tests/integration/t_${t#t_}
	echo "memcheck: $script" >&2
	# valgrind slows the programs some 20x: the tests' deadlines stretch with VOXCAST_SLOW
	if ! VOXCAST_BIN="$OUT/bin" VOXCAST_SLOW=10 bash "$script" >"$OUT/logs/test-${t#t_}.out" 2>&1; then
		echo "memcheck: $script failed under valgrind (log $OUT/logs/test-${t#t_}.out)" >&2
		failed=1
	fi
done

# A process that exited wrote an ERROR SUMMARY (leaks count as errors); a killed one did not.
clean=0 killed=0 bad=0
for log in "$OUT"/logs/*.log; do
	[ -e "$log" ] || continue
	if ! grep -q 'ERROR SUMMARY' "$log"; then
		killed=$((killed + 1))
	elif grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
		clean=$((clean + 1))
	else
		echo "memcheck: errors in $log:" >&2
		grep -v '^==[0-9]*== *$' "$log" | head -n 80 >&2
		bad=$((bad + 1))
	fi
done
echo "memcheck: $((clean + killed + bad)) processes: $clean exited clean, $killed killed before exit, $bad with errors or leaks"
[ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]
