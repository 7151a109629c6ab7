#!/usr/bin/env bash
# demo.sh - the whole pipeline on one machine, started for real and stopped at the end:
# redis-server, the embedded Kafka broker, voxcast-ttsd as a primary provider that fails 20% of
# its requests, espeak-ng in process as the secondary, a launch of examples/contacts.csv (a few
# bad rows included), two consumers in one group, live progress and a final report.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
OUT=${DEMO_DIR:-$PWD/demo-output}
rm -rf "$OUT"
mkdir -p "$OUT"
pids=()

consumer_pids=()
# Consumers first (they drain and leave the group while Kafka is still there), then the rest.
cleanup() {
	if [ ${#consumer_pids[@]} -gt 0 ]; then
		kill "${consumer_pids[@]}" 2>/dev/null
		wait "${consumer_pids[@]}" 2>/dev/null
	fi
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B="" N=""; fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }

# A port nobody listens on, starting at $1.
free_port() {
	local p
	for ((p = $1; p < $1 + 500; p++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	echo "demo: no free port near $1" >&2
	exit 1
}

# wait_line FILE PATTERN WHAT: until FILE shows PATTERN (20 s at most).
wait_line() {
	grep -q -m1 -E -- "$2" < <(timeout 20 tail -n +1 -F "$1" 2>/dev/null) ||
		{ echo "demo: $3 did not start; see $1" >&2; exit 1; }
}

step "Redis"
redis_port=$(free_port 16379)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" \
	>"$OUT/redis.log" 2>&1 &
pids+=($!)
wait_line "$OUT/redis.log" 'Ready to accept connections' redis-server
echo "redis-server on 127.0.0.1:$redis_port"

step "Embedded Kafka broker (librdkafka mock cluster, 6 partitions)"
"$BIN/voxcast" broker --partitions 6 >"$OUT/broker.out" 2>"$OUT/broker.log" &
pids+=($!)
wait_line "$OUT/broker.out" '^127\.' "voxcast broker"
bootstrap=$(head -n 1 "$OUT/broker.out")
echo "bootstrap $bootstrap"

step "Primary provider: voxcast-ttsd (OpenAI-shaped, espeak-ng voices), failing 20% with 503"
"$BIN/voxcast-ttsd" --listen 127.0.0.1:0 --fail-rate 0.2 --fail-status 503 \
	>"$OUT/ttsd.out" 2>"$OUT/ttsd.log" &
pids+=($!)
wait_line "$OUT/ttsd.out" 'listening on' voxcast-ttsd
ttsd=$(sed -n 's/.*listening on //p' "$OUT/ttsd.out")
echo "voxcast-ttsd on $ttsd; secondary: espeak-ng in process"

cat >"$OUT/voxcast.conf" <<CONF
# written by scripts/demo.sh
kafka.bootstrap.servers = $bootstrap
redis.url = redis://127.0.0.1:$redis_port/0
output.dir = $OUT/audio
providers = primary, espeak
provider.primary.type = openai
provider.primary.url = http://$ttsd/v1/audio/speech
provider.primary.voice = alloy
provider.espeak.type = espeak
consumer.concurrency = 8
retry.max_attempts = 3
retry.base_ms = 200
retry.max_ms = 2000
# 20% of the primary's answers are 503s: a run of 5 in a row (the default threshold) is likely
# among a few hundred fast answers, and the breaker is the whole fleet's. Ten in a row and a
# 10 s open period let the demo show a breaker opening and the primary coming back.
breaker.failure_threshold = 10
breaker.open_ms = 10000
consumer.summary_interval_ms = 5000
CONF
vx() { "$BIN/voxcast" -c "$OUT/voxcast.conf" "$@"; }

step "Launch: examples/contacts.csv"
vx launch --campaign demo --contacts examples/contacts.csv --meta phone \
	--template 'Hi {{first_name}}, your order {{order}} {{status}}.' --rejects "$OUT/rejects.csv"
echo "rejected rows ($OUT/rejects.csv):"
sed 's/^/    /' "$OUT/rejects.csv"

step "Two consumers in one group"
ports=()
for i in 1 2; do
	port=$(free_port $((19463 + i * 10)))
	ports+=("$port")
	"$BIN/voxcast-consumer" -c "$OUT/voxcast.conf" -X "http.listen=127.0.0.1:$port" \
		2>"$OUT/consumer-$i.log" &
	consumer_pids+=($!)
	echo "consumer $i: logs $OUT/consumer-$i.log, metrics http://127.0.0.1:$port/metrics"
done
for i in 1 2; do wait_line "$OUT/consumer-$i.log" '"http listening"' "consumer $i"; done

step "Progress"
vx status demo --watch --timeout 600

step "Report"
vx status demo
metric() { # sum of one metric family over both consumers
	for p in "${ports[@]}"; do curl -fsS "http://127.0.0.1:$p/metrics"; done |
		awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $2 } END { printf "%d", s }'
}
echo "  retries $(metric voxcast_retries_total), failovers $(metric voxcast_failovers_total)"
echo "  primary answers by status:"
for p in "${ports[@]}"; do curl -fsS "http://127.0.0.1:$p/metrics"; done |
	awk -F'[",}]' '/^voxcast_provider_requests_total/ { split($0, v, " "); c[$2" HTTP "$5] += v[2] }
	              END { for (k in c) printf "    %-24s %d\n", k, c[k] }' | sort
if [ "$(vx status demo --json | jq -r .dlq)" != 0 ]; then
	echo "  dead-lettered:"
	vx dlq list --campaign demo --limit 10 | sed 's/^/    /'
fi
n=$(find "$OUT/audio/demo" -name '*.wav' | wc -l)
echo "  $n audio files in $OUT/audio/demo/ (e.g. $(find "$OUT/audio/demo" -name '*.wav' | sort | head -n 1))"

step "Stopping everything (consumers drain on SIGTERM)"
cleanup
consumer_pids=() pids=()
echo "done; everything it started is stopped"
