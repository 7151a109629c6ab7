#!/usr/bin/env bash
# t_ttsd_account.sh - voxcast-ttsd playing a provider account: the concurrency limit (429
# too_many_concurrent_requests, current-/maximum-concurrent-requests on every answer), the rate
# (429 with Retry-After, recovered once it has passed), the counters that prove both
# (/admin/stats, /admin/reset), real MP3 audio, and the hardening: /admin needs the key, a wrong
# key is answered before any latency, connections beyond --max-connections are refused.
#
# Runs the real binary from $VOXCAST_BIN on free ports, learns each port from the ready line
# through a FIFO, and waits only on conditions with deadlines (or for a Retry-After the server
# itself asked for). Each failed check exits non-zero with a line saying which check failed.
set -euo pipefail

BIN=${VOXCAST_BIN:?VOXCAST_BIN must name the directory holding voxcast-ttsd}
TESTBIN=${VOXCAST_TESTBIN:?VOXCAST_TESTBIN must name the directory holding mp3_info and audio_check}
TTSD=$BIN/voxcast-ttsd
WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_ttsd_account.XXXXXX")
PIDS=()
export T_ACCOUNT_KEY=k-account-0123456789

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

# start_ttsd NAME ARGS...: starts a server, waits for its ready line, sets URL.
start_ttsd() {
	local name=$1 line fd
	shift
	mkfifo "$WORK/$name.fifo"
	"$TTSD" --listen 127.0.0.1:0 "$@" >"$WORK/$name.fifo" 2>"$WORK/$name.log" &
	PIDS+=($!)
	exec {fd}<"$WORK/$name.fifo"
	read -r -t 10 line <&"$fd" || fail "$name: no 'listening on' line within 10 s"
	exec {fd}<&-
	[[ $line =~ ^voxcast-ttsd\ listening\ on\ (127\.0\.0\.1:[0-9]+)$ ]] ||
		fail "$name: unexpected ready line '$line'"
	URL=http://${BASH_REMATCH[1]}
}

# req ARGS...: one curl call; prints the status, leaves the body in $WORK/body and the headers
# in $WORK/headers. A transport failure prints "000".
req() {
	curl -sS -m 30 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@" 2>"$WORK/curl.err" || true
}

expect() {
	local want=$1 desc=$2 got
	shift 2
	got=$(req "$@")
	[ "$got" = "$want" ] || fail "$desc: expected HTTP $want, got $got ($(head -c 300 "$WORK/body" 2>/dev/null))"
}

# header NAME [FILE]: the value of a response header (last one), without the CR.
header() {
	grep -i "^$1:" "${2:-$WORK/headers}" | tail -n 1 | cut -d: -f2- | tr -d ' \r'
}

# wait_for DESC CMD...: runs CMD until it succeeds, for at most 15 s.
wait_for() {
	local desc=$1 deadline=$((SECONDS + 15))
	shift
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out waiting for $desc"
	done
}

ADMIN=()   # the admin routes' key header, once a server needs one
stats() { curl -sS -m 5 "${ADMIN[@]}" "$URL/admin/stats"; }
stat() { stats | jq -r "$1"; }
stat_is() { [ "$(stat "$1")" = "$2" ]; }

OPENAI=/v1/audio/speech
ELEVEN=/v1/text-to-speech

# concurrent N ROUTE_PATH BODY TAG [CURL ARGS...]: N requests in the background, each leaving
# $WORK/TAG.I.{code,body,headers}; their pids are appended to BG.
BG=()
concurrent() {
	local n=$1 path=$2 body=$3 tag=$4 i
	shift 4
	for ((i = 1; i <= n; i++)); do
		curl -sS -m 30 -o "$WORK/$tag.$i.body" -D "$WORK/$tag.$i.headers" -w '%{http_code}' "$@" -d "$body" \
			"$URL$path" >"$WORK/$tag.$i.code" 2>/dev/null &
		BG+=($!)
	done
}

# ---- concurrency: N held + k more = exactly k 429s, with ElevenLabs' body and headers ------

