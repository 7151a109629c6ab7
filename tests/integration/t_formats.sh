#!/usr/bin/env bash
# t_formats.sh - audio a dialer can play: campaigns launched with each output format, end to end.
#
#   openai   an OpenAI-shaped provider (voxcast-ttsd --mimic openai --tone: a 200 ms tone as a
#            streamed 24 kHz WAV with 0xFFFFFFFF sizes) and --format ulaw_8000: the provider is
#            asked for wav (it has no G.711) and every file is an 8 kHz mono µ-law WAV of the
#            provider's duration, converted by the consumer
#   eleven   an ElevenLabs-shaped provider (--mimic elevenlabs) and --format ulaw_8000: asked
#            natively (?output_format=ulaw_8000, raw µ-law, no header); every file is a µ-law
#            WAV whose audio is exactly the provider's bytes behind a header
#   espeak   espeak-ng in process (22.05 kHz WAV) once in each of wav, alaw_8000, wav_8000,
#            wav_16000 and mp3: the file's kind and rate, the duration within one output frame of
#            the WAV espeak rendered for it (MP3: whole MPEG frames, within two 1152-sample
#            frames: LAME's delay and padding); espeak takes mp3 jobs (no format decline)
#   bad      ElevenLabs configured to send MP3 (output_format in the url) for a ulaw_8000 job:
#            the MP3 cannot become µ-law, so each answer is a retryable failure of that provider
#            and the job fails over to espeak, nothing parked
#
# WAV headers are read by Python from the bytes (Python's wave module reads PCM only), every
# WAV must have true header sizes (audio_check --strict), every MP3 must be whole frames.
# shellcheck source=tests/integration/lib.sh disable=SC2154,SC2119
. "$(dirname "$0")/lib.sh"
start_redis

# cache.ttl_s=0: each case asks its own provider for the same texts (render once would answer
# the later cases with copies of the first one's audio, and they test the provider's answer)
FAST="-X consumer.concurrency=8 -X retry.base_ms=5 -X retry.max_ms=50 -X breaker.failure_threshold=1000 -X cache.ttl_s=0"
TEXT='Hello {{first_name}}, your order ships today.'

case_broker() {
	"$BIN/voxcast" broker --partitions 2 >"$WORK/broker-$1.out" 2>"$WORK/broker-$1.err" &
	PIDS+=($!)
	wait_log "$WORK/broker-$1.out" '^127\.0\.0\.1:'
	printf -v "BOOT_$1" '%s' "$(head -n 1 "$WORK/broker-$1.out")"
}

# launch_on CASE CAMPAIGN FORMAT CONTACTS
launch_on() {
	local boot="BOOT_$1"
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=${!boot} vx launch --campaign "$2" --contacts "$4" \
		--template "$TEXT" --format "$3" --json >/dev/null
}

# consumer_on CASE ARGS...
consumer_on() {
	local name=$1 boot="BOOT_$1"
	shift
	# shellcheck disable=SC2086
	start_consumer "$name" -X "kafka.bootstrap.servers=${!boot}" $FAST "$@"
}

reqs() {
	local port_var="TTSD_PORT_$1"
	curl -fsS "http://127.0.0.1:${!port_var}/admin/requests" | jq -r "$2"
}

# wavinfo FILE...: "TAG RATE CHANNELS BITS DATA_BYTES DURATION_MS" per file, read from the bytes
# (RIFF chunks walked; sizes must be true: RIFF = file - 8, data ends at the file's end or at
# the next chunk).
wavinfo() {
	python3 - "$@" <<'EOF'
import struct, sys
for path in sys.argv[1:]:
    b = open(path, 'rb').read()
    assert b[:4] == b'RIFF' and b[8:12] == b'WAVE', path
    assert struct.unpack('<I', b[4:8])[0] == len(b) - 8, (path, 'RIFF size')
    at, fmt, data = 12, None, None
    while at + 8 <= len(b):
        cid, size = b[at:at + 4], struct.unpack('<I', b[at + 4:at + 8])[0]
        body = b[at + 8:at + 8 + size]
        assert len(body) == size, (path, cid, 'chunk cut short')
        if cid == b'fmt ':
            fmt = struct.unpack('<HHIIHH', body[:16])
        elif cid == b'data':
            data = body
        at += 8 + size + (size & 1)
    tag, ch, rate, byte_rate, align, bits = fmt
    assert byte_rate == rate * align, (path, 'byte rate')
    print(tag, rate, ch, bits, len(data), round(len(data) / align * 1000 / rate))
EOF
}

