#!/usr/bin/env bash
# bench/launch.sh - launch throughput and memory: N-contact CSVs launched to the embedded broker
# until Kafka acknowledged every job, against a real redis-server. Reports contacts/s and peak
# RSS (GNU time) for each size, plus the baseline of the same run: reading the file alone
# (wc -l), so the ratio says how close the launch comes to the cost of touching the data.
# On stderr, per size: the CPU the launch and redis-server used (Redis is usually the bound).
#
#   bench/launch.sh [SIZES...]        default: 100000 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
sizes=("$@")
[ $# -eq 0 ] && sizes=(100000 1000000)
work=$(mktemp -d /tmp/voxcast-bench.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

port=20000
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=($!)
redis_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$redis_pid/stat"; } # user+sys, s
grep -q -m1 'Ready to accept' < <(timeout 10 tail -F "$work/redis.log" 2>/dev/null)
"$BIN/voxcast" broker --partitions 12 >"$work/broker.out" 2>/dev/null &
pids+=($!)
grep -q -m1 '^127' < <(timeout 10 tail -F "$work/broker.out" 2>/dev/null)
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$work/broker.out")
export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
export VOXCAST_REDIS_URL="redis://127.0.0.1:$port/0"

printf '%-10s %12s %12s %12s %14s\n' contacts seconds contacts/s peak_rss_MiB "read-only c/s"
for n in "${sizes[@]}"; do
	awk -v n="$n" 'BEGIN { print "contact_id,first_name,order"; for (i = 1; i <= n; i++) printf "c-%08d,Name%d,%d\n", i, i % 977, 40000 + i }' >"$work/c.csv"
	t0=$(date +%s.%N); wc -l <"$work/c.csv" >/dev/null; t1=$(date +%s.%N)
	r0=$(redis_cpu)
	/usr/bin/time -f '%e %M %U %S' -o "$work/time" "$BIN/voxcast" launch --campaign "bench-$n-$$" \
		--contacts "$work/c.csv" --template 'Hi {{first_name}}, your order {{order}} ships today.' --json >"$work/out.json"
	r1=$(redis_cpu)
	read -r secs rss_kb usr sys <"$work/time"
	echo "  (voxcast cpu: user $usr s, sys $sys s; redis-server cpu: $(awk -v a="$r0" -v b="$r1" 'BEGIN { printf "%.2f", b - a }') s)" >&2
	enq=$(sed 's/.*"enqueued":\([0-9]*\).*/\1/' "$work/out.json")
	[ "$enq" = "$n" ] || { echo "launch enqueued $enq of $n" >&2; exit 1; }
	printf '%-10s %12s %12.0f %12.1f %14.0f\n' "$n" "$secs" "$(echo "$n / $secs" | bc -l)" \
		"$(echo "$rss_kb / 1024" | bc -l)" "$(echo "$n / ($t1 - $t0)" | bc -l)"
	redis-cli -p "$port" FLUSHALL >/dev/null
done
