#!/usr/bin/env bash
# `voxcast dlq` against a real Redis and the embedded broker. Entries are parked by dlq_seed
# through the store (reserve, ack, park: what launch and a consumer do), so no TTS runs here.
# list/show/purge, then replay: the jobs land on the topic with replay + 1, the DLQ empties and
# the counts stay true; a kill -9 midway loses nothing; two replays of one campaign exclude each
# other; a closed window makes the replay wait and say until when; --rate holds.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 4

seed() { "$TESTBIN/dlq_seed" "$VOXCAST_REDIS_URL" "$@" >/dev/null; }
waiting() { rcli ZCARD "voxcast:{$1}:dlq"; }
claimed() { rcli HLEN "voxcast:{$1}:dlq:replaying"; }
# topic_jobs CAMPAIGN: the campaign's jobs on the topic, one JSON per line
topic_jobs() {
	"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs | cut -f4 |
		jq -c --arg c "$1" 'select(.campaign == $c)'
}
# expect_fail CODE PATTERN ARGS...: voxcast exits CODE with one stderr line matching PATTERN
expect_fail() {
	local code=$1 pattern=$2 rc=0
	shift 2
	vx "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" -eq "$code" ] || fail "exit $rc, expected $code, for: $* ($(cat "$WORK/err"))"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "not one error line for $*: $(cat "$WORK/err")"
	grep -qE -- "$pattern" "$WORK/err" || fail "error '$(cat "$WORK/err")' does not match /$pattern/"
	ok "exit $code for $*: $(cat "$WORK/err")"
}
# counts_true CAMPAIGN: the counters agree with the contacts' states, and
# done + dlq + pending == enqueued
counts_true() {
	local c=$1 st p q d
	st=$(vx status "$c" --json)
	[ "$(jq '.done + .dlq + .pending == .enqueued' <<<"$st")" = true ] || fail "$c: counts do not add up: $st"
	p=$(rcli --raw HVALS "voxcast:{$c}:state" | grep -c '^p' || true)
	q=$(rcli --raw HVALS "voxcast:{$c}:state" | grep -c '^q' || true)
	d=$(rcli --raw HVALS "voxcast:{$c}:state" | grep -c '^d' || true)
	[ "$(jq -r '[.pending, .dlq, .done] | join(" ")' <<<"$st")" = "$p $q $d" ] ||
		fail "$c: counters $(jq -c '[.pending, .dlq, .done]' <<<"$st") but states p=$p q=$q d=$d"
	ok "$c counts true: $(jq -c '{enqueued, done, dlq, pending}' <<<"$st")"
}
# no_loss CAMPAIGN N: every contact c-000001..N is on the topic or in the DLQ (waiting or
# claimed); prints the number of jobs on the topic
no_loss() {
	local c=$1 n=$2 jobs
	topic_jobs "$c" >"$WORK/jobs.$c"
	jobs=$(wc -l <"$WORK/jobs.$c")
	{ jq -r .contact "$WORK/jobs.$c"; rcli --raw HVALS "voxcast:{$c}:dlq:c"; } | sort -u >"$WORK/seen.$c"
	seq -f 'c-%06g' 1 "$n" | sort >"$WORK/all.$c"
	comm -23 "$WORK/all.$c" "$WORK/seen.$c" >"$WORK/lost.$c"
	[ ! -s "$WORK/lost.$c" ] || fail "$c: contacts neither on the topic nor in the DLQ: $(head -5 "$WORK/lost.$c" | tr '\n' ' ')"
	echo "$jobs"
}

# ---------------------------------------------------------------- help and usage
vx dlq --help >"$WORK/help" && grep -q 'voxcast dlq replay --campaign' "$WORK/help" || fail "dlq --help"
for sub in list show replay purge; do
	vx dlq "$sub" --help >"$WORK/help" || fail "dlq $sub --help failed"
	grep -q "^  voxcast dlq $sub" "$WORK/help" || fail "dlq $sub --help has no example"
