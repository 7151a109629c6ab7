#!/usr/bin/env bash
# t_longtext.sh - a text over the providers' limit is split, its parts rendered on their own and
# joined into the one file of the contact.
#
# Two OpenAI-shaped providers (voxcast-ttsd --mimic openai, espeak-ng speech, so a part's length
# depends on its text), both with provider.NAME.max_text_chars=4096, format ulaw_8000 (each part
# converted, then joined):
#   whole   3 contacts of 10,000 characters each: one file per contact (name unchanged), ttsd
#           saw 3 requests per contact, each at most 4096 characters, which put back together
#           are the contact's text; the file's audio is exactly the parts' audio (data bytes =
#           the sum of the parts' converted audio, from the consumer's debug lines; duration the
#           sum of theirs, and within 1% of the parts rendered again separately: espeak's
#           length varies from render to render);
#           the results event's duration is the file's
#   retry   part 2 of each text fails on provider a (--fail-text): only that part is asked
#           again, then fails over to b; the other parts go to a once; every file is whole
#   dlq     part 3 fails on both providers: the job is dead-lettered, the entry naming the part
#           ("part 3 of 3: ...", "part":3,"parts":3) and holding the whole job for replay
#   stop    the consumer is stopped while a job's parts are rendering (grace over): nothing is
#           written and the consumer exits without a memory error; another consumer renders the
#           redelivered job whole
# shellcheck source=tests/integration/lib.sh disable=SC2154,SC2119
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2

# TEMPLATE OUT MARK_AT MARK: a template whose text is exactly 10,000 characters for a 5-letter
# first name: sentences naming the contact; the sentence holding character MARK_AT (0: none)
# also says MARK.
make_template() {
	python3 - "$@" <<'EOF'
import sys
out, mark_at, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text, i = '', 0
while True:
    s = 'Dear Name1, this is line %03d of the notice about your account.' % i
    if mark_at and len(text) <= mark_at < len(text) + len(s) + 1:
        s = s[:-1] + ' ' + mark + '.'
    if len(text) + len(s) + 1 > 10000:
        break
    text += s + ' '
    i += 1
text += 'x' * (9999 - len(text)) + '.'
assert len(text) == 10000
open(out, 'w').write(text.replace('Name1', '{{first_name}}'))
EOF
}

make_contacts "$WORK/c3.csv" 3
make_contacts "$WORK/c1.csv" 1
make_template "$WORK/whole.tpl" 0 ''
make_template "$WORK/retry.tpl" 5000 ZEBRA
make_template "$WORK/dlq.tpl" 9000 YAK
make_template "$WORK/stop.tpl" 100 OTTER # a text of its own: no render-once copy of lt-whole's

start_ttsd a --mimic openai --fail-text ZEBRA=500 --fail-text YAK=500
start_ttsd b --mimic openai --fail-text YAK=500
# shellcheck disable=SC2046 # provider_args is a list of words
start_consumer main -X providers=a,b $(provider_args "$TTSD_PORT_a" a) $(provider_args "$TTSD_PORT_b" b) \
	-X provider.a.max_text_chars=4096 -X provider.b.max_text_chars=4096 -X log.level=debug \
	-X retry.max_attempts=2 -X retry.base_ms=5 -X retry.max_ms=50 -X breaker.failure_threshold=1000 \
	-X consumer.shutdown_grace_ms=300

inputs() { # ttsd NAME: every request's input, one JSON string a line
	local port_var="TTSD_PORT_$1"
	ttsd_curl "${!port_var}" /admin/requests | jq -c '.requests[].body.input'
}
reset_ttsd() {
	ttsd_curl "$TTSD_PORT_a" /admin/reset -X POST >/dev/null
	ttsd_curl "$TTSD_PORT_b" /admin/reset -X POST >/dev/null
}

# ---------------------------------------------------------------- whole: split, rendered, joined

vx launch --campaign lt-whole --contacts "$WORK/c3.csv" --template-file "$WORK/whole.tpl" \
	--format ulaw_8000 --json >/dev/null
wait_complete lt-whole 120
assert_eq "whole: done" 3 "$(status_field lt-whole "done")"
assert_eq "whole: dlq" 0 "$(status_field lt-whole dlq)"
assert_eq "whole: one file per contact, under its own name" "c-000001.wav c-000002.wav c-000003.wav" \
	"$(find "$WORK/audio/lt-whole" -type f -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')"
