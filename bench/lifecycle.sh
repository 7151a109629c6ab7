#!/usr/bin/env bash
# bench/lifecycle.sh - what campaign lifecycle costs on the consumer side:
#   0. priority: in the set-up of 1., 100 contacts launched --priority high while a campaign of
#      20,000 is under way: how long until they are complete (their launch included), and how
#      much of the bulk is still pending then;
#   1. stop latency: 4 consumers (concurrency 16 each, render-once cache off) render one campaign
#      of 20,000 against voxcast-ttsd answering a tone in 100 ms (~640 requests/s in all); once
#      it is under way, `voxcast campaign pause` (or `cancel`) at T0. Reported: how long after T0
#      the provider received its last request of that campaign (ttsd's last_request_ms; nothing
#      else runs), for RUNS campaigns of each. Goal <= 2 s (campaign.control_ttl_ms 500 + a tick).
#   2. control check cost: one consumer, an instant provider (--tone), concurrency 64, N jobs of
#      one campaign, default configuration but for campaign.control_ttl_ms: 500 (the default) vs
#      3600000 (read once, never again). Reported per job: CPU (user+sys of the whole process,
#      start to exit, GNU time; PAIRS alternating pairs, on a shared machine the noise is larger
#      than the difference) and the consumer's own count and time of its control round trips
#      (summary line: control_reads, control_read_us). Goal < 5% of a job's CPU.
# Needs redis-server and GNU time; programs from VOXCAST_BIN (default ./bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
N=${N:-50000}
RUNS=${RUNS:-3}
PAIRS=${PAIRS:-2}
work=$(mktemp -d /tmp/voxcast-bench-life.XXXXXX)
pids=()
brokers=0
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now_ms() { date +%s%3N; }
calc() { echo "$1" | bc -l | xargs printf "${2:-%.0f}"; }
vx() { "$BIN/voxcast" "$@"; }

redis_port=$(free_port 21100)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$redis_port/0"

