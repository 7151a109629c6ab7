#!/usr/bin/env bash
# `voxcast campaign list|pause|resume|cancel|delete` and the lifecycle fields of `voxcast status`,
# against a real Redis, the embedded broker and (for one campaign run to completion) a consumer
# on voxcast-ttsd. Consumers setting jobs aside while paused is the consumer's test; here the
# set-aside jobs are written into Redis by hand, as a consumer would (HSET voxcast:{C}:aside
# contact job), and resume/cancel must put each back on its priority's topic and forget it.
# Also: refused transitions and unknown campaigns (exit 1, one line), delete leaving no key,
# the retention expiry of a complete and of a cancelled campaign, dlq replay and reconcile
# skipping a cancelled campaign unless --force.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2
start_ttsd t --tone

# topic_jobs TOPIC CAMPAIGN: the campaign's jobs on TOPIC, one JSON per line
topic_jobs() {
	"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$1" | cut -f4 |
		jq -c --arg c "$2" 'select(.campaign == $c)'
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
# launch CAMPAIGN N [FLAGS...]: N contacts, acknowledged by Kafka, nothing rendered yet
launch() {
	local c=$1 n=$2
	shift 2
	make_contacts "$WORK/$c.csv" "$n"
	vx launch --campaign "$c" --contacts "$WORK/$c.csv" --template 'Hi {{first_name}}.' "$@" \
		--json >/dev/null 2>"$WORK/launch.err" || fail "launch $c: $(cat "$WORK/launch.err")"
}
# set_aside CAMPAIGN TOPIC K: moves the campaign's first K jobs from the topic into its aside
# hash, as a consumer does with the jobs of a paused campaign
set_aside() {
	local c=$1 topic=$2 k=$3 contact job
	topic_jobs "$topic" "$c" | head -n "$k" >"$WORK/aside.$c"
	[ "$(wc -l <"$WORK/aside.$c")" -eq "$k" ] || fail "$c: fewer than $k jobs on $topic"
	while IFS= read -r job; do
		contact=$(jq -r .contact <<<"$job")
		rcli HSET "voxcast:{$c}:aside" "$contact" "$job" >/dev/null
	done <"$WORK/aside.$c"
}
aside_left() { echo $(($(rcli HLEN "voxcast:{$1}:aside") + $(rcli HLEN "voxcast:{$1}:aside:claimed"))); }
# ttl_within CAMPAIGN: the campaign's meta key expires, within 30 days
ttl_within() {
	local t
	t=$(rcli TTL "voxcast:{$1}:meta")
	[ "$t" -gt 0 ] && [ "$t" -le $((30 * 86400)) ] || fail "$1: meta TTL is $t, not in (0, 30 days]"
	ok "$1 meta expires in $t s"
}

# ---------------------------------------------------------------- help and usage
vx campaign --help >"$WORK/help" || fail "campaign --help"
for w in 'voxcast campaign pause ID' 'resume' 'cancel' 'delete ID --yes' 'campaign.retention_days' \
	'campaign.control_ttl_ms' 'cannot be undone\|no undo' 'exit status'; do
	grep -q -- "$w" "$WORK/help" || fail "campaign --help does not mention '$w'"
done
vx campaign pause --help | grep -q 'voxcast campaign resume spring-promo' || fail "campaign pause --help"
vx --help | grep -q '^  campaign ' || fail "voxcast --help does not list campaign"
ok "help texts"
expect_fail 2 'campaign: unknown command "stop"' campaign stop x
expect_fail 2 'campaign pause: give a campaign ID' campaign pause
expect_fail 2 'is not a campaign id' campaign cancel 'a/b'
expect_fail 2 'campaign list: unexpected argument' campaign list extra
for sub in pause resume cancel; do
	expect_fail 1 "^voxcast: campaign $sub: no campaign \"ghost\"\$" campaign "$sub" ghost
done
expect_fail 1 'no campaign "ghost"' campaign delete ghost --yes
expect_fail 1 'no campaign "ghost"' status ghost

# ---------------------------------------------------------------- a campaign run to completion
# shellcheck disable=SC2046  # provider_args prints several words
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_t")
launch done1 4
wait_complete done1
stop_within $((20 * SLOW)) "$CONSUMER_PID_a"
assert_eq "done1 state" complete "$(status_field done1 state)"
ttl_within done1
expect_fail 1 'campaign cancel: campaign done1 is complete' campaign cancel done1
expect_fail 1 'campaign pause: campaign done1 is complete' campaign pause done1

# ---------------------------------------------------------------- pause, status, resume
launch run1 6 --priority high
st=$(vx status run1 --json)
assert_eq "run1 state" running "$(jq -r .state <<<"$st")"
assert_eq "run1 cancelled, aside" "0 0" "$(jq -r '"\(.cancelled) \(.aside)"' <<<"$st")"
expect_fail 1 'campaign resume: campaign run1 is not paused' campaign resume run1
vx campaign pause run1 >"$WORK/out" || fail "pause run1"
grep -q 'campaign run1 paused' "$WORK/out" || fail "pause says: $(cat "$WORK/out")"
expect_fail 1 'campaign run1 is paused already' campaign pause run1
assert_eq "meta control" paused "$(rcli HGET 'voxcast:{run1}:meta' control)"
set_aside run1 voxcast.jobs.high 4
st=$(vx status run1 --json)
assert_eq "paused run1: state aside pending" "paused 4 6" "$(jq -r '"\(.state) \(.aside) \(.pending)"' <<<"$st")"
[ "$(jq '.done + .dlq + .cancelled + .pending == .enqueued' <<<"$st")" = true ] || fail "counts do not add up: $st"
vx status run1 >"$WORK/out"
grep -q '^campaign run1: paused' "$WORK/out" || fail "status text: $(cat "$WORK/out")"
grep -q 'cancelled 0' "$WORK/out" || fail "status text has no cancelled count: $(cat "$WORK/out")"
grep -q 'set aside while paused: 4' "$WORK/out" || fail "status text has no aside line: $(cat "$WORK/out")"
ok "status of a paused campaign: $(jq -c '{state, cancelled, aside, pending}' <<<"$st")"

before=$(topic_jobs voxcast.jobs.high run1 | wc -l)
vx campaign resume run1 >"$WORK/out" 2>"$WORK/err" || fail "resume run1: $(cat "$WORK/err")"
grep -q 'campaign run1 resumed' "$WORK/out" || fail "resume says: $(cat "$WORK/out")"
grep -q '4 set-aside jobs re-enqueued' "$WORK/out" || fail "resume does not count: $(cat "$WORK/out")"
grep -q 'run1: 4 of 4 set-aside jobs re-enqueued' "$WORK/err" || fail "no progress on stderr: $(cat "$WORK/err")"
assert_eq "aside emptied" 0 "$(aside_left run1)"
assert_eq "jobs back on voxcast.jobs.high" $((before + 4)) "$(topic_jobs voxcast.jobs.high run1 | wc -l)"
topic_jobs voxcast.jobs.high run1 | jq -r .contact | sort | uniq -c | awk '$1 == 2 { print $2 }' >"$WORK/back"
jq -r .contact "$WORK/aside.run1" | sort | diff - "$WORK/back" >/dev/null ||
	fail "not the set-aside contacts back twice: $(tr '\n' ' ' <"$WORK/back")"
assert_eq "resumed state" running "$(status_field run1 state)"
assert_eq "nothing on the normal topic" 0 "$(topic_jobs voxcast.jobs run1 | wc -l)"
assert_eq "control cleared" "" "$(rcli HGET 'voxcast:{run1}:meta' control)"

# an interrupted resume left claimed jobs: the next resume puts them back and sends them
vx campaign pause run1 >/dev/null
set_aside run1 voxcast.jobs.high 2
for c in $(jq -r .contact "$WORK/aside.run1"); do
	rcli HSET 'voxcast:{run1}:aside:claimed' "$c" "$(rcli HGET 'voxcast:{run1}:aside' "$c")" >/dev/null
	rcli HDEL 'voxcast:{run1}:aside' "$c" >/dev/null
done
vx campaign resume run1 >"$WORK/out" 2>&1 || fail "resume after a crash: $(cat "$WORK/out")"
assert_eq "claimed jobs of a dead resume sent" "0 $((before + 6))" \
	"$(aside_left run1) $(topic_jobs voxcast.jobs.high run1 | wc -l)"

# ---------------------------------------------------------------- cancel
launch can1 5
vx campaign pause can1 >/dev/null
set_aside can1 voxcast.jobs 3
vx campaign cancel can1 >"$WORK/out" 2>"$WORK/err" || fail "cancel can1: $(cat "$WORK/err")"
grep -q 'campaign can1 cancelled' "$WORK/out" || fail "cancel says: $(cat "$WORK/out")"
assert_eq "cancel re-enqueued the set-aside jobs" "0 8" "$(aside_left can1) $(topic_jobs voxcast.jobs can1 | wc -l)"
assert_eq "can1 state" cancelled "$(status_field can1 state)"
ttl_within can1
expect_fail 1 'campaign resume: campaign can1 is (cancelled|not paused)' campaign resume can1
expect_fail 1 'campaign cancel: campaign can1 is cancelled' campaign cancel can1
expect_fail 1 'campaign pause: campaign can1 is cancelled' campaign pause can1
launch can2 3 --priority low
vx campaign cancel can2 >/dev/null || fail "cancel of a running campaign"
assert_eq "cancelled without anything set aside" cancelled "$(status_field can2 state)"

# ---------------------------------------------------------------- status: what it costs
# (the consumers' counters, written by hand: cache hits in meta, billed characters per provider)
rcli HSET 'voxcast:{run1}:chars' primary 200000 backup 1000 >/dev/null
rcli HSET 'voxcast:{run1}:meta' cache_hits 3 >/dev/null
st=$(vx -X provider.primary.usd_per_million_chars=15 status run1 --json)
assert_eq "cost in status --json" '{"cache_hits":3,"characters":{"backup":1000,"primary":200000},"est_usd":3}' \
	"$(jq -c '{cache_hits, characters, est_usd}' <<<"$st")"
assert_eq "no est_usd without a price" null "$(vx status run1 --json | jq -c .est_usd)"
vx -X provider.primary.usd_per_million_chars=15 status run1 >"$WORK/out"
grep -q '^  cost: 3 cache hits; characters backup 1000, primary 200000; est. \$3.0000$' "$WORK/out" ||
	fail "status text has no cost line: $(cat "$WORK/out")"
assert_eq "zero costs of a fresh campaign" '{"cache_hits":0,"characters":{}}' \
	"$(vx status can2 --json | jq -c '{cache_hits, characters}')"

# ---------------------------------------------------------------- list
vx campaign list --json >"$WORK/list"
assert_eq "campaigns listed" 4 "$(wc -l <"$WORK/list")"
for f in campaign state priority enqueued "done" dlq cancelled pending aside created_at; do
	[ "$(jq -s "all(has(\"$f\"))" "$WORK/list")" = true ] || fail "list --json lacks $f: $(head -1 "$WORK/list")"
done
assert_eq "list states" "can1=cancelled can2=cancelled done1=complete run1=running" \
	"$(jq -r '"\(.campaign)=\(.state)"' "$WORK/list" | sort | tr '\n' ' ' | sed 's/ $//')"
assert_eq "list priorities" "can1=normal can2=low done1=normal run1=high" \
	"$(jq -r '"\(.campaign)=\(.priority)"' "$WORK/list" | sort | tr '\n' ' ' | sed 's/ $//')"
assert_eq "run1 listed counts" "6 0 0 0 6" \
	"$(jq -r 'select(.campaign == "run1") | "\(.enqueued) \(.done) \(.dlq) \(.cancelled) \(.pending)"' "$WORK/list")"
vx campaign list >"$WORK/out"
grep -qE '^CAMPAIGN +STATE +PRIORITY +ENQUEUED +DONE +DLQ +CANCELLED +PENDING' "$WORK/out" || fail "list header: $(head -1 "$WORK/out")"
grep -qE '^run1 +running +high +6 ' "$WORK/out" || fail "list row of run1: $(cat "$WORK/out")"

# ---------------------------------------------------------------- dlq replay and reconcile of a cancelled campaign
launch dq1 3
"$TESTBIN/dlq_seed" "$VOXCAST_REDIS_URL" dq1 4 --start 101 >/dev/null
entry=$(rcli HGET 'voxcast:{dq1}:dlq:e' dq1:1)
rcli HSET 'voxcast:{dq1}:dlq:e' dq1:1 "$(jq -c '.job.priority = "high"' <<<"$entry")" >/dev/null
vx campaign cancel dq1 >/dev/null
vx dlq replay --campaign dq1 --json >"$WORK/out" 2>"$WORK/err" || fail "replay of a cancelled campaign: $(cat "$WORK/err")"
assert_eq "cancelled campaign skipped" "0 1" "$(jq -r '"\(.replayed) \(.cancelled_skipped)"' "$WORK/out")"
vx dlq replay --campaign dq1 >"$WORK/out"
grep -q 'campaign dq1 is cancelled: skipped (--force replays it)' "$WORK/out" || fail "replay says: $(cat "$WORK/out")"
assert_eq "entries left alone" 4 "$(rcli ZCARD 'voxcast:{dq1}:dlq')"
vx dlq replay --campaign dq1 --force >"$WORK/out" 2>"$WORK/err" || fail "replay --force: $(cat "$WORK/err")"
grep -q -- '--force: replaying it' "$WORK/out" || fail "replay --force says: $(cat "$WORK/out")"
assert_eq "entries replayed with --force" 0 "$(rcli ZCARD 'voxcast:{dq1}:dlq')"
assert_eq "the high entry went to voxcast.jobs.high" "c-000101 high 1" \
	"$(topic_jobs voxcast.jobs.high dq1 | jq -r '"\(.contact) \(.priority) \(.replay)"')"
assert_eq "the others to voxcast.jobs" 3 "$(topic_jobs voxcast.jobs dq1 | jq -r 'select(.replay == 1) | .contact' | wc -l)"
n=$(topic_jobs voxcast.jobs dq1 | wc -l)
vx reconcile --campaign dq1 --contacts "$WORK/dq1.csv" >"$WORK/out" 2>&1 || fail "reconcile: $(cat "$WORK/out")"
grep -q 'campaign dq1 is cancelled: skipped' "$WORK/out" || fail "reconcile says: $(cat "$WORK/out")"
assert_eq "reconcile enqueued nothing" "$n" "$(topic_jobs voxcast.jobs dq1 | wc -l)"
vx reconcile --campaign dq1 --contacts "$WORK/dq1.csv" --force >"$WORK/out" 2>&1 || fail "reconcile --force: $(cat "$WORK/out")"
assert_eq "reconcile --force enqueued the 3 contacts" $((n + 3)) "$(topic_jobs voxcast.jobs dq1 | wc -l)"

# ---------------------------------------------------------------- delete
expect_fail 2 'add --yes' campaign delete can1
[ -n "$(rcli --scan --pattern '*{can1}*')" ] || fail "delete without --yes removed keys"
vx campaign delete can1 --yes >"$WORK/out" || fail "delete can1"
grep -q 'deleted campaign can1: 5 contacts, 0 DLQ entries' "$WORK/out" || fail "delete says: $(cat "$WORK/out")"
assert_eq "keys of can1 left" "" "$(rcli --scan --pattern '*{can1}*')"
assert_eq "can1 listed" "" "$(vx campaign list --json | jq -r 'select(.campaign == "can1") | .campaign')"
"$TESTBIN/dlq_seed" "$VOXCAST_REDIS_URL" dq2 3 >/dev/null
vx campaign delete dq2 --yes --json >"$WORK/out" || fail "delete dq2"
assert_eq "delete --json" '{"campaign":"dq2","contacts":3,"dlq_entries":3}' "$(cat "$WORK/out")"
assert_eq "keys of dq2 left" "" "$(rcli --scan --pattern '*{dq2}*')"
assert_eq "dq2 in the DLQ campaigns" 0 "$(rcli SISMEMBER voxcast:dlq:campaigns dq2)"
expect_fail 1 'no campaign "can1"' campaign delete can1 --yes

echo "t_campaign: all checks passed"
