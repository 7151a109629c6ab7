#!/usr/bin/env bash
# The consumer against a flaky primary: 30% of requests fail with 503, some texts are refused with
# 400, some fail with 503 forever. Every good contact ends done, the 400s go to the DLQ as
# non_retryable at once, the 503-forever ones as retry_exhausted after every attempt on every
# provider, and no provider ever sees more concurrent requests than consumer.concurrency.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 4
start_ttsd p --tone --fail-rate 0.3 --latency-ms 5 --fail-text BAD400=400 --fail-text PERM503=503 --seed 7
start_ttsd s --tone --latency-ms 5 --fail-text BAD400=400 --fail-text PERM503=503

csv=$WORK/contacts.csv
make_contacts "$csv" 600
for i in 1 2 3; do echo "bad400-$i,BAD400"; echo "perm503-$i,PERM503"; done >>"$csv"
vx launch --campaign eng --contacts "$csv" --template 'Hello {{first_name}}' --json >/dev/null

# shellcheck disable=SC2046
start_consumer a -X providers=primary,secondary $(provider_args "$TTSD_PORT_p") $(provider_args "$TTSD_PORT_s" secondary) \
	-X consumer.concurrency=6 -X retry.base_ms=5 -X retry.max_ms=50 -X breaker.failure_threshold=1000
wait_complete eng 90

assert_eq "done" 600 "$(status_field eng "done")"
assert_eq "dlq" 6 "$(status_field eng dlq)"
assert_eq "pending" 0 "$(status_field eng pending)"
assert_eq "state" complete "$(status_field eng state)"
assert_eq "non_retryable entries" 3 "$(dlq_entries eng | jq -r 'select(.reason == "non_retryable" and .http_status == 400 and .attempts == 1) | .contact' | wc -l)"
assert_eq "retry_exhausted entries" 3 "$(dlq_entries eng | jq -r 'select(.reason == "retry_exhausted" and .http_status == 503 and .attempts == 6) | .contact' | wc -l)"
assert_eq "history of a retry_exhausted entry" "primary primary primary secondary secondary secondary" \
	"$(dlq_entries eng | jq -r 'select(.contact == "perm503-1") | [.history[].provider] | join(" ")')"
assert_eq "entry carries the job" "Hello PERM503" "$(dlq_entries eng | jq -r 'select(.contact == "perm503-2") | .job.text')"
[ "$(ttsd_stat p by_status.\"503\")" -gt 100 ] || fail "the primary failed too rarely to prove anything"
for s in p s; do
	peak=$(ttsd_stat $s peak_in_flight)
	[ "$peak" -le 6 ] || fail "provider $s saw $peak requests at once, above consumer.concurrency=6"
	ok "provider $s peak in flight $peak <= 6"
done
assert_eq "audio files" 600 "$(find "$WORK/audio/eng" -name '*.wav' | wc -l)"
"$TESTBIN/audio_check" "$WORK/audio/eng"/*.wav || fail "an audio file is not whole"
assert_eq "retries counted" 1 "$([ "$(consumer_metric a '^voxcast_retries_total')" -gt 100 ] && echo 1 || echo 0)"

# The disk refuses the audio (a file where the campaign's folder should be): nothing is marked
# done while the files cannot be written, and once the disk is back every contact completes.
make_contacts "$WORK/disk.csv" 20
mkdir -p "$WORK/audio" && : >"$WORK/audio/disk"
vx launch --campaign disk --contacts "$WORK/disk.csv" --template 'Hi {{first_name}}' --json >/dev/null
wait_log "$WORK/consumer-a.log" '"cannot write audio; will retry"'
assert_eq "disk: done while the files cannot be written" 0 "$(status_field disk "done")"
rm "$WORK/audio/disk"
wait_complete disk 30
assert_eq "disk: done once the disk is back" 20 "$(status_field disk "done")"
"$TESTBIN/audio_check" "$WORK/audio/disk"/*.wav || fail "disk: an audio file is not whole"
ok "disk: every audio file whole"

kill -0 "$CONSUMER_PID_a" || fail "consumer died"
kill -TERM "$CONSUMER_PID_a"
wait "$CONSUMER_PID_a" && ok "consumer drained and exited 0 on SIGTERM" || fail "consumer exit status $? on SIGTERM"

# dlq.max_entries_per_campaign=2 (consumer b below): 5 contacts refused with 400 all count as dlq,
# 2 entries are kept, the 3 dropped are counted (status dlq_dropped) and the consumer warns.
{ echo "contact_id,first_name"; for i in 1 2 3 4 5; do echo "cap-$i,BAD400"; done; } >"$WORK/cap.csv"
vx launch --campaign cap --contacts "$WORK/cap.csv" --template 'Hello {{first_name}}' --json >/dev/null

# A chain longer than 16 providers (metrics once had 16 slots and the consumer crashed at start):
# 20 work, each on /health; more than 64 (the width of a task's provider masks) is refused.
chain() { # chain N: a config file naming providers q1..qN, all on voxcast-ttsd s (-X allows 64)
	local i names=q1 f=$WORK/chain$1.conf
	for ((i = 2; i <= $1; i++)); do names+=",q$i"; done
	{
		echo "providers = $names"
		for ((i = 1; i <= $1; i++)); do
			echo "provider.q$i.type = openai"
			echo "provider.q$i.url = http://127.0.0.1:$TTSD_PORT_s/v1/audio/speech"
		done
	} >"$f"
	echo "$f"
}
make_contacts "$WORK/many.csv" 10
vx launch --campaign many --contacts "$WORK/many.csv" --template 'Hi {{first_name}}' --json >/dev/null
start_consumer b -c "$(chain 20)" -X dlq.max_entries_per_campaign=2
wait_complete many 30
wait_complete cap 30
assert_eq "dlq cap: dlq" 5 "$(status_field cap dlq)"
assert_eq "dlq cap: pending" 0 "$(status_field cap pending)"
assert_eq "dlq cap: entries kept" 2 "$(dlq_entries cap | wc -l)"
assert_eq "dlq cap: dlq_dropped" 3 "$(status_field cap dlq_dropped)"
assert_eq "dlq cap: no drop elsewhere" 0 "$(status_field many dlq_dropped)"
vx status cap | grep -q 'dlq entries dropped (dlq.max_entries_per_campaign reached): 3' ||
	fail "dlq cap: the plain status does not show the drops"
wait_log "$WORK/consumer-b.log" '"dlq full: dead-lettered contacts still count as dlq' 10
ok "dlq cap: dropped entries counted, shown and warned about"
assert_eq "many providers: done" 10 "$(status_field many "done")"
port=$(grep -m1 '"http listening"' "$WORK/consumer-b.log" | jq -r .port)
assert_eq "many providers: on /health" 20 "$(curl -fsS "http://127.0.0.1:$port/health" | jq '.providers | length')"
if timeout 20 "$BIN/voxcast-consumer" -c "$(chain 65)" 2>"$WORK/chain65.err"; then rc=0; else rc=$?; fi
assert_eq "65 providers: exit status" 2 "$rc"
grep -q 'providers: 65 providers in the chain, at most 64' "$WORK/chain65.err" ||
	fail "65 providers: $(cat "$WORK/chain65.err")"
ok "65 providers refused: $(tail -n 1 "$WORK/chain65.err")"
echo "all engine checks passed"
