#!/usr/bin/env bash
# bench/fleet.sh - one provider account, four consumers (a benchmark, not a test; a few minutes).
#
# voxcast-ttsd plays the account: 50 ms per request, and either at most 20 requests in flight
# (--max-concurrent 20: more are answered 429 too_many_concurrent_requests, with
# maximum-concurrent-requests on every answer, as ElevenLabs does) or at most 200 requests/s
# (--rate 200: more are answered 429 with Retry-After). Four consumers of concurrency 32 each
# render one campaign; per scenario the table gives the share of answers that were 429, the peak
# in flight the provider saw (refused requests included), the elapsed time against the ideal
# (N / 400 s for 20 x 50 ms, N / 200 s for the rate), the achieved request rate, the limit the
# fleet used and the Redis round trips the account syncs cost per provider request.
#
# Scenarios: configured (provider.p.account_concurrency = 20), learned (no limit configured,
# adaptive: learned from the answers), rate (provider.p.account_rate = 200), and for comparison
# none (adaptive = false, no limit: each consumer alone, as without fleet limits).
# The clock starts once all four consumers have joined the group and the campaign is launched.
#   N=4000 bash bench/fleet.sh            (VOXCAST_BIN: programs, default ./bin)
#   ONLY="configured rate" bash bench/fleet.sh   (some scenarios; KEEP=1 keeps the logs)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
N=${N:-4000}
CONSUMERS=${CONSUMERS:-4}
work=$(mktemp -d /tmp/voxcast-fleet.XXXXXX)
pids=()
cpids=()
cleanup() { # every step may fail (nothing left to kill) without skipping the rest
	[ ${#cpids[@]} -eq 0 ] || kill "${cpids[@]}" 2>/dev/null || true
	[ ${#cpids[@]} -eq 0 ] || wait "${cpids[@]}" 2>/dev/null || true
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now() { date +%s.%N; }

redis_port=$(free_port 21500)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
rcli() { redis-cli -p "$redis_port" "$@"; }

"$BIN/voxcast" broker --partitions 12 >"$work/broker.out" 2>/dev/null &
pids+=($!)
wait_line "$work/broker.out" '^127'
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$work/broker.out")
export VOXCAST_KAFKA_BOOTSTRAP_SERVERS

metric_sum() { # metric_sum PATTERN: summed over the running consumers' /metrics
	local s=0 port v
	for port in "${ports[@]}"; do
		v=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk -v p="$1" '$0 ~ p && $0 !~ /^#/ { s += $NF } END { printf "%d", s }')
		s=$((s + v))
	done
	echo "$s"
}

# scenario NAME CONTACTS IDEAL_RATE TTSD_FLAGS -- CONSUMER_FLAGS: one row of the table
scenario() {
	local name=$1 N=$2 ideal_rate=$3
	shift 3
	case " ${ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
	local tflags=() cflags=()
	while [ "$1" != "--" ]; do tflags+=("$1"); shift; done
	shift
	cflags=("$@")
	"$BIN/voxcast-ttsd" --listen 127.0.0.1:0 --tone --latency-ms 50 "${tflags[@]}" >"$work/ttsd-$name.out" 2>/dev/null &
	local tpid=$!
	pids+=("$tpid")
	wait_line "$work/ttsd-$name.out" 'listening on'
	local tport
	tport=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/ttsd-$name.out")
	rcli DEL 'voxcast:account:{p}:limit' 'voxcast:account:{p}:bucket' 'voxcast:account:{p}:paused' >/dev/null
	ports=()
	cpids=()
	for i in $(seq 1 "$CONSUMERS"); do
		"$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 -X "output.dir=$work/audio-$name" -X output.fsync=false \
			-X consumer.concurrency=32 -X providers=p -X provider.p.type=openai \
			-X "provider.p.url=http://127.0.0.1:$tport/v1/audio/speech" -X kafka.group.id="bench-$name" \
			-X consumer.summary_interval_ms=60000 "${cflags[@]}" 2>"$work/consumer-$name-$i.log" &
		cpids+=($!)
	done
	for i in $(seq 1 "$CONSUMERS"); do
		wait_line "$work/consumer-$name-$i.log" '"partitions assigned"' 60
		ports+=("$(grep -m1 '"http listening"' "$work/consumer-$name-$i.log" | jq -r .port)")
	done
	awk -v n="$N" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%07d,N%d\n", i, i }' >"$work/c.csv"
	local t0 t1
	t0=$(now)
	"$BIN/voxcast" launch --campaign "fleet-$name" --contacts "$work/c.csv" --template 'Hi {{first_name}}.' --json >/dev/null
	"$BIN/voxcast" status "fleet-$name" --wait --interval 0.05 --timeout 900 >/dev/null
	t1=$(now)
	local stats syncs learned
	stats=$(curl -fsS "http://127.0.0.1:$tport/admin/stats")
	syncs=$(metric_sum '^voxcast_account_syncs_total')
	learned=$(rcli --raw HGET 'voxcast:account:{p}:limit' learned)
	[ "${learned:-0}" != 0 ] || learned=-
	kill "${cpids[@]}" 2>/dev/null || true
	wait "${cpids[@]}" 2>/dev/null || true
	cpids=()
	kill "$tpid"
	wait "$tpid" 2>/dev/null || true
	local req r429 peak elapsed
	req=$(jq .requests <<<"$stats")
	r429=$(jq '.by_status["429"] // 0' <<<"$stats")
	peak=$(jq .peak_in_flight <<<"$stats")
	elapsed=$(echo "$t1 - $t0" | bc -l)
	printf '| %-10s | %6d | %5.1f%% | %4d | %6.2f s | %6.2f s | %4.2fx | %6.1f/s | %-7s | %5.3f |\n' \
		"$name" "$req" "$(echo "100 * $r429 / $req" | bc -l)" "$peak" "$elapsed" "$(echo "$N / $ideal_rate" | bc -l)" \
		"$(echo "$elapsed / ($N / $ideal_rate)" | bc -l)" "$(echo "$req / $elapsed" | bc -l)" "${learned:--}" \
		"$(echo "$syncs / $req" | bc -l)"
}

echo "$CONSUMERS consumers x concurrency 32, N=$N contacts (none: N/4), provider 50 ms per request"
echo
echo '| scenario   | requests | 429 | peak | elapsed | ideal | ratio | req/s | learned | syncs/request |'
echo '| ---------- | -------: | --: | ---: | ------: | ----: | ----: | ----: | ------: | ------------: |'
scenario configured "$N" 400 --max-concurrent 20 -- -X provider.p.account_concurrency=20
scenario learned "$N" 400 --max-concurrent 20 --
scenario rate "$N" 200 --rate 200 -- -X provider.p.account_rate=200 -X provider.p.adaptive=false
# without fleet limits the 429s make it slow: a quarter of the contacts is enough to show it
scenario none $((N / 4)) 400 --max-concurrent 20 -- -X provider.p.adaptive=false
