#!/usr/bin/env bash
# t_ttsd.sh - voxcast-ttsd as a client sees it: both API shapes, request errors, deterministic
# and runtime faults, the counters tests rely on, API keys, and the exit codes of bad starts.
#
# Runs the real binary from $VOXCAST_BIN on a free port (--listen 127.0.0.1:0), learns the port
# from its ready line through a FIFO, and never sleeps: every wait is a condition polled against
# a deadline. Each failed check exits non-zero with a line saying which check failed.
set -euo pipefail

BIN=${VOXCAST_BIN:?VOXCAST_BIN must name the directory holding voxcast-ttsd}
TTSD=$BIN/voxcast-ttsd
WORK=$(mktemp -d "${TMPDIR:-/tmp}/t_ttsd.XXXXXX")
PIDS=()
export T_TTSD_KEY=k-test-0123456789

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
	curl -sS -m 20 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@" 2>"$WORK/curl.err" || true
}

# expect STATUS DESC ARGS...: req must answer STATUS.
expect() {
	local want=$1 desc=$2 got
	shift 2
	got=$(req "$@")
	[ "$got" = "$want" ] || fail "$desc: expected HTTP $want, got $got ($(head -c 200 "$WORK/body" 2>/dev/null))"
}

expect_riff() {
	[ "$(head -c 4 "$WORK/body")" = RIFF ] || fail "$1: body does not start with RIFF"
}

# expect_mpeg DESC: the body starts with an MPEG audio frame sync (11 bits set).
expect_mpeg() {
	local b
	read -r -a b < <(od -An -tu1 -N2 "$WORK/body")
	[ "${b[0]:-0}" = 255 ] && (((${b[1]:-0} & 224) == 224)) || fail "$1: no MPEG frame sync"
}

expect_header() {
	grep -qi "^$2" "$WORK/headers" || fail "$1: no '$2' header"
}

stats_has() {
	curl -sS -m 5 "$URL/admin/stats" | grep -q "$1"
}

expect_stats() {
	local s
	s=$(curl -sS -m 5 "$URL/admin/stats")
	for pat in "$@"; do
		[[ $s == *"$pat"* ]] || fail "stats: expected $pat in $s"
	done
}

# wait_for DESC CMD...: runs CMD until it succeeds, for at most 10 s.
wait_for() {
	local desc=$1 deadline=$((SECONDS + 10))
	shift
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out waiting for $desc"
	done
}

OPENAI=/v1/audio/speech
ELEVEN=/v1/text-to-speech

# ---- usage and bind errors --------------------------------------------------------------

set +e
"$TTSD" --fail-rate 2 2>"$WORK/usage.err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "bad --fail-rate: expected exit 2, got $rc"
grep -q -- '--fail-rate' "$WORK/usage.err" || fail "bad --fail-rate: stderr does not name the flag"
pass "usage error exits 2 naming the flag"

# ---- server A: audio, request errors, faults, stats -------------------------------------

start_ttsd a --fail-text BAD400=400 --fail-text PERM503=503 --seed 7

set +e
"$TTSD" --listen "${URL#http://}" 2>"$WORK/bind.err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "busy port: expected exit 1, got $rc"
grep -q "${URL#http://}" "$WORK/bind.err" || fail "busy port: stderr does not name the address"
pass "bind failure exits 1 naming the address"

expect 200 "health" "$URL/health"
grep -q '"status":"ok"' "$WORK/body" || fail "health: body $(cat "$WORK/body")"

expect 200 "openai wav" -d '{"model":"tts-1","input":"Hello from the test.","voice":"alloy"}' "$URL$OPENAI"
expect_riff "openai wav"
expect_header "openai wav" "Content-Type: audio/wav"
[ "$(wc -c <"$WORK/body")" -gt 1000 ] || fail "openai wav: body too small for speech"
pass "openai route answers WAV"

expect 200 "elevenlabs wav" -d '{"text":"Bonjour tout le monde.","model_id":"m"}' "$URL$ELEVEN/fr"
expect_riff "elevenlabs wav"
pass "elevenlabs route answers WAV"