# N = 3 admitted requests are held by a 4 s latency; once the server counts them, k = 2 more
# arrive and must be refused at once; then the 3 finish with 200. Every answer carries the
# headers; the refusals name the limit.
start_ttsd conc --tone --max-concurrent 3 --latency-ms 4000
"$TTSD" --help | grep -- '--max-concurrent' >/dev/null || fail "--help does not list --max-concurrent"
BG=()
concurrent 3 "$ELEVEN/en" '{"text":"held"}' held
wait_for "3 requests admitted" stat_is .account.in_flight 3
concurrent 2 "$ELEVEN/en" '{"text":"over"}' over
wait "${BG[@]}"
codes=$(for f in "$WORK"/held.*.code "$WORK"/over.*.code; do cat "$f"; echo; done | sort | tr '\n' ' ')
[ "$codes" = "200 200 200 429 429 " ] || fail "concurrency: statuses $codes, expected 3 x 200 and exactly 2 x 429"
for i in 1 2; do
	b="$WORK/over.$i.body" h="$WORK/over.$i.headers"
	[ "$(jq -r '.detail.status' "$b")" = too_many_concurrent_requests ] || fail "concurrency: 429 body $(cat "$b")"
	jq -r '.detail.message' "$b" | grep -q 'maximum of 3 concurrent requests (running in parallel)' ||
		fail "concurrency: 429 message $(cat "$b")"
	[ "$(header current-concurrent-requests "$h")" = 3 ] || fail "concurrency: 429 current-concurrent-requests $(header current-concurrent-requests "$h")"
	[ "$(header maximum-concurrent-requests "$h")" = 3 ] || fail "concurrency: 429 maximum-concurrent-requests"
done
for i in 1 2 3; do
	h="$WORK/held.$i.headers"
	[ "$(header maximum-concurrent-requests "$h")" = 3 ] || fail "concurrency: a 200 lacks maximum-concurrent-requests: 3"
	[[ $(header current-concurrent-requests "$h") =~ ^[123]$ ]] || fail "concurrency: a 200's current-concurrent-requests"
	[ "$(head -c 4 "$WORK/held.$i.body")" = RIFF ] || fail "concurrency: a 200 is not audio"
done
wait_for "slots given back" stat_is .account.in_flight 0
[ "$(stat .throttled_concurrency)" = 2 ] && [ "$(stat .throttled_rate)" = 0 ] || fail "concurrency: stats $(stats)"
[ "$(stat '.by_status."429"')" = 2 ] && [ "$(stat '.by_status."200"')" = 3 ] || fail "concurrency: by_status $(stats)"
peak=$(stat .peak_in_flight)
((peak >= 4 && peak <= 5)) || fail "concurrency: peak_in_flight $peak, expected the 3 held and at least one refused"
expect 200 "a slot is free again" -d '{"text":"after"}' "$URL$ELEVEN/en"
[ "$(header current-concurrent-requests)" = 1 ] || fail "after: current-concurrent-requests $(header current-concurrent-requests)"
pass "3 held + 2 more: exactly 2 x 429 too_many_concurrent_requests; headers on every answer; slots come back"

# The same on the OpenAI route (its own envelope) and at runtime through /admin/faults.
expect 200 "faults: max_concurrent 1, no latency" -X POST -d '{"max_concurrent":1,"latency_ms":0,"hang_rate":1}' "$URL/admin/faults"
BG=()
concurrent 1 "$OPENAI" '{"input":"held"}' hung
wait_for "1 request held" stat_is .account.in_flight 1
expect 429 "openai route over the limit" -d '{"input":"over"}' "$URL$OPENAI"
[ "$(jq -r '.error.code' "$WORK/body")" = too_many_concurrent_requests ] &&
	[ "$(jq -r '.error.type' "$WORK/body")" = requests ] || fail "openai route 429 body $(cat "$WORK/body")"
kill "${BG[@]}"
wait "${BG[@]}" 2>/dev/null || true
wait_for "the held request to end" stat_is .account.in_flight 0
pass "openai route: its own 429 envelope (code too_many_concurrent_requests); limits change at runtime"

