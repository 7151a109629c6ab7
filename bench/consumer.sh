#!/usr/bin/env bash
# bench/consumer.sh - consumer throughput, memory and latency, each against a baseline measured
# in the same run:
#   1. engine overhead: one consumer, an instant provider (voxcast-ttsd --tone), concurrency 64:
#      jobs/s and peak RSS for 10k and 100k jobs (and 1M with FULL=1), and at concurrency 256;
#      beside wrk against the same endpoint (the ceiling) and a straightforward Python asyncio
#      worker doing the same work (bench/baseline_worker.py, the baseline);
#   2. latency-bound: provider latency 100 ms, concurrency 128: jobs/s against the ideal C/L;
#   3. failover cost: the same campaign with the primary refusing connections vs healthy.
# Needs wrk and Debian's python3-confluent-kafka python3-aiohttp python3-redis.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
work=$(mktemp -d /tmp/voxcast-bench.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now() { date +%s.%N; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

redis_port=$(free_port 21000)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$redis_port/0"

start_broker() { # new broker per phase: nothing of a previous phase is left in the topic
	[ -n "${broker_pid:-}" ] && kill "$broker_pid" && wait "$broker_pid" 2>/dev/null || true
	"$BIN/voxcast" broker --partitions 12 >"$work/broker.out" 2>/dev/null &
	broker_pid=$!
	pids+=($!)
	wait_line "$work/broker.out" '^127'
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$work/broker.out")
	export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
}

start_ttsd() { # start_ttsd VAR FLAGS...: VAR gets the port
	local var=$1
	shift
	"$BIN/voxcast-ttsd" --listen 127.0.0.1:0 "$@" >"$work/ttsd-$var.out" 2>/dev/null &
	pids+=($!)
	wait_line "$work/ttsd-$var.out" 'listening on'
	printf -v "$var" '%s' "$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/ttsd-$var.out")"
}

launch() { # launch CAMPAIGN N
	awk -v n="$2" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%07d,N%d\n", i, i }' >"$work/c.csv"
	"$BIN/voxcast" launch --campaign "$1" --contacts "$work/c.csv" --template 'Hi {{first_name}}, your order ships today.' --json >/dev/null
}

# run_consumer CAMPAIGN N ARGS...: prints "jobs/s peak_rss_MiB seconds"
run_consumer() {
	local campaign=$1 n=$2
	shift 2
	# each run writes its own folder, removed only at exit: on an ext4 without a journal, inodes
	# freed less than ~30 s ago are skipped one by one when allocating (recently_deleted), so
	# deleting one run's files would slow the next run's file creation several times over
	/usr/bin/time -f '%M' -o "$work/rss" "$BIN/voxcast-consumer" -X http.listen= -X "output.dir=$work/audio-$campaign" \
		-X output.fsync=false "$@" 2>"$work/consumer.log" &
	local pid=$!
	wait_line "$work/consumer.log" '"partitions assigned"'
	local t0 t1
	t0=$(now)
	"$BIN/voxcast" status "$campaign" --wait --interval 0.05 --timeout 900 >/dev/null
	t1=$(now)
	pkill -TERM -P "$pid" # the consumer under GNU time
	wait "$pid" || true
	printf '%.0f %.1f %.2f\n' "$(echo "$n / ($t1 - $t0)" | bc -l)" "$(echo "$(tail -n 1 "$work/rss") / 1024" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
}

start_ttsd INSTANT --tone
url="http://127.0.0.1:$INSTANT/v1/audio/speech"
primary=(-X providers=primary -X provider.primary.type=openai -X "provider.primary.url=$url")

echo "== 1. engine overhead (instant provider)"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' \
	"'{\"model\":\"tts-1\",\"input\":\"Hi N1, your order ships today.\",\"voice\":\"alloy\",\"response_format\":\"wav\"}'" >"$work/post.lua"
ceiling=$(wrk -t2 -c64 -d5s -s "$work/post.lua" "$url" | awk '/Requests\/sec/ {printf "%.0f", $2}')
echo "ceiling: wrk -c64 against the provider: $ceiling requests/s"

start_broker
base_n=${BASE_N:-10000}
launch base "$base_n"
baseline=$(/usr/bin/python3 bench/baseline_worker.py "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$redis_port" "$url" "$work/base-audio" 64 "$base_n")
echo "baseline: python asyncio worker, concurrency 64, $base_n jobs: $baseline jobs/s"

sizes=(10000 100000)
[ -n "${FULL:-}" ] && sizes+=(1000000)
printf '%-10s %-11s %10s %12s %10s %14s\n' jobs concurrency jobs/s peak_rss_MiB seconds "vs baseline"
for n in "${sizes[@]}"; do
	start_broker
	launch "e$n" "$n"
	read -r rate rss secs < <(run_consumer "e$n" "$n" "${primary[@]}" -X consumer.concurrency=64)
	printf '%-10s %-11s %10s %12s %10s %13sx\n' "$n" 64 "$rate" "$rss" "$secs" "$(ratio "$rate" "$baseline")"
done
start_broker
launch c256 100000
read -r rate rss secs < <(run_consumer c256 100000 "${primary[@]}" -X consumer.concurrency=256)
printf '%-10s %-11s %10s %12s %10s %13sx\n' 100000 256 "$rate" "$rss" "$secs" "$(ratio "$rate" "$baseline")"

echo "== 2. latency-bound: provider latency 100 ms, concurrency 128 (ideal C/L = 1280 jobs/s)"
start_ttsd SLOW --tone --latency-ms 100
start_broker
launch slow 20000
read -r rate rss secs < <(run_consumer slow 20000 -X providers=primary -X provider.primary.type=openai \
	-X "provider.primary.url=http://127.0.0.1:$SLOW/v1/audio/speech" -X consumer.concurrency=128)
echo "latency-bound: $rate jobs/s = $(ratio "$rate" 1280) of the ideal 1280 (peak RSS $rss MiB)"

echo "== 3. failover cost: primary refusing connections vs healthy (20000 jobs, concurrency 64)"
start_ttsd SECOND --tone
dead=$(free_port 22000)
two=(-X "providers=primary,secondary" -X provider.primary.type=openai -X provider.secondary.type=openai
	-X "provider.secondary.url=http://127.0.0.1:$SECOND/v1/audio/speech" -X consumer.concurrency=64)
start_broker
launch healthy 20000
read -r rate_h _ secs_h < <(run_consumer healthy 20000 "${two[@]}" -X "provider.primary.url=$url")
start_broker
launch refused 20000
read -r rate_r _ secs_r < <(run_consumer refused 20000 "${two[@]}" -X "provider.primary.url=http://127.0.0.1:$dead/v1/audio/speech")
echo "healthy primary: $secs_h s ($rate_h jobs/s); primary refusing: $secs_r s ($rate_r jobs/s); ratio $(ratio "$secs_r" "$secs_h")"
