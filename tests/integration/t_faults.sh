#!/usr/bin/env bash
# t_faults.sh - the provider fault matrix: one case per fault a TTS provider produces, each with the
# action the consumer must take asserted from both sides (voxcast-ttsd's request counters and the
# consumer's /metrics, /health, Redis and DLQ):
#
#   storm503   503 on every request   3 attempts each on the primary, then failover; texts that get
#                                     503 everywhere end retry_exhausted after 6 attempts
#   throttle   429 + Retry-After: 1   the next attempt on that provider waits >= 1 s; 429 is not a
#                                     breaker failure (a threshold of 2 never opens); a job throttled
#                                     past retry.throttle_max_wait_ms fails over
#   waitok     429 + Retry-After: 0   half the answers throttled, retry.max_attempts 1: a 429 is not
#              on half the requests   an attempt, so every contact is done on the primary
#   longtext   answers after 400 ms   timeout_ms 200 plus 25 ms per character: a 40-character text
#                                     has 1.2 s, so nothing times out and the primary renders all
#   reset      connections dropped    retried on the same provider, every contact done there
#   hang       no answer              timeout after provider.primary.timeout_ms, retried
#   truncate   200 with a cut WAV     retried, never written: every file passes audio_check
#   garbage    200 with an HTML body  retried
#   auth401    401 (wrong API key)    no retry there (1 request per job), breaker failure, failover
#   bad400     400 for some texts     DLQ non_retryable at once, 1 attempt, no failover
#
# Each case runs on a broker, a consumer and ttsds of its own, all at once (one Redis: campaigns
# keep them apart), so the whole matrix costs about one consumer group join. The breaker threshold
# is set out of reach (except for the 429 case) so that request counts are exact.
# shellcheck source=tests/integration/lib.sh disable=SC2154,SC2119
. "$(dirname "$0")/lib.sh"
# every contact asks the provider: the faults under test are the provider's answers, and render
# once would answer repeated texts with copies (cache.h)
export VOXCAST_CACHE_TTL_S=0
start_redis

# The consumers are stopped before the brokers on every exit: lib.sh's cleanup signals everything
# at once, and a consumer whose broker vanishes while it stops can wait forever in a synchronous
# Kafka call (see tests/chaos/term_kafka_gone.sh). One still running 45 s after SIGTERM is killed.
CONSUMERS=()
faults_cleanup() {
	local p live=()
	for p in "${CONSUMERS[@]}"; do
		[[ " ${PIDS[*]} " == *" $p "* ]] && kill -TERM "$p" 2>/dev/null && live+=("$p")
	done
	for p in "${live[@]}"; do
		timeout 45 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true
	done
	cleanup
}
trap faults_cleanup EXIT

CASES=(storm503 throttle waitok longtext reset hang truncate garbage auth401 bad400)
FAST="-X consumer.concurrency=8 -X retry.base_ms=5 -X retry.max_ms=50 -X breaker.failure_threshold=1000"

# case_broker NAME: an embedded broker of the case's own; sets BOOT_<NAME>. Started directly, not
# through vx: a backgrounded function is a subshell, and killing that would orphan the broker.
case_broker() {
	"$BIN/voxcast" broker --partitions 2 >"$WORK/broker-$1.out" 2>"$WORK/broker-$1.err" &
	PIDS+=($!)
	wait_log "$WORK/broker-$1.out" '^127\.0\.0\.1:'
	printf -v "BOOT_$1" '%s' "$(head -n 1 "$WORK/broker-$1.out")"
}

# case_launch NAME CSV: the campaign NAME onto the case's broker.
case_launch() {
	local boot="BOOT_$1"
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=${!boot} vx launch --campaign "$1" --contacts "$2" \
		--template 'Hello {{first_name}}' --json >/dev/null
}

# case_consumer NAME [ARGS...]: starts the case's consumer on its broker without waiting for it.
case_consumer() {
	local name=$1 boot="BOOT_$1"
	shift
	"$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 -X "output.dir=$WORK/audio" \
		-X "kafka.bootstrap.servers=${!boot}" -X consumer.summary_interval_ms=2000 "$@" \
		2>>"$WORK/consumer-$name.log" &
	PIDS+=($!)
	CONSUMERS+=($!)
	printf -v "CONSUMER_PID_$name" '%s' "$!"
}

