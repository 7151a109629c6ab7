#!/usr/bin/env bash
# Audio into an S3-compatible store (s3rver): output.uri=s3://voxbucket/calls, path style.
#  - every contact's object is in the store under calls/<campaign>/<name>.wav, each a whole WAV,
#    and nothing is written to the local output.dir;
#  - the store stopped mid-campaign: nothing is marked done while it is down (consumption paused,
#    uploads retried), nothing is parked in the DLQ; once it is back every contact completes;
#  - a contact rendered again overwrites its one key;
#  - the credentials never appear in any log.
. "$(dirname "$0")/lib.sh"

# wait_count FILE PATTERN N [SECONDS]: until N lines match PATTERN in FILE.
wait_count() {
	local secs=$((${4:-15} * SLOW))
	local got
	got=$(grep -c -m "$3" -E -- "$2" < <(timeout "$secs" tail -n +1 -F "$1" 2>/dev/null)) || true
	[ "$got" -ge "$3" ] || fail "timed out after ${secs}s waiting for $3 lines /$2/ in $1"
}
done_count() { rcli HGET "voxcast:{$1}:meta" "done"; }

start_redis
start_broker 4
start_ttsd p --tone --latency-ms 50
start_s3rver voxbucket
export AWS_SESSION_TOKEN=FQoGZXIvYXdzEJr-t-s3-session-token-7f3a9c
S3_ARGS=(-X output.uri=s3://voxbucket/calls -X "s3.endpoint=http://127.0.0.1:$S3_PORT" -X s3.path_style=true)

N=300
make_contacts "$WORK/contacts.csv" $N
vx launch --campaign s3camp --contacts "$WORK/contacts.csv" --template 'Hello {{first_name}}' --json >/dev/null
# shellcheck disable=SC2046
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_p") -X consumer.concurrency=2 \
	-X log.level=debug "${S3_ARGS[@]}"
grep -q '"msg":"audio output","uri":"s3://voxbucket/calls/CAMPAIGN/NAME.EXT"' "$WORK/consumer-a.log" ||
	fail "the consumer does not say where the audio goes"

# ---- the store goes away mid-campaign, and comes back
wait_count "$WORK/s3rver-1.log" 'Stored object "calls/s3camp/' 60 30
kill "$S3_PID"
wait "$S3_PID" 2>/dev/null || true
wait_log "$WORK/consumer-a.log" '"cannot write audio; will retry".*"consumption_paused":true' 30
wait_count "$WORK/consumer-a.log" '"audio store still failing"' 1
before=$(done_count s3camp)
wait_count "$WORK/consumer-a.log" '"audio store still failing"' 3
assert_eq "done while the store is down (unchanged)" "$before" "$(done_count s3camp)"
[ "$before" -lt $N ] || fail "the campaign finished before the store went down: nothing was proven"
assert_eq "dlq while the store is down" 0 "$(status_field s3camp dlq)"
start_s3rver voxbucket "$S3_PORT"
wait_complete s3camp 90
wait_log "$WORK/consumer-a.log" '"audio store works again: resuming"' 5
grep -q '"msg":"summary".*"paused":true.*"audio_ok":false' "$WORK/consumer-a.log" ||
	fail "no summary line showed the consumer paused with the audio store down"
ok "the summary showed paused, audio_ok false during the outage"
assert_eq "done" $N "$(status_field s3camp "done")"
assert_eq "enqueued" $N "$(status_field s3camp enqueued)"
assert_eq "dlq" 0 "$(status_field s3camp dlq)"
assert_eq "pending" 0 "$(status_field s3camp pending)"

# ---- every object is in the store, whole; nothing on the local disk
s3_keys voxbucket calls/s3camp/ >"$WORK/keys"
assert_eq "objects in the store" $N "$(wc -l <"$WORK/keys")"
assert_eq "object names" "calls/s3camp/c-000001.wav calls/s3camp/c-000300.wav" \
	"$(sort "$WORK/keys" | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')"
mkdir -p "$WORK/got"
while read -r key; do # one curl for every GET: one connection, kept alive
	printf 'url = "http://127.0.0.1:%s/voxbucket/%s"\noutput = "%s"\n' "$S3_PORT" "$key" "$WORK/got/${key##*/}"
done <"$WORK/keys" >"$WORK/get.curl"
s3_curl -K "$WORK/get.curl" || fail "GET of the objects"
assert_eq "objects fetched" $N "$(find "$WORK/got" -name '*.wav' | wc -l)"
"$TESTBIN/audio_check" --strict "$WORK/got"/*.wav || fail "an object is not a whole WAV"
ok "all $N objects are whole WAVs"
assert_eq "files in the local output.dir" 0 "$(find "$WORK/audio" -type f 2>/dev/null | wc -l)"

kill -TERM "$CONSUMER_PID_a"
rc=0
wait "$CONSUMER_PID_a" || rc=$?
assert_eq "consumer exit status after SIGTERM (drained)" 0 "$rc"

# ---- a contact rendered again overwrites its key: the same campaign and contact, run against a
# second Redis database where it is not done yet, with another text
printf 'contact_id,first_name\nc-000001,%s\n' "Bartholomew Maximilian Fitzgerald-Worthington" >"$WORK/again.csv"
first_sha=$(sha256sum <"$WORK/got/c-000001.wav")
export VOXCAST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/1"
vx launch --campaign s3camp --contacts "$WORK/again.csv" --template 'Hello again {{first_name}}' --json >/dev/null
start_ttsd speech # espeak-ng: unlike the tone, the audio differs with the text
# shellcheck disable=SC2046
start_consumer b -X providers=primary $(provider_args "$TTSD_PORT_speech") "${S3_ARGS[@]}"
wait_complete s3camp 30
assert_eq "keys for the contact after a second render" "calls/s3camp/c-000001.wav" "$(s3_keys voxbucket calls/s3camp/c-000001)"
s3_get voxbucket/calls/s3camp/c-000001.wav -o "$WORK/again.wav" || fail "GET after the second render"
"$TESTBIN/audio_check" --strict "$WORK/again.wav" || fail "the overwritten object is not a whole WAV"
[ "$(sha256sum <"$WORK/again.wav")" != "$first_sha" ] || fail "the object was not replaced"
ok "the second render replaced the object under the same key"
assert_eq "objects in the store after the second render" $N "$(s3_keys voxbucket calls/s3camp/ | wc -l)"

# ---- credentials never logged
for secret in "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"; do
	if grep -l -F -- "$secret" "$WORK"/consumer-*.log; then
		fail "a credential appears in the consumer logs"
	fi
done
ok "no credential in the consumer logs"

# ---- a consumer without credentials refuses to start, naming the variables (exit 2)
set +e
out=$(env -u AWS_SECRET_ACCESS_KEY "$BIN/voxcast-consumer" "${S3_ARGS[@]}" 2>&1)
rc=$?
set -e
assert_eq "exit status without credentials" 2 "$rc"
grep -q 'AWS_SECRET_ACCESS_KEY' <<<"$out" || fail "unclear error without credentials: $out"
ok "a missing credential is a configuration error naming the variable"
echo "all s3 checks passed"