done
ok "help texts with examples"
expect_fail 2 'dlq: unknown command "nope"' dlq nope
expect_fail 2 '--reason must be retry_exhausted, non_retryable or invalid_job' dlq list --reason timeout
expect_fail 2 '--limit must be a whole number' dlq list --limit -3
expect_fail 2 'campaign "a/b" must be' dlq replay --campaign a/b
expect_fail 2 'window' dlq replay --window 25:00-06:00
expect_fail 2 '--rate must be a number' dlq replay --rate fast

# ---------------------------------------------------------------- list and show
seed dq-a 30 --reason retry_exhausted --status 503
seed dq-a 10 --start 31 --reason non_retryable --status 400
seed dq-b 5 --reason non_retryable --status 404 --provider backup
seed _invalid 3 --invalid

vx dlq list --campaign dq-a --json >"$WORK/a.jsonl"
assert_eq "dq-a entries listed" 40 "$(wc -l <"$WORK/a.jsonl")"
assert_eq "newest first" "dq-a:40 c-000040" "$(head -1 "$WORK/a.jsonl" | jq -r '"\(.id) \(.contact)"')"
assert_eq "oldest last" "dq-a:1" "$(tail -1 "$WORK/a.jsonl" | jq -r .id)"
vx dlq list --json >"$WORK/all.jsonl"
assert_eq "all campaigns listed" 48 "$(wc -l <"$WORK/all.jsonl")"
assert_eq "entries with every contract field" 48 "$(jq -c 'select(has("id") and has("campaign") and has("contact")
	and has("reason") and has("provider") and has("http_status") and has("error") and has("attempts")
	and has("failed_at") and has("job") and has("raw"))' "$WORK/all.jsonl" | wc -l)"
assert_eq "invalid entries have no job but raw" 3 "$(jq -c 'select(.campaign == "_invalid" and .job == null and .raw != null)' "$WORK/all.jsonl" | wc -l)"
vx dlq list --campaign dq-a --json --limit 10 --offset 5 >"$WORK/page.jsonl"
assert_eq "page size" 10 "$(wc -l <"$WORK/page.jsonl")"
assert_eq "page bounds" "dq-a:35 dq-a:26" "$(jq -r .id "$WORK/page.jsonl" | sed -n '1p;$p' | paste -sd' ')"
vx dlq list --campaign dq-a --reason non_retryable --json >"$WORK/nr.jsonl"
assert_eq "reason filter" "10 non_retryable" "$(wc -l <"$WORK/nr.jsonl") $(jq -r .reason "$WORK/nr.jsonl" | sort -u)"
vx dlq list --campaign dq-a --reason retry_exhausted --json --limit 3 --offset 28 >"$WORK/re.jsonl"
assert_eq "filtered page past the end" "dq-a:2 dq-a:1" "$(jq -r .id "$WORK/re.jsonl" | paste -sd' ')"
assert_eq "filter across campaigns" 15 "$(vx dlq list --reason non_retryable --json | wc -l)"

vx dlq list --campaign dq-a >"$WORK/table"
head -1 "$WORK/table" | grep -qE '^ID +CAMPAIGN +CONTACT +REASON +STATUS +PROVIDER +FAILED_AT +ERROR$' ||
	fail "table header: $(head -1 "$WORK/table")"
assert_eq "table rows" 40 "$(grep -c '^dq-a:' "$WORK/table")"
grep -qE '^dq-a:40 +dq-a +c-000040 +non_retryable +400 +primary +20[0-9-]+T[0-9:]+Z +primary answered HTTP 400' "$WORK/table" ||
	fail "table row: $(grep '^dq-a:40 ' "$WORK/table")"
grep -qx 'by reason: *retry_exhausted 30, non_retryable 10' "$WORK/table" || fail "reason summary: $(tail -3 "$WORK/table")"
grep -qx 'by http status: *503 30, 400 10' "$WORK/table" || fail "status summary: $(tail -3 "$WORK/table")"
ok "table and summary"
vx dlq list --campaign dq-a --limit 5 >"$WORK/table5"
assert_eq "table page" 5 "$(grep -c '^dq-a:' "$WORK/table5")"
grep -qx 'more: --offset 5' "$WORK/table5" || fail "no next-page hint: $(tail -2 "$WORK/table5")"

