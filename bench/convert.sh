#!/usr/bin/env bash
# bench/convert.sh - what the output formats cost.
#
#   bash bench/convert.sh [MS RATE]...
#       CPU of the conversion stage (common/convert.c) per job and per second of audio, for every
#       output format, and the writer thread's whole per-job work before writing (conversion +
#       SHA-256 of the saved bytes): a 3 s tone at 24 kHz (OpenAI's rate) and 22.05 kHz
#       (espeak-ng, voxcast-ttsd), and the 200 ms 22.05 kHz tone of the consumer benchmark's
#       provider. Extra arguments are MS RATE pairs. Runs tests/tools/convert_bench.
#
#   bash bench/convert.sh --consumer [N] [ROUNDS]
#       consumer throughput with conversion against plain WAV (pass-through), as bench/consumer.sh
#       measures it: one consumer, the instant provider (voxcast-ttsd --tone, OpenAI-shaped,
#       200 ms 22.05 kHz WAV), concurrency 64, N jobs (default 20000) per campaign; campaigns in
#       wav, ulaw_8000 and wav_16000 (the dearest telephony format), alternating for ROUNDS rounds
#       (default 2) so the VM's drift hits each alike (FORMATS="wav mp3" picks others; wav
#       first). Prints per run jobs/s, the consumer's CPU microseconds (user + sys) per job, the
#       writer thread's CPU microseconds per job and how busy it was (its CPU time over the run's
#       wall time: near 1.00 it is the bottleneck), and each format's rate as a fraction of wav's
#       in the same round; then per format the best rate of all rounds (other load on the machine
#       only ever slows a run down) and the median CPU per job.
#
# Build first: make all unit-bins (or BUILD=dir, then VOXCAST_BIN / VOXCAST_TESTBIN).
set -euo pipefail
cd "$(dirname "$0")/.."
TESTBIN=${VOXCAST_TESTBIN:-$PWD/build/release/tests}
BIN=${VOXCAST_BIN:-$PWD/bin}
[ "${1:-}" = --consumer ] || exec "$TESTBIN/convert_bench" "$@"

N=${2:-20000}
ROUNDS=${3:-2}
read -r -a FORMATS <<<"${FORMATS:-wav ulaw_8000 wav_16000}"   # wav first: the reference
work=$(mktemp -d /tmp/voxcast-convert-bench.XXXXXX)
pids=()
brokers=0
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

free_port() { local p=$1; while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done; echo "$p"; }
wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now() { date +%s.%N; }

redis_port=$(free_port 21500)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$redis_port/0"

"$BIN/voxcast-ttsd" --listen 127.0.0.1:0 --tone >"$work/ttsd.out" 2>/dev/null &
pids+=($!)
wait_line "$work/ttsd.out" 'listening on'
url="http://127.0.0.1:$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$work/ttsd.out")/v1/audio/speech"

start_broker() { # a new broker per campaign: nothing of the previous one is left in the topic
	if [ -n "${broker_pid:-}" ]; then
		kill "$broker_pid"
		wait "$broker_pid" 2>/dev/null || true
	fi
	# a file of its own: the background child truncates a reused one only after this shell has
	# moved on, so waiting on it could read the previous broker's address
	local out="$work/broker-$((++brokers)).out"
	"$BIN/voxcast" broker --partitions 12 >"$out" 2>/dev/null &
	broker_pid=$!
	pids+=($!)
	wait_line "$out" '^127'
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$out")
	export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
}

awk -v n="$N" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%07d,N%d\n", i, i }' >"$work/c.csv"

# writer_cpu PID: CPU seconds (user + sys) of the consumer's writer thread ("vx-writer")
writer_cpu() {
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = vx-writer ] || continue
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "$t/stat"
		return
	done
	echo 0
}

# launch CAMPAIGN FORMAT: a fresh broker (in this shell, so the exit trap stops it) and the jobs
launch() {
	start_broker
	"$BIN/voxcast" launch --campaign "$1" --contacts "$work/c.csv" --format "$2" \
		--template 'Hi {{first_name}}, your order ships today.' --json >/dev/null
}

# run CAMPAIGN: prints "jobs/s cpu_us_per_job writer_us_per_job writer_busy" (writer_busy: the
# writer thread's CPU time over the run's wall time, 1.00 = saturated)
run() {
	local c=$1
	/usr/bin/time -f '%U %S' -o "$work/cpu" "$BIN/voxcast-consumer" -X http.listen= \
		-X "output.dir=$work/audio-$c" -X output.fsync=false -X providers=p -X provider.p.type=openai \
		-X "provider.p.url=$url" -X consumer.concurrency=64 2>"$work/consumer.log" &
	local pid=$!
	wait_line "$work/consumer.log" '"partitions assigned"'
	local t0 t1
	t0=$(now)
	"$BIN/voxcast" status "$c" --wait --interval 0.05 --timeout 900 >/dev/null
	t1=$(now)
	local wcpu
	wcpu=$(writer_cpu "$(pgrep -P "$pid")")
	pkill -TERM -P "$pid" # the consumer under GNU time
	wait "$pid" || true
	local files
	files=$(find "$work/audio-$c" -type f | wc -l)
	[ "$files" -eq "$N" ] || { echo "convert.sh: $c: $files files for $N jobs" >&2; exit 1; }
	read -r user sys <"$work/cpu"
	printf '%.0f %.0f %.0f %.2f\n' "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "($user + $sys) * 1000000 / $N" | bc -l)" \
		"$(echo "$wcpu * 1000000 / $N" | bc -l)" "$(echo "$wcpu / ($t1 - $t0)" | bc -l)"
}

echo "consumer throughput, instant provider (200 ms 22.05 kHz WAV), concurrency 64, $N jobs per campaign"
printf '%-6s %-10s %8s %12s %16s %12s %8s\n' round format jobs/s "CPU us/job" "writer us/job" "writer busy" "vs wav"
for r in $(seq 1 "$ROUNDS"); do
	wav_rate=
	for f in "${FORMATS[@]}"; do
		launch "r$r-${f//_/-}" "$f"
		read -r rate cpu wus busy < <(run "r$r-${f//_/-}")
		[ -z "$wav_rate" ] && wav_rate=$rate
		printf '%-6s %-10s %8s %12s %16s %12s %8s\n' "$r" "$f" "$rate" "$cpu" "$wus" "$busy" \
			"$(echo "$rate / $wav_rate" | bc -l | xargs printf '%.2f')"
		echo "$f $rate $cpu $wus" >>"$work/runs"
	done
done
echo "best of $ROUNDS rounds (jobs/s), median CPU us/job:"
printf '%-10s %8s %8s %12s %16s\n' format jobs/s "vs wav" "CPU us/job" "writer us/job"
best_wav=$(awk -v f="${FORMATS[0]}" '$1 == f && $2 > b { b = $2 } END { print b }' "$work/runs")
for f in "${FORMATS[@]}"; do
	best=$(awk -v f="$f" '$1 == f && $2 > b { b = $2 } END { print b }' "$work/runs")
	med() { awk -v f="$f" -v c="$1" '$1 == f { print $c }' "$work/runs" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
	printf '%-10s %8s %8s %12s %16s\n' "$f" "$best" "$(echo "$best / $best_wav" | bc -l | xargs printf '%.2f')" "$(med 3)" "$(med 4)"
done
