#!/usr/bin/env bash
# `voxcast status --watch` as an operator sees it. On a terminal (a pseudo-terminal from
# util-linux `script`) it redraws a block in place (cursor up, clear, redraw) until the campaign
# reaches 100.0%, with rate, ETA, the split per provider and the top DLQ reasons; through a pipe
# it prints plain lines without a single control character; --json output is the contract's.
# Both watchers start before any consumer runs, so each must draw the campaign at 0% and then
# redraw it to 100%: the test waits on their output, never on the clock.
. "$(dirname "$0")/lib.sh"

# lib.sh's exit trap stops processes in start order, the broker before the consumers, and a
# consumer told to stop once Kafka is gone can block in rd_kafka_consumer_close(): whatever
# path the script took, end the consumers first (graceful exits are checked where they matter).
kill_consumers_then_cleanup() {
	local v
	for v in "${!CONSUMER_PID_@}"; do kill -KILL "${!v}" 2>/dev/null || true; done
	cleanup
}
trap kill_consumers_then_cleanup EXIT

# wait_exit PID SECONDS: waits for a background job with a deadline; returns its exit status.
wait_exit() {
	timeout "$2" tail --pid="$1" -s 0.1 -f /dev/null || fail "process $1 still running after $2 s"
	wait "$1"
}

