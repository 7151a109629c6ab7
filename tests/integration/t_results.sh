#!/usr/bin/env bash
# The results stream a dialer reads: one event per contact reaching a terminal state on
# results.topic (key = contact), read back with a plain Kafka consumer (topic_dump). Every
# contact appears exactly once with its file's uri, format, duration, size and sha256 (checked
# against the file itself), a refused contact as "dlq" with its reason and HTTP status, and the
# campaign_complete event comes last with the final counts. status --json audio_seconds is the
# sum of the files' durations. A redelivered job of a done contact emits nothing again, unless its
# first event is still in the Redis outbox (a consumer that died between Redis and Kafka): then
# that very event is published. results.topic empty disables the stream.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 4
start_ttsd p --tone --latency-ms 5 --fail-text BAD400=400
RES=voxcast.results

# results_dump: the results topic, one "partition<TAB>offset<TAB>key<TAB>value" line per event
results_dump() { "$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$RES"; }
# wait_events JQ_FILTER N [SECONDS]: until N events of the topic match the jq filter
events_at_least() { [ "$(results_dump | cut -f4 | jq -c "select($1)" | wc -l)" -ge "$2" ]; }
wait_events() { wait_until "${3:-30}" events_at_least "$1" "$2"; }

csv=$WORK/contacts.csv
make_contacts "$csv" 20
sed -i '1s/$/,order/; 2,$s/$/,A1/' "$csv"
echo "bad-1,BAD400,A2" >>"$csv"
vx launch --campaign res --contacts "$csv" --template 'Hello {{first_name}}' --meta order --json >/dev/null
# shellcheck disable=SC2046
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_p") -X retry.base_ms=5 -X retry.max_ms=50
wait_complete res 60
wait_events '.campaign == "res" and .outcome == "campaign_complete"' 1

results_dump >"$WORK/results.tsv"
ev() { cut -f4 "$WORK/results.tsv" | jq -c "select(.campaign == \"res\")"; }
assert_eq "contact events" 21 "$(ev | jq -c 'select(.outcome == "done" or .outcome == "dlq")' | wc -l)"
assert_eq "distinct contacts" 21 "$(ev | jq -r 'select(.contact) | .contact' | sort -u | wc -l)"
assert_eq "every key is its contact id" 0 \
	"$(awk -F'\t' '{ print $3 "\t" $4 }' "$WORK/results.tsv" | while IFS=$'\t' read -r k v; do
		c=$(jq -r '.contact // .campaign' <<<"$v"); [ "$k" = "$c" ] || echo "$k != $c"; done | wc -l)"
assert_eq "done events" 20 "$(ev | jq -c 'select(.outcome == "done")' | wc -l)"
assert_eq "schema of done events" 20 "$(ev | jq -c 'select(.outcome == "done" and .v == 1 and .format == "wav"
	and .provider == "primary" and .attempts >= 1 and .replay == 0 and .meta.order == "A1"
	and (.finished_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))
	and (.uri | startswith("file:///")) and .duration_ms > 0 and .bytes > 44
	and (.sha256 | test("^[0-9a-f]{64}$")))' | wc -l)"

# each done event describes its file exactly: bytes, sha256 and duration (from the WAV itself)
total_ms=0
while read -r uri bytes sha ms; do
	f=${uri#file://}
	[ -f "$f" ] || fail "no file at $uri"
	[ "$(stat -c %s "$f")" = "$bytes" ] || fail "$f: $(stat -c %s "$f") bytes, event says $bytes"
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ] || fail "$f: sha256 differs from the event's"
	file_ms=$("$TESTBIN/audio_check" --info "$f" | sed -n 's/.* \([0-9]*\) ms$/\1/p')
	[ "$file_ms" = "$ms" ] || fail "$f: $file_ms ms, event says $ms"
	total_ms=$((total_ms + file_ms))
done < <(ev | jq -r 'select(.outcome == "done") | "\(.uri) \(.bytes) \(.sha256) \(.duration_ms)"')
ok "20 files match their events' bytes, sha256 and duration_ms"

