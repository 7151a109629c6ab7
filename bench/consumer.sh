#!/usr/bin/env bash
# bench/consumer.sh - consumer throughput, memory and latency, each against a baseline measured
# in the same run:
#   1. engine overhead: one consumer, an instant provider (voxcast-ttsd --tone, answering a 3.1 KB
#      WAV; TONE_MS=200 for the 8.9 KB of earlier runs), concurrency 64,
#      PARTITIONS (24) partitions, the DEFAULT configuration (output.fsync on): for 10k and N
#      (100k) jobs (and 1M with FULL=1), and N at concurrency 256: jobs/s from process start
#      (group join included) and from "partitions assigned", CPU per job (user+sys of the whole
#      process, all threads, start to exit, from GNU time) and peak RSS; extra rows, labelled,
#      with output.fsync=false and with consumer.http_client=curl (libcurl for every request).
#      Beside wrk against the same endpoint (the ceiling), the floor (the same system calls
#      without the engine: tests/tools/floor_bench.c) and a straightforward Python asyncio worker
#      doing the same work (bench/baseline_worker.py, the baseline, BASE_N jobs), timed the same
#      way (process start to exit, GNU time);
#   2. latency-bound: provider latency 100 ms, concurrency 128: jobs/s against the ideal C/L;
#   3. failover cost: the same campaign with the primary refusing connections vs healthy.
# Needs Debian's python3-confluent-kafka python3-aiohttp python3-redis (and wrk for the ceiling).
# Audio goes under AUDIO_ROOT (default: the run's temporary folder). CPU per job depends on the
# file system: on an ext4 without a journal, creating files where many were deleted in the last
# minutes costs several times more (ext4 skips recently deleted inodes one by one), so compare
# runs on the same AUDIO_ROOT, ideally a file system nothing else writes to.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
TESTBIN=${VOXCAST_TESTBIN:-$PWD/build/release/tests} # floor_bench (make unit-bins)
N=${N:-100000}
PARTITIONS=${PARTITIONS:-24}
TONE_MS=${TONE_MS:-70} # the instant provider's answer: 70 ms of 22,050 Hz PCM16, a 3.1 KB WAV
work=$(mktemp -d /tmp/voxcast-bench.XXXXXX)
audio_root=${AUDIO_ROOT:-$work}/voxcast-bench-$$
pids=()
brokers=0
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work" "$audio_root"' EXIT

