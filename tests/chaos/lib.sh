# shellcheck shell=bash
# lib.sh - chaos drills: the integration library plus what a drill needs on top of it. A drill runs
# three consumers on one campaign (CHAOS_CONTACTS contacts, 10,000 by default) against a fast
# primary (voxcast-ttsd --tone --latency-ms 5), breaks something mid-campaign, and then proves
# with verify_campaign that nothing was lost or doubled: every contact done exactly once in Redis,
# one whole audio file per contact, an empty DLQ. It also reports what the chaos cost: provider
# requests beyond one per contact (repeated renders) and redeliveries skipped as duplicates.
#
# Nothing sleeps. The drills pace themselves on the consumers' summary log lines (one every
# CHAOS_SUMMARY_MS, 500 by default): "wait for 4 more summaries from b" is a clock that also
# proves b is alive. Every wait has a deadline and fails the drill when it passes.
# shellcheck source=tests/integration/lib.sh disable=SC2154
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
trap 'exit 143' TERM INT   # so that the EXIT trap (cleanup) runs when a runner stops a drill

# Consumers are stopped first, while Kafka is still up: lib.sh's cleanup signals everything at
# once, and a consumer told to stop at the moment its broker goes can hang for good in
# rd_kafka_consumer_close (see term_kafka_gone.sh). One still running 45 s after SIGTERM is
# reported and killed, so that no drill leaves a process behind.
CONSUMER_NAMES=()
chaos_cleanup() {
	local name pid live=()
	for name in "${CONSUMER_NAMES[@]}"; do
		pid=$(pid_of "$name")
		# only a pid still on the list: one this drill killed and reaped may belong to anyone now
		[[ " ${PIDS[*]} " == *" $pid "* ]] && kill -TERM "$pid" 2>/dev/null && live+=("$name:$pid")
	done
	for name in "${live[@]}"; do
		pid=${name#*:}
		timeout 45 tail --pid="$pid" -f /dev/null 2>/dev/null && continue
		echo "consumer ${name%%:*} (pid $pid) still running 45 s after SIGTERM: killed" >&2
		kill -9 "$pid" 2>/dev/null || true
	done
	cleanup
}
trap chaos_cleanup EXIT

CONTACTS=${CHAOS_CONTACTS:-10000}
CONCURRENCY=${CHAOS_CONCURRENCY:-8}
SUMMARY_MS=${CHAOS_SUMMARY_MS:-500}
# A killed member keeps its partitions until its session times out: 6 s is the mock's minimum.
SESSION_MS=${CHAOS_SESSION_MS:-6000}
T0=$(date +%s%N)

# elapsed: seconds since the drill started, one decimal.
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))" | awk '{ printf "%.1f", $1 / 1000 }'; }

# note TEXT: a timestamped progress line.
note() { echo "# [$(elapsed)s] $*"; }

# nlines FILE: lines in FILE now (0 when absent); where a later wait_after starts reading.
nlines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# wait_after FILE LINE PATTERN [SECONDS] [COUNT]: until COUNT (1) lines after line LINE of FILE
# match PATTERN. Lines from before a restart are not taken for news from after it.
wait_after() {
	local file=$1 from=$2 pattern=$3 secs=${4:-15} count=${5:-1} got
	got=$(grep -c -m "$count" -E -- "$pattern" < <(timeout "$secs" tail -n "+$((from + 1))" -F "$file" 2>/dev/null)) || true
	[ "$got" -ge "$count" ] || fail "timed out after ${secs}s waiting for $count x /$pattern/ in $file (saw $got)"
}

