#!/usr/bin/env bash
# bench/redis_memory.sh - Redis memory per contact: N contacts launched into a fresh redis-server
# (the embedded broker takes the jobs; no consumer runs), then Redis's own accounting read back:
# used_memory before and after, and MEMORY USAGE of the campaign's state hash. Then the same
# contacts' DLQ entries: every contact parked with a typical entry, as a failing campaign would.
# What it prints sizes Redis (docs/deployment.md, "Sizing Redis").
#
#   bench/redis_memory.sh [N]          default: 200000
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
n=${1:-200000}
work=$(mktemp -d /tmp/voxcast-bench.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

port=20000
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
grep -q -m1 'Ready to accept' < <(timeout 10 tail -F "$work/redis.log" 2>/dev/null)
"$BIN/voxcast" broker --partitions 12 >"$work/broker.out" 2>/dev/null &
pids+=($!)
grep -q -m1 '^127' < <(timeout 10 tail -F "$work/broker.out" 2>/dev/null)
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$work/broker.out")
export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
export VOXCAST_REDIS_URL="redis://127.0.0.1:$port/0"
rcli() { redis-cli -p "$port" "$@"; }
used() { rcli info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }

awk -v n="$n" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%08d,Name%d\n", i, i % 977 }' >"$work/c.csv"
before=$(used)
"$BIN/voxcast" launch --campaign mem --contacts "$work/c.csv" --template 'Hi {{first_name}}.' --json >/dev/null
after=$(used)
state=$(rcli memory usage 'voxcast:{mem}:state' samples 0)
printf 'contacts                 %d\n' "$n"
printf 'state hash               %.1f bytes/contact\n' "$(echo "$state / $n" | bc -l)"
printf 'all keys after launch    %.1f bytes/contact\n' "$(echo "($after - $before) / $n" | bc -l)"

# A DLQ entry as a consumer parks it: the job, the reason and one attempt of history.
entry='{"job":{"v":1,"campaign":"mem","contact":"c-00000001","text":"Hi Name1.","replay":0},"reason":"retry_exhausted","attempts":3,"last_error":"HTTP 503","provider":"primary","http_status":503,"history":[{"provider":"primary","http_status":503,"class":"retry","error":"HTTP 503","latency_s":0.012}],"failed_at":1796317200000}'
before=$(used)
# (redis-cli's inline protocol: the JSON goes in double quotes, its own quotes escaped)
awk -v n="$n" -v e="$entry" 'BEGIN {
	gsub(/"/, "\\\"", e)
	for (i = 1; i <= n; i++) {
		id = sprintf("mem:%d", i)
		printf "ZADD voxcast:{mem}:dlq %d %s\nHSET voxcast:{mem}:dlq:e %s \"%s\"\n", i, id, id, e
		printf "HSET voxcast:{mem}:dlq:c %s c-%08d\n", id, i
	} }' | rcli --pipe >/dev/null
after=$(used)
printf 'DLQ entry (%d B JSON)    %.1f bytes/contact\n' "${#entry}" "$(echo "($after - $before) / $n" | bc -l)"