vx dlq show dq-a:7 >"$WORK/show"
assert_eq "show id and contact" "dq-a:7 c-000007 0" "$(jq -r '"\(.id) \(.contact) \(.job.replay)"' "$WORK/show")"
[ "$(wc -l <"$WORK/show")" -gt 20 ] && grep -q '^  "history": \[' "$WORK/show" || fail "show is not indented JSON"
ok "show prints the whole entry, indented"
expect_fail 1 '^voxcast: dlq: no entry dq-a:999$' dlq show dq-a:999
expect_fail 1 '^voxcast: dlq: no entry junk$' dlq show junk
expect_fail 2 'exactly one entry ID' dlq show

# ---------------------------------------------------------------- purge
expect_fail 2 'refusing to delete the DLQ entries of dq-b without --yes' dlq purge --campaign dq-b
expect_fail 2 '--campaign is required' dlq purge --yes
assert_eq "nothing purged without --yes" 5 "$(waiting dq-b)"
assert_eq "purge" "purged 5 DLQ entries of dq-b" "$(vx dlq purge --campaign dq-b --yes)"
assert_eq "purged DLQ is empty" 0 "$(waiting dq-b)"
assert_eq "purge again" 0 "$(vx dlq purge --campaign dq-b --yes --json | jq .purged)"
counts_true dq-b

# ---------------------------------------------------------------- replay
vx dlq replay --campaign dq-a --dry-run >"$WORK/dry"
assert_eq "dry run lists the entries" 40 "$(grep -c '^would replay' "$WORK/dry")"
vx dlq replay --campaign dq-a --dry-run --limit 3 --json >"$WORK/dry.json"
assert_eq "dry run with a limit" 3 "$(jq .would_replay "$WORK/dry.json")"
assert_eq "dry run changes nothing" "40 0" "$(waiting dq-a) $(topic_jobs dq-a | wc -l)"

# a window open now (it began an hour ago): the replay runs at once
open_now="$(date -d '-1 hour' +%H:%M)-$(date -d '+1 hour' +%H:%M)"
vx dlq replay --campaign dq-a --window "$open_now" --json >"$WORK/replay.json"
assert_eq "replay result" '{"replayed":40,"remaining":0,"skipped":0}' "$(jq -c '{replayed, remaining, skipped}' "$WORK/replay.json")"
topic_jobs dq-a >"$WORK/jobs.a"
assert_eq "jobs on the topic" 40 "$(wc -l <"$WORK/jobs.a")"
assert_eq "distinct contacts" 40 "$(jq -r .contact "$WORK/jobs.a" | sort -u | wc -l)"
assert_eq "jobs with replay 1" 40 "$(jq -c 'select(.replay == 1 and .v == 1 and (.text | length) > 0)' "$WORK/jobs.a" | wc -l)"
mismatch=$("$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs |
	awk -F'\t' '{print $3 "\t" $4}' | jq -R 'split("\t") | select((.[1] | fromjson).contact != .[0])' | wc -l)
assert_eq "jobs whose key is not their contact" 0 "$mismatch"
assert_eq "DLQ of dq-a empty" "0 0" "$(waiting dq-a) $(claimed dq-a)"
assert_eq "replayed contacts pending again" "40 0" "$(status_field dq-a pending) $(status_field dq-a dlq)"
counts_true dq-a

# every campaign: "_invalid" is skipped and reported, never replayed
seed dq-c 4 --replay 2
vx dlq replay --json >"$WORK/all.json"
assert_eq "replay of every campaign" '{"replayed":4,"remaining":0,"skipped":3}' "$(jq -c '{replayed, remaining, skipped}' "$WORK/all.json")"
assert_eq "replay count goes up by one" "3" "$(topic_jobs dq-c | jq -r .replay | sort -u | paste -sd' ')"
assert_eq "invalid entries stay" 3 "$(waiting _invalid)"
counts_true dq-c