# wait_any PATTERN SECONDS FILE LINE [FILE LINE]...: until a line after line LINE of any FILE
# matches (the tails left behind die on their next write into the closed pipe, or at SECONDS).
wait_any() {
	local pattern=$1 secs=$2
	shift 2
	grep -q -m1 -E -- "$pattern" < <(
		while [ $# -gt 1 ]; do
			timeout "$secs" tail -n "+$(($2 + 1))" -F "$1" 2>/dev/null &
			shift 2
		done
		wait
	) || fail "timed out after ${secs}s waiting for /$pattern/ in any consumer log"
}

# logged_after FILE LINE PATTERN: whether a line after line LINE of FILE matches, now.
logged_after() { tail -n "+$(($2 + 1))" "$1" | grep -q -E -- "$3"; }

# forget_pid PID: drop a process that is gone from the list cleanup kills (its pid may be reused).
forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- the stack

# chaos_cluster PARTITIONS BROKERS: the embedded cluster with a control FIFO ($WORK/broker.ctl)
# for broker_ctl; exports its bootstrap address.
# The binary is started directly, not through lib.sh's vx function: a function in the background
# runs in a subshell, $! is that subshell, and killing it leaves the broker behind as an orphan.
chaos_cluster() {
	"$BIN/voxcast" broker --partitions "$1" --brokers "$2" --control "$WORK/broker.ctl" \
		>"$WORK/broker.out" 2>"$WORK/broker.err" &
	PIDS+=($!)
	BROKER_PID=$!
	wait_log "$WORK/broker.out" '^127\.0\.0\.1:'
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$WORK/broker.out")
	export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
}

# broker_ctl down|up ID: stops or restarts one broker of the cluster; returns once it obeyed.
broker_ctl() {
	local from
	from=$(nlines "$WORK/broker.err")
	echo "$1 $2" >"$WORK/broker.ctl"
	wait_after "$WORK/broker.err" "$from" "\"broker control\",\"verb\":\"$1\",\"broker\":$2,\"result\":\"Success\"" 10
}

# chaos_redis: redis-server with AOF (fsync every second, as docker-compose.yml runs it).
chaos_redis() { REDIS_AOF=yes start_redis --appendfsync everysec; }

REDIS_STARTS=1
# redis_kill9: SIGKILL, no shutdown save; the AOF is all that survives.
redis_kill9() {
	kill -9 "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null || true
	forget_pid "$REDIS_PID"
}

# redis_restart: the same port, directory and AOF as before.
redis_restart() {
	REDIS_STARTS=$((REDIS_STARTS + 1))
	local log="$WORK/redis-$REDIS_STARTS.log"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
		--dir "$WORK" >"$log" 2>&1 &
	PIDS+=($!)
	REDIS_PID=$!
	wait_log "$log" 'Ready to accept connections'
}

# chaos_ttsd: the primary every drill renders with; sets TTSD_PORT_p and TTSD_PID.
chaos_ttsd() {
	start_ttsd p --tone --latency-ms "${CHAOS_LATENCY_MS:-5}"
	TTSD_PID=${PIDS[-1]}
}

# stack_alive: fails, naming it, when the broker, Redis or the ttsd died under the drill. Nothing
# in a drill stops them except on purpose; on a shared machine another suite's cleanup can kill
# a reused pid, and then this says so instead of a campaign that never completes.
stack_alive() {
	local what pid
	for what in broker:${BROKER_PID:-} redis:${REDIS_PID:-} ttsd:${TTSD_PID:-}; do
		pid=${what#*:}
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null ||
			fail "the ${what%%:*} (pid $pid) is gone: it died or was killed from outside the drill"
	done
}

# chaos_campaign ID: launches CONTACTS contacts as campaign ID.
chaos_campaign() {
	make_contacts "$WORK/$1.csv" "$CONTACTS"
	vx launch --campaign "$1" --contacts "$WORK/$1.csv" --template 'Hi {{first_name}}, your order ships today.' \
		--json >/dev/null
	note "campaign $1: $CONTACTS contacts launched"
}

# spawn_consumer NAME [ARGS...]: starts (or restarts) consumer NAME without waiting; its log
# grows across restarts, CONSUMER_FROM_<NAME> is where this run's lines start.
spawn_consumer() {
	local name=$1 log="$WORK/consumer-$1.log"
	shift
	printf -v "CONSUMER_FROM_$name" '%s' "$(nlines "$log")"
	# shellcheck disable=SC2046
	"$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 -X "output.dir=$WORK/audio" \
		-X providers=primary $(provider_args "$TTSD_PORT_p") -X "consumer.concurrency=$CONCURRENCY" \
		-X "kafka.session.timeout.ms=$SESSION_MS" -X "consumer.summary_interval_ms=$SUMMARY_MS" \
		-X retry.base_ms=5 -X retry.max_ms=200 "$@" 2>>"$log" &
	PIDS+=($!)
	printf -v "CONSUMER_PID_$name" '%s' "$!"
	[[ " ${CONSUMER_NAMES[*]} " == *" $name "* ]] || CONSUMER_NAMES+=("$name")
}

# from_of NAME: where consumer NAME's current run starts in its log.
from_of() { local v="CONSUMER_FROM_$1"; echo "${!v}"; }
pid_of() { local v="CONSUMER_PID_$1"; echo "${!v}"; }

# wait_assigned NAME [SECONDS]: until this run of NAME owns partitions (a first join takes ~3 s; a
# join after a kill -9 waits for the dead member's session to time out).
wait_assigned() { wait_after "$WORK/consumer-$1.log" "$(from_of "$1")" '"partitions assigned","count":[1-9]' "${2:-30}"; }

# wait_summaries NAME N: N more summary lines of NAME from now on: about N x SUMMARY_MS.
wait_summaries() {
	local log="$WORK/consumer-$1.log"
	wait_after "$log" "$(nlines "$log")" '"msg":"summary"' $(( $2 * SUMMARY_MS / 1000 + 10 )) "$2"
}

# wait_progress CAMPAIGN DONE NAME: until the campaign has DONE contacts done, reading the count
# from Redis once per summary line of consumer NAME (deadline: 120 summaries).
wait_progress() {
	local i
	for ((i = 0; i < 120; i++)); do
		stack_alive
		[ "$(status_field "$1" "done")" -ge "$2" ] && return 0
		wait_summaries "$3" 1
	done
	fail "campaign $1 did not reach $2 done"
}

KILLS=0
# kill9_consumer NAME: SIGKILL; returns once the process is gone.
kill9_consumer() {
	local pid
	KILLS=$((KILLS + 1))
	pid=$(pid_of "$1")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	forget_pid "$pid"
}

# term_consumer NAME: SIGTERM; fails unless the consumer drains and exits 0 with nothing unfinished.
term_consumer() {
	local pid rc=0
	pid=$(pid_of "$1")
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	forget_pid "$pid"
	[ "$rc" -eq 0 ] || fail "consumer $1 exited $rc after SIGTERM"
	tail -n +"$(( $(from_of "$1") + 1 ))" "$WORK/consumer-$1.log" | grep -q '"msg":"stopped","unfinished":0' ||
		fail "consumer $1 did not log a clean stop"
}

# ---------------------------------------------------------------- the verdict

# verify_campaign ID [SECONDS]: waits for completion, then every invariant of a drill.
verify_campaign() {
	local c=$1 n=$CONTACTS st deadline=$((SECONDS + ${2:-300}))
	# wait for completion 10 s at a time, checking that the stack is still there in between
	until vx status "$c" --wait --timeout 10 >/dev/null; do
		stack_alive
		[ "$SECONDS" -lt "$deadline" ] || { vx status "$c" >&2 || true; fail "campaign $c did not complete within ${2:-300}s"; }
	done
	note "campaign $c complete"
	st=$(vx status "$c" --json)
	assert_eq "$c: enqueued" "$n" "$(jq -r .enqueued <<<"$st")"
	assert_eq "$c: done" "$n" "$(jq -r .done <<<"$st")"
	assert_eq "$c: dlq" 0 "$(jq -r .dlq <<<"$st")"
	assert_eq "$c: pending" 0 "$(jq -r .pending <<<"$st")"
	assert_eq "$c: done by provider (sum)" "$n" "$(jq -r '[.by_provider[]] | add' <<<"$st")"
	# the per-contact states, not just the counters
	assert_eq "$c: contacts with a state" "$n" "$(rcli HLEN "voxcast:{$c}:state")"
	assert_eq "$c: contacts in state done" "$n" "$(rcli --raw HVALS "voxcast:{$c}:state" | grep -c '^d')"
	assert_eq "$c: DLQ entries" 0 "$(rcli HLEN "voxcast:{$c}:dlq:e")"
	assert_eq "$c: audio files" "$n" "$(find "$WORK/audio/$c" -name '*.wav' | wc -l)"
	find "$WORK/audio/$c" -name '*.wav' -print0 | xargs -0 "$TESTBIN/audio_check" >/dev/null ||
		fail "$c: an audio file is not whole"
	ok "$c: every audio file whole"
	# files are written aside as unnamed (O_TMPFILE) inodes, so even a consumer killed while
	# writing leaves nothing but whole audio behind
	TEMP_LEFT=$(find "$WORK/audio/$c" -type f ! -name '*.wav' | wc -l)
	[ "$TEMP_LEFT" -eq 0 ] ||
		fail "$c: files that are not audio: $(find "$WORK/audio/$c" -type f ! -name '*.wav' | head -n 3)"
	ok "$c: no stray files (not even of killed consumers)"
	! cat "$WORK"/consumer-*.log | grep -m1 '"offset gap' || fail "$c: a consumer saw messages vanish (offset gap)"
	ok "$c: no offset gap logged"
	# Repeated renders. A consumer killed with SIGKILL loses what it held and had not recorded:
	# at most its buffer (consumer.concurrency x 4, at least concurrency + 256), rendering or
	# rendered and on the way to disk and Redis. A consumer losing a partition first writes the
	# files and outcomes it has, so then only the jobs rendering at that moment can be rendered
	# again by the new owner; but when Redis cannot take the outcomes at that moment (it is
	# restarting), the new owner may render its whole buffer again. Bound: what each kill and
	# each revocation could have held. The drills report the count; the tight cases are in
	# RELIABILITY.md.
	REQUESTS=$(ttsd_stat p requests)
	DUPLICATES=$(jq -r .duplicates <<<"$st")
	local revokes bound held=$((CONCURRENCY * 4))
	[ "$held" -ge $((CONCURRENCY + 256)) ] || held=$((CONCURRENCY + 256))
	revokes=$(cat "$WORK"/consumer-*.log | grep -c '"partitions revoked"') || true
	bound=$(((KILLS + revokes) * held))
	[ "$REQUESTS" -ge "$n" ] || fail "$c: $REQUESTS provider requests for $n contacts"
	[ $((REQUESTS - n)) -le "$bound" ] ||
		fail "$c: $((REQUESTS - n)) repeated renders, more than $bound = ($KILLS kills + $revokes revokes) x $held held"
	ok "$c: $((REQUESTS - n)) repeated renders <= ($KILLS kills + $revokes revokes) x $held held"
	echo "RESULT $c contacts=$n requests=$REQUESTS repeated_renders=$((REQUESTS - n)) duplicates_skipped=$DUPLICATES kills=$KILLS revokes=$revokes temp_files_left=$TEMP_LEFT elapsed_s=$(elapsed)"
}