# A mimic: the ElevenLabs free plan (2) overridden by --max-concurrent 1; OpenAI's mimic answers
# rate_limit_exceeded.
start_ttsd elimit --tone --mimic elevenlabs --tier free --max-concurrent 1 --hang-rate 1
BG=()
concurrent 1 "$ELEVEN/EXAVITQu4vr4xnSDxMaL" '{"text":"held"}' ehung
wait_for "1 request held" stat_is .account.in_flight 1
expect 429 "elevenlabs mimic over --max-concurrent" -d '{"text":"over"}' "$URL$ELEVEN/EXAVITQu4vr4xnSDxMaL"
[ "$(jq -r '.detail.status' "$WORK/body")" = too_many_concurrent_requests ] &&
	[ "$(jq -r '.detail.code' "$WORK/body")" = concurrent_limit_exceeded ] || fail "elevenlabs mimic 429 $(cat "$WORK/body")"
[ "$(header maximum-concurrent-requests)" = 1 ] || fail "elevenlabs mimic: the flag does not override the plan"
kill "${BG[@]}"
wait "${BG[@]}" 2>/dev/null || true
pass "mimic elevenlabs: --max-concurrent overrides the plan's limit, 429 in the mimic's own shape"

# ---- rate: 429 with Retry-After beyond it, 200 again once Retry-After has passed ---------

# One request per second, a burst of one: the second request at once is refused, and so is a
# third (on the other route) as long as the second of the bucket has not passed.
start_ttsd rate --tone --rate 1
expect 200 "rate: the one token" -d '{"input":"hi"}' "$URL$OPENAI"
expect 429 "rate: second request at once" -d '{"input":"hi"}' "$URL$OPENAI"
[ "$(jq -r '.error.code' "$WORK/body")" = rate_limit_exceeded ] || fail "rate: 429 body $(cat "$WORK/body")"
ra=$(header retry-after)
[ "$ra" = 1 ] || fail "rate: Retry-After '$ra', expected 1 (the next token within a second, rounded up)"
[[ $(header x-ratelimit-reset-requests) =~ ^[0-9]+ms$ ]] || fail "rate: no x-ratelimit-reset-requests"
[ -z "$(header current-concurrent-requests)" ] || fail "rate: concurrency headers without a concurrency limit"
expect 429 "rate: elevenlabs route" -d '{"text":"hi"}' "$URL$ELEVEN/en"
[ "$(jq -r '.detail.status' "$WORK/body")" = system_busy ] || fail "rate: elevenlabs 429 body $(cat "$WORK/body")"
sleep "$ra"   # what the server asked for: the token must be back by then
expect 200 "rate: after Retry-After" -d '{"input":"hi"}' "$URL$OPENAI"
[ "$(stat .throttled_rate)" = 2 ] && [ "$(stat .throttled_concurrency)" = 0 ] || fail "rate: stats $(stats)"
pass "--rate 1: 429 + Retry-After: 1 (+ x-ratelimit-reset-requests) beyond it, 200 once that passed"

# The counters a rate test needs: every request in the per-second histogram, first/last times,
# and /admin/reset zeroing them.
s=$(stats)
[ "$(jq '[.per_second[][1]] | add' <<<"$s")" = "$(jq .requests <<<"$s")" ] || fail "stats: per_second does not add up: $s"
now_ms=$(($(date +%s) * 1000))
first=$(jq .first_request_ms <<<"$s") last=$(jq .last_request_ms <<<"$s")
((first > 0 && first <= last && last <= now_ms + 1000 && now_ms - first < 60000)) || fail "stats: first/last $first $last"
[ "$(jq .account.rate <<<"$s")" = 1 ] || fail "stats: account.rate $s"
expect 200 "admin reset" -X POST "$URL/admin/reset"
[ "$(jq -c '[.requests,.throttled_rate,.peak_in_flight,.first_request_ms,(.per_second|length)]' "$WORK/body")" = "[0,0,0,0,0]" ] ||
	fail "admin reset: $(cat "$WORK/body")"
pass "stats: per-second histogram, first/last request time, POST /admin/reset zeroes them"

