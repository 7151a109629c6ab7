#!/usr/bin/env bash
# Campaign lifecycle as consumers live it (CONTRACT.md "Campaign lifecycle"): two consumers, the
# embedded broker with its three priority lanes (voxcast.jobs.high, voxcast.jobs,
# voxcast.jobs.low), and one voxcast-ttsd answering in 100 ms, so a campaign of 2,000 takes
# seconds. Each campaign speaks its own words and the render-once cache is off, so ttsd's request
# counter counts exactly what was rendered.
#   (d) expiry: jobs launched with --ttl 2s and taken after it go to the DLQ as "expired";
#   (a) priority: a 20-contact campaign launched --priority high after a 2,000-contact one
#       completes while most of the bulk is still pending, and a 10-contact one launched --priority
#       low is not starved by it either (kafka.low_lane_share);
#   (b) cancel mid-campaign: the provider sees its last request of the campaign within 2 s,
#       done + dlq + cancelled + pending == enqueued at every read while it drains, and it ends
#       cancelled with pending 0, each cancelled contact with an "outcome":"cancelled" event;
#   (c) pause (the provider's last request of the campaign within 2 s, its jobs set aside), kill -9
#       a consumer, start another, resume: every contact rendered exactly once;
#   (e) cancel while every job waits out a 30 s Retry-After: they are cancelled at once, not
#       when their timers fire, and no retry is sent.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 4
start_ttsd p --tone --latency-ms 100 --fail-text STUCK=503 --retry-after 30
GROUP=voxcast-consumers
LANES=(voxcast.jobs.high voxcast.jobs voxcast.jobs.low)
read -ra PROVIDER <<<"$(provider_args "$TTSD_PORT_p")"
CONSUMER_ARGS=(-X providers=primary "${PROVIDER[@]}" -X consumer.concurrency=8 -X cache.ttl_s=0
	-X kafka.session.timeout.ms=6000)

