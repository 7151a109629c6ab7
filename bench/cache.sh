#!/usr/bin/env bash
# bench/cache.sh - render once: what a campaign of few distinct texts costs in provider requests
# and billed characters, and what the cache costs in CPU. Four campaigns of N (100,000) contacts,
# each on a fresh broker (12 partitions), one consumer at concurrency 64, output.fsync=false,
# an instant provider (voxcast-ttsd --tone), real Redis:
#   A. 50 distinct texts, the cache on (the default cache.ttl_s);
#   B. the same 50 texts, cache.ttl_s=0 (every contact rendered: what --no-dedup does);
#   C. N distinct texts, the cache on (every lookup a miss: claim, render, entry);
#   D. N distinct texts, cache.ttl_s=0.
# For each: provider requests (voxcast-ttsd /admin/stats), characters billed (Redis
# voxcast:{C}:chars, and the consumer's voxcast_provider_characters_total), cache hits, jobs/s
# from "partitions assigned", the consumer's CPU per job (user+sys of the whole process, every
# thread, start to exit, GNU time) and Redis's (INFO used_cpu_user+sys over the run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
N=${N:-100000}
work=$(mktemp -d /tmp/voxcast-bench.XXXXXX)
audio_root=${AUDIO_ROOT:-$work}/voxcast-bench-$$
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work" "$audio_root"' EXIT

free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now() { date +%s.%N; }
calc() { echo "$1" | bc -l | xargs printf "${2:-%.0f}"; }

redis_port=$(free_port 21500)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
rcli() { redis-cli -p "$redis_port" "$@"; }
redis_cpu() { rcli INFO cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.6f", s }'; }

"$BIN/voxcast-ttsd" --listen 127.0.0.1:0 --tone >"$work/ttsd.out" 2>/dev/null &
pids+=($!)
wait_line "$work/ttsd.out" 'listening on'
ttsd=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/ttsd.out")
requests() { curl -fsS "http://127.0.0.1:$ttsd/admin/stats" | jq -r .requests; }

start_broker() { # a new broker per campaign: nothing of the previous one left
	[ -n "${broker_pid:-}" ] && kill "$broker_pid" && wait "$broker_pid" 2>/dev/null || true
	brokers=$((${brokers:-0} + 1)) # a file per broker: the next one must not read the last one's address
	"$BIN/voxcast" broker --partitions 12 >"$work/broker-$brokers.out" 2>/dev/null &
	broker_pid=$!
	pids+=($!)
	wait_line "$work/broker-$brokers.out" '^127'
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$work/broker-$brokers.out")
	export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
}

# launch CAMPAIGN TEXTS: N contacts over TEXTS distinct texts (TEXTS = N: all distinct)
launch() {
	awk -v n="$N" -v k="$2" 'BEGIN { print "contact_id,n"; for (i = 1; i <= n; i++) printf "c-%07d,%d\n", i, i % k }' >"$work/c.csv"
	"$BIN/voxcast" launch --campaign "$1" --contacts "$work/c.csv" \
		--template "Campaign $1, message {{n}}: your order ships today." --json >/dev/null
}

# run CAMPAIGN TEXTS LABEL ARGS...: one row of the table
run() {
	local campaign=$1 texts=$2 label=$3
	shift 3
	start_broker
	launch "$campaign" "$texts"
	curl -fsS -X POST "http://127.0.0.1:$ttsd/admin/stats/reset" >/dev/null
	local r0 ta t1
	r0=$(redis_cpu)
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 \
		-X "output.dir=$audio_root/$campaign" -X output.fsync=false -X consumer.concurrency=64 \
		-X providers=primary -X provider.primary.type=openai \
		-X "provider.primary.url=http://127.0.0.1:$ttsd/v1/audio/speech" "$@" 2>"$work/consumer.log" &
	local pid=$!
	wait_line "$work/consumer.log" '"partitions assigned"' 60
	ta=$(now)
	"$BIN/voxcast" status "$campaign" --wait --interval 0.05 --timeout 900 >/dev/null
	t1=$(now)
	local port metric
	port=$(grep -m1 '"http listening"' "$work/consumer.log" | jq -r .port)
	metric=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^voxcast_provider_characters_total/ { s += $NF } END { printf "%d", s }')
	local r1 reqs chars hits
	r1=$(redis_cpu)
	reqs=$(requests)
	chars=$(rcli HGET "voxcast:{$campaign}:chars" primary)
	hits=$(rcli HGET "voxcast:{$campaign}:meta" cache_hits)
	pkill -TERM -P "$pid" # the consumer under GNU time
	wait "$pid" || true
	local _e u s _m
	read -r _e u s _m <"$work/time"
	printf '%-34s %9s %11s %9s %8s %9s %11s %10s\n' "$label" "$reqs" "${chars:-0}/$metric" "${hits:-0}" \
		"$(calc "$N / ($t1 - $ta)")" "$(calc "$t1 - $ta" %.2f)" "$(calc "($u + $s) * 1000000 / $N" %.1f)" \
		"$(calc "($r1 - $r0) * 1000000 / $N" %.1f)"
}

echo "== render once: $N contacts, one consumer, concurrency 64, instant provider, output.fsync=false"
printf '%-34s %9s %11s %9s %8s %9s %11s %10s\n' campaign requests "chars(R/m)" hits "jobs/s" seconds \
	"CPU_us/job" "redis_us/job"
run a50 50 "A. 50 texts, cache on"
run b50 50 "B. 50 texts, cache.ttl_s=0" -X cache.ttl_s=0
run cdistinct "$N" "C. $N distinct texts, cache on"
run ddistinct "$N" "D. $N distinct texts, cache.ttl_s=0" -X cache.ttl_s=0
echo "chars(R/m): billed characters in Redis (voxcast:{C}:chars) / on the consumer's /metrics"