free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now() { date +%s.%N; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
calc() { echo "$1" | bc -l | xargs printf "${2:-%.0f}"; }

redis_port=$(free_port 21000)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$redis_port/0"

start_broker() { # start_broker [PARTITIONS]: new broker per phase, nothing of a previous phase left
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

launch() { # launch CAMPAIGN N
	awk -v n="$2" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%07d,N%d\n", i, i }' >"$work/c.csv"
	# the campaign in the text: every row renders its own sounds, none is a render-once copy of an
	# earlier row's (the cache is on by default and keeps entries across campaigns)
	"$BIN/voxcast" launch --campaign "$1" --contacts "$work/c.csv" \
		--template "Hi {{first_name}}, your order $1 ships today." --json >/dev/null
}

# thread_cpu PID N: CPU µs per job of each kind of thread of PID so far (user+sys, clock ticks of
# /proc/PID/task/*/stat): the event loop, the audio writer, the converter, librdkafka's, the rest
thread_cpu() {
	local hz
	hz=$(getconf CLK_TCK)
	for t in /proc/"$1"/task/*; do
		printf '%s %s\n' "$(cat "$t/comm")" "$(awk '{ print $14 + $15 }' "$t/stat")"
	done | awk -v n="$2" -v hz="$hz" '
		{ k = "other" }
		$1 == "voxcast-consume" { k = "loop" }
		$1 == "vx-writer" { k = "writer" }
		$1 == "vx-convert" { k = "convert" }
		$1 ~ /^rdk:/ { k = "librdkafka" }
		{ cpu[k] += $NF }
		END { f = 1e6 / hz / n; printf "loop %.1f, writer %.1f, convert %.1f, librdkafka %.1f, other %.1f\n",
		      cpu["loop"] * f, cpu["writer"] * f, cpu["convert"] * f, cpu["librdkafka"] * f, cpu["other"] * f }'
}

# run_consumer CAMPAIGN N ARGS...: the consumer with the default configuration but for ARGS;
# prints "jobs/s_from_start jobs/s_from_assigned cpu_us_per_job peak_rss_MiB seconds_from_assigned".
# CPU is user+sys of the whole process (every thread, start to exit) as GNU time reports it.
run_consumer() {
	local campaign=$1 n=$2
	shift 2
	# each run writes its own folder, removed only at exit: on an ext4 without a journal, inodes
	# freed in the last minutes are skipped one by one when allocating (recently_deleted), so
	# deleting one run's files would slow the next run's file creation several times over
	# http.listen stays on as by default (its thread included), on a free port
	local ts ta t1
	ts=$(now)
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 \
		-X "output.dir=$audio_root/$campaign" "$@" 2>"$work/consumer.log" &
	local pid=$!
	wait_line "$work/consumer.log" '"partitions assigned"' 60
	ta=$(now)
	"$BIN/voxcast" status "$campaign" --wait --interval 0.05 --timeout 900 >/dev/null
	t1=$(now)
	thread_cpu "$(pgrep -P "$pid")" "$n" >"$work/threads"
	pkill -TERM -P "$pid" # the consumer under GNU time
	wait "$pid" || true
	local _e u s m
	read -r _e u s m <"$work/time"
	printf '%.0f %.0f %.1f %.1f %.2f\n' "$(calc "$n / ($t1 - $ts)")" "$(calc "$n / ($t1 - $ta)")" \
		"$(calc "($u + $s) * 1000000 / $n" %.1f)" "$(calc "$m / 1024" %.1f)" "$(calc "$t1 - $ta" %.2f)"
}

# run_baseline N: the Python worker over the campaign "base", timed like the consumer; prints
# "jobs/s_from_start jobs/s_from_first_message cpu_us_per_job peak_rss_MiB"
run_baseline() {
	local n=$1 ts t1 own
	ts=$(now)
	own=$(/usr/bin/time -f '%e %U %S %M' -o "$work/time-base" /usr/bin/python3 bench/baseline_worker.py \
		"$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$redis_port" "$url" "$audio_root/base" 64 "$n")
	t1=$(now)
	local _e u s m
	read -r _e u s m <"$work/time-base"
	printf '%.0f %s %.1f %.1f\n' "$(calc "$n / ($t1 - $ts)")" "$own" "$(calc "($u + $s) * 1000000 / $n" %.1f)" \
		"$(calc "$m / 1024" %.1f)"
}

start_ttsd INSTANT --tone --tone-ms "$TONE_MS"
url="http://127.0.0.1:$INSTANT/v1/audio/speech"
primary=(-X providers=primary -X provider.primary.type=openai -X "provider.primary.url=$url")

echo "== 1. engine overhead (instant provider, $PARTITIONS partitions, default configuration)"
body='{"model":"tts-1","input":"Hi N1, your order ships today.","voice":"alloy","response_format":"wav"}'
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' "'$body'" >"$work/post.lua"
if command -v wrk >/dev/null; then
	ceiling=$(wrk -t2 -c64 -d5s -s "$work/post.lua" "$url" | awk '/Requests\/sec/ {printf "%.0f", $2}')
	echo "ceiling: wrk -c64 against the provider: $ceiling requests/s"
else
	echo "ceiling: wrk not installed, skipped"
fi

# the floor: the same system calls with no engine around them (tests/tools/floor_bench.c)
tone_bytes=$(curl -s -o /dev/null -w '%{size_download}' -H 'Content-Type: application/json' -d "$body" "$url")
mkdir -p "$audio_root/floor"
floor_files=$("$TESTBIN/floor_bench" files "$audio_root/floor" "$N" "$tone_bytes" 100 | sed -n 's/.*us_per_op=\([0-9.]*\).*/\1/p')
floor_http=$("$TESTBIN/floor_bench" http "127.0.0.1:$INSTANT" /v1/audio/speech "$N" 64 "$body" |
	sed -n 's/.*us_per_op=\([0-9.]*\).*/\1/p')
floor=$(calc "$floor_files + $floor_http" %.1f)
echo "floor: the system calls alone, $N each: one durable $tone_bytes-byte file (O_TMPFILE, write, linkat, close," \
	"syncfs per 100) $floor_files us; one keep-alive HTTP request at c=64 $floor_http us; a job's floor $floor us CPU"

start_broker "$PARTITIONS"
base_n=${BASE_N:-10000}
launch base "$base_n"
read -r base_start base_first base_cpu base_rss < <(run_baseline "$base_n")
echo "baseline: python asyncio worker, concurrency 64, $base_n jobs: $base_start jobs/s from process start" \
	"($base_first from its first message), $base_cpu us CPU per job, peak RSS $base_rss MiB"

row() { # row N CONCURRENCY LABEL ARGS...
	local n=$1 c=$2 label=$3
	shift 3
	start_broker "$PARTITIONS"
	local campaign="e$n-c$c-${label//=/-}" rs ra cpu rss secs
	launch "$campaign" "$n"
	read -r rs ra cpu rss secs < <(run_consumer "$campaign" "$n" "${primary[@]}" -X "consumer.concurrency=$c" "$@")
	printf '%-8s %-4s %-13s %11s %14s %10s %9s %8s %10s %10s\n' "$n" "$c" "$label" "$rs" "$ra" "$cpu" "$rss" "$secs" \
		"$(ratio "$rs" "$base_start")x" "$(ratio "$base_cpu" "$cpu")x"
	echo "         CPU us/job by thread: $(cat "$work/threads"); above the floor: $(calc "$cpu - $floor" %.1f)"
}
echo "jobs/s: from process start (group join included) / from \"partitions assigned\"; CPU: us per job, whole process"
printf '%-8s %-4s %-13s %11s %14s %10s %9s %8s %10s %10s\n' jobs conc config "jobs/s(start)" "jobs/s(assigned)" \
	"CPU_us/job" "RSS_MiB" seconds "vs_base" "CPU_less"
sizes=(10000 "$N")
[ -n "${FULL:-}" ] && sizes+=(1000000)
for n in "${sizes[@]}"; do
	row "$n" 64 default
done
row "$N" 64 fsync=false -X output.fsync=false
row "$N" 64 libcurl -X consumer.http_client=curl
row "$N" 256 default

echo "== 2. latency-bound: provider latency 100 ms, concurrency 128 (ideal C/L = 1280 jobs/s)"
start_ttsd SLOW --tone --latency-ms 100
start_broker
launch slow 20000
read -r _ rate _ rss secs < <(run_consumer slow 20000 -X output.fsync=false -X providers=primary -X provider.primary.type=openai \
	-X "provider.primary.url=http://127.0.0.1:$SLOW/v1/audio/speech" -X consumer.concurrency=128)
echo "latency-bound: $rate jobs/s = $(ratio "$rate" 1280) of the ideal 1280 (peak RSS $rss MiB)"

echo "== 3. failover cost: primary refusing connections vs healthy (20000 jobs, concurrency 64)"
start_ttsd SECOND --tone
dead=$(free_port 22000)
two=(-X output.fsync=false -X "providers=primary,secondary" -X provider.primary.type=openai -X provider.secondary.type=openai
	-X "provider.secondary.url=http://127.0.0.1:$SECOND/v1/audio/speech" -X consumer.concurrency=64)
start_broker
launch healthy 20000
read -r _ rate_h _ _ secs_h < <(run_consumer healthy 20000 "${two[@]}" -X "provider.primary.url=$url")
start_broker
launch refused 20000
read -r _ rate_r _ _ secs_r < <(run_consumer refused 20000 "${two[@]}" -X "provider.primary.url=http://127.0.0.1:$dead/v1/audio/speech")
echo "healthy primary: $secs_h s ($rate_h jobs/s); primary refusing: $secs_r s ($rate_r jobs/s); ratio $(ratio "$secs_r" "$secs_h")"
