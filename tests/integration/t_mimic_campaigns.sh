#!/usr/bin/env bash
# t_mimic_campaigns.sh - whole campaigns against voxcast-ttsd's provider mimics, which answer with
# the real APIs' bytes (docs/ttsd.md names the source of each shape):
#
#   openai      streamed WAV (0xFFFFFFFF sizes, chunked) and MP3; 30% of bodies cut mid-stream
#   kokoro      the same header on purpose (Kokoro-FastAPI PR #94), its own voices and models
#   elevenlabs  free tier: WAV jobs must ask for pcm_24000 (wav_44100 is Pro only) and get a
#               header written around the raw samples; xi-api-key; output_format in the query
#   chain       OpenAI down, ElevenLabs secondary with a voice map: the logical voice 'alloy' is
#               sent as its mapped id, 'nova' (no entry) as the provider's own voice, never as is
#   model       a misspelt OpenAI model (404 model_not_found) is the provider's fault: every job
#               fails over to espeak, nothing is parked, /health names the cause
#   chain2      ElevenLabs unreachable, OpenAI secondary: logical 'narrator' sent as its mapped 'nova',
#               'other' (no entry) as the provider's own 'echo'
#   plan        ElevenLabs free tier, a library voice: 402 paid_plan_required fails over
#   quota       OpenAI 429 insufficient_quota: fails over at once (one request per job), not waited
#   toolong     eleven_v3 refuses 3,000+ characters (400 max_character_limit_exceeded): the job
#               skips the provider without a breaker failure and espeak renders it
#
# Every saved WAV is read by an independent reader (Python's wave) and must have true header sizes
# (audio_check --strict); the request side is checked in each mimic's request log.
# shellcheck source=tests/integration/lib.sh disable=SC2154,SC2119
. "$(dirname "$0")/lib.sh"
# every contact asks the provider: the faults under test are the provider's answers, and render
# once would answer repeated texts with copies (cache.h)
export VOXCAST_CACHE_TTL_S=0
start_redis

CASES=(openai kokoro eleven chain model chain2 plan quota toolong)
FAST="-X consumer.concurrency=8 -X retry.base_ms=5 -X retry.max_ms=50 -X breaker.failure_threshold=1000"
export T_MIMIC_KEY=sk-mimic-0123456789abcdef

# The brokers, one per case, as t_faults.sh starts them.
case_broker() {
	"$BIN/voxcast" broker --partitions 2 >"$WORK/broker-$1.out" 2>"$WORK/broker-$1.err" &
	PIDS+=($!)
	wait_log "$WORK/broker-$1.out" '^127\.0\.0\.1:'
	printf -v "BOOT_$1" '%s' "$(head -n 1 "$WORK/broker-$1.out")"
}

# launch_on CASE CAMPAIGN FORMAT [ARGS...]
launch_on() {
	local boot="BOOT_$1" c=$2 f=$3
	shift 3
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=${!boot} vx launch --campaign "$c" --contacts "$WORK/c12.csv" \
		--template 'Hello {{first_name}}, your order ships today.' --format "$f" "$@" --json >/dev/null
}

# consumer_on CASE ARGS...
consumer_on() {
	local name=$1 boot="BOOT_$1"
	shift
	# shellcheck disable=SC2086
	start_consumer "$name" -X "kafka.bootstrap.servers=${!boot}" $FAST "$@"
}

# reqs NAME JQ: one jq filter over a mimic's request log.
reqs() {
	local port_var="TTSD_PORT_$1"
	ttsd_curl "${!port_var}" /admin/requests | jq -r "$2"
}