dlq=$(ev | jq -c 'select(.outcome == "dlq")')
assert_eq "dlq event contact" bad-1 "$(jq -r .contact <<<"$dlq")"
assert_eq "dlq event reason/status" "non_retryable 400" "$(jq -r '"\(.reason) \(.http_status)"' <<<"$dlq")"
assert_eq "dlq event has no audio" "null null 0 0 A2" "$(jq -r '"\(.uri) \(.sha256) \(.bytes) \(.duration_ms) \(.meta.order)"' <<<"$dlq")"

assert_eq "campaign_complete is the campaign's last event" campaign_complete "$(ev | tail -n 1 | jq -r .outcome)"
assert_eq "campaign_complete counts" "20 1 21 $total_ms" "$(ev | tail -n 1 | jq -r '"\(.done) \(.dlq) \(.enqueued) \(.audio_ms)"')"
assert_eq "one campaign_complete" 1 "$(ev | jq -c 'select(.outcome == "campaign_complete")' | wc -l)"
assert_eq "status audio_seconds = sum of the files' durations" "$total_ms" \
	"$(status_field res audio_seconds | awk '{ printf "%d", $1 * 1000 + 0.5 }')"
assert_eq "outbox empty once delivered" 0 "$(rcli HLEN 'voxcast:{res}:outbox')"
vx status res | grep -q '^  audio: .* in all' && ok "plain status shows the total audio time"