# The mimic's rate refusal: OpenAI's x-ratelimit-* say the real limit (per minute) and reset.
start_ttsd orate --tone --mimic openai --rate 1
O='{"model":"tts-1","input":"hi","voice":"alloy","response_format":"wav"}'
expect 200 "openai mimic: the one token" -d "$O" "$URL$OPENAI"
expect 429 "openai mimic: over the rate" -d "$O" "$URL$OPENAI"
[ "$(jq -r '.error.code' "$WORK/body")" = rate_limit_exceeded ] && [ "$(jq -r '.error.type' "$WORK/body")" = requests ] ||
	fail "openai mimic 429 $(cat "$WORK/body")"
[ "$(header x-ratelimit-limit-requests)" = 60 ] && [ "$(header x-ratelimit-remaining-requests)" = 0 ] &&
	[ "$(header retry-after)" = 1 ] || fail "openai mimic 429 headers: $(tr '\r\n' ' |' <"$WORK/headers")"
pass "mimic openai: rate_limit_exceeded with x-ratelimit-limit-requests 60 (1/s) and Retry-After"

# ---- MP3 is real speech ----------------------------------------------------------------------

# espeak-ng (no --tone): the MP3 of a text decodes to sound and lasts as long as its WAV, plus
# LAME's delay and padding (under two frames).
start_ttsd mp3
TEXT='{"input":"The quick brown fox jumps over the lazy dog.","response_format":"wav"}'
expect 200 "mp3: the wav" -d "$TEXT" "$URL$OPENAI"
cp "$WORK/body" "$WORK/speech.wav"
wav_ms=$("$TESTBIN/audio_check" --info "$WORK/speech.wav" | sed -n 's/.* \([0-9]*\) ms$/\1/p')
expect 200 "mp3: the mp3" -d "${TEXT/wav/mp3}" "$URL$OPENAI"
grep -qi '^Content-Type: audio/mpeg' "$WORK/headers" || fail "mp3: content type"
cp "$WORK/body" "$WORK/speech.mp3"
info=$("$TESTBIN/mp3_info" "$WORK/speech.mp3") || fail "mp3: $info"
[[ $info =~ :\ 22050\ Hz,\ 1\ ch,\ ([0-9]+)\ ms,\ ([0-9]+)\ ms,\ peak\ ([0-9.]+),\ rms\ ([0-9.]+) ]] || fail "mp3: $info"
mp3_ms=${BASH_REMATCH[1]} dec_ms=${BASH_REMATCH[2]} peak=${BASH_REMATCH[3]} rms=${BASH_REMATCH[4]}
((wav_ms > 1000)) || fail "mp3: the WAV of a sentence lasts only $wav_ms ms"
((mp3_ms >= wav_ms && mp3_ms <= wav_ms + 150)) || fail "mp3: $mp3_ms ms of MP3 for $wav_ms ms of speech"
((dec_ms >= wav_ms - 10 && dec_ms <= wav_ms + 150)) || fail "mp3: decodes to $dec_ms ms for $wav_ms ms of speech"
awk -v p="$peak" -v r="$rms" 'BEGIN { exit !(p > 0.2 && r > 0.02) }' || fail "mp3: silent or near it: $info"
pass "mp3 is speech: $mp3_ms ms (wav $wav_ms ms), peak $peak, rms $rms"

expect 200 "faults: truncate" -X POST -d '{"truncate_rate":1}' "$URL/admin/faults"
expect 200 "mp3: truncated" -d "${TEXT/wav/mp3}" "$URL$OPENAI"
cp "$WORK/body" "$WORK/cut.mp3"
! "$TESTBIN/audio_check" "$WORK/cut.mp3" >/dev/null || fail "mp3: a truncated MP3 still passes validation"
pass "mp3: a truncated answer stops inside its first frame"

# ---- hardening: /admin needs the key, a wrong key gets no latency, connection cap -----------