start_broker() { # a new broker per phase: nothing of a previous phase left
	[ -n "${broker_pid:-}" ] && kill "$broker_pid" && wait "$broker_pid" 2>/dev/null || true
	# a file of its own: the background child truncates a reused one only after this shell has
	# moved on, so waiting on it could read the previous broker's address
	local out="$work/broker-$((++brokers)).out"
	"$BIN/voxcast" broker --partitions "${1:-12}" >"$out" 2>/dev/null &
	broker_pid=$!
	pids+=($!)
	wait_line "$out" '^127'
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$out")
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
stat_of() { curl -fsS "http://127.0.0.1:$1/admin/stats" | jq -r ".$2"; }

launch() { # launch CAMPAIGN N [FLAGS...]: every campaign its own words
	local c=$1 n=$2
	shift 2
	awk -v n="$n" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%07d,N%d\n", i, i }' >"$work/c.csv"
	vx launch --campaign "$c" --contacts "$work/c.csv" --template "$c says hi to {{first_name}}" --json "$@" >/dev/null
}
field() { vx status "$1" --json | jq -r ".$2"; }

# ------------------------------------------------------------------ 1. stop latency
start_broker 12
start_ttsd SLOW --tone --latency-ms 100
slow_url="http://127.0.0.1:$SLOW/v1/audio/speech"
for i in 1 2 3 4; do
	"$BIN/voxcast-consumer" -X http.listen= -X "output.dir=$work/audio" -X providers=primary \
		-X provider.primary.type=openai -X "provider.primary.url=$slow_url" -X consumer.concurrency=16 \
		-X cache.ttl_s=0 2>"$work/consumer-$i.log" &
	pids+=($!)
	wait_line "$work/consumer-$i.log" '"partitions assigned"' 60
done
echo "== 0. priority: 4 consumers x concurrency 16, provider latency 100 ms"
launch bulk 20000
until [ "$(field bulk "done")" -ge 1000 ]; do sleep 0.1; done
t0=$(now_ms)
launch urgent 100 --priority high
vx status urgent --wait --interval 0.05 --timeout 300 >/dev/null
t1=$(now_ms)
echo "100 contacts launched --priority high behind a bulk campaign of 20000 (normal): complete $((t1 - t0)) ms" \
	"after their launch began (launch included), with $(field bulk pending) of the bulk still pending"
vx campaign cancel bulk >/dev/null 2>&1
until [ "$(field bulk pending)" = 0 ]; do sleep 0.1; done
echo "== 1. stop latency: 4 consumers x concurrency 16, provider latency 100 ms, campaigns of 20000"
worst=0
for action in pause cancel; do
	for r in $(seq 1 "$RUNS"); do
		c="$action$r"
		launch "$c" 20000
		until [ "$(field "$c" "done")" -ge 1000 ]; do sleep 0.1; done # under way, at full speed
		t0=$(now_ms)
		vx campaign "$action" "$c" >/dev/null 2>&1
		# quiet: nothing in flight at the provider and no request for 3 s
		until [ "$(stat_of "$SLOW" in_flight)" = 0 ] && [ $(($(now_ms) - $(stat_of "$SLOW" last_request_ms))) -gt 3000 ]; do
			sleep 0.1
		done
		last=$(($(stat_of "$SLOW" last_request_ms) - t0))
		[ "$last" -gt "$worst" ] && worst=$last
		printf '%-6s run %d: last request %5d ms after the command (%s done, %s %s)\n' "$action" "$r" "$last" \
			"$(field "$c" "done")" "$(field "$c" "$([ "$action" = pause ] && echo aside || echo cancelled)")" \
			"$([ "$action" = pause ] && echo "set aside" || echo cancelled)"
		[ "$action" = pause ] && vx campaign cancel "$c" >/dev/null 2>&1 # its set-aside jobs leave too
	done
done
echo "worst: $worst ms (goal <= 2000)"
reads=0 read_us=0
for i in 1 2 3 4; do
	s=$(grep '"summary"' "$work/consumer-$i.log" | tail -n 1)
	reads=$((reads + $(jq .control_reads <<<"$s"))) read_us=$((read_us + $(jq .control_read_us <<<"$s")))
done
echo "control round trips of the 4 consumers so far: $reads, $(calc "$read_us / ($reads + ($reads == 0))" %.0f) us each on average"
kill "${pids[@]:3}" 2>/dev/null || true # the 4 consumers
wait "${pids[@]:3}" 2>/dev/null || true
pids=("${pids[@]:0:3}")

# ------------------------------------------------------------------ 2. control check cost
start_ttsd INSTANT --tone
url="http://127.0.0.1:$INSTANT/v1/audio/speech"
# run_consumer CAMPAIGN TTL: prints "cpu_us_per_job control_reads control_read_us_per_job jobs_per_s"
run_consumer() {
	local c=$1 ttl=$2 ta t1
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 \
		-X "output.dir=$work/audio2/$c" -X providers=primary -X provider.primary.type=openai \
		-X "provider.primary.url=$url" -X consumer.concurrency=64 -X "campaign.control_ttl_ms=$ttl" \
		2>"$work/consumer.log" &
	local pid=$!
	wait_line "$work/consumer.log" '"partitions assigned"' 60
	ta=$(now_ms)
	vx status "$c" --wait --interval 0.05 --timeout 900 >/dev/null
	t1=$(now_ms)
	pkill -TERM -P "$pid" # the consumer under GNU time
	wait "$pid" || true
	local _e u s sum
	read -r _e u s _ <"$work/time"
	sum=$(grep '"summary"' "$work/consumer.log" | tail -n 1)
	printf '%.1f %d %.3f %.0f\n' "$(calc "($u + $s) * 1000000 / $N" %.1f)" "$(jq .control_reads <<<"$sum")" \
		"$(calc "$(jq .control_read_us <<<"$sum") / $N" %.3f)" "$(calc "$N * 1000 / ($t1 - $ta)")"
}
echo "== 2. control check cost: one consumer, instant provider, concurrency 64, $N jobs per run"
printf '%-28s %12s %14s %22s %8s\n' "campaign.control_ttl_ms" "CPU us/job" "control reads" "control read us/job" "jobs/s"
for p in $(seq 1 "$PAIRS"); do
	for ttl in 500 3600000; do
		start_broker 12
		c="cost$p-$ttl"
		launch "$c" "$N"
		read -r cpu reads per_job rate < <(run_consumer "$c" "$ttl")
		printf '%-28s %12s %14s %22s %8s\n' "$ttl" "$cpu" "$reads" "$per_job" "$rate"
	done
done