expect 200 "elevenlabs mp3" -d '{"text":"Hello."}' "$URL$ELEVEN/voice123?output_format=mp3_44100_128"
expect_header "elevenlabs mp3" "Content-Type: audio/mpeg"
expect_mpeg "elevenlabs mp3"
expect 200 "openai mp3" -d '{"input":"Hello.","response_format":"mp3"}' "$URL$OPENAI"
expect_header "openai mp3" "Content-Type: audio/mpeg"
expect_mpeg "openai mp3"
pass "mp3 from both routes"

expect 400 "empty input" -d '{"model":"tts-1","input":""}' "$URL$OPENAI"
grep -q '"error"' "$WORK/body" || fail "empty input: no JSON error body"
expect 400 "missing input" -d '{"model":"tts-1"}' "$URL$OPENAI"
expect 400 "bad json" -d '{"input":' "$URL$OPENAI"
expect 400 "empty text (elevenlabs)" -d '{"text":""}' "$URL$ELEVEN/en"
expect 400 "unsupported format" -d '{"input":"hi","response_format":"opus"}' "$URL$OPENAI"
expect 404 "unknown route" "$URL/v2/nothing"
pass "request errors are 400 with a JSON body"

expect 400 "fail-text BAD400" -d '{"input":"please BAD400 here"}' "$URL$OPENAI"
expect 503 "fail-text PERM503" -d '{"text":"PERM503"}' "$URL$ELEVEN/en"
pass "--fail-text answers its status"

# Counters from zero: 2 audio answers, 1 request error, 1 fail-text.
expect 200 "stats reset" -X POST "$URL/admin/stats/reset"
expect 200 "count 1" -d '{"input":"one"}' "$URL$OPENAI"
expect 200 "count 2" -d '{"text":"two"}' "$URL$ELEVEN/en"
expect 400 "count 3" -d '{"input":""}' "$URL$OPENAI"
expect 400 "count 4" -d '{"input":"BAD400"}' "$URL$OPENAI"
expect 200 "health not counted" "$URL/health"
expect_stats '"requests":4' '"in_flight":0' '"peak_in_flight":1' '"by_status":{"200":2,"400":2}' '"resets":0'
pass "stats count speech requests by status"

expect 200 "faults: fail_rate 1" -d '{"fail_rate":1.0,"fail_status":503,"retry_after":5}' "$URL/admin/faults"
grep -q '"fail_rate":1,' "$WORK/body" || fail "faults: answer does not show fail_rate 1: $(cat "$WORK/body")"
grep -q '"retry_after":5' "$WORK/body" || fail "faults: answer does not show retry_after 5"
grep -q '"BAD400":400' "$WORK/body" || fail "faults: fail_text rules lost by a partial update"
expect 503 "fail_rate 1.0 (openai)" -d '{"input":"hi"}' "$URL$OPENAI"
expect_header "fail_rate 1.0 (openai)" "Retry-After: 5"
expect 503 "fail_rate 1.0 (elevenlabs)" -d '{"text":"hi"}' "$URL$ELEVEN/en"
expect_header "fail_rate 1.0 (elevenlabs)" "Retry-After: 5"
expect 200 "faults: 429" -d '{"fail_status":429,"retry_after":null}' "$URL/admin/faults"
expect 429 "fail_status 429" -d '{"input":"hi"}' "$URL$OPENAI"
expect_header "fail_status 429" "Retry-After: 1"
expect 400 "faults: unknown field" -d '{"fail_rat":1}' "$URL/admin/faults"
expect 400 "faults: rate out of range" -d '{"fail_rate":1.5}' "$URL/admin/faults"
expect 200 "faults: clear" -d '{"clear":true}' "$URL/admin/faults"
grep -q '"fail_rate":0,' "$WORK/body" || fail "faults: clear left fail_rate set"
expect 200 "after clear" -d '{"input":"hi"}' "$URL$OPENAI"
expect_riff "after clear"
expect_stats '"503":2' '"429":1'
pass "/admin/faults switches failures with Retry-After at runtime"