assert_eq "whole: requests to a (3 a contact)" 9 "$(inputs a | wc -l)"
assert_eq "whole: requests to b" 0 "$(inputs b | wc -l)"
longest=$(inputs a | jq -s 'map(length) | max')
[ "$longest" -le 4096 ] || fail "whole: a request of $longest characters, over 4096"
ok "whole: every request at most 4096 characters (longest $longest)"

wavdata() { # FILE: "DATA_BYTES DURATION_MS" of a µ-law WAV at 8 kHz
	python3 - "$1" <<'EOF'
import struct, sys
b = open(sys.argv[1], 'rb').read()
at = 12
while at + 8 <= len(b):
    cid, size = b[at:at + 4], struct.unpack('<I', b[at + 4:at + 8])[0]
    if cid == b'fmt ':
        assert struct.unpack('<HHI', b[at + 8:at + 16]) == (7, 1, 8000), 'not 8 kHz mono µ-law'
    if cid == b'data':
        print(size, size // 8)  # whole milliseconds, as the consumer counts them
    at += 8 + size + (size & 1)
EOF
}
# what the consumer converted for each part of a contact (debug "audio converted": the parts
# are converted one by one, the joined file is already the format and is not)
converted() {
	jq -r --arg c "$1" 'select(.msg == "audio converted" and .campaign == "lt-whole" and .contact == $c) | "\(.bytes) \(.duration_ms)"' \
		"$WORK/consumer-main.log"
}
# durations (ms) of texts rendered one by one now, as a provider answers them (24 kHz 16-bit WAV)
render_ms() {
	local input
	while read -r input; do
		curl -fsS -X POST "http://127.0.0.1:$TTSD_PORT_b/v1/audio/speech" -H 'Content-Type: application/json' \
			-d "{\"model\":\"tts-1\",\"voice\":\"alloy\",\"input\":$input,\"response_format\":\"wav\"}" |
			python3 -c 'import sys; print(round((len(sys.stdin.buffer.read()) - 44) / 48))'
	done
}
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.results | cut -f4 >"$WORK/results.jsonl"
for n in 1 2 3; do
	c=c-00000$n
	file="$WORK/audio/lt-whole/$c.wav"
	"$TESTBIN/audio_check" --strict "$file" >/dev/null || fail "whole: $c: a WAV with untrue sizes"
	# the parts ttsd saw for this contact, put back together, are its text
	inputs a | grep "Name$n" >"$WORK/in-$n"
	assert_eq "whole: $c: requests" 3 "$(wc -l <"$WORK/in-$n")"
	want=$(sed "s/{{first_name}}/Name$n/g" "$WORK/whole.tpl")
	# (requested concurrently, in any order: put in order by their first line number)
	[ "$want" = "$(jq -rs 'sort_by(capture("line (?<n>[0-9]+)").n) | join(" ")' "$WORK/in-$n")" ] || fail "whole: $c: the parts put back together are not the text"
	ok "whole: $c: the parts put back together are the text, nothing lost or twice"
	read -r data ms <<<"$(wavdata "$file")"
	converted "$c" >"$WORK/conv-$n"
	assert_eq "whole: $c: parts converted" 3 "$(wc -l <"$WORK/conv-$n")"
	# each part's file: a 58-byte header, its audio, and a pad byte when the audio is odd
	parts=$(awk '{ s += $1 - 58 } END { print s }' "$WORK/conv-$n")
	if [ $((parts - data)) -lt 0 ] || [ $((parts - data)) -gt 3 ]; then
		fail "whole: $c: $data bytes of audio, the parts $parts (pad bytes aside)"
	fi
	ok "whole: $c: $data bytes of audio = the parts' ($parts with $((parts - data)) pad bytes)"
	sum=$(awk '{ s += $2 } END { print s }' "$WORK/conv-$n")
	if [ $((ms - sum)) -gt 2 ] || [ $((sum - ms)) -gt 2 ]; then
		fail "whole: $c: $ms ms, the parts $sum ms"
	fi
	ok "whole: $c: $ms ms = the sum of its parts' ($sum ms)"
	again=$(render_ms <"$WORK/in-$n" | awk '{ s += $1 } END { print s }')
	if [ $((ms - again)) -gt $((ms / 100)) ] || [ $((again - ms)) -gt $((ms / 100)) ]; then
		fail "whole: $c: $ms ms, its parts rendered again $again ms"
	fi
	ok "whole: $c: its parts rendered again one by one last $again ms (within 1%: espeak's length varies)"
	assert_eq "whole: $c: results event duration" "$ms" \
		"$(jq -r --arg c "$c" 'select(.campaign == "lt-whole" and .contact == $c) | .duration_ms' "$WORK/results.jsonl")"
done

# ---------------------------------------------------------------- retry: one part again, on its own

reset_ttsd
vx launch --campaign lt-retry --contacts "$WORK/c3.csv" --template-file "$WORK/retry.tpl" \
	--format ulaw_8000 --json >/dev/null
wait_complete lt-retry 120
assert_eq "retry: done" 3 "$(status_field lt-retry "done")"
assert_eq "retry: dlq" 0 "$(status_field lt-retry dlq)"
assert_eq "retry: files" 3 "$(find "$WORK/audio/lt-retry" -type f | wc -l)"
assert_eq "retry: a: parts without the mark, once each" 6 "$(inputs a | grep -vc ZEBRA)"
assert_eq "retry: a: the failing part, retry.max_attempts times" 6 "$(inputs a | grep -c ZEBRA)"
assert_eq "retry: b: only the failing part" "3 3" "$(inputs b | wc -l) $(inputs b | grep -c ZEBRA)"
for n in 1 2 3; do
	"$TESTBIN/audio_check" --strict "$WORK/audio/lt-retry/c-00000$n.wav" >/dev/null || fail "retry: c-00000$n: bad WAV"
done
ok "retry: every file whole"

# ---------------------------------------------------------------- dlq: a part exhausted

reset_ttsd
vx launch --campaign lt-dlq --contacts "$WORK/c1.csv" --template-file "$WORK/dlq.tpl" \
	--format ulaw_8000 --json >/dev/null
wait_complete lt-dlq 120
assert_eq "dlq: dlq" 1 "$(status_field lt-dlq dlq)"
assert_eq "dlq: no file" 0 "$(find "$WORK/audio/lt-dlq" -type f 2>/dev/null | wc -l)"
entry=$(dlq_entries lt-dlq)
assert_eq "dlq: reason" retry_exhausted "$(jq -r .reason <<<"$entry")"
assert_eq "dlq: part / parts" "3 3" "$(jq -r '"\(.part) \(.parts)"' <<<"$entry")"
jq -r .error <<<"$entry" | grep -q '^part 3 of 3: ' || fail "dlq: error does not name the part: $(jq -r .error <<<"$entry")"
ok "dlq: error names the part: $(jq -r .error <<<"$entry" | cut -c1-60)"
assert_eq "dlq: the entry holds the whole job (replayable)" 10000 "$(jq -r '.job.text | length' <<<"$entry")"
assert_eq "dlq: the failing part on a and on b, retry.max_attempts each" "2 2" \
	"$(inputs a | grep -c YAK) $(inputs b | grep -c YAK)"

# ---------------------------------------------------------------- stop: parts in flight

reset_ttsd
ttsd_curl "$TTSD_PORT_a" /admin/faults -X POST -d '{"latency_ms":60000}' >/dev/null
vx launch --campaign lt-stop --contacts "$WORK/c1.csv" --template-file "$WORK/stop.tpl" \
	--format ulaw_8000 --json >/dev/null
parts_in_flight() { [ "$(ttsd_stat a in_flight)" -eq 3 ]; }
wait_until 30 parts_in_flight
ok "stop: the job's 3 parts in flight at once"
kill -TERM "$CONSUMER_PID_main"
consumer_gone() { ! kill -0 "$CONSUMER_PID_main" 2>/dev/null; }
wait_until 20 consumer_gone
grep -q '"grace period over; unfinished jobs will be redelivered"' "$WORK/consumer-main.log" ||
	fail "stop: the consumer did not stop with the job unfinished"
# (a sanitizer build: no memory error; what a stop past its grace leaves in flight is not freed,
# for a part as for any job, and LeakSanitizer may say so)
if grep -E 'ERROR: AddressSanitizer|runtime error' "$WORK/consumer-main.log" >&2; then fail "stop: sanitizer report"; fi
ok "stop: stopped with the parts unfinished, nothing reported"
assert_eq "stop: no file" 0 "$(find "$WORK/audio/lt-stop" -type f 2>/dev/null | wc -l)"
ttsd_curl "$TTSD_PORT_a" /admin/faults -X POST -d '{"latency_ms":0}' >/dev/null
# shellcheck disable=SC2046 # provider_args is a list of words
start_consumer again -X providers=a $(provider_args "$TTSD_PORT_a" a) -X provider.a.max_text_chars=4096
wait_complete lt-stop 120
assert_eq "stop: redelivered and rendered whole" "1 0" "$(status_field lt-stop "done") $(status_field lt-stop dlq)"
"$TESTBIN/audio_check" --strict "$WORK/audio/lt-stop/c-000001.wav" >/dev/null || fail "stop: bad WAV"
ok "stop: one whole file"