now_ms() { date +%s%3N; }
requests() { ttsd_stat p requests; }
# counts_add_up CAMPAIGN: the contract's invariant on one status --json read; fails the test if not.
counts_add_up() {
	local j
	j=$(vx status "$1" --json)
	[ "$(jq '.done + .dlq + .cancelled + .pending == .enqueued' <<<"$j")" = true ] ||
		fail "$1: done + dlq + cancelled + pending != enqueued: $(jq -c '{enqueued, done, dlq, cancelled, pending, aside}' <<<"$j")"
	STATUS=$j
}
# lag: messages of the job topics the consumer group has not committed.
lag() { "$TESTBIN/group_lag" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$GROUP" "${LANES[@]}"; }
results() { "$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.results | cut -f4; }

# ---- (d) expiry: the jobs expire before any consumer runs, then nothing of them is rendered
make_contacts "$WORK/exp.csv" 30
vx launch --campaign exp --contacts "$WORK/exp.csv" --template 'Expiring {{first_name}}' --ttl 2s --json >/dev/null
expires_at=$("$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs | sed -n 1p | cut -f4 | jq -r .expires_at)
[ "$expires_at" != null ] || fail "launch --ttl 2s wrote no expires_at"
expiry_ms=$(date -d "$expires_at" +%s%3N)
past_expiry() { [ "$(now_ms)" -gt "$expiry_ms" ]; }
wait_until 10 past_expiry # the condition is the wall clock itself: the jobs' expiry
for c in a b; do start_consumer $c "${CONSUMER_ARGS[@]}"; done
wait_complete exp 30
assert_eq "exp dlq" 30 "$(status_field exp dlq)"
assert_eq "exp done" 0 "$(status_field exp "done")"
assert_eq "exp DLQ reasons" expired "$(dlq_entries exp | jq -r .reason | sort -u)"
dlq_entries exp | jq -e 'select(.error | test("expired at"))' >/dev/null || fail "expired entries give no expiry"
assert_eq "requests for expired jobs" 0 "$(requests)"
# replayed, an expired job is rendered: the replay drops its deadline (the operator decided)
vx dlq replay --campaign exp --json >/dev/null
exp_done() { [ "$(status_field exp "done")" = 30 ]; }
wait_until 30 exp_done
assert_eq "replayed expired jobs rendered" 30 "$(requests)"
ttsd_curl "$TTSD_PORT_p" /admin/stats/reset -X POST >/dev/null

# ---- (a) priority: urgent overtakes the bulk queued before it
make_contacts "$WORK/bulk.csv" 2000
vx launch --campaign bulk --contacts "$WORK/bulk.csv" --template 'Bulk {{first_name}}' --json >/dev/null
bulk_started() { [ "$(status_field bulk "done")" -gt 0 ]; }
wait_until 30 bulk_started
make_contacts "$WORK/urgent.csv" 20
vx launch --campaign urgent --contacts "$WORK/urgent.csv" --template 'Urgent {{first_name}}' --priority high \
	--json >/dev/null
assert_eq "urgent jobs in the high lane" 20 \
	"$("$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs.high | wc -l)"
wait_complete urgent 30
left=$(status_field bulk pending)
[ "$left" -gt 1000 ] || fail "urgent completed only once the bulk was down to $left pending"
ok "urgent (20, --priority high) complete while $left of the 2000 bulk contacts queued before it are pending"
# the low lane is not starved by the normal one: kafka.low_lane_share of the intake and the starts
make_contacts "$WORK/low.csv" 10
vx launch --campaign lowly --contacts "$WORK/low.csv" --template 'Lowly {{first_name}}' --priority low \
	--json >/dev/null
wait_complete lowly 30
left=$(status_field bulk pending)
[ "$left" -gt 500 ] || fail "the low campaign completed only once the bulk was down to $left pending"
ok "lowly (10, --priority low) complete beside the bulk, $left of it still pending"

# ---- (b) cancel the bulk mid-campaign
assert_eq "bulk state" running "$(status_field bulk state)"
cancel_ms=$(now_ms)
vx campaign cancel bulk >/dev/null
reads=0
# drained: one status read (invariant checked); true once nothing of the bulk is pending or in
# flight at the provider
drained() {
	counts_add_up bulk
	reads=$((reads + 1))
	[ "$(jq .pending <<<"$STATUS")" = 0 ] && [ "$(ttsd_stat p in_flight)" = 0 ]
}
wait_until 30 drained
ok "done + dlq + cancelled + pending == enqueued at each of $reads status reads while it drained"
after=$(($(ttsd_stat p last_request_ms) - cancel_ms)) # ttsd: wall time of its last request
[ "$after" -le $((2000 * SLOW)) ] || fail "the provider saw a bulk request ${after} ms after the cancel"
ok "the provider's last bulk request came ${after} ms after the cancel (<= 2000)"
assert_eq "bulk state" cancelled "$(jq -r .state <<<"$STATUS")"
cancelled=$(jq .cancelled <<<"$STATUS")
[ "$cancelled" -gt 1000 ] || fail "only $cancelled bulk contacts cancelled"
assert_eq "bulk done = requests for it" "$(jq .done <<<"$STATUS")" $(($(requests) - 30))
m=$(($(consumer_metric a 'jobs_total.outcome="cancelled"') + $(consumer_metric b 'jobs_total.outcome="cancelled"')))
assert_eq "voxcast_jobs_total{outcome=cancelled} of the consumers" "$cancelled" "$m"
cancelled_events() { [ "$(results | jq -c 'select(.campaign == "bulk" and .outcome == "cancelled")' | wc -l)" = "$cancelled" ]; }
wait_until 30 cancelled_events
ok "$cancelled \"outcome\":\"cancelled\" results events"
results | jq -e 'select(.campaign == "bulk" and .outcome == "cancelled") | select(.uri != null or .reason)' \
	>/dev/null && fail "a cancelled event carries a uri or a DLQ reason"
# summary_counts: a consumer's summary line (every 2 s) has counted the cancelled jobs
summary_counts() { grep -h '"summary"' "$WORK"/consumer-[ab].log | jq -s -e 'map(.cancelled) | max > 0' >/dev/null; }
wait_until 10 summary_counts
ok "the consumers' summary lines count cancelled jobs"

# ---- (c) pause, kill -9 a consumer, start another, resume: every contact rendered once
ttsd_curl "$TTSD_PORT_p" /admin/stats/reset -X POST >/dev/null
make_contacts "$WORK/pz.csv" 600
vx launch --campaign pz --contacts "$WORK/pz.csv" --template 'Paused {{first_name}}' --json >/dev/null
pz_started() { [ "$(status_field pz "done")" -ge 50 ]; }
wait_until 30 pz_started
pause_ms=$(now_ms)
vx campaign pause pz >/dev/null
# settled: every pending job is set aside and every message taken is committed, so the kill
# below loses nothing and has nothing redelivered
settled() {
	counts_add_up pz
	[ "$(jq '.pending == .aside' <<<"$STATUS")" = true ] && [ "$(lag)" = 0 ]
}
wait_until 30 settled
aside=$(jq .aside <<<"$STATUS")
[ "$aside" -gt 0 ] || fail "nothing of pz was set aside"
assert_eq "pz state" paused "$(jq -r .state <<<"$STATUS")"
ok "pz paused with $aside jobs set aside, $(jq .done <<<"$STATUS") done"
after=$(($(ttsd_stat p last_request_ms) - pause_ms))
[ "$after" -le $((2000 * SLOW)) ] || fail "the provider saw a pz request ${after} ms after the pause"
ok "the provider's last pz request came ${after} ms after the pause (<= 2000)"
paused_requests=$(requests)
{ kill -9 "$CONSUMER_PID_a" && wait "$CONSUMER_PID_a"; } 2>/dev/null || true
start_consumer c "${CONSUMER_ARGS[@]}"
assert_eq "requests while paused (after a restart)" "$paused_requests" "$(requests)"
vx campaign resume pz >/dev/null 2>"$WORK/resume.err" || fail "resume: $(cat "$WORK/resume.err")"
wait_complete pz 60
assert_eq "pz done" 600 "$(status_field pz "done")"
assert_eq "pz dlq" 0 "$(status_field pz dlq)"
assert_eq "pz duplicates" 0 "$(status_field pz duplicates)"
assert_eq "pz requests (one per contact)" 600 "$(requests)"
assert_eq "pz distinct files" 600 "$(find "$WORK/audio/pz" -type f | wc -l)"

# ---- (e) cancel while the jobs wait out a provider's 30 s Retry-After
make_contacts "$WORK/stuck.csv" 5
vx launch --campaign stuck --contacts "$WORK/stuck.csv" --template 'STUCK {{first_name}}' --json >/dev/null
tried() { [ "$(ttsd_stat p requests)" -ge 605 ]; }
wait_until 30 tried
vx campaign cancel stuck >/dev/null
stuck_gone() { counts_add_up stuck && [ "$(jq .pending <<<"$STATUS")" = 0 ]; }
wait_until 5 stuck_gone
assert_eq "stuck cancelled (not left to their 30 s timers)" 5 "$(jq .cancelled <<<"$STATUS")"
assert_eq "requests for stuck: the first attempts only" 605 "$(requests)"

echo "all lifecycle checks passed"