# --limit spans campaigns; what is left waits for the next run
seed dq-l1 3
seed dq-l2 3
vx dlq replay --limit 4 --json >"$WORK/limit.json"
assert_eq "replay --limit 4 over two campaigns" '{"replayed":4,"remaining":2,"stopped":"limit"}' "$(jq -c '{replayed, remaining, stopped}' "$WORK/limit.json")"
assert_eq "dry run --limit 1" 1 "$(vx dlq replay --dry-run --limit 1 --json | jq .would_replay)"
assert_eq "the rest" '{"replayed":2,"remaining":0,"stopped":null}' "$(vx dlq replay --json | jq -c '{replayed, remaining, stopped}')"
assert_eq "each contact once" 6 "$({ topic_jobs dq-l1; topic_jobs dq-l2; } | jq -r '.campaign + .contact' | sort -u | wc -l)"

# --rate holds: 40 entries at 20/s cannot take less than 1.9 s (a loose lower bound)
seed dq-r 40
t0=$(date +%s%N)
vx dlq replay --campaign dq-r --rate 20 --json >"$WORK/rate.json"
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq "rate-limited replay" 40 "$(jq .replayed "$WORK/rate.json")"
[ "$ms" -ge 1900 ] || fail "40 jobs at --rate 20 took ${ms} ms"
ok "40 jobs at --rate 20 took ${ms} ms"

# two replays of one campaign: the second is refused while the first runs
seed dq-t 40
"$BIN/voxcast" dlq replay --campaign dq-t --rate 10 >"$WORK/t1.out" 2>"$WORK/t1.err" &
first=$!
PIDS+=("$first")
wait_log "$WORK/t1.err" 'dq-t: [1-9][0-9]* of 40 replayed'
expect_fail 1 '^voxcast: dlq replay: another replay of dq-t is running$' dlq replay --campaign dq-t
kill -TERM "$first"
rc=0
wait "$first" || rc=$?
assert_eq "interrupted replay exits" 0 "$rc"
line=$(grep 'interrupted;' "$WORK/t1.err") || fail "no interrupted line: $(cat "$WORK/t1.err")"
n=$(sed -n 's/.*interrupted; \([0-9]*\) replayed, \([0-9]*\) remaining; run again to continue$/\1 \2/p' <<<"$line")
[ -n "$n" ] || fail "interrupted line: $line"
read -r done_n left_n <<<"$n"
assert_eq "interrupted: replayed + remaining" 40 "$((done_n + left_n))"
assert_eq "interrupted: DLQ holds the rest, nothing claimed" "$left_n 0" "$(waiting dq-t) $(claimed dq-t)"
assert_eq "interrupted: topic holds the replayed" "$done_n" "$(no_loss dq-t 40)"
counts_true dq-t

# kill -9 midway, then a second run: none lost, each replayed once (duplicates reported)
seed dq-k 60
"$BIN/voxcast" dlq replay --campaign dq-k --rate 20 >"$WORK/k1.out" 2>"$WORK/k1.err" &
victim=$!
PIDS+=("$victim")
wait_log "$WORK/k1.err" 'dq-k: [1-9][0-9]* of 60 replayed'
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
jobs=$(no_loss dq-k 60)
ok "after kill -9: $jobs jobs on the topic, $(waiting dq-k) waiting, $(claimed dq-k) claimed, none lost"
counts_true dq-k
[ "$jobs" -lt 60 ] || fail "the replay was not killed midway ($jobs jobs on the topic)"
# the dead run's lock holds until it expires (15 s); stand in for that wait by deleting it
expect_fail 1 'another replay of dq-k is running' dlq replay --campaign dq-k
rcli DEL "voxcast:{dq-k}:dlq:lock" >/dev/null
vx dlq replay --campaign dq-k --json >"$WORK/k2.json" 2>"$WORK/k2.err"
jobs=$(no_loss dq-k 60)
assert_eq "second run empties the DLQ" "0 0 0" "$(jq .remaining "$WORK/k2.json") $(waiting dq-k) $(claimed dq-k)"
assert_eq "every contact on the topic" 60 "$(jq -r .contact "$WORK/jobs.dq-k" | sort -u | wc -l)"
assert_eq "all with replay 1" 60 "$(jq -c 'select(.replay == 1)' "$WORK/jobs.dq-k" | jq -r .contact | sort -u | wc -l)"
ok "kill -9 then a second run: $jobs jobs for 60 entries, $((jobs - 60)) duplicates (acknowledged before the kill, not yet forgotten)"
assert_eq "dq-k pending again" 60 "$(status_field dq-k pending)"
counts_true dq-k

