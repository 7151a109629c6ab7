#!/usr/bin/env bash
# t_variants.sh - a campaign launched with two variants (live, voicemail) gives each contact one
# file per variant, <contact>.<variant>.wav, and one results event listing both.
#
# One OpenAI-shaped provider (voxcast-ttsd --mimic openai --tone: 200 ms of audio a request)
# with provider.a.max_text_chars=60, so the live text renders whole (one request, 200 ms) and the
# voicemail text, two sentences over 60 characters, renders in two parts joined into one file
# (400 ms). A contact whose voicemail text holds ZEBRA (--fail-text ZEBRA=500) fails that
# variant for good: the job goes to the DLQ naming the variant and the part, and none of its
# files is written. That consumer runs without the render-once cache (cache.ttl_s=0), so every
# contact's request is counted, the identical first part of the voicemail three times.
#
# Then, with the cache (two consumers): a campaign of 30 contacts with a per-contact live variant
# and a voicemail shared by all renders the voicemail once (30 + 1 requests), every contact gets
# both files and the voicemail files are one sound; a campaign whose two variants are both shared
# (one of them split in two parts) makes 1 + 2 requests, however the two consumers share the claims.
# shellcheck source=tests/integration/lib.sh disable=SC2154,SC2119
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2

{
	echo "contact_id,first_name,note"
	for n in 1 2 3; do echo "c-00000$n,Name$n,ok"; done
	echo "c-000004,Name4,ZEBRA"
} >"$WORK/contacts.csv"
LIVE='Hi {{first_name}}, power is back.'
VOICEMAIL='This is your utility calling about {{note}}. Power is back for you, {{first_name}}.'

start_ttsd a --mimic openai --tone --fail-text ZEBRA=500
# shellcheck disable=SC2046 # provider_args is a list of words
start_consumer main -X providers=a $(provider_args "$TTSD_PORT_a" a) -X provider.a.max_text_chars=60 \
	-X retry.max_attempts=2 -X retry.base_ms=5 -X retry.max_ms=50 -X breaker.failure_threshold=1000 \
	-X cache.ttl_s=0 -X kafka.session.timeout.ms=6000

vx launch --campaign var --contacts "$WORK/contacts.csv" --variant "live=$LIVE" \
	--variant "voicemail=$VOICEMAIL" --json >/dev/null
wait_complete var 60
assert_eq "done" 3 "$(status_field var "done")"
assert_eq "dlq" 1 "$(status_field var dlq)"

# ---------------------------------------------------------------- files

want=$(for n in 1 2 3; do printf 'c-00000%s.live.wav\nc-00000%s.voicemail.wav\n' "$n" "$n"; done)
assert_eq "two files per contact done, named <contact>.<variant>.wav, nothing else" "$want" \
	"$(find "$WORK/audio/var" -type f -printf '%f\n' | sort)"