# health_field NAME PROVIDER FIELD: one field of a provider in the consumer's /health.
health_field() {
	local port
	port=$(grep -m1 '"http listening"' "$WORK/consumer-$1.log" | jq -r .port)
	curl -fsS "http://127.0.0.1:$port/health" | jq -r --arg p "$2" ".providers[] | select(.name == \$p) | .$3"
}

# metric NAME PROVIDER FAMILY [CODE]: a consumer counter for one provider (and status code).
metric() {
	local sel="$3\\{provider=\"$2\""
	[ $# -ge 4 ] && sel="$sel,code=\"$4\""
	consumer_metric "$1" "^$sel"
}

# whole_audio NAME N: N files for the campaign, every one a whole WAV.
whole_audio() {
	assert_eq "$1: audio files" "$2" "$(find "$WORK/audio/$1" -name '*.wav' | wc -l)"
	"$TESTBIN/audio_check" "$WORK/audio/$1"/*.wav >/dev/null || fail "$1: an audio file is not whole"
	ok "$1: every audio file whole"
}

# ---------------------------------------------------------------- set-up, all cases at once

for c in "${CASES[@]}"; do case_broker "$c"; done

start_ttsd storm503_p --tone --fail-rate 1 --fail-status 503 --fail-text PERM=503
start_ttsd storm503_s --tone --fail-text PERM=503
start_ttsd throttle_p --tone --fail-text SLOW=429 --retry-after 1
start_ttsd throttle_s --tone --fail-text SLOW=429 --retry-after 1
start_ttsd waitok_p --tone --fail-rate 0.5 --fail-status 429 --retry-after 0 --seed 10
start_ttsd longtext_p --tone --latency-ms 400
start_ttsd reset_p --tone --reset-rate 0.3 --seed 11
start_ttsd hang_p --tone --hang-rate 0.3 --seed 12
start_ttsd truncate_p --tone --truncate-rate 0.4 --seed 13
start_ttsd garbage_p --tone --garbage-rate 0.4 --seed 14
VX_FAULTS_KEY=right-key start_ttsd auth401_p --tone --api-key-env VX_FAULTS_KEY
start_ttsd auth401_s --tone
start_ttsd bad400_p --tone --fail-text BAD=400
start_ttsd bad400_s --tone
start_ttsd spare_s --tone   # secondary of the cases that must never need one

make_contacts "$WORK/c20.csv" 20
make_contacts "$WORK/c40.csv" 40
make_contacts "$WORK/storm503.csv" 20
printf 'perm-1,PERM\nperm-2,PERM\n' >>"$WORK/storm503.csv"
{ echo "contact_id,first_name"; for i in 1 2 3 4; do echo "slow-$i,SLOW"; done; } >"$WORK/throttle.csv"
make_contacts "$WORK/bad400.csv" 20
for i in 1 2 3 4 5; do echo "bad-$i,BAD"; done >>"$WORK/bad400.csv"
case_launch storm503 "$WORK/storm503.csv"
case_launch throttle "$WORK/throttle.csv"
case_launch waitok "$WORK/c20.csv"
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$BOOT_longtext vx launch --campaign longtext --contacts "$WORK/c20.csv" \
	--template 'Hello {{first_name}}, this text takes a while.' --json >/dev/null
case_launch reset "$WORK/c40.csv"
case_launch hang "$WORK/c20.csv"
case_launch truncate "$WORK/c40.csv"
case_launch garbage "$WORK/c40.csv"
case_launch auth401 "$WORK/c20.csv"
case_launch bad400 "$WORK/bad400.csv"

two() { echo "-X providers=primary,secondary $(provider_args "$1") $(provider_args "$2" secondary)"; }
# shellcheck disable=SC2046,SC2086
{
	case_consumer storm503 $(two "$TTSD_PORT_storm503_p" "$TTSD_PORT_storm503_s") $FAST
	case_consumer throttle $(two "$TTSD_PORT_throttle_p" "$TTSD_PORT_throttle_s") $FAST -X breaker.failure_threshold=2 \
		-X retry.throttle_max_wait_ms=2500
	case_consumer waitok $(two "$TTSD_PORT_waitok_p" "$TTSD_PORT_spare_s") $FAST -X retry.max_attempts=1
	case_consumer longtext $(two "$TTSD_PORT_longtext_p" "$TTSD_PORT_spare_s") $FAST -X retry.max_attempts=1 \
		-X provider.primary.timeout_ms=200
	case_consumer reset $(two "$TTSD_PORT_reset_p" "$TTSD_PORT_spare_s") $FAST -X retry.max_attempts=20
	case_consumer hang $(two "$TTSD_PORT_hang_p" "$TTSD_PORT_spare_s") $FAST -X retry.max_attempts=20 \
		-X provider.primary.timeout_ms=1000
	case_consumer truncate $(two "$TTSD_PORT_truncate_p" "$TTSD_PORT_spare_s") $FAST -X retry.max_attempts=20
	case_consumer garbage $(two "$TTSD_PORT_garbage_p" "$TTSD_PORT_spare_s") $FAST -X retry.max_attempts=20
	VX_FAULTS_WRONG=wrong-key case_consumer auth401 $(two "$TTSD_PORT_auth401_p" "$TTSD_PORT_auth401_s") $FAST \
		-X provider.primary.api_key_env=VX_FAULTS_WRONG
	case_consumer bad400 $(two "$TTSD_PORT_bad400_p" "$TTSD_PORT_bad400_s") $FAST
}
for c in "${CASES[@]}"; do wait_complete "$c" 60; done
ok "every campaign complete"

# ---------------------------------------------------------------- storm503

# Good contacts: 3 x 503 on the primary, then the secondary. PERM texts: 3 + 3, then the DLQ.
assert_eq "storm503: done" 20 "$(status_field storm503 "done")"
assert_eq "storm503: rendered by the secondary" 20 "$(vx status storm503 --json | jq -r '.by_provider.secondary')"
assert_eq "storm503: primary requests (3 per job)" 66 "$(ttsd_stat storm503_p requests)"
assert_eq "storm503: primary 503 answers" 66 "$(ttsd_stat storm503_p 'by_status."503"')"
assert_eq "storm503: secondary requests (1 per good job, 3 per PERM)" 26 "$(ttsd_stat storm503_s requests)"
assert_eq "storm503: retries on the primary" 44 "$(metric storm503 primary voxcast_retries_total)"
assert_eq "storm503: retries on the secondary" 4 "$(metric storm503 secondary voxcast_retries_total)"
assert_eq "storm503: failovers" 22 "$(consumer_metric storm503 '^voxcast_failovers_total')"
assert_eq "storm503: primary breaker failures counted" 66 "$(health_field storm503 primary consecutive_failures)"
assert_eq "storm503: retry_exhausted entries with 6 attempts of 503" 2 \
	"$(dlq_entries storm503 | jq -r 'select(.reason == "retry_exhausted" and .attempts == 6 and .http_status == 503) | .contact' | wc -l)"
assert_eq "storm503: history of a PERM entry" "primary primary primary secondary secondary secondary" \
	"$(dlq_entries storm503 | jq -r 'select(.contact == "perm-1") | [.history[].provider] | join(" ")')"
whole_audio storm503 20

# ---------------------------------------------------------------- throttle (429)

# Every SLOW text is throttled on both providers. 429s are not attempts, so retry.max_attempts (3)
# does not end them: retry.throttle_max_wait_ms (2.5 s) does. Asked at 0, 1 and 2 s, the third
# 429's wait would end past 2.5 s, so the job fails over, and after the secondary's three 429s it
# is parked retry_exhausted. Between two attempts of one job on one provider lies at least the
# Retry-After second (backoff alone is <= 50 ms). The history's "at" is when an attempt ended: the
# next one starts >= 1000 ms later.
assert_eq "throttle: dlq" 4 "$(status_field throttle dlq)"
assert_eq "throttle: retry_exhausted entries of 6 x 429" 4 \
	"$(dlq_entries throttle | jq -r 'select(.reason == "retry_exhausted" and .attempts == 6 and .http_status == 429) | .contact' | wc -l)"
gaps=$(dlq_entries throttle | jq -r '
	def ms: sub("\\.(?<f>[0-9]{3})Z$"; "Z") as $s | ($s | fromdateiso8601) * 1000 + (.[20:23] | tonumber);
	[.history[] | {p: .provider, t: (.at | ms)}] as $h
	| range(1; $h | length) | select($h[.].p == $h[. - 1].p) | $h[.].t - $h[. - 1].t')
assert_eq "throttle: same-provider gaps seen (4 jobs x 2 providers x 2)" 16 "$(echo "$gaps" | wc -l)"
min_gap=$(echo "$gaps" | sort -n | head -n 1)
[ "$min_gap" -ge 1000 ] || fail "throttle: a retry came ${min_gap} ms after a 429 with Retry-After: 1"
ok "throttle: every retry waited Retry-After (shortest gap ${min_gap} ms)"
assert_eq "throttle: primary 429 answers" 12 "$(ttsd_stat throttle_p 'by_status."429"')"
assert_eq "throttle: secondary 429 answers" 12 "$(ttsd_stat throttle_s 'by_status."429"')"
for p in primary secondary; do
	assert_eq "throttle: $p breaker closed (threshold 2, 12 x 429)" 0 \
		"$(consumer_metric throttle "^voxcast_breaker_state\\{provider=\"$p\"")"
	assert_eq "throttle: $p consecutive failures" 0 "$(health_field throttle $p consecutive_failures)"
done
grep -q '"breaker state change"' "$WORK/consumer-throttle.log" && fail "throttle: a breaker changed state on 429s"
ok "throttle: no breaker state change logged"

# ---------------------------------------------------------------- waitok (429 is not an attempt)

# With one attempt per provider, a 429 counted as an attempt would send half the jobs to the
# secondary; waited out, every job is rendered by the primary.
throttled=$(ttsd_stat waitok_p 'by_status."429"')
[ "$throttled" -gt 0 ] || fail "waitok: no 429 was answered: the case proves nothing"
assert_eq "waitok: done" 20 "$(status_field waitok "done")"
assert_eq "waitok: rendered by the primary" 20 "$(vx status waitok --json | jq -r '.by_provider.primary')"
assert_eq "waitok: primary requests = contacts + 429s ($throttled)" "$((20 + throttled))" "$(ttsd_stat waitok_p requests)"
assert_eq "waitok: failovers" 0 "$(consumer_metric waitok '^voxcast_failovers_total')"

# ---------------------------------------------------------------- longtext (time grows with the text)

assert_eq "longtext: done" 20 "$(status_field longtext "done")"
assert_eq "longtext: rendered by the primary" 20 "$(vx status longtext --json | jq -r '.by_provider.primary')"
assert_eq "longtext: timeouts" 0 "$(metric longtext primary voxcast_provider_requests_total timeout)"
assert_eq "longtext: primary requests (1 per job)" 20 "$(ttsd_stat longtext_p requests)"

# ---------------------------------------------------------------- reset, hang, truncate, garbage

# retried_on_primary CASE N FAULTS [EXACT]: all N contacts done by the primary after FAULTS faulty
# answers there (voxcast-ttsd's count), each followed by another request to the primary
# (max_attempts 20 makes a failover all but impossible: 0.4^20 per job at the 40% fault rates
# below; with 8, some job failed over in about one run in twenty), none to the secondary. Every failed attempt
# the consumer saw was retried. With EXACT=no the consumer may have seen fewer than FAULTS: libcurl
# resends a request on its own, once, when a reused keep-alive connection dies before any byte of
# an answer (it takes that for a stale connection), and no API turns that off.
retried_on_primary() {
	local c=$1 n=$2 faults=$3 exact=${4:-yes} attempts seen
	[ "$faults" -gt 0 ] || fail "$c: no fault fired: the case proves nothing"
	assert_eq "$c: done" "$n" "$(status_field "$c" "done")"
	assert_eq "$c: dlq" 0 "$(status_field "$c" dlq)"
	assert_eq "$c: rendered by the primary" "$n" "$(vx status "$c" --json | jq -r '.by_provider.primary')"
	assert_eq "$c: primary requests = contacts + faults ($faults)" "$((n + faults))" "$(ttsd_stat "${c}_p" requests)"
	attempts=$(metric "$c" primary voxcast_provider_requests_total)
	seen=$((attempts - n))
	assert_eq "$c: retries = failed attempts seen by the consumer" "$seen" "$(metric "$c" primary voxcast_retries_total)"
	if [ "$exact" = yes ]; then
		assert_eq "$c: failed attempts seen = faults" "$faults" "$seen"
	else
		[ "$seen" -le "$faults" ] || fail "$c: consumer saw $seen failed attempts, server made $faults faults"
		ok "$c: $seen of $faults faults seen by the consumer, $((faults - seen)) resent by libcurl itself"
	fi
	assert_eq "$c: failovers" 0 "$(consumer_metric "$c" '^voxcast_failovers_total')"
	whole_audio "$c" "$n"
}
retried_on_primary reset 40 "$(ttsd_stat reset_p resets)" no
assert_eq "reset: the failed attempts seen are labelled code=\"reset\"" \
	"$(( $(metric reset primary voxcast_provider_requests_total) - 40 ))" \
	"$(metric reset primary voxcast_provider_requests_total reset)"
retried_on_primary hang 20 "$(ttsd_stat hang_p hangs)"
assert_eq "hang: hung requests ended by the consumer's timeout" "$(ttsd_stat hang_p hangs)" \
	"$(metric hang primary voxcast_provider_requests_total timeout)"
# truncated and HTML answers are 200s: the server's extra 200s are the faults
retried_on_primary truncate 40 "$(( $(ttsd_stat truncate_p 'by_status."200"') - 40 ))"
retried_on_primary garbage 40 "$(( $(ttsd_stat garbage_p 'by_status."200"') - 40 ))"
assert_eq "spare secondary never asked" 0 "$(ttsd_stat spare_s requests)"

# ---------------------------------------------------------------- auth401

assert_eq "auth401: done" 20 "$(status_field auth401 "done")"
assert_eq "auth401: primary requests (exactly 1 per job)" 20 "$(ttsd_stat auth401_p requests)"
assert_eq "auth401: primary 401 answers" 20 "$(ttsd_stat auth401_p 'by_status."401"')"
assert_eq "auth401: no retry on the primary" 0 "$(metric auth401 primary voxcast_retries_total)"
assert_eq "auth401: failovers" 20 "$(consumer_metric auth401 '^voxcast_failovers_total')"
assert_eq "auth401: rendered by the secondary" 20 "$(vx status auth401 --json | jq -r '.by_provider.secondary')"
assert_eq "auth401: 401s counted as breaker failures" 20 "$(health_field auth401 primary consecutive_failures)"
grep -q 'wrong-key' "$WORK/consumer-auth401.log" "$WORK/ttsd-auth401_p.out" "$WORK/ttsd-auth401_p.err" &&
	fail "auth401: the API key appears in a log"
ok "auth401: the API key appears in no log"
whole_audio auth401 20

# ---------------------------------------------------------------- bad400

assert_eq "bad400: done" 20 "$(status_field bad400 "done")"
assert_eq "bad400: dlq" 5 "$(status_field bad400 dlq)"
assert_eq "bad400: non_retryable entries, 1 attempt, history of 1" 5 \
	"$(dlq_entries bad400 | jq -r 'select(.reason == "non_retryable" and .attempts == 1 and .http_status == 400 and .provider == "primary" and (.history | length) == 1) | .contact' | wc -l)"
assert_eq "bad400: primary requests (1 per job)" 25 "$(ttsd_stat bad400_p requests)"
assert_eq "bad400: secondary never asked" 0 "$(ttsd_stat bad400_s requests)"
assert_eq "bad400: retries" 0 "$(metric bad400 primary voxcast_retries_total)"
assert_eq "bad400: failovers" 0 "$(consumer_metric bad400 '^voxcast_failovers_total')"
assert_eq "bad400: primary breaker not charged" 0 "$(health_field bad400 primary consecutive_failures)"
whole_audio bad400 20

for c in "${CASES[@]}"; do
	pid="CONSUMER_PID_$c"
	kill -TERM "${!pid}"
	wait "${!pid}" || fail "$c: consumer exit status $? on SIGTERM"
	keep=()   # reaped: its pid may be reused, so cleanup must not signal it
	for p in "${PIDS[@]}"; do [ "$p" = "${!pid}" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
done
ok "every consumer drained and exited 0"
echo "all fault matrix checks passed"
