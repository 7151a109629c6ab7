#!/usr/bin/env bash
# bench/dlq_replay.sh - `voxcast dlq replay` throughput against a real Redis and the embedded
# broker:
#   1. no cap: 100,000 parked entries (N=...) replayed as fast as Kafka acknowledges them;
#      entries/s from the command's start to its exit (it exits only after every job was
#      acknowledged and its entry forgotten), process start and Kafka connection included;
#   2. --rate 200 over 2,000 entries: the measured rate, which should sit just above 200/s
#      (the token bucket starts with a burst of rate/20 = 10 jobs).
# Entries are parked by the dlq_seed test tool (reserve, ack, park: what launch and a consumer
# do). Needs VOXCAST_BIN (voxcast) and VOXCAST_TESTBIN (dlq_seed, freeport).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VOXCAST_BIN:-$PWD/bin}
TESTBIN=${VOXCAST_TESTBIN:-$PWD/build/release/tests}
N=${N:-100000}
RATED=${RATED:-2000}
RATE=${RATE:-200}
work=$(mktemp -d /tmp/voxcast-bench-dlq.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

wait_line() { grep -q -m1 -E -- "$2" < <(timeout "${3:-30}" tail -n +1 -F "$1" 2>/dev/null); }
now() { date +%s.%N; }

port=$("$TESTBIN/freeport")
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept'
export VOXCAST_REDIS_URL="redis://127.0.0.1:$port/0"
"$BIN/voxcast" broker --partitions 12 >"$work/broker.out" 2>/dev/null &
pids+=($!)
wait_line "$work/broker.out" '^127'
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$work/broker.out")
export VOXCAST_KAFKA_BOOTSTRAP_SERVERS

# replay CAMPAIGN N [ARGS...]: prints "seconds entries/s" after checking every entry went
replay() {
	local campaign=$1 n=$2 t0 t1 out
	shift 2
	t0=$(now)
	out=$("$BIN/voxcast" dlq replay --campaign "$campaign" --json "$@")
	t1=$(now)
	[ "$(jq .replayed <<<"$out")" -eq "$n" ] && [ "$(jq .remaining <<<"$out")" -eq 0 ] ||
		{ echo "replay of $campaign incomplete: $out" >&2; exit 1; }
	echo "$t0 $t1 $n" | awk '{ s = $2 - $1; printf "%.2f %.0f\n", s, $3 / s }'
}

t0=$(now)
"$TESTBIN/dlq_seed" "$VOXCAST_REDIS_URL" bench-full "$N" >/dev/null
seed_s=$(echo "$t0 $(now)" | awk '{ printf "%.2f", $2 - $1 }')
read -r full_s full_rate < <(replay bench-full "$N")

"$TESTBIN/dlq_seed" "$VOXCAST_REDIS_URL" bench-rate "$RATED" >/dev/null
read -r rated_s rated_rate < <(replay bench-rate "$RATED" --rate "$RATE")

pending=$("$BIN/voxcast" status bench-full --json | jq .pending)
[ "$pending" -eq "$N" ] || { echo "bench-full: pending $pending, expected $N" >&2; exit 1; }

echo "dlq replay benchmark ($(nproc) CPUs, redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), embedded broker, 12 partitions)"
row() { printf '  %-42s %6.2f s' "$1" "$2"; [ -z "${3:-}" ] && echo || printf '  %7d entries/s%s\n' "$3" "$4"; }
row "park $N entries (dlq_seed)" "$seed_s"
row "replay $N entries, no cap" "$full_s" "$full_rate" " to acknowledged Kafka"
row "replay $RATED entries, --rate $RATE" "$rated_s" "$rated_rate" " measured"
