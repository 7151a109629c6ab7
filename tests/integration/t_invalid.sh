#!/usr/bin/env bash
# Malformed messages go to the DLQ as invalid_job with their raw payload, the consumer stays up
# and renders the valid jobs around them; a job delivered twice is rendered once. Two different
# bad messages with the same key are two entries (stored by partition and offset, not by key).
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2
start_ttsd p --tone
long=$(printf 'y%.0s' $(seq 1 300))
{
	printf 'k1\tnot json at all\n'
	printf 'k2\t{"v":1,"campaign":"inv","contact":"c-nofield"}\n'
	printf 'k3\t{"v":2,"campaign":"inv","contact":"c-v2","text":"hi"}\n'
	printf 'k4\t{"v":1,"campaign":"bad campaign!","contact":"c-x","text":"hi"}\n'
	printf 'k5\t{"v":1,"campaign":"inv","contact":"%s","text":"hi"}\n' "$long"
	printf 'k6\t{"v":1,"campaign":"inv","contact":"c-ogg","text":"hi","format":"ogg"}\n'
	printf 'k7\t{"v":1,"campaign":"inv","contact":"c-bytes","text":"\xff\xfe"}\n'
	printf 'k8\t<null>\n'
	printf 'k9\t[1,2,3]\n'
	printf 'k10\t{"v":1,"campaign":"..","contact":"c-up","text":"hi"}\n'
	printf 'k11\t{"v":1,"campaign":".","contact":"c-here","text":"hi"}\n'
	printf 'k1\t{"v":1,"campaign":"inv"\n'
	printf 'c-ok-1\t{"v":1,"campaign":"inv","contact":"c-ok-1","text":"Hello one"}\n'
	printf 'c-ok-2\t{"v":1,"campaign":"inv","contact":"c-ok-2","text":"Hello two"}\n'
	printf 'c-ok-2\t{"v":1,"campaign":"inv","contact":"c-ok-2","text":"Hello two"}\n'
	printf 'c-ok-3\t{"v":1,"campaign":"inv","contact":"c-ok-3","text":"Hello three","replay":1}\n'
} | "$TESTBIN/produce_raw" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs
# shellcheck disable=SC2046
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_p") -X consumer.concurrency=1
wait_log "$WORK/consumer-a.log" '"duplicates":1' 30
kill -0 "$CONSUMER_PID_a" || fail "the consumer died on malformed input"
ok "consumer alive after 12 malformed messages"
assert_eq "valid jobs done" 3 "$(rcli HGET 'voxcast:{inv}:meta' "done")"
assert_eq "duplicate delivery counted, not rendered" 1 "$(rcli HGET 'voxcast:{inv}:meta' duplicates)"
assert_eq "provider requests (one per unique valid job)" 3 "$(ttsd_stat p requests)"
inv=$( (dlq_entries inv; dlq_entries _invalid) | jq -r 'select(.reason == "invalid_job") | .contact' | wc -l)
assert_eq "invalid_job entries" 12 "$inv"
assert_eq "raw payloads kept, one entry per bad message with key k1" 'not json at all|{"v":1,"campaign":"inv"' \
	"$(dlq_entries _invalid | jq -r 'select(.contact == "k1") | .raw' | LC_ALL=C sort | paste -sd '|')"
assert_eq "invalid UTF-8 made printable" 1 "$(dlq_entries _invalid | jq -r 'select(.contact == "k7") | .error' | grep -c 'UTF-8')"
assert_eq "job is null for an invalid entry" null "$(dlq_entries _invalid | jq -r 'select(.contact == "k1") | .job' | sort -u)"
assert_eq "campaign \"..\" parked as invalid_job" invalid_job "$(dlq_entries _invalid | jq -r 'select(.contact == "k10") | .reason')"
[ -z "$(find "$WORK" -maxdepth 2 \( -name 'c-up.*' -o -name 'c-here.*' \))" ] || fail "a job of campaign . or .. wrote audio"
ok "no audio written for campaigns . and .."
assert_eq "invalid metric" 12 "$(consumer_metric a 'voxcast_jobs_total\{outcome="invalid"')"
echo "all invalid-input checks passed"