expect 200 "faults: garbage" -d '{"garbage_rate":1}' "$URL/admin/faults"
expect 200 "garbage" -d '{"input":"hi"}' "$URL$OPENAI"
expect_header "garbage" "Content-Type: text/html"
expect 200 "faults: truncate" -d '{"clear":true,"truncate_rate":1,"tone":true}' "$URL/admin/faults"
expect 200 "truncate" -d '{"input":"hi"}' "$URL$OPENAI"
expect_riff "truncate"
declared=$(od -An -tu4 -j40 -N4 "$WORK/body" | tr -d ' ')
have=$(($(wc -c <"$WORK/body") - 44))
((declared > have)) || fail "truncate: WAV declares $declared data bytes and $have were sent"
expect 200 "faults: reset" -d '{"clear":true,"reset_rate":1}' "$URL/admin/faults"
expect 000 "reset" -d '{"input":"hi"}' "$URL$OPENAI"
expect_stats '"resets":1'
pass "garbage, truncate and reset faults"

# Concurrency: four held requests are exactly four in flight, and end when their clients go.
expect 200 "faults: hang" -d '{"clear":true,"hang_rate":1}' "$URL/admin/faults"
expect 200 "stats reset" -X POST "$URL/admin/stats/reset"
held=()
for _ in 1 2 3 4; do
	curl -s -m 60 -o /dev/null -d '{"input":"held"}' "$URL$OPENAI" &
	held+=($!)
done
wait_for "4 requests in flight" stats_has '"in_flight":4,'
kill "${held[@]}"
wait "${held[@]}" 2>/dev/null || true
wait_for "held requests to end" stats_has '"in_flight":0,'
expect_stats '"requests":4' '"peak_in_flight":4' '"hangs":4'
pass "hang holds requests; peak_in_flight is exact"

# ---- server B: API keys ------------------------------------------------------------------

start_ttsd b --api-key-env T_TTSD_KEY --tone
expect 401 "no key" -d '{"input":"hi"}' "$URL$OPENAI"
expect 401 "wrong bearer" -H 'Authorization: Bearer nope' -d '{"input":"hi"}' "$URL$OPENAI"
expect 401 "wrong xi-api-key" -H 'xi-api-key: nope' -d '{"text":"hi"}' "$URL$ELEVEN/en"
expect 401 "key in the other route's header" -H "xi-api-key: $T_TTSD_KEY" -d '{"input":"hi"}' "$URL$OPENAI"
expect 200 "right bearer" -H "Authorization: Bearer $T_TTSD_KEY" -d '{"input":"hi"}' "$URL$OPENAI"
expect_riff "right bearer"
expect 200 "right xi-api-key" -H "xi-api-key: $T_TTSD_KEY" -d '{"text":"hi"}' "$URL$ELEVEN/en"
! grep -q "$T_TTSD_KEY" "$WORK/b.log" || fail "the API key appears in the server log"
pass "API keys: 401 without the right key, never logged"

# --tone-ms: the tone's length (benchmarks answer the 3.1 KB of a 70 ms tone): a 44-byte WAV
# header and 22,050 16-bit mono samples a second
start_ttsd c --tone --tone-ms 70
expect 200 "70 ms tone" -d '{"input":"hi"}' "$URL$OPENAI"
expect_riff "70 ms tone"
size=$(stat -c %s "$WORK/body")
[ "$size" = $((44 + 2 * (70 * 22050 / 1000))) ] || fail "--tone-ms 70: a WAV of $size bytes"
set +e
"$TTSD" --tone-ms 0 2>"$WORK/usage.err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- '--tone-ms' "$WORK/usage.err" || fail "--tone-ms 0: exit $rc, $(cat "$WORK/usage.err")"
pass "--tone-ms sets the tone's length; 0 is a usage error"

# Nothing listens beyond loopback unless told to: the defaults, as the programs report them.
"$BIN/voxcast-ttsd" --help | grep 'default 127\.0\.0\.1:9400' >/dev/null || fail "voxcast-ttsd's default address is not loopback"
"$BIN/voxcast-consumer" --help-config | grep -E '^ *http\.listen +127\.0\.0\.1:9464 ' >/dev/null ||
	fail "the consumer's /health and /metrics default address is not loopback"
pass "voxcast-ttsd and /metrics bind 127.0.0.1 by default"

echo "t_ttsd: all checks passed"
