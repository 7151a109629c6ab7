#!/usr/bin/env bash
# Jobs lost by Kafka (here: the embedded broker restarted, taking every topic with it, as its
# 5 MiB-per-partition limit would drop old data) are found and enqueued again by
# `voxcast reconcile`: contacts still pending get a new job, done ones are not rendered again.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 3
start_ttsd p --tone
make_contacts "$WORK/c.csv" 300
vx launch --campaign rec --contacts "$WORK/c.csv" --template 'Hi {{first_name}}' --voice alloy --json >/dev/null
# shellcheck disable=SC2046
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_p")
wait_complete rec 60
kill -TERM "$CONSUMER_PID_a"
wait "$CONSUMER_PID_a"

# a second launch of 500 more contacts, then the broker loses everything before any consumer ran
make_contacts "$WORK/more.csv" 500
vx launch --campaign rec2 --contacts "$WORK/more.csv" --template 'Hello {{first_name}}' --voice nova --json >/dev/null
kill "${PIDS[1]}"
wait "${PIDS[1]}" || true
start_broker 3
assert_eq "lost jobs still pending" 500 "$(status_field rec2 pending)"

vx reconcile --campaign rec2 --contacts "$WORK/more.csv" --json >"$WORK/rec.json"
assert_eq "reconcile re-enqueued the pending contacts" 500 "$(jq -r .enqueued "$WORK/rec.json")"
assert_eq "counts stay exact" 500 "$(status_field rec2 enqueued)"
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic.tsv"
assert_eq "jobs carry the launch template" "Hello Name42" "$(awk -F'\t' '$3 == "c-000042" {print $4}' "$WORK/topic.tsv" | jq -r .text)"

vx reconcile --campaign rec --contacts "$WORK/c.csv" --json >"$WORK/rec1.json"
assert_eq "a complete campaign has nothing to reconcile" "0 300" "$(jq -r '"\(.enqueued) \(.already_done)"' "$WORK/rec1.json")"
# shellcheck disable=SC2046
start_consumer b -X providers=primary $(provider_args "$TTSD_PORT_p")
wait_complete rec2 60
assert_eq "every lost contact done" 500 "$(status_field rec2 "done")"
assert_eq "the voice was kept" nova "$(awk -F'\t' '$3 == "c-000001" {print $4}' "$WORK/topic.tsv" | jq -r .voice)"
if vx reconcile --campaign nope --contacts "$WORK/c.csv" 2>"$WORK/err"; then fail "reconcile of an unknown campaign succeeded"; fi
grep -q 'no saved launch settings' "$WORK/err" || fail "unclear error: $(cat "$WORK/err")"
echo "all reconcile checks passed"