# wav_checks CAMPAIGN RATE: N WAV files, each whole with true sizes, read by Python's wave at RATE.
wav_checks() {
	local c=$1 rate=$2
	assert_eq "$c: wav files" 12 "$(find "$WORK/audio/$c" -name '*.wav' | wc -l)"
	"$TESTBIN/audio_check" --strict "$WORK/audio/$c"/*.wav >/dev/null || fail "$c: a WAV has untrue header sizes"
	python3 - "$rate" "$WORK/audio/$c"/*.wav <<'EOF' || fail "$c: Python's wave disagrees"
import os, sys, wave
rate = int(sys.argv[1])
for path in sys.argv[2:]:
    with wave.open(path) as w:
        frames = w.getnframes()
        assert w.getframerate() == rate, (path, w.getframerate())
        assert 0 < frames < 10 * rate, (path, frames)   # a placeholder reads as 2^31 frames
        assert 44 + frames * w.getsampwidth() * w.getnchannels() <= os.path.getsize(path), path
EOF
	ok "$c: every WAV read by Python's wave at $rate Hz with its true length"
}

mp3_checks() {
	assert_eq "$1: mp3 files" 12 "$(find "$WORK/audio/$1" -name '*.mp3' | wc -l)"
	"$TESTBIN/audio_check" "$WORK/audio/$1"/*.mp3 >/dev/null || fail "$1: an MP3 is not whole"
	ok "$1: every MP3 whole"
}

make_contacts "$WORK/c12.csv" 12
for c in "${CASES[@]}"; do case_broker "$c"; done

start_ttsd openai --mimic openai --tone --api-key-env T_MIMIC_KEY --truncate-rate 0.3 --seed 21
start_ttsd kokoro --mimic kokoro --tone --truncate-rate 0.3 --seed 22
start_ttsd eleven --mimic elevenlabs --tier free --tone --api-key-env T_MIMIC_KEY --truncate-rate 0.3 --seed 23
start_ttsd chain_p --mimic openai --tone --fail-rate 1 --fail-code server_error
start_ttsd chain_s --mimic elevenlabs --tone
start_ttsd model_p --mimic openai --tone
start_ttsd chain2_s --mimic openai --tone
start_ttsd plan_p --mimic elevenlabs --tier free --tone
start_ttsd quota_p --mimic openai --tone --fail-rate 1 --fail-code insufficient_quota
start_ttsd toolong_p --mimic elevenlabs --tone

launch_on openai openai-wav wav
launch_on openai openai-mp3 mp3
launch_on kokoro kokoro-wav wav
launch_on kokoro kokoro-mp3 mp3
launch_on eleven eleven-wav wav
launch_on eleven eleven-mp3 mp3
launch_on chain chain-alloy wav --voice alloy
launch_on chain chain-nova wav --voice nova
launch_on model model-typo wav
launch_on chain2 chain2-narrator wav --voice narrator
launch_on chain2 chain2-other wav --voice other
launch_on plan plan-library wav
launch_on quota quota-out wav
long=$(printf 'This sentence is said again and again. %.0s' $(seq 80))
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$BOOT_toolong vx launch --campaign toolong-v3 --contacts "$WORK/c12.csv" \
	--template "{{first_name}}: $long" --json >/dev/null

RETRY20="-X retry.max_attempts=20"
el_url() { echo "http://127.0.0.1:$1/v1/text-to-speech/{voice_id}"; }
# shellcheck disable=SC2086
{
	consumer_on openai -X providers=p -X provider.p.type=openai -X provider.p.api_key_env=T_MIMIC_KEY \
		-X "provider.p.url=http://127.0.0.1:$TTSD_PORT_openai/v1/audio/speech" $RETRY20
	consumer_on kokoro -X providers=p -X provider.p.type=openai -X provider.p.model=kokoro \
		-X provider.p.voice=af_heart -X "provider.p.url=http://127.0.0.1:$TTSD_PORT_kokoro/v1/audio/speech" $RETRY20
	consumer_on eleven -X providers=p -X provider.p.type=elevenlabs -X provider.p.api_key_env=T_MIMIC_KEY \
		-X provider.p.voice=EXAVITQu4vr4xnSDxMaL -X "provider.p.url=$(el_url "$TTSD_PORT_eleven")" $RETRY20
	consumer_on chain -X providers=p,s -X provider.p.type=openai -X retry.max_attempts=1 \
		-X "provider.p.url=http://127.0.0.1:$TTSD_PORT_chain_p/v1/audio/speech" \
		-X provider.s.type=elevenlabs -X "provider.s.url=$(el_url "$TTSD_PORT_chain_s")" \
		-X provider.s.voice=21m00Tcm4TlvDq8ikWAM -X "provider.s.voices=alloy=EXAVITQu4vr4xnSDxMaL"
	consumer_on chain2 -X providers=p,s -X provider.p.type=elevenlabs -X retry.max_attempts=1 \
		-X "provider.p.url=$(el_url 1)" -X provider.p.voice=21m00Tcm4TlvDq8ikWAM \
		-X "provider.p.voices=narrator=EXAVITQu4vr4xnSDxMaL" \
		-X provider.s.type=openai -X "provider.s.url=http://127.0.0.1:$TTSD_PORT_chain2_s/v1/audio/speech" \
		-X provider.s.voice=echo -X "provider.s.voices=narrator=nova"
	consumer_on plan -X providers=p,espeak -X provider.p.type=elevenlabs -X provider.p.voice=21m00Tcm4TlvDq8ikWAM \
		-X "provider.p.url=$(el_url "$TTSD_PORT_plan_p")"
	consumer_on quota -X providers=p,espeak -X provider.p.type=openai \
		-X "provider.p.url=http://127.0.0.1:$TTSD_PORT_quota_p/v1/audio/speech"
	consumer_on toolong -X providers=p,espeak -X provider.p.type=elevenlabs -X provider.p.voice=EXAVITQu4vr4xnSDxMaL \
		-X provider.p.model=eleven_v3 -X provider.p.max_text_chars=100000 -X "provider.p.url=$(el_url "$TTSD_PORT_toolong_p")"
	consumer_on model -X providers=p,espeak -X provider.p.type=openai -X provider.p.model=tts-2 \
		-X "provider.p.url=http://127.0.0.1:$TTSD_PORT_model_p/v1/audio/speech"
}
for c in openai-wav openai-mp3 kokoro-wav kokoro-mp3 eleven-wav eleven-mp3 chain-alloy chain-nova model-typo \
	chain2-narrator chain2-other plan-library quota-out toolong-v3; do
	wait_complete "$c" 90
	assert_eq "$c: done" 12 "$(status_field "$c" "done")"
	assert_eq "$c: dlq" 0 "$(status_field "$c" dlq)"
done

# ---------------------------------------------------------------- the real providers' bytes

wav_checks openai-wav 24000
wav_checks kokoro-wav 24000
wav_checks eleven-wav 24000
mp3_checks openai-mp3
mp3_checks kokoro-mp3
mp3_checks eleven-mp3
for m in openai kokoro eleven; do
	total=$(reqs "$m" '.total')
	[ "$total" -gt 24 ] || fail "$m: no body was cut mid-stream ($total requests for 24 jobs): the case proves nothing"
	ok "$m: $((total - 24)) bodies cut without their final chunk were retried"
done

# What was asked: OpenAI's four fields and nothing else; ElevenLabs' format in the query.
assert_eq "openai: request fields" "input,model,response_format,voice" \
	"$(reqs openai '[.requests[].body | keys | join(",")] | unique | join(" ")')"
assert_eq "openai: formats asked" "mp3 wav" "$(reqs openai '[.requests[].body.response_format] | unique | join(" ")')"
assert_eq "openai: key sent" "matched" "$(reqs openai '[.requests[].headers.authorization] | unique | join(" ")')"
assert_eq "eleven: formats asked (free tier: no 44.1 kHz)" "mp3_44100_128 pcm_24000" \
	"$(reqs eleven '[.requests[].query.output_format] | unique | join(" ")')"
assert_eq "eleven: request fields" "model_id,text" "$(reqs eleven '[.requests[].body | keys | join(",")] | unique | join(" ")')"
assert_eq "eleven: key sent" "matched" "$(reqs eleven '[.requests[].headers."xi-api-key"] | unique | join(" ")')"

# ---------------------------------------------------------------- voices belong to providers

assert_eq "chain: rendered by the secondary" 24 \
	"$(( $(vx status chain-alloy --json | jq -r '.by_provider.s') + $(vx status chain-nova --json | jq -r '.by_provider.s') ))"
assert_eq "chain: voices asked of ElevenLabs" "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM /v1/text-to-speech/EXAVITQu4vr4xnSDxMaL" \
	"$(reqs chain_s '[.requests[].path] | unique | join(" ")')"
assert_eq "chain: 'alloy' sent as its mapped id" 12 \
	"$(reqs chain_s '[.requests[] | select(.path | endswith("EXAVITQu4vr4xnSDxMaL"))] | length')"
assert_eq "chain: 'nova' (no entry) sent as the provider's own voice" 12 \
	"$(reqs chain_s '[.requests[] | select(.path | endswith("21m00Tcm4TlvDq8ikWAM"))] | length')"

assert_eq "chain2: rendered by the secondary" 24 \
	"$(( $(vx status chain2-narrator --json | jq -r '.by_provider.s') + $(vx status chain2-other --json | jq -r '.by_provider.s') ))"
assert_eq "chain2: voices asked of OpenAI ('narrator' mapped, 'other' the provider's own)" "echo nova" \
	"$(reqs chain2_s '[.requests[].body.voice] | unique | join(" ")')"
assert_eq "chain2: 'narrator' sent as nova" 12 "$(reqs chain2_s '[.requests[] | select(.body.voice == "nova")] | length')"

# ---------------------------------------------------------------- provider-level answers

assert_eq "plan: rendered by espeak" 12 "$(vx status plan-library --json | jq -r '.by_provider.espeak')"
assert_eq "plan: 402 answers" 12 "$(ttsd_stat plan_p 'by_status."402"')"
assert_eq "quota: rendered by espeak" 12 "$(vx status quota-out --json | jq -r '.by_provider.espeak')"
assert_eq "quota: one request per job (not waited out)" 12 "$(ttsd_stat quota_p requests)"
assert_eq "toolong: rendered by espeak" 12 "$(vx status toolong-v3 --json | jq -r '.by_provider.espeak')"
assert_eq "toolong: one 400 per job" 12 "$(ttsd_stat toolong_p 'by_status."400"')"
port=$(grep -m1 '"http listening"' "$WORK/consumer-toolong.log" | jq -r .port)
assert_eq "toolong: breaker not charged" 0 \
	"$(curl -fsS "http://127.0.0.1:$port/health" | jq -r '.providers[] | select(.name == "p") | .consecutive_failures')"

# ---------------------------------------------------------------- a misspelt model

assert_eq "model: rendered by espeak" 12 "$(vx status model-typo --json | jq -r '.by_provider.espeak')"
assert_eq "model: 404 model_not_found answers" 12 "$(ttsd_stat model_p 'by_status."404"')"
port=$(grep -m1 '"http listening"' "$WORK/consumer-model.log" | jq -r .port)
cause=$(curl -fsS "http://127.0.0.1:$port/health" | jq -r '.providers[] | select(.name == "p") | .last_error')
case $cause in *tts-2*) ok "model: /health names the cause: $cause" ;; *) fail "model: /health last_error is '$cause'" ;; esac
assert_eq "model: one log line names it" 1 "$(grep -c 'tts-2' "$WORK/consumer-model.log" | head -1)"

# ---------------------------------------------------------------- start-up refusal

rc=0
"$BIN/voxcast-consumer" -X providers=e -X provider.e.type=elevenlabs -X "provider.e.url=$(el_url 1)" \
	-X http.listen= 2>"$WORK/refused.err" || rc=$?
assert_eq "elevenlabs without a voice: exit" 2 "$rc"
grep -q 'provider.e.voice' "$WORK/refused.err" || fail "the refusal does not name provider.e.voice: $(cat "$WORK/refused.err")"
ok "the refusal names provider.e.voice"
echo "all mimic campaign checks passed"
