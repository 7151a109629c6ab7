#!/usr/bin/env bash
# t_ttsd_mimic.sh - voxcast-ttsd --mimic openai|kokoro|elevenlabs as a client sees it: the
# streamed WAV headers (placeholder sizes, chunked transfer), raw PCM and µ-law lengths, each
# provider's error bodies and statuses, the refusals of unknown voices and models, plan limits,
# injected provider errors (fail_code, fail_text codes), bodies cut without their final chunk,
# and the request log.
#
# Runs the real binary from $VOXCAST_BIN on free ports with --tone (a 200 ms, 22050 Hz tone, so
# every length below is exact), learns each port from the ready line through a FIFO and never
# sleeps. Bodies are compared as JSON with jq (-S sorts keys; ElevenLabs' request_id is dropped).
set -euo pipefail

BIN=${VOXCAST_BIN:?VOXCAST_BIN must name the directory holding voxcast-ttsd}
TESTBIN=${VOXCAST_TESTBIN:?VOXCAST_TESTBIN must name the directory holding mp3_info}
TTSD=$BIN/voxcast-ttsd
WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_ttsd_mimic.XXXXXX")
PIDS=()
export T_MIMIC_KEY=k-mimic-0123456789

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for log in "$WORK"/*.log; do [ -s "$log" ] && { echo "--- $log" >&2; tail -n 5 "$log" >&2; }; done
	exit 1
}

pass() { echo "ok: $*"; }

start_ttsd() {
	local name=$1 line fd
	shift
	mkfifo "$WORK/$name.fifo"
	"$TTSD" --listen 127.0.0.1:0 --tone "$@" >"$WORK/$name.fifo" 2>"$WORK/$name.log" &
	PIDS+=($!)
	exec {fd}<"$WORK/$name.fifo"
	read -r -t 10 line <&"$fd" || fail "$name: no 'listening on' line within 10 s"
	exec {fd}<&-
	[[ $line =~ ^voxcast-ttsd\ listening\ on\ (127\.0\.0\.1:[0-9]+)$ ]] ||
		fail "$name: unexpected ready line '$line'"
	URL=http://${BASH_REMATCH[1]}
}

# req ARGS...: prints the status; body in $WORK/body, headers in $WORK/headers, curl's exit code
# in $WORK/rc.
req() {
	local rc=0
	curl -sS -m 20 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@" 2>"$WORK/curl.err" || rc=$?
	echo "$rc" >"$WORK/rc"
}

expect() {
	local want=$1 desc=$2 got
	shift 2
	got=$(req "$@")
	[ "$got" = "$want" ] || fail "$desc: expected HTTP $want, got $got ($(head -c 300 "$WORK/body" 2>/dev/null))"
}

# expect_json DESC JSON: the body, keys sorted and request_id dropped, equals JSON (compact).
expect_json() {
	local want got
	want=$(jq -cS . <<<"$2") || fail "$1: bad expected JSON"
	got=$(jq -cS 'if (.detail|type) == "object" then del(.detail.request_id) else . end' "$WORK/body" 2>/dev/null) ||
		fail "$1: body is not JSON: $(head -c 200 "$WORK/body")"
	[ "$got" = "$want" ] || fail "$1: body $got, expected $want"
}

expect_header() {
	grep -qi "^$2" "$WORK/headers" || fail "$1: no '$2' header in $(tr -d '\r' <"$WORK/headers" | tr '\n' '|')"
}

no_header() {
	! grep -qi "^$2" "$WORK/headers" || fail "$1: unexpected '$2' header"
}

# hex OFFSET COUNT: bytes of the body as one hex string.
hex() {
	od -An -tx1 -j "$1" -N "$2" "$WORK/body" | tr -d ' \n'
}

# expect_mp3 DESC RATE: the body is a mono MP3 at RATE Hz holding the 200 ms tone: it decodes
# (libmpg123 through mp3_info) to sound, not silence, and lasts the tone plus the encoder's
# delay and padding (under two frames).
expect_mp3() {
	local info ms peak
	cp "$WORK/body" "$WORK/body.mp3"
	info=$("$TESTBIN/mp3_info" "$WORK/body.mp3") || fail "$1: $info"
	[[ $info =~ :\ $2\ Hz,\ 1\ ch,\ ([0-9]+)\ ms,\ [0-9]+\ ms,\ peak\ ([0-9.]+) ]] || fail "$1: $info, expected $2 Hz mono"
	ms=${BASH_REMATCH[1]} peak=${BASH_REMATCH[2]}
	((ms >= 200 && ms <= 330)) || fail "$1: $ms ms of MP3 for a 200 ms tone"
	awk -v p="$peak" 'BEGIN { exit !(p > 0.1) }' || fail "$1: silent MP3 (peak $peak)"
}

body_len() {
	wc -c <"$WORK/body" | tr -d ' '
}

# expect_cut DESC ARGS...: curl must fail with 18 (partial file) or 56 (receive failure) after
# getting the status line: the body stopped without its final chunk.
expect_cut() {
	local desc=$1 got rc
	shift
	got=$(req "$@")
	rc=$(cat "$WORK/rc")
	[ "$got" = 200 ] || fail "$desc: expected a 200 that is cut, got $got"
	[ "$rc" = 18 ] || [ "$rc" = 56 ] || fail "$desc: curl exit $rc, expected 18 or 56 ($(cat "$WORK/curl.err"))"
}

faults() {
	expect 200 "admin/faults $1" -H "$AUTH" -X POST -d "$1" "$URL/admin/faults"
}

stats_has() {
	curl -sS -m 5 -H "$AUTH" "$URL/admin/stats" | grep -q "$1"
}

# wait_for DESC CMD...: runs CMD until it succeeds, for at most 10 s.
wait_for() {
	local desc=$1 deadline=$((SECONDS + 10))
	shift
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out waiting for $desc"
	done
}

requests_json() {
	curl -sS -m 5 -H "$AUTH" "$URL/admin/requests"
}

OPENAI=/v1/audio/speech
ELEVEN=/v1/text-to-speech
AUTH="Authorization: Bearer $T_MIMIC_KEY"
XI="xi-api-key: $T_MIMIC_KEY"
SARAH=EXAVITQu4vr4xnSDxMaL
RACHEL=21m00Tcm4TlvDq8ikWAM

# ---- settings the mimics refuse at start -------------------------------------------------

usage_fails() {
	local desc=$1 pat=$2 rc=0
	shift 2
	"$TTSD" --listen 127.0.0.1:0 "$@" 2>"$WORK/usage.err" </dev/null >/dev/null || rc=$?
	[ "$rc" = 2 ] || fail "$desc: expected exit 2, got $rc"
	grep -q -- "$pat" "$WORK/usage.err" || fail "$desc: stderr '$(cat "$WORK/usage.err")' lacks '$pat'"
}
usage_fails "unknown mimic" "--mimic" --mimic azure
usage_fails "fail-code the mimic lacks" "voice_not_found" --mimic openai --fail-code voice_not_found
usage_fails "fail-code without a mimic" "no --mimic" --fail-code rate_limit_exceeded
usage_fails "fail-text code without a mimic" "fail_text" --fail-text 'x=system_busy'
pass "unknown mimics and error names are usage errors (exit 2)"

# ---- OpenAI -------------------------------------------------------------------------------

start_ttsd openai --mimic openai --api-key-env T_MIMIC_KEY --seed 7
O='{"model":"tts-1","input":"Hello from the mimic.","voice":"alloy"'

expect 200 "openai wav" -H "$AUTH" -d "$O,\"response_format\":\"wav\"}" "$URL$OPENAI"
expect_header "openai wav" "Transfer-Encoding: chunked"
expect_header "openai wav" "Content-Type: audio/wav"
[ "$(hex 0 4)" = 52494646 ] || fail "openai wav: no RIFF"
[ "$(hex 4 4)" = ffffffff ] || fail "openai wav: RIFF size $(hex 4 4), expected the 0xFFFFFFFF placeholder"
[ "$(hex 40 4)" = ffffffff ] || fail "openai wav: data size $(hex 40 4), expected the 0xFFFFFFFF placeholder"
[ "$(hex 20 4)" = 01000100 ] || fail "openai wav: not PCM mono"
[ "$(hex 24 4)" = c05d0000 ] || fail "openai wav: rate $(hex 24 4), expected 24000 (c05d0000)"
wav_len=$(body_len)
[ "$wav_len" = 9644 ] || fail "openai wav: $wav_len bytes, expected 44 + 200 ms at 24 kHz (9644)"
expect 200 "openai pcm" -H "$AUTH" -d "$O,\"response_format\":\"pcm\"}" "$URL$OPENAI"
expect_header "openai pcm" "Transfer-Encoding: chunked"
[ "$(body_len)" = $((wav_len - 44)) ] || fail "openai pcm: $(body_len) bytes, expected the wav's samples ($((wav_len - 44)))"
[ "$(hex 0 4)" != 52494646 ] || fail "openai pcm: raw PCM has a RIFF header"
expect 200 "openai default format" -H "$AUTH" -d "$O}" "$URL$OPENAI"
expect_header "openai default format" "Content-Type: audio/mpeg"
expect_mp3 "openai default format (mp3)" 24000
pass "openai: streamed wav with 0xFFFFFFFF sizes at 24 kHz, raw pcm of the same length, mp3 by default"

expect 401 "openai no key" -d "$O}" "$URL$OPENAI"
expect_json "openai no key" '{"error":{"message":"You didn'"'"'t provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you'"'"'re accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":null}}'
expect 401 "openai wrong key" -H 'Authorization: Bearer sk-wrongwrongwrong1234' -d "$O}" "$URL$OPENAI"
expect_json "openai wrong key" '{"error":{"message":"Incorrect API key provided: sk-***************1234. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}'
expect 404 "openai unknown model" -H "$AUTH" -d '{"model":"tts-2","input":"hi","voice":"alloy"}' "$URL$OPENAI"
expect_json "openai unknown model" '{"error":{"message":"The model `tts-2` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}'
expect 400 "openai unknown voice" -H "$AUTH" -d '{"model":"tts-1","input":"hi","voice":"21m00Tcm4TlvDq8ikWAM"}' "$URL$OPENAI"
[ "$(jq -r .error.param "$WORK/body")" = voice ] || fail "openai unknown voice: param is not voice"
jq -r .error.message "$WORK/body" | grep -qF "Input should be 'alloy', 'ash', 'ballad', 'coral'" ||
	fail "openai unknown voice: message does not list the voices"
expect 400 "openai unknown field" -H "$AUTH" -d '{"model":"tts-1","input":"hi","voice":"alloy","language":"fr"}' "$URL$OPENAI"
expect_json "openai unknown field" '{"error":{"message":"Unrecognized request argument supplied: language","type":"invalid_request_error","param":null,"code":null}}'
long=$(head -c 4097 /dev/zero | tr '\0' a)
expect 400 "openai input over 4096" -H "$AUTH" -d "{\"model\":\"tts-1-hd\",\"input\":\"$long\",\"voice\":\"alloy\"}" "$URL$OPENAI"
[ "$(jq -r .error.param "$WORK/body")" = input ] || fail "openai input over 4096: param is not input"
expect 400 "openai gpt-4o-mini-tts input over 4096" -H "$AUTH" -d "{\"model\":\"gpt-4o-mini-tts\",\"input\":\"$long\",\"voice\":\"alloy\"}" "$URL$OPENAI"
expect 200 "openai input of 4096" -H "$AUTH" -d "{\"model\":\"tts-1\",\"input\":\"${long:1}\",\"voice\":\"alloy\"}" "$URL$OPENAI"
expect 400 "openai bad format" -H "$AUTH" -d "$O,\"response_format\":\"ogg\"}" "$URL$OPENAI"
[ "$(jq -r .error.param "$WORK/body")" = response_format ] || fail "openai bad format: param"
expect 400 "openai bad json" -H "$AUTH" -d '{"model":' "$URL$OPENAI"
expect 404 "openai: the elevenlabs route" -H "$AUTH" -d '{"text":"hi"}' "$URL$ELEVEN/$SARAH"
expect_json "openai: the elevenlabs route" "{\"error\":{\"message\":\"Invalid URL (POST $ELEVEN/$SARAH)\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"
pass "openai: 401 missing/invalid key, 404 model_not_found, 400 voice, field, length, format, JSON, route"

faults '{"fail_rate":1,"fail_code":"rate_limit_exceeded","ratelimit_reset":"6m0s","retry_after_ms":250}'
expect 429 "openai rate_limit_exceeded" -H "$AUTH" -d "$O}" "$URL$OPENAI"
[ "$(jq -cS '.error|{type,code}' "$WORK/body")" = '{"code":"rate_limit_exceeded","type":"requests"}' ] ||
	fail "openai rate_limit_exceeded: $(cat "$WORK/body")"
expect_header "openai rate_limit_exceeded" "x-ratelimit-reset-requests: 6m0s"
expect_header "openai rate_limit_exceeded" "x-ratelimit-remaining-requests: 0"
expect_header "openai rate_limit_exceeded" "retry-after-ms: 250"
faults '{"fail_code":"insufficient_quota","retry_after_ms":null}'
expect 429 "openai insufficient_quota" -H "$AUTH" -d "$O}" "$URL$OPENAI"
expect_json "openai insufficient_quota" '{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}'
no_header "openai insufficient_quota" "x-ratelimit-reset-requests"
for code in credit_balance_exhausted organization_spend_limit_exceeded project_spend_limit_exceeded; do
	faults "{\"fail_code\":\"$code\"}"
	expect 429 "openai $code" -H "$AUTH" -d "$O}" "$URL$OPENAI"
	[ "$(jq -r .error.code "$WORK/body")" = "$code" ] || fail "openai $code: code $(jq -r .error.code "$WORK/body")"
done
faults '{"fail_code":"conflict"}'
expect 409 "openai conflict" -H "$AUTH" -d "$O}" "$URL$OPENAI"
expect 400 "admin refuses a code the mimic lacks" -H "$AUTH" -X POST -d '{"fail_code":"system_busy"}' "$URL/admin/faults"
grep -q 'system_busy' "$WORK/body" || fail "admin refusal does not name the code"
expect 200 "faults unchanged by the refusal" -H "$AUTH" "$URL/admin/faults"
grep -q '"fail_code":"conflict"' "$WORK/body" || fail "a refused change altered the faults: $(cat "$WORK/body")"
faults '{"clear":true,"mimic":"openai","tone":true,"fail_text":{"QUOTA":"insufficient_quota","BUSY":503}}'
expect 429 "openai fail_text code" -H "$AUTH" -d '{"model":"tts-1","input":"QUOTA please","voice":"alloy"}' "$URL$OPENAI"
[ "$(jq -r .error.type "$WORK/body")" = insufficient_quota ] || fail "openai fail_text code: $(cat "$WORK/body")"
expect 503 "openai fail_text status" -H "$AUTH" -d '{"model":"tts-1","input":"BUSY","voice":"alloy"}' "$URL$OPENAI"
[ "$(jq -r .error.type "$WORK/body")" = server_error ] || fail "openai 503 body: $(cat "$WORK/body")"
pass "openai: 429 rate_limit_exceeded (reset headers) vs insufficient_quota and billing codes, 409, fail_text codes"

faults '{"truncate_rate":1}'
expect_cut "openai wav cut" -H "$AUTH" -d "$O,\"response_format\":\"wav\"}" "$URL$OPENAI"
[ "$(hex 4 4)" = ffffffff ] || fail "openai wav cut: the header did not arrive"
[ "$(body_len)" -lt "$wav_len" ] || fail "openai wav cut: the whole body arrived"
expect_cut "openai mp3 cut" -H "$AUTH" -d "$O}" "$URL$OPENAI"
faults '{"truncate_rate":0}'
pass "openai: truncate_rate 1 ends the chunked body without its final chunk (curl exit 18/56)"

expect 200 "request log reset" -H "$AUTH" -X POST "$URL/admin/requests/reset"
expect 200 "logged request" -H "$AUTH" -H 'Content-Type: application/json' -d "$O,\"response_format\":\"pcm\",\"speed\":1.5}" "$URL$OPENAI"
expect 401 "logged wrong key" -H 'Authorization: Bearer nope' -d "$O}" "$URL$OPENAI"
log=$(requests_json)
[ "$(jq -r '.total' <<<"$log")" = 2 ] || fail "request log: total is not 2: $log"
[ "$(jq -cS '.requests[0].body' <<<"$log")" = '{"input":"Hello from the mimic.","model":"tts-1","response_format":"pcm","speed":1.5,"voice":"alloy"}' ] ||
	fail "request log: body $(jq -c '.requests[0].body' <<<"$log")"
[ "$(jq -r '.requests[0].headers.authorization' <<<"$log")" = matched ] || fail "request log: key not 'matched': $log"
[ "$(jq -r '.requests[0].headers["content-type"]' <<<"$log")" = application/json ] || fail "request log: content-type"
[ "$(jq -r '.requests[1].headers.authorization' <<<"$log")" = mismatched ] || fail "request log: wrong key not 'mismatched'"
[ "$(jq -r '.requests[0].path' <<<"$log")" = "$OPENAI" ] || fail "request log: path"
! grep -q "$T_MIMIC_KEY" <<<"$log" || fail "request log: the key itself is recorded"
for _ in $(seq 1 260); do echo "url = \"$URL$OPENAI\""; echo 'data = "{}"'; echo 'output = /dev/null'; done >"$WORK/many.curl"
curl -sS -m 60 -K "$WORK/many.curl" || fail "260 requests for the log bound"
log=$(requests_json)
[ "$(jq -r '.kept' <<<"$log")" = 256 ] && [ "$(jq -r '.requests|length' <<<"$log")" = 256 ] ||
	fail "request log: not bounded at 256: kept $(jq -r .kept <<<"$log")"
[ "$(jq -r '.total' <<<"$log")" = 262 ] && [ "$(jq -r '.dropped' <<<"$log")" = 6 ] || fail "request log: total/dropped"
pass "openai: the request log records body, path, key match (never the key) and keeps the last 256"

# ---- Kokoro-FastAPI (set through -X: the same names as the flags) ------------------------

start_ttsd kokoro -X mimic=kokoro
expect 200 "kokoro default (stream, mp3)" -d '{"input":"Hello."}' "$URL$OPENAI"
expect_header "kokoro default" "Transfer-Encoding: chunked"
expect_header "kokoro default" "Content-Type: audio/mpeg"
expect_mp3 "kokoro default (mp3)" 24000
expect 200 "kokoro wav" -d '{"model":"kokoro","input":"Hello.","voice":"af_heart","response_format":"wav"}' "$URL$OPENAI"
expect_header "kokoro wav" "Transfer-Encoding: chunked"
[ "$(hex 4 4)" = ffffffff ] && [ "$(hex 40 4)" = ffffffff ] || fail "kokoro wav: sizes $(hex 4 4) $(hex 40 4), expected 0xFFFFFFFF"
[ "$(hex 24 4)" = c05d0000 ] || fail "kokoro wav: rate is not 24000"
expect 200 "kokoro wav, stream false" -d '{"input":"Hello.","response_format":"wav","stream":false}' "$URL$OPENAI"
no_header "kokoro wav, stream false" "Transfer-Encoding: chunked"
expect_header "kokoro wav, stream false" "Content-Length: 9644"
[ "$(hex 40 4)" = 80250000 ] && [ "$(hex 4 4)" = a4250000 ] || fail "kokoro whole file: sizes $(hex 4 4) $(hex 40 4)"
expect 200 "kokoro pcm" -d '{"model":"tts-1","input":"Hello.","voice":"af_bella+af_sky(0.3)","response_format":"pcm"}' "$URL$OPENAI"
[ "$(body_len)" = 9600 ] || fail "kokoro pcm: $(body_len) bytes, expected 200 ms at 24 kHz"
expect 200 "kokoro maps fable" -d '{"input":"Hello.","voice":"fable"}' "$URL$OPENAI"
pass "kokoro: streams by default (mp3), 0xFFFFFFFF wav at 24 kHz, whole file with stream false, pcm, voice mixes"

expect 400 "kokoro unknown model" -d '{"model":"tts-2","input":"hi"}' "$URL$OPENAI"
expect_json "kokoro unknown model" '{"detail":{"error":"invalid_model","message":"Unsupported model: tts-2","type":"invalid_request_error"}}'
expect 400 "kokoro unknown voice" -d '{"input":"hi","voice":"af_nobody"}' "$URL$OPENAI"
[ "$(jq -r .detail.error "$WORK/body")" = validation_error ] || fail "kokoro unknown voice: $(cat "$WORK/body")"
jq -r .detail.message "$WORK/body" | grep -q "^Voice 'af_nobody' not found. Available voices: af_alloy, af_aoede, af_bella" ||
	fail "kokoro unknown voice: message $(jq -r .detail.message "$WORK/body")"
expect 400 "kokoro alloy maps to a v0 voice" -d '{"input":"hi","voice":"alloy"}' "$URL$OPENAI"
jq -r .detail.message "$WORK/body" | grep -q "^Voice 'am_v0adam' not found" || fail "kokoro alloy: $(cat "$WORK/body")"
expect 422 "kokoro missing input" -d '{"voice":"af_heart"}' "$URL$OPENAI"
expect_json "kokoro missing input" '{"detail":[{"type":"missing","loc":["body","input"],"msg":"Field required","input":null}]}'
expect 422 "kokoro bad format" -d '{"input":"hi","response_format":"ogg"}' "$URL$OPENAI"
[ "$(jq -r '.detail[0].type' "$WORK/body")" = literal_error ] || fail "kokoro bad format: $(cat "$WORK/body")"
expect 200 "kokoro ignores unknown fields" -d '{"input":"hi","lang_code":"a","whatever":1}' "$URL$OPENAI"
faults '{"truncate_rate":1}'
expect_cut "kokoro wav cut" -d '{"input":"hi","response_format":"wav"}' "$URL$OPENAI"
expect_cut "kokoro whole file cut" -d '{"input":"hi","response_format":"wav","stream":false}' "$URL$OPENAI"
faults '{"truncate_rate":0,"fail_rate":1,"fail_code":"processing_error"}'
expect 500 "kokoro processing_error" -d '{"input":"hi"}' "$URL$OPENAI"
[ "$(jq -cS '.detail|{error,type}' "$WORK/body")" = '{"error":"processing_error","type":"server_error"}' ] ||
	fail "kokoro processing_error: $(cat "$WORK/body")"
pass "kokoro: 400 invalid_model and voice validation_error, 422 FastAPI bodies, cut bodies, 500 processing_error"

# ---- ElevenLabs ---------------------------------------------------------------------------

start_ttsd eleven --mimic elevenlabs --tier free --api-key-env T_MIMIC_KEY
E='{"text":"Hello from the mimic.","model_id":"eleven_multilingual_v2"}'

expect 422 "elevenlabs missing text (before the key)" -d '{"model_id":"eleven_v3"}' "$URL$ELEVEN/$SARAH"
expect_json "elevenlabs missing text" '{"detail":[{"type":"missing","loc":["body","text"],"msg":"Field required","input":null}]}'
expect 401 "elevenlabs no key" -d "$E" "$URL$ELEVEN/$SARAH"
expect_json "elevenlabs no key" '{"detail":{"type":"authentication_error","code":"unauthorized","message":"Neither authorization header nor xi-api-key received, please provide one.","status":"needs_authorization"}}'
expect 401 "elevenlabs wrong key" -H 'xi-api-key: nope' -d "$E" "$URL$ELEVEN/$SARAH"
expect_json "elevenlabs wrong key" '{"detail":{"type":"authentication_error","code":"unauthorized","message":"Invalid API key","status":"invalid_api_key"}}'
jq -e '.detail.request_id|test("^[0-9a-f]{32}$")' "$WORK/body" >/dev/null || fail "elevenlabs: no request_id"
expect 404 "elevenlabs unknown voice" -H "$XI" -d "$E" "$URL$ELEVEN/alloy"
[ "$(jq -cS '.detail|{status,message}' "$WORK/body")" = '{"message":"A voice with the voice_id alloy was not found.","status":"voice_not_found"}' ] ||
	fail "elevenlabs unknown voice: $(cat "$WORK/body")"
expect 404 "elevenlabs unknown model" -H "$XI" -d '{"text":"hi","model_id":"eleven_v9"}' "$URL$ELEVEN/$SARAH"
[ "$(jq -r .detail.status "$WORK/body")" = model_not_found ] || fail "elevenlabs unknown model: $(cat "$WORK/body")"
expect 403 "elevenlabs pcm_44100 on free" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_44100"
[ "$(jq -r .detail.status "$WORK/body")" = subscription_required ] || fail "elevenlabs 44.1 kHz: $(cat "$WORK/body")"
expect 403 "elevenlabs wav_44100 on free" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=wav_44100"
expect 402 "elevenlabs library voice on free" -H "$XI" -d "$E" "$URL$ELEVEN/$RACHEL"
expect_json "elevenlabs library voice on free" '{"detail":{"type":"payment_required","code":"paid_plan_required","message":"Free users cannot use library voices via the API. Please upgrade your subscription to use this voice.","status":"payment_required"}}'
v3=$(head -c 3001 /dev/zero | tr '\0' a)
expect 400 "elevenlabs eleven_v3 over 3000" -H "$XI" -d "{\"text\":\"$v3\",\"model_id\":\"eleven_v3\"}" "$URL$ELEVEN/$SARAH"
[ "$(jq -r .detail.status "$WORK/body")" = max_character_limit_exceeded ] || fail "elevenlabs length: $(cat "$WORK/body")"
expect 200 "elevenlabs 3001 on multilingual_v2" -H "$XI" -d "{\"text\":\"$v3\"}" "$URL$ELEVEN/$SARAH?output_format=pcm_8000"
expect 400 "elevenlabs unknown output_format" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=flac_44100"
expect 400 "elevenlabs opus (real, not encodable here)" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=opus_48000_64"
jq -r .detail.message "$WORK/body" | grep -q "cannot encode" || fail "elevenlabs opus: $(cat "$WORK/body")"
expect 404 "elevenlabs: the openai route" -H "$XI" -d '{"input":"hi"}' "$URL$OPENAI"
expect_json "elevenlabs: the openai route" '{"detail":"Not Found"}'
pass "elevenlabs: 422 before the key, 401 needs_authorization/invalid_api_key, 404 voice/model, 403 and 402 on free, 400 length"

expect 200 "elevenlabs default mp3" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH"
expect_header "elevenlabs default mp3" "Content-Type: audio/mpeg"
expect_mp3 "elevenlabs default mp3_44100_128" 44100
expect 200 "elevenlabs mp3_22050_32" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=mp3_22050_32"
expect_mp3 "elevenlabs mp3_22050_32" 22050
expect 200 "elevenlabs wav_22050" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=wav_22050"
expect_header "elevenlabs wav_22050" "Transfer-Encoding: chunked"
[ "$(hex 4 4)" = ffffff7f ] && [ "$(hex 40 4)" = ffffff7f ] || fail "elevenlabs wav: sizes $(hex 4 4) $(hex 40 4), expected 0x7FFFFFFF"
[ "$(hex 24 4)" = 22560000 ] || fail "elevenlabs wav_22050: rate $(hex 24 4)"
[ "$(body_len)" = $((44 + 8820)) ] || fail "elevenlabs wav_22050: $(body_len) bytes"
expect 200 "elevenlabs pcm_16000" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_16000"
[ "$(body_len)" = 6400 ] || fail "elevenlabs pcm_16000: $(body_len) bytes, expected 200 ms of 16-bit at 16 kHz"
expect 200 "elevenlabs pcm_24000" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_24000"
[ "$(body_len)" = 9600 ] || fail "elevenlabs pcm_24000: $(body_len) bytes"
expect 200 "elevenlabs pcm_8000" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_8000"
pcm8=$(body_len)
cp "$WORK/body" "$WORK/pcm8"
expect 200 "elevenlabs ulaw_8000" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=ulaw_8000"
[ "$(body_len)" = $((pcm8 / 2)) ] || fail "elevenlabs ulaw_8000: $(body_len) bytes, expected one per pcm_8000 sample ($((pcm8 / 2)))"
# The µ-law bytes are G.711 of the pcm_8000 samples (the reference encoder's arithmetic).
python3 - "$WORK/pcm8" "$WORK/body" <<'PY' || fail "elevenlabs ulaw_8000: bytes are not G.711 µ-law of the pcm_8000 samples"
import struct, sys
pcm, ulaw = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
def enc(s):
    v, mask = s >> 2, 0xFF
    if v < 0:
        v, mask = -v, 0x7F
    v = min(v, 8159) + 0x21
    seg = 0
    while seg < 8 and v > (0x40 << seg) - 1:
        seg += 1
    return (0x7F if seg == 8 else (seg << 4) | ((v >> (seg + 1)) & 0x0F)) ^ mask
samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm)
sys.exit(0 if bytes(enc(s) for s in samples) == ulaw else 1)
PY
[ "$(hex 0 4)" != 52494646 ] || fail "elevenlabs ulaw_8000: has a header"
faults '{"tier":"pro"}'
expect 200 "elevenlabs pcm_44100 on pro" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_44100"
[ "$(body_len)" = 17640 ] || fail "elevenlabs pcm_44100: $(body_len) bytes"
expect 200 "elevenlabs library voice on pro" -H "$XI" -d "$E" "$URL$ELEVEN/$RACHEL"
faults '{"voices":["myvoice01"],"tier":"free"}'
expect 200 "elevenlabs --voices" -H "$XI" -d "$E" "$URL$ELEVEN/myvoice01?output_format=pcm_16000"
expect 404 "elevenlabs --voices replaces the list" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH"
pass "elevenlabs: mp3 default, wav with 0x7FFFFFFF, pcm and ulaw lengths exact, tiers and voice lists from admin"

# The free plan holds two requests at once: two held (hang) are fine, a third is a 429 at once.
faults '{"voices":""}'
expect 200 "elevenlabs concurrency headers" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_8000"
expect_header "elevenlabs concurrency headers" "current-concurrent-requests: 1"
expect_header "elevenlabs concurrency headers" "maximum-concurrent-requests: 2"
faults '{"hang_rate":1}'
held=()
for _ in 1 2; do
	curl -s -m 60 -o /dev/null -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH" &
	held+=($!)
done
wait_for "2 requests held" stats_has '"in_flight":2,'
expect 429 "elevenlabs third request on free" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH"
[ "$(jq -r .detail.status "$WORK/body")" = too_many_concurrent_requests ] || fail "elevenlabs concurrency: $(cat "$WORK/body")"
expect_header "elevenlabs third request on free" "current-concurrent-requests: 2"
expect_header "elevenlabs third request on free" "maximum-concurrent-requests: 2"
jq -r .detail.message "$WORK/body" | grep -q "maximum of 2 concurrent requests" || fail "elevenlabs concurrency: message $(cat "$WORK/body")"
kill "${held[@]}"
wait "${held[@]}" 2>/dev/null || true
wait_for "held requests to end" stats_has '"in_flight":0,'
faults '{"hang_rate":0}'
pass "elevenlabs: concurrency headers, and 429 too_many_concurrent_requests past the plan's limit"

faults '{"fail_rate":1,"fail_code":"system_busy"}'
expect 429 "elevenlabs system_busy" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH"
[ "$(jq -r .detail.status "$WORK/body")" = system_busy ] || fail "elevenlabs system_busy: $(cat "$WORK/body")"
faults '{"fail_rate":0,"fail_code":"","fail_text":{"CONCURRENT":"too_many_concurrent_requests"}}'
expect 429 "elevenlabs too_many_concurrent_requests" -H "$XI" -d '{"text":"CONCURRENT now"}' "$URL$ELEVEN/$SARAH"
[ "$(jq -r .detail.status "$WORK/body")" = too_many_concurrent_requests ] || fail "elevenlabs concurrency: $(cat "$WORK/body")"
faults '{"truncate_rate":1}'
expect_cut "elevenlabs pcm cut" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_16000"
[ "$(body_len)" -lt 6400 ] || fail "elevenlabs pcm cut: the whole body arrived"
faults '{"truncate_rate":0}'

expect 200 "request log reset" -H "$AUTH" -X POST "$URL/admin/requests/reset"
expect 200 "logged elevenlabs request" -H "$XI" -d "$E" "$URL$ELEVEN/$SARAH?output_format=pcm_16000"
log=$(requests_json)
[ "$(jq -r '.requests[0].query.output_format' <<<"$log")" = pcm_16000 ] || fail "request log: query $log"
[ "$(jq -r '.requests[0].headers["xi-api-key"]' <<<"$log")" = matched ] || fail "request log: xi-api-key $log"
[ "$(jq -r '.requests[0].body.model_id' <<<"$log")" = eleven_multilingual_v2 ] || fail "request log: model_id"
[ "$(jq -r '.requests[0].path' <<<"$log")" = "$ELEVEN/$SARAH" ] || fail "request log: path"
pass "elevenlabs: system_busy and too_many_concurrent_requests, cut pcm, request log with query and key match"

# Stop every server cleanly: in a SANITIZE=1 build, ASan, LSan and UBSan report in their logs.
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || fail "a server did not exit 0 on SIGTERM"; done
PIDS=()
! grep -lE 'runtime error|AddressSanitizer|LeakSanitizer' "$WORK"/*.log || fail "sanitizer reports in the server logs"
pass "every server stopped cleanly, no sanitizer report"

echo "t_ttsd_mimic: all checks passed"