# kill -9 at full speed, with thousands of entries claimed and in flight: same guarantees
# (the kill races the replay's end: on a fast machine the replay may finish between its first
# progress line and the kill; then it must simply have replayed everything, which is checked)
seed dq-f 50000
"$BIN/voxcast" dlq replay --campaign dq-f >"$WORK/f1.out" 2>"$WORK/f1.err" &
victim=$!
PIDS+=("$victim")
wait_log "$WORK/f1.err" 'dq-f: [1-9][0-9]* of 50000 replayed'
if ! kill -9 "$victim" 2>/dev/null; then
	assert_eq "replay finished before the kill: everything replayed" "0 0" "$(waiting dq-f) $(claimed dq-f)"
fi
wait "$victim" 2>/dev/null || true
at_kill="$(waiting dq-f) waiting, $(claimed dq-f) claimed"
jobs=$(no_loss dq-f 50000)
ok "after kill -9 at full speed: $jobs jobs on the topic, $at_kill, none lost"
counts_true dq-f
rcli DEL "voxcast:{dq-f}:dlq:lock" >/dev/null
vx dlq replay --campaign dq-f --json >"$WORK/f2.json"
jobs=$(no_loss dq-f 50000)
assert_eq "full speed: DLQ empty after the second run" "0 0" "$(waiting dq-f) $(claimed dq-f)"
assert_eq "full speed: every contact on the topic" 50000 "$(jq -r .contact "$WORK/jobs.dq-f" | sort -u | wc -l)"
ok "full speed kill -9 then a second run: $jobs jobs for 50000 entries, $((jobs - 50000)) duplicates"
counts_true dq-f

# a window that opens in an hour: the replay says so and waits; SIGTERM ends the wait, exit 0
seed dq-w 5
later="$(date -d '+1 hour' +%H:%M)-$(date -d '+2 hours' +%H:%M)"
"$BIN/voxcast" dlq replay --campaign dq-w --window "$later" --json >"$WORK/w.out" 2>"$WORK/w.err" &
waiter=$!
PIDS+=("$waiter")
wait_log "$WORK/w.err" "^voxcast: dlq replay: outside window $later; waiting (5[0-9]m[0-9][0-9]s|1h00m) until it opens at ${later%-*}$"
ok "closed window: $(head -1 "$WORK/w.err")"
kill -TERM "$waiter"
rc=0
wait "$waiter" || rc=$?
assert_eq "interrupted wait exits" 0 "$rc"
assert_eq "nothing replayed while waiting" '{"replayed":0,"remaining":5}' "$(jq -c '{replayed, remaining}' "$WORK/w.out")"
assert_eq "DLQ untouched" 5 "$(waiting dq-w)"
vx dlq replay --campaign dq-w --window "$later" --dry-run >/dev/null 2>"$WORK/wd.err"
grep -q "window $later is closed now; a replay would wait" "$WORK/wd.err" || fail "dry run window note: $(cat "$WORK/wd.err")"

# a window that closes during the run (slow: up to a minute; VOXCAST_SLOW_TESTS=1)
if [ -n "${VOXCAST_SLOW_TESTS:-}" ]; then
	seed dq-z 400
	closing="$(date -d '-1 hour' +%H:%M)-$(date -d '+1 minute' +%H:%M)"
	rc=0
	vx dlq replay --campaign dq-z --window "$closing" --rate 5 --json >"$WORK/z.out" 2>"$WORK/z.err" || rc=$?
	assert_eq "closed window exits" 0 "$rc"
	grep -qE '^voxcast: dlq replay: window closed; [0-9]+ replayed, [0-9]+ remaining; run again to continue$' "$WORK/z.err" ||
		fail "window closed line: $(cat "$WORK/z.err")"
	assert_eq "window stop" window "$(jq -r .stopped "$WORK/z.out")"
	assert_eq "replayed + remaining" 400 "$(jq '.replayed + .remaining' "$WORK/z.out")"
	counts_true dq-z
fi

for c in dq-a dq-b dq-c dq-l1 dq-l2 dq-r dq-t dq-k dq-f dq-w; do counts_true "$c"; done
echo "t_dlq: all passed"