# A redelivered job of a done contact whose event was delivered: a duplicate, nothing emitted.
job() { "$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs | awk -F'\t' -v k="$1" '$3 == k { print $3 "\t" $4; exit }'; }
job c-000003 | "$TESTBIN/produce_raw" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs
counted_duplicate() { [ "$(status_field res duplicates)" -ge 1 ]; }
wait_until 30 counted_duplicate
assert_eq "duplicate emits nothing" 1 "$(results_dump | cut -f4 | jq -c 'select(.contact == "c-000003")' | wc -l)"

# The consumer died after Redis and before Kafka had the event: the outbox still holds it (put
# back here, byte for byte), the job is redelivered, and that very event is published again.
first=$(ev | jq -c 'select(.contact == "c-000004")')
rcli HSET 'voxcast:{res}:outbox' c-000004 "$first" >/dev/null
job c-000004 | "$TESTBIN/produce_raw" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs
wait_events '.contact == "c-000004"' 2
results_dump | cut -f4 | jq -c 'select(.contact == "c-000004")' >"$WORK/c4.json"
assert_eq "republished event identical to the first" 1 "$(sort -u "$WORK/c4.json" | wc -l)"
outbox_empty() { [ "$(rcli HLEN 'voxcast:{res}:outbox')" = 0 ]; }
wait_until 10 outbox_empty
ok "outbox cleared after the republished event was delivered"
assert_eq "duplicates add no audio: audio_seconds" "$total_ms" \
	"$(status_field res audio_seconds | awk '{ printf "%d", $1 * 1000 + 0.5 }')"

# A campaign that drains while its launch is still running (launch_state held at "launching"
# here) is not complete yet; once the launch finishes, the consumer that drained it claims the
# completion and tells it, once.
kill -STOP "$CONSUMER_PID_a"
make_contacts "$WORK/late.csv" 3
vx launch --campaign late --contacts "$WORK/late.csv" --template 'Hi {{first_name}}' --json >/dev/null
rcli HSET 'voxcast:{late}:meta' launch_state launching >/dev/null
kill -CONT "$CONSUMER_PID_a"
late_drained() { [ "$(status_field late pending)" = 0 ] && [ "$(status_field late "done")" = 3 ]; }
wait_until 30 late_drained
assert_eq "late: no completion while launching" 0 "$(results_dump | cut -f4 | jq -c 'select(.campaign == "late" and .outcome == "campaign_complete")' | wc -l)"
rcli HSET 'voxcast:{late}:meta' launch_state launched >/dev/null
wait_events '.campaign == "late" and .outcome == "campaign_complete"' 1
assert_eq "late: completion told after the launch finished" "3 0 3" \
	"$(results_dump | cut -f4 | jq -r 'select(.campaign == "late" and .outcome == "campaign_complete") | "\(.done) \(.dlq) \(.enqueued)"')"

# SIGKILL mid-campaign: k's uncommitted jobs go to c. Whatever a had told Redis but not Kafka is
# republished from the outbox, so every contact has its event, and every repeat is byte for byte
# the first, describing the file on disk.
kill -TERM "$CONSUMER_PID_a"
wait "$CONSUMER_PID_a" || fail "consumer a exit status $? on SIGTERM"
ok "consumer a drained and exited 0 on SIGTERM"
start_ttsd q --tone --latency-ms 20
for c in k c; do
	# shellcheck disable=SC2046
	start_consumer $c -X providers=primary $(provider_args "$TTSD_PORT_q") -X consumer.concurrency=8 \
		-X consumer.summary_interval_ms=500
done
make_contacts "$WORK/k9.csv" 2000
vx launch --campaign k9 --contacts "$WORK/k9.csv" --template 'Hi {{first_name}}' --json >/dev/null
wait_log "$WORK/consumer-k.log" '"msg":"summary","done":[1-9][0-9]{2,}' 60
kill -9 "$CONSUMER_PID_k"
ok "consumer k killed with SIGKILL mid-campaign"
wait_complete k9 120
wait_events '.campaign == "k9" and .outcome == "campaign_complete"' 1
results_dump | awk -F'\t' 'index($4, "\"campaign\":\"k9\"")' >"$WORK/k9.tsv"
k9ev() { cut -f4 "$WORK/k9.tsv" | jq -c "select(.outcome == \"$1\")"; }
assert_eq "k9: contacts with an event" 2000 "$(k9ev "done" | jq -r .contact | sort -u | wc -l)"
assert_eq "k9: one content per contact (repeats identical)" 2000 "$(awk -F'\t' '$3 != "k9" { print $3 "\t" $4 }' "$WORK/k9.tsv" | sort -u | wc -l)"
dups=$(status_field k9 duplicates) extra=$(($(ttsd_stat q requests) - 2000))
echo "k9: $(k9ev "done" | wc -l) contact events for 2000 contacts, $dups duplicate deliveries, $extra re-renders"
[ $((dups + extra)) -gt 0 ] || fail "k9: nothing of the killed consumer was redelivered: the test proved nothing"
bad=0
while read -r uri sha; do
	[ "$(sha256sum "${uri#file://}" | cut -d' ' -f1)" = "$sha" ] || bad=$((bad + 1))
done < <(k9ev "done" | jq -r '"\(.uri) \(.sha256)"' | sort -u)
assert_eq "k9: files whose sha256 differs from their event's" 0 "$bad"
assert_eq "k9: campaign_complete content" '2000 0 2000' "$(k9ev campaign_complete | jq -r '"\(.done) \(.dlq) \(.enqueued)"' | sort -u)"

# results.topic empty: no stream, the campaign still completes.
kill -TERM "$CONSUMER_PID_c"
wait "$CONSUMER_PID_c" || fail "consumer c exit status $? on SIGTERM"
make_contacts "$WORK/off.csv" 5
vx launch --campaign off --contacts "$WORK/off.csv" --template 'Hi {{first_name}}' --json >/dev/null
# shellcheck disable=SC2046
start_consumer b -X providers=primary $(provider_args "$TTSD_PORT_p") -X results.topic=
wait_complete off 60
assert_eq "off: done" 5 "$(status_field off "done")"
assert_eq "off: no events with results.topic empty" 0 "$(results_dump | cut -f4 | jq -c 'select(.campaign == "off")' | wc -l)"
grep -q '"campaign complete"' "$WORK/consumer-b.log" && ok "off: completion logged without a stream"
echo "all results checks passed"