# mp3info FILE: "FRAMES RATE DURATION_MS": every byte of the file is a whole MPEG frame (after
# an optional ID3v2 tag), each header valid.
mp3info() {
	python3 - "$1" <<'EOF'
import sys
b = open(sys.argv[1], 'rb').read()
at = 0
if b[:3] == b'ID3':
    at = 10 + ((b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9])
rates = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}
kbps = {3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
        2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]}
frames, rate = 0, None
while at < len(b):
    h = int.from_bytes(b[at:at + 4], 'big')
    assert h >> 21 == 0x7FF, ('no frame sync at', at)
    ver, layer, br, sr, pad = (h >> 19) & 3, (h >> 17) & 3, (h >> 12) & 15, (h >> 10) & 3, (h >> 9) & 1
    assert ver != 1 and layer == 1 and 0 < br < 15 and sr < 3, ('bad header at', at)
    r = rates[ver][sr]
    assert rate in (None, r), 'rate changes'
    rate = r
    size = (144 if ver == 3 else 72) * kbps[3 if ver == 3 else 2][br] * 1000 // r + pad
    assert at + size <= len(b), 'last frame cut short'
    at += size
    frames += 1
spf = 1152 if ver == 3 else 576
print(frames, rate, round(frames * spf * 1000 / rate))
EOF
}

make_contacts "$WORK/c6.csv" 6
make_contacts "$WORK/c1.csv" 1
for c in openai eleven espeak bad; do case_broker "$c"; done
start_ttsd openai --mimic openai --tone
start_ttsd eleven --mimic elevenlabs --tier free --tone
start_ttsd bad --mimic elevenlabs --tone

launch_on openai oa-ulaw ulaw_8000 "$WORK/c6.csv"
launch_on eleven el-ulaw ulaw_8000 "$WORK/c6.csv"
for f in wav alaw_8000 wav_8000 wav_16000 mp3; do launch_on espeak "es-$f" "$f" "$WORK/c1.csv"; done
launch_on bad bad-mp3 ulaw_8000 "$WORK/c1.csv"

el_url() { echo "http://127.0.0.1:$1/v1/text-to-speech/{voice_id}${2:-}"; }
consumer_on openai -X providers=p -X provider.p.type=openai \
	-X "provider.p.url=http://127.0.0.1:$TTSD_PORT_openai/v1/audio/speech"
consumer_on eleven -X providers=p -X provider.p.type=elevenlabs -X provider.p.voice=EXAVITQu4vr4xnSDxMaL \
	-X "provider.p.url=$(el_url "$TTSD_PORT_eleven")"
consumer_on espeak -X providers=espeak -X log.level=debug
consumer_on bad -X providers=p,espeak -X provider.p.type=elevenlabs -X provider.p.voice=EXAVITQu4vr4xnSDxMaL \
	-X retry.max_attempts=2 -X "provider.p.url=$(el_url "$TTSD_PORT_bad" '?output_format=mp3_44100_128')"

for c in oa-ulaw el-ulaw es-wav es-alaw_8000 es-wav_8000 es-wav_16000 es-mp3 bad-mp3; do
	wait_complete "$c" 60
	assert_eq "$c: dlq" 0 "$(status_field "$c" dlq)"
done

# ---------------------------------------------------------------- OpenAI: converted to µ-law