# plain TEXTFILE: the text without escape sequences and carriage returns, as a screen shows it.
plain() { sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r//g' "$1"; }

start_redis
start_broker 2
# Retry-After: 1 on the injected 503s keeps the two PERM503 contacts pending for at least 2 s
# (three attempts, a second apart) after the others are done: frames in that window must show
# a rate and an ETA, whatever the speed of the machine.
start_ttsd p --tone --latency-ms 5 --fail-text BAD400=400 --fail-text PERM503=503 --retry-after 1

csv=$WORK/contacts.csv
make_contacts "$csv" 120
for i in 1 2 3; do echo "bad400-$i,BAD400"; done >>"$csv"
for i in 1 2; do echo "perm503-$i,PERM503"; done >>"$csv"
vx launch --campaign w --contacts "$csv" --template 'Hello {{first_name}}' --json >/dev/null

# usage and runtime errors come first, while the campaign cannot complete
rc=0; vx status --watch 2>"$WORK/err" || rc=$?
assert_eq "--watch without a campaign: usage error" 2 "$rc"
rc=0; vx status nope --watch 2>"$WORK/err" || rc=$?
assert_eq "--watch of an unknown campaign" 1 "$rc"
grep -q 'no campaign "nope"' "$WORK/err" || fail "unknown campaign not named: $(cat "$WORK/err")"
rc=0; vx status w --watch --interval 0.05 --timeout 0.2 >"$WORK/timeout.out" 2>"$WORK/err" || rc=$?
assert_eq "--watch --timeout on a campaign with no consumer" 1 "$rc"
grep -q 'not complete after' "$WORK/err" || fail "no timeout message: $(cat "$WORK/err")"

printf -v watch_cmd '%q status w --watch --interval 0.1' "$BIN/voxcast"
script -qfec "$watch_cmd" /dev/null </dev/null >"$WORK/watch.tty" 2>&1 &
tty_pid=$!
PIDS+=("$tty_pid")
(vx status w --watch --interval 0.1 | cat >"$WORK/watch.pipe") &
pipe_pid=$!
PIDS+=("$pipe_pid")
wait_log "$WORK/watch.tty" '\] +0\.0%'
wait_log "$WORK/watch.pipe" '\] +0\.0%'
ok "both watchers drew the campaign at 0% before any consumer ran"

# shellcheck disable=SC2046
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_p") -X consumer.concurrency=8 \
	-X retry.base_ms=5 -X retry.max_ms=20 -X breaker.failure_threshold=1000
wait_complete w 60
rc=0; wait_exit "$tty_pid" 20 || rc=$?
assert_eq "watch on a terminal exits" 0 "$rc"
rc=0; wait_exit "$pipe_pid" 20 || rc=$?
assert_eq "watch through a pipe exits" 0 "$rc"

# --- the terminal view
tty=$WORK/watch.tty
grep -q $'\r\e\[J' "$tty" || fail "no in-place redraw (carriage return + clear) on the terminal"
grep -qE $'\e\\[[0-9]+A' "$tty" || fail "no cursor-up redraw on the terminal"
frames=$(grep -o $'\r\e\[J' "$tty" | wc -l)
[ "$frames" -ge 2 ] || fail "only $frames frame(s) drawn on the terminal"
ok "terminal view redrawn in place $frames times"
last=$(plain "$tty" | grep -n '\] *[0-9.]*%' | tail -n 1 | cut -d: -f1)
final=$(plain "$tty" | tail -n +"$last")
grep -qE '^\[#{30}\] 100\.0%  w complete$' <<<"$final" || fail "final frame has no full bar: $final"
grep -qE '^done 120  dlq 5  pending 0  of 125  [0-9.]+/s  ETA ' <<<"$final" || fail "final counts wrong: $final"
grep -qx 'by provider: primary 120' <<<"$final" || fail "no provider split in the final frame: $final"
grep -qx 'reasons (last 5): non_retryable/400 3, retry_exhausted/503 2' <<<"$final" ||
	fail "no DLQ reasons in the final frame: $final"
ok "terminal view ends at 100.0% with counts, provider split and DLQ reasons"
grep -qE '^done [0-9]+  dlq [0-9]+  pending [1-9][0-9]*  of 125  [0-9.]+/s  ETA [0-9]+[hms]' <(plain "$tty") ||
	fail "no frame showed a rate and an ETA"
ok "a frame showed a rate and an ETA"

# --- the plain view
pipe=$WORK/watch.pipe
if grep -q $'[\r\e]' "$pipe"; then fail "plain output carries control characters"; fi
ok "plain output has no carriage return or escape"
assert_eq "plain lines" "$(wc -l <"$pipe")" "$(grep -c '%  w  done' "$pipe")"
last_line=$(tail -n 1 "$pipe")
grep -qF '100.0%  w  done 120  dlq 5  pending 0  of 125' <<<"$last_line" || fail "plain output does not end at 100%: $last_line"
grep -qF '| primary 120  | reasons (last 5): non_retryable/400 3, retry_exhausted/503 2' <<<"$last_line" ||
	fail "plain last line lacks providers or reasons: $last_line"
ok "plain output ends at 100.0% with providers and reasons"

# --- a narrow terminal: lines are cut to its width, so redraws climb the right number of lines
printf -v narrow_cmd 'stty cols 40 rows 20; %q status w --watch' "$BIN/voxcast"
script -qfec "$narrow_cmd" /dev/null </dev/null >"$WORK/narrow.tty" 2>&1
widest=$(plain "$WORK/narrow.tty" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
[ "$widest" -le 39 ] || fail "a line of $widest columns on a 40-column terminal"
ok "widest line on a 40-column terminal: $widest"

# --- one-shot text and --json
vx status w >"$WORK/text.out"
grep -qx '  reasons (last 5): non_retryable/400 3, retry_exhausted/503 2' "$WORK/text.out" ||
	fail "status text lacks the reasons line: $(cat "$WORK/text.out")"
ok "status text shows the DLQ reasons"
assert_eq "--json keys" '["accounts","aside","audio_seconds","by_provider","cache_hits","campaign","cancelled","characters","created_at","dlq","dlq_dropped","done","duplicates","enqueued","launch_state","pending","rejected","state"]' \
	"$(vx status w --json | jq -c keys)"
assert_eq "--json counts" '{"campaign":"w","state":"complete","enqueued":125,"rejected":0,"done":120,"dlq":5,"pending":0,"by_provider":{"primary":120}}' \
	"$(vx status w --json | jq -c '{campaign,state,enqueued,rejected,done,dlq,pending,by_provider}')"
assert_eq "campaign list --json" 'w complete 125' "$(vx status --json | jq -r '"\(.campaign) \(.state) \(.enqueued)"')"
list=$(vx status)
grep -qE '^w +complete +125 +120 +5 +0 +0$' <<<"$list" || fail "campaign list: $list"
ok "campaign list shows w complete"
assert_eq "--watch --json prints the --json object once" "$(vx status w --json)" "$(vx status w --watch --json)"
# Stop the consumer while Kafka is still up: at exit lib.sh stops the broker first, and a consumer
# told to stop after that can block in rd_kafka_consumer_close().
kill -TERM "$CONSUMER_PID_a"
rc=0; wait_exit "$CONSUMER_PID_a" 30 || rc=$?
assert_eq "consumer drained and exited" 0 "$rc"
echo "all watch checks passed"
