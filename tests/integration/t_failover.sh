#!/usr/bin/env bash
# Failover: a primary that refuses connections, then one that hangs. Every contact is rendered by
# the secondary, and the primary's breaker keeps the traffic to it down to a handful of requests
# (the threshold plus half-open probes), instead of one failed attempt series per job.
. "$(dirname "$0")/lib.sh"
# every contact asks the provider: the faults under test are the provider's answers, and render
# once would answer repeated texts with copies (cache.h)
export VOXCAST_CACHE_TTL_S=0
start_redis
start_broker 4
start_ttsd s --tone
start_ttsd hang --tone --hang-rate 1.0
dead=$("$TESTBIN/freeport")

make_contacts "$WORK/a.csv" 300
vx launch --campaign refused --contacts "$WORK/a.csv" --template 'Hi {{first_name}}' --json >/dev/null
common="-X consumer.concurrency=8 -X retry.base_ms=5 -X retry.max_ms=20 -X breaker.failure_threshold=3 -X breaker.open_ms=60000"
# shellcheck disable=SC2046,SC2086
start_consumer a -X providers=primary,secondary $(provider_args "$dead") $(provider_args "$TTSD_PORT_s" secondary) $common
wait_complete refused 60
assert_eq "refused: done" 300 "$(status_field refused "done")"
assert_eq "refused: rendered by the secondary" 300 "$(vx status refused --json | jq -r .by_provider.secondary)"
tries=$(consumer_metric a 'voxcast_provider_requests_total\{provider="primary"')
[ "$tries" -le 12 ] || fail "primary refused connections but was tried $tries times: the breaker did not stop the traffic"
ok "primary tried only $tries times"
grep -q '"breaker state change","provider":"primary","from":"closed","breaker":"open"' "$WORK/consumer-a.log" ||
	fail "no breaker-open log line for the primary"
kill -TERM "$CONSUMER_PID_a"
wait "$CONSUMER_PID_a" || fail "consumer a did not exit 0"

# The second "primary" is another server: forget the first one's shared breaker (breaker.shared),
# still open for a minute, which consumer b would otherwise adopt and never try the hanging one.
rcli DEL 'voxcast:{breakers}:open' >/dev/null
make_contacts "$WORK/b.csv" 200
vx launch --campaign hanging --contacts "$WORK/b.csv" --template 'Hi {{first_name}}' --json >/dev/null
# shellcheck disable=SC2046,SC2086
start_consumer b -X providers=primary,secondary $(provider_args "$TTSD_PORT_hang") $(provider_args "$TTSD_PORT_s" secondary) \
	-X provider.primary.timeout_ms=300 $common
wait_complete hanging 60
assert_eq "hanging: done" 200 "$(status_field hanging "done")"
assert_eq "hanging: rendered by the secondary" 200 "$(vx status hanging --json | jq -r .by_provider.secondary)"
hung=$(ttsd_stat hang requests)
[ "$hung" -le 12 ] || fail "a hanging primary received $hung requests: the breaker did not stop the traffic"
ok "hanging primary received only $hung requests"
assert_eq "timeouts counted" 1 "$([ "$(consumer_metric b 'voxcast_provider_requests_total\{provider="primary",code="timeout"')" -ge 3 ] && echo 1 || echo 0)"
echo "all failover checks passed"