start_ttsd keyed --tone --api-key-env T_ACCOUNT_KEY --latency-ms 4000
expect 401 "admin without a key" "$URL/admin/stats"
expect 401 "admin with a wrong key" -H 'Authorization: Bearer nope' "$URL/admin/stats"
expect 401 "admin faults without a key" -X POST -d '{"fail_rate":1}' "$URL/admin/faults"
expect 401 "admin reset without a key" -X POST "$URL/admin/reset"
expect 401 "admin requests without a key" "$URL/admin/requests"
expect 200 "health needs no key" "$URL/health"
expect 200 "admin with the key (bearer)" -H "Authorization: Bearer $T_ACCOUNT_KEY" "$URL/admin/faults"
[ "$(jq -r .fail_rate "$WORK/body")" = 0 ] || fail "admin: a keyless POST changed the faults"
expect 200 "admin with the key (xi-api-key)" -H "xi-api-key: $T_ACCOUNT_KEY" "$URL/admin/stats"
! grep -q "$T_ACCOUNT_KEY" "$WORK/keyed.log" || fail "the API key appears in the server log"
pass "with --api-key-env, every /admin route answers 401 without the key (health stays open)"

# A wrong key is answered before the 4 s latency: within 2 s (curl gives up after that); the
# right key waits the latency out.
got=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' -d '{"input":"hi"}' "$URL$OPENAI" 2>&1) ||
	fail "wrong key: no answer within 2 s (latency served before the key check?) $got"
[ "$got" = 401 ] || fail "wrong key: HTTP $got"
got=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' -H 'xi-api-key: nope' -d '{"text":"hi"}' "$URL$ELEVEN/en" 2>&1) ||
	fail "wrong xi-api-key: no answer within 2 s $got"
[ "$got" = 401 ] || fail "wrong xi-api-key: HTTP $got"
t=$(curl -sS -m 20 -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $T_ACCOUNT_KEY" -d '{"input":"hi"}' "$URL$OPENAI")
[ "${t%% *}" = 200 ] && awk -v t="${t#* }" 'BEGIN { exit !(t >= 4.0) }' || fail "right key: '$t', expected 200 after the 4 s latency"
ADMIN=(-H "Authorization: Bearer $T_ACCOUNT_KEY")
[ "$(stat '.by_status."401"')" = 2 ] || fail "wrong keys not counted: $(stats)"
start_ttsd keyedmimic --tone --mimic openai --api-key-env T_ACCOUNT_KEY --latency-ms 4000
got=$(curl -sS -m 2 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sk-wrong' -d "$O" "$URL$OPENAI" 2>&1) ||
	fail "mimic wrong key: no answer within 2 s $got"
[ "$got" = 401 ] || fail "mimic wrong key: HTTP $got"
pass "a wrong key gets its 401 at once; latency is served only after the key check"

# --max-connections 2: with two connections held, a third is closed at accept without an answer;
# once they end, the server answers again and counts what it refused.
ADMIN=()
start_ttsd capped --tone --max-connections 2 --hang-rate 1
"$TTSD" --help | grep -- '--max-connections' >/dev/null || fail "--help does not list --max-connections"
# hold I: a request held (hang) in slot I; its status lands in cap.I.code when it ends.
CAP=()
hold() {
	: >"$WORK/cap.$1.code"
	curl -s -m 60 -o /dev/null -w '%{http_code}' -d '{"input":"held"}' "$URL$OPENAI" >"$WORK/cap.$1.code" 2>/dev/null &
	CAP[$1]=$!
}
# at_cap: keeps two requests held (one the cap refused while a probe was open is sent again) and
# succeeds once a probe is refused.
at_cap() {
	local i
	for i in 0 1; do
		if [ -s "$WORK/cap.$i.code" ]; then hold "$i"; fi
	done
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/health")" = 000 ]
}
hold 0
hold 1
wait_for "a connection refused at the cap" at_cap
kill "${CAP[@]}" 2>/dev/null || true
wait "${CAP[@]}" 2>/dev/null || true
served() { [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ]; }
wait_for "the server to answer again" served
n=$(stat .refused_connections)
((n >= 1)) || fail "max-connections: refused_connections $n"
set +e
"$TTSD" --max-connections 0 2>"$WORK/usage.err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- '--max-connections' "$WORK/usage.err" || fail "--max-connections 0: exit $rc"
pass "--max-connections 2: a third connection is closed unanswered ($n refused), then served again"

# Stop every server cleanly: in a SANITIZE=1 build, ASan, LSan and UBSan report in their logs.
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
for log in "$WORK"/*.log; do
	! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" || fail "sanitizer report in $log"
done
pass "every server stopped cleanly, no sanitizer report"

echo "t_ttsd_account: all checks passed"