"$TESTBIN/audio_check" --strict "$WORK/audio/var"/*.wav >/dev/null || fail "a WAV with untrue sizes"
durations() { # FILE...: "NAME DURATION_MS" of each 16-bit PCM WAV
	python3 - "$@" <<'EOF'
import os, struct, sys
for path in sys.argv[1:]:
    b = open(path, 'rb').read()
    at, align, rate, ms = 12, 0, 0, None
    while at + 8 <= len(b):
        cid, size = b[at:at + 4], struct.unpack('<I', b[at + 4:at + 8])[0]
        if cid == b'fmt ':
            _, _, rate, _, align, _ = struct.unpack('<HHIIHH', b[at + 8:at + 24])
        if cid == b'data':
            ms = size // align * 1000 // rate
        at += 8 + size + (size & 1)
    print(os.path.basename(path), ms)
EOF
}
assert_eq "live: one request's audio (200 ms); voicemail: two parts joined (400 ms)" \
	"$(for n in 1 2 3; do printf 'c-00000%s.live.wav 200\nc-00000%s.voicemail.wav 400\n' "$n" "$n"; done)" \
	"$(durations "$WORK/audio/var"/*.wav | sort)"

# ---------------------------------------------------------------- what the provider was asked

reqs() { ttsd_curl "$TTSD_PORT_a" /admin/requests | jq -r '.requests[].body.input'; }
want=$(for n in 1 2 3; do printf '1 Hi Name%s, power is back.\n' "$n"; done
	for n in 1 2 3; do printf '1 Power is back for you, Name%s.\n' "$n"; done
	echo "3 This is your utility calling about ok.")
assert_eq "requests for the contacts done: live whole, voicemail in two parts" "$want" \
	"$(reqs | grep -v -e ZEBRA -e Name4 | sort | uniq -c | awk '{$1=$1; print}')"
longest=$(reqs | awk '{ print length($0) }' | sort -n | tail -n 1)
[ "$longest" -le 60 ] || fail "a request of $longest characters, over 60"
ok "every request at most 60 characters (longest $longest)"
assert_eq "the failing part asked retry.max_attempts times" 2 "$(reqs | grep -c ZEBRA)"

# ---------------------------------------------------------------- results stream

events() {
	"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.results | cut -f4 |
		jq -c 'select(.campaign == "var" and .outcome != "campaign_complete")'
}
wait_until 10 test "$(events | jq -r .contact | sort -u | wc -l)" -eq 4
for n in 1 2 3; do
	c=c-00000$n
	ev=$(events | jq -c --arg c "$c" 'select(.contact == $c)' | head -n 1)
	assert_eq "$c: event: outcome uri duration_ms" "done null 600" "$(jq -r '"\(.outcome) \(.uri) \(.duration_ms)"' <<<"$ev")"
	assert_eq "$c: event: variants" \
		"live file://$WORK/audio/var/$c.live.wav 200|voicemail file://$WORK/audio/var/$c.voicemail.wav 400" \
		"$(jq -r '.variants[] | "\(.name) \(.uri) \(.duration_ms)"' <<<"$ev" | paste -sd'|')"
	for v in live voicemail; do
		assert_eq "$c: event: $v sha256 is the file's" "$(sha256sum "$WORK/audio/var/$c.$v.wav" | cut -d' ' -f1)" \
			"$(jq -r --arg v "$v" '.variants[] | select(.name == $v) | .sha256' <<<"$ev")"
	done
done
ev=$(events | jq -c 'select(.contact == "c-000004")' | head -n 1)
assert_eq "c-000004: event: dlq, no variants" "dlq null" "$(jq -r '"\(.outcome) \(.variants)"' <<<"$ev")"

# ---------------------------------------------------------------- the DLQ entry names the variant

entry=$(dlq_entries var)
assert_eq "dlq: contact reason variant part parts" "c-000004 retry_exhausted voicemail 1 2" \
	"$(jq -r '"\(.contact) \(.reason) \(.variant) \(.part) \(.parts)"' <<<"$entry")"
jq -r .error <<<"$entry" | grep -q '^variant voicemail: part 1 of 2: HTTP 500' ||
	fail "dlq: error does not name the variant and part: $(jq -r .error <<<"$entry")"
ok "dlq: error names them: $(jq -r .error <<<"$entry" | cut -c1-50)"
assert_eq "dlq: the entry holds the whole job, both variants (replayable)" "live voicemail" \
	"$(jq -r '[.job.variants[].name] | join(" ")' <<<"$entry")"

# ---------------------------------------------------------------- render once per variant

kill -TERM "$CONSUMER_PID_main"
wait "$CONSUMER_PID_main" || fail "the first consumer did not drain"
ttsd_curl "$TTSD_PORT_a" /admin/stats/reset -X POST >/dev/null
for c in c1 c2; do
	# shellcheck disable=SC2046 # provider_args is a list of words
	start_consumer "$c" -X providers=a $(provider_args "$TTSD_PORT_a" a) -X provider.a.max_text_chars=60 \
		-X cache.claim_ttl_ms=2000 -X kafka.session.timeout.ms=6000
done
N=30
make_contacts "$WORK/vm.csv" "$N"
vx launch --campaign vm --contacts "$WORK/vm.csv" --variant 'live=Hi {{first_name}}' \
	--variant 'voicemail=Call us back' --json >/dev/null
wait_complete vm 60
assert_eq "vm: done" "$N" "$(status_field vm "done")"
assert_eq "vm: provider requests (one live per contact, one voicemail)" $((N + 1)) "$(ttsd_stat a requests)"
assert_eq "vm: live files" "$N" "$(find "$WORK/audio/vm" -name '*.live.wav' | wc -l)"
assert_eq "vm: voicemail files" "$N" "$(find "$WORK/audio/vm" -name '*.voicemail.wav' | wc -l)"
assert_eq "vm: files in all (both per contact, nothing else)" $((2 * N)) "$(find "$WORK/audio/vm" -type f | wc -l)"
assert_eq "vm: one voicemail sound" 1 "$(cd "$WORK/audio/vm" && sha256sum -- *.voicemail.wav | cut -d' ' -f1 | sort -u | wc -l)"
"$TESTBIN/audio_check" --strict "$WORK/audio/vm"/*.wav >/dev/null || fail "vm: a WAV with untrue sizes"
assert_eq "vm: cache_hits (the voicemail copies)" $((N - 1)) "$(rcli HGET 'voxcast:{vm}:meta' cache_hits)"
vm_event() {
	"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.results | cut -f4 |
		jq -c 'select(.campaign == "vm" and .contact == "c-000007")' | head -n 1
}
has_vm_event() { [ -n "$(vm_event)" ]; }
wait_until 10 has_vm_event
ev=$(vm_event)
assert_eq "vm: c-000007: event: variants" \
	"live file://$WORK/audio/vm/c-000007.live.wav|voicemail file://$WORK/audio/vm/c-000007.voicemail.wav" \
	"$(jq -r '.variants[] | "\(.name) \(.uri)"' <<<"$ev" | paste -sd'|')"

ttsd_curl "$TTSD_PORT_a" /admin/stats/reset -X POST >/dev/null
LONG='We are sorry we missed you today. Please call us back on the usual number.'
vx launch --campaign two --contacts "$WORK/vm.csv" --variant 'short=Please call us back.' \
	--variant "long=$LONG" --json >/dev/null
wait_complete two 60
assert_eq "two: done" "$N" "$(status_field two "done")"
assert_eq "two: provider requests (short once, long once in two parts)" 3 "$(ttsd_stat a requests)"
assert_eq "two: files" $((2 * N)) "$(find "$WORK/audio/two" -type f | wc -l)"
for v in short long; do
	assert_eq "two: one $v sound" 1 "$(cd "$WORK/audio/two" && sha256sum -- *."$v".wav | cut -d' ' -f1 | sort -u | wc -l)"
done
assert_eq "two: the long variant joined from two parts (400 ms)" "c-000001.long.wav 400" \
	"$(durations "$WORK/audio/two/c-000001.long.wav")"