assert_eq "oa-ulaw: files" "6 wav" "$(find "$WORK/audio/oa-ulaw" -type f | sed 's/.*\.//' | sort | uniq -c | awk '{print $1, $2}')"
assert_eq "oa-ulaw: asked for" "wav" "$(reqs openai '[.requests[].body.response_format] | unique | join(" ")')"
"$TESTBIN/audio_check" --strict "$WORK/audio/oa-ulaw"/*.wav >/dev/null || fail "oa-ulaw: a WAV has untrue sizes"
# the provider's own answer for one of the texts: its duration is what every file must have
curl -fsS -X POST "http://127.0.0.1:$TTSD_PORT_openai/v1/audio/speech" -H 'Content-Type: application/json' \
	-d '{"model":"tts-1","voice":"alloy","input":"Hello Name1, your order ships today.","response_format":"wav"}' \
	-o "$WORK/oa-answer.wav"
provider_ms=$(python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
assert struct.unpack("<HHI", b[20:28]) == (1, 1, 24000), "not 24 kHz mono PCM"
print(round((len(b) - 44) / 2 / 24000 * 1000))' "$WORK/oa-answer.wav")
assert_eq "oa-ulaw: the provider's answer (24 kHz WAV) lasts" 200 "$provider_ms"
assert_eq "oa-ulaw: every file µ-law (tag 7), 8 kHz, mono, 8 bit, 1600 bytes, the provider's duration" \
	"6 7 8000 1 8 1600 $provider_ms" "$(wavinfo "$WORK/audio/oa-ulaw"/*.wav | sort | uniq -c | awk '{$1=$1; print}')"
"$TESTBIN/audio_check" --info "$WORK/audio/oa-ulaw/c-000001.wav" | grep -q '8000 Hz, 1 ch, 8 bit, codec 7, .* 200 ms' ||
	fail "oa-ulaw: audio_check --info disagrees: $("$TESTBIN/audio_check" --info "$WORK/audio/oa-ulaw/c-000001.wav")"
ok "oa-ulaw: audio_check --info agrees"

# what the consumer says it delivered (results stream): the file's URI, its duration from the
# audio, its size and the SHA-256 of its bytes
want=$(for f in "$WORK/audio/oa-ulaw"/*.wav; do
	printf '%s ulaw_8000 200 %s %s\n' "file://$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done)
ulaw_events() {
	"$TESTBIN/topic_dump" "$BOOT_openai" voxcast.results | cut -f4 |
		jq -r 'select(.campaign == "oa-ulaw" and .outcome == "done") | "\(.uri) \(.format) \(.duration_ms) \(.bytes) \(.sha256)"' | sort -u
}
ulaw_events_match() { [ "$(ulaw_events)" = "$want" ]; }
wait_until 5 ulaw_events_match # results are produced before offsets are stored: a moment at most
assert_eq "oa-ulaw: results events (uri format duration_ms bytes sha256)" "$want" "$(ulaw_events)"

# ---------------------------------------------------------------- ElevenLabs: µ-law natively

assert_eq "el-ulaw: files" "6 wav" "$(find "$WORK/audio/el-ulaw" -type f | sed 's/.*\.//' | sort | uniq -c | awk '{print $1, $2}')"
assert_eq "el-ulaw: output_format asked" "ulaw_8000" "$(reqs eleven '[.requests[].query.output_format] | unique | join(" ")')"
assert_eq "el-ulaw: Accept sent" "audio/basic" "$(reqs eleven '[.requests[].headers.accept] | unique | join(" ")')"
"$TESTBIN/audio_check" --strict "$WORK/audio/el-ulaw"/*.wav >/dev/null || fail "el-ulaw: a WAV has untrue sizes"
assert_eq "el-ulaw: every file µ-law (tag 7), 8 kHz, mono, 8 bit, 200 ms" "6 7 8000 1 8 1600 200" \
	"$(wavinfo "$WORK/audio/el-ulaw"/*.wav | sort | uniq -c | awk '{$1=$1; print}')"
# the audio is the provider's raw bytes as sent (the tone is the same for every text)
curl -fsS -X POST "http://127.0.0.1:$TTSD_PORT_eleven/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL?output_format=ulaw_8000" \
	-H 'Content-Type: application/json' -d '{"text":"Hello Name1, your order ships today.","model_id":"eleven_multilingual_v2"}' \
	-o "$WORK/el-answer.raw"
[ "$(head -c 4 "$WORK/el-answer.raw")" != RIFF ] || fail "el-ulaw: the mimic answered a WAV, not raw µ-law"
size=$(stat -c %s "$WORK/audio/el-ulaw/c-000001.wav")
tail -c +$((size - 1600 + 1)) "$WORK/audio/el-ulaw/c-000001.wav" | cmp -s - "$WORK/el-answer.raw" ||
	fail "el-ulaw: the file's audio is not the provider's µ-law bytes"
ok "el-ulaw: the file's audio is the provider's µ-law bytes behind a 58-byte header ($size bytes)"

# ---------------------------------------------------------------- espeak: every other format

read -r _ es_rate _ _ _ _ <<<"$(wavinfo "$WORK/audio/es-wav/c-000001.wav")"
assert_eq "es-wav: espeak's own rate, kept" 22050 "$es_rate"
# espeak's duration for a campaign's file: espeak-ng's length varies by a few ms from render to
# render, so it is read from the consumer's debug line for that very render ("audio converted":
# from_ms is the WAV espeak made, duration_ms the file saved)
espeak_ms() {
	jq -r --arg c "$1" 'select(.msg == "audio converted" and .campaign == $c) | "\(.from_rate) \(.from_ms) \(.duration_ms)"' \
		"$WORK/consumer-espeak.log"
}
# within_frame NAME MS RATE FROM_MS: |MS - FROM_MS| is at most one output frame (rounded to ms, + 1)
within_frame() {
	local d=$(($2 - $4)) slack=$((1000 / $3 + 1))
	[ "${d#-}" -le "$slack" ] || fail "$1: $2 ms against espeak's $4 ms"
	ok "$1: $2 ms, espeak's $4 ms"
}
for row in "alaw_8000 6 8000 8" "wav_8000 1 8000 16" "wav_16000 1 16000 16"; do
	read -r f tag rate bits <<<"$row"
	file="$WORK/audio/es-$f/c-000001.wav"
	"$TESTBIN/audio_check" --strict "$file" >/dev/null || fail "es-$f: untrue sizes"
	read -r got_tag got_rate got_ch got_bits _ ms <<<"$(wavinfo "$file")"
	assert_eq "es-$f: tag rate channels bits" "$tag $rate 1 $bits" "$got_tag $got_rate $got_ch $got_bits"
	read -r from_rate from_ms logged_ms <<<"$(espeak_ms "es-$f")"
	assert_eq "es-$f: converted from espeak's WAV at" 22050 "$from_rate"
	assert_eq "es-$f: the duration noted is the file's" "$ms" "$logged_ms"
	within_frame "es-$f" "$ms" "$rate" "$from_ms"
done
assert_eq "es-mp3: files" "c-000001.mp3" "$(ls "$WORK/audio/es-mp3")"
"$TESTBIN/audio_check" "$WORK/audio/es-mp3/c-000001.mp3" >/dev/null || fail "es-mp3: not a whole MP3"
read -r frames mp3_rate mp3_ms <<<"$(mp3info "$WORK/audio/es-mp3/c-000001.mp3")"
read -r from_rate from_ms logged_ms <<<"$(espeak_ms es-mp3)"
assert_eq "es-mp3: MPEG rate (espeak's, kept)" "$from_rate" "$mp3_rate"
assert_eq "es-mp3: the duration noted is the file's" "$mp3_ms" "$logged_ms"
d=$((mp3_ms - from_ms))
if [ "$d" -lt 0 ] || [ "$d" -gt $((2 * 1152 * 1000 / 22050 + 1)) ]; then
	fail "es-mp3: $frames frames, $mp3_ms ms against espeak's $from_ms ms"
fi
ok "es-mp3: $frames whole MPEG frames, $mp3_ms ms against espeak's $from_ms ms (+$d ms: LAME's delay and padding)"
assert_eq "es-mp3: rendered by espeak (no format decline)" 1 "$(vx status es-mp3 --json | jq -r '.by_provider.espeak')"

# ---------------------------------------------------------------- an answer that cannot be converted

assert_eq "bad-mp3: rendered by espeak after the failover" 1 "$(vx status bad-mp3 --json | jq -r '.by_provider.espeak')"
assert_eq "bad-mp3: MP3 answers, each a retryable failure (retry.max_attempts=2)" 2 "$(reqs bad '.total')"
grep -q 'provider audio not convertible' "$WORK/consumer-bad.log" || fail "bad-mp3: no log line names the failure"
assert_eq "bad-mp3: file" "7 8000" "$(wavinfo "$WORK/audio/bad-mp3/c-000001.wav" | awk '{print $1, $2}')"
echo "all format checks passed"
