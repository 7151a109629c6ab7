#!/usr/bin/env bash
# One provider account, three consumers: provider.primary.account_concurrency holds across the
# fleet, not per process. voxcast-ttsd plays the account (--max-concurrent answers 429
# too_many_concurrent_requests past it) and counts what it was sent: its peak_in_flight includes
# refused requests, so "peak <= limit" proves the consumers kept to the limit between them.
# Then: a consumer killed with SIGKILL while holding slots gives them back within its lease
# (3 s) and the others take them; Redis killed and restarted mid-campaign (consumers run on a
# local share meanwhile, and say so on /health): nothing is lost, every campaign completes.
. "$(dirname "$0")/lib.sh"
LIMIT=6
# cache.ttl_s=0: the later campaigns say what the first one said, and each must reach the
# provider (render once would answer them from the first campaign's audio)
export VOXCAST_CACHE_TTL_S=0
REDIS_AOF=yes start_redis --appendfsync always
start_broker 6
start_ttsd p --tone --latency-ms 50 --max-concurrent "$LIMIT"
for c in a b c; do
	# shellcheck disable=SC2046
	start_consumer $c -X providers=primary $(provider_args "$TTSD_PORT_p") -X consumer.concurrency=8 \
		-X provider.primary.account_concurrency=$LIMIT -X kafka.session.timeout.ms=6000
done

# health_port NAME: the consumer's HTTP port.
health_port() { grep -m1 '"http listening"' "$WORK/consumer-$1.log" | jq -r .port; }
# account NAME: the primary provider's "account" object on the consumer's /health.
account() { curl -sS "http://127.0.0.1:$(health_port "$1")/health" | jq -c '.providers[0].account'; }
# slots_of PID: "held/wanted/in_use" of that consumer's lease, "" when it has none.
slots_of() {
	rcli --raw HGETALL 'voxcast:account:{primary}:slots' | paste - - | awk -v p=":$1:" 'index($1, p) { print $2 }'
}

# ---- 1. the configured limit holds across three consumers
make_contacts "$WORK/c1.csv" 900
vx launch --campaign fl1 --contacts "$WORK/c1.csv" --template 'Hi {{first_name}}' --json >/dev/null
wait_complete fl1 120
assert_eq "fl1 done" 900 "$(status_field fl1 "done")"
assert_eq "fl1 dlq" 0 "$(status_field fl1 dlq)"
peak=$(ttsd_stat p peak_in_flight)
[ "$peak" -le "$LIMIT" ] || fail "peak in flight at the provider $peak > account limit $LIMIT"
ok "peak in flight at the provider $peak <= account limit $LIMIT (3 consumers x concurrency 8)"
assert_eq "429 too_many_concurrent_requests" 0 "$(ttsd_stat p throttled_concurrency)"
# the three shared the work (each rendered some), so the limit was not met by one consumer alone
for c in a b c; do
	n=$(consumer_metric $c 'voxcast_provider_requests_total.*code="200"')
	[ "$n" -gt 0 ] || fail "consumer $c rendered nothing"
done
ok "every consumer rendered part of the campaign"
syncs=0
for c in a b c; do syncs=$((syncs + $(consumer_metric $c '^voxcast_account_syncs_total'))); done
echo "account syncs: $syncs Redis round trips for $(ttsd_stat p requests) provider requests"
assert_eq "account limit metric" "$LIMIT" "$(consumer_metric a '^voxcast_account_limit')"
assert_eq "health account limit" "$LIMIT" "$(account a | jq -r .limit)"
assert_eq "health account learned" false "$(account a | jq -r .learned)"
acc=$(vx status fl1 --json | jq -c '.accounts.primary')
assert_eq "status accounts limit" "$LIMIT" "$(jq -r .limit <<<"$acc")"
assert_eq "status accounts consumers" 3 "$(jq -r .consumers <<<"$acc")"
vx status fl1 | grep -q "accounts: primary [0-9]*/$LIMIT in flight" || fail "status text shows no account line"
ok "status shows the account's limit and in-flight count across the fleet"

# ---- 2. a consumer killed with SIGKILL while holding slots gives them back
curl -fsS -X POST "http://127.0.0.1:$TTSD_PORT_p/admin/stats/reset" >/dev/null
make_contacts "$WORK/c2.csv" 3000
vx launch --campaign fl2 --contacts "$WORK/c2.csv" --template 'Hi {{first_name}}' --json >/dev/null
holds() { local s; s=$(slots_of "$CONSUMER_PID_b"); [ -n "$s" ] && [ "${s%%/*}" -gt 0 ]; }
wait_until 30 holds
held=$(slots_of "$CONSUMER_PID_b")
kill -9 "$CONSUMER_PID_b"
ok "consumer b killed with SIGKILL holding slots (held/wanted/in_use $held)"
killed_at=$SECONDS
gone() { [ -z "$(slots_of "$CONSUMER_PID_b")" ]; }
wait_until 10 gone
ok "b's slots were given back after $((SECONDS - killed_at)) s"
full() {
	local a
	a=$(vx status fl2 --json | jq -c '.accounts.primary')
	[ "$(jq -r .consumers <<<"$a")" = 2 ] && [ "$(jq -r .in_flight <<<"$a")" = "$LIMIT" ]
}
wait_until 20 full
ok "the two remaining consumers have all $LIMIT slots in flight"

# ---- 3. Redis killed and restarted mid-campaign: a local share meanwhile, nothing lost
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
wait_log "$WORK/consumer-a.log" 'provider account on a local share' 30
local_share() { [ "$(account a | jq -r .local_share)" = true ]; }
wait_until 10 local_share
ok "consumer a runs on a local share while Redis is away: $(account a)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
	--dir "$WORK" >"$WORK/redis-2.log" 2>&1 &
PIDS+=($!)
wait_log "$WORK/redis-2.log" 'Ready to accept connections'
wait_log "$WORK/consumer-a.log" 'provider account shared with the fleet' 30
ok "Redis restarted; the account is shared again"
wait_complete fl2 180
assert_eq "fl2 done" 3000 "$(status_field fl2 "done")"
assert_eq "fl2 dlq" 0 "$(status_field fl2 dlq)"
assert_eq "fl2 pending" 0 "$(status_field fl2 pending)"
assert_eq "audio files" 3900 "$(find "$WORK/audio" -name '*.wav' | wc -l)"
peak=$(ttsd_stat p peak_in_flight)
[ "$peak" -le "$LIMIT" ] || fail "peak in flight $peak > $LIMIT during the kill and the Redis restart"
ok "peak in flight $peak <= $LIMIT through the SIGKILL and the Redis restart"
assert_eq "429 too_many_concurrent_requests" 0 "$(ttsd_stat p throttled_concurrency)"

# restart_consumers ARGS...: the running consumers drain and leave; two new ones (d, e) join
restart_consumers() {
	local p
	for p in "${CONSUMER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${CONSUMER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	CONSUMER_PIDS=()
	for c in "$@"; do
		# shellcheck disable=SC2046
		start_consumer "$c" $(provider_args "$PORT" "$PROVIDER") -X providers="$PROVIDER" -X consumer.concurrency=8 \
			"${EXTRA[@]}"
	done
}

# ---- 4. the account's rate holds across the fleet: no 429, never more than rate + one batch a second
RATE=50
start_ttsd r --tone --latency-ms 20 --rate "$RATE"
PORT=$TTSD_PORT_r PROVIDER=rated EXTRA=(-X "provider.rated.account_rate=$RATE" -X provider.rated.adaptive=false)
restart_consumers d e
make_contacts "$WORK/c4.csv" 500
vx launch --campaign fl4 --contacts "$WORK/c4.csv" --template 'Hi {{first_name}}' --json >/dev/null
wait_complete fl4 120
assert_eq "fl4 done" 500 "$(status_field fl4 "done")"
assert_eq "429 for the rate" 0 "$(ttsd_stat r throttled_rate)"
max=$(ttsd_stat r max_per_second)
# the fleet's bucket holds 200 ms of refill: a second may see rate + that burst, never more
[ "$max" -le $((RATE + RATE / 5)) ] || fail "the provider saw $max requests in one second (rate $RATE)"
ok "at most $max requests in any second at the provider (account_rate $RATE, two consumers)"

# ---- 5. no limit configured: the fleet learns it from the answers, once
start_ttsd l --tone --latency-ms 50 --max-concurrent 4
PORT=$TTSD_PORT_l PROVIDER=learn EXTRA=()
restart_consumers f g
make_contacts "$WORK/c5.csv" 300
vx launch --campaign fl5 --contacts "$WORK/c5.csv" --template 'Hi {{first_name}}' --json >/dev/null
wait_complete fl5 120
assert_eq "fl5 done" 300 "$(status_field fl5 "done")"
assert_eq "fl5 dlq" 0 "$(status_field fl5 dlq)"
assert_eq "learned limit in Redis" 4 "$(rcli --raw HGET 'voxcast:account:{learn}:limit' learned)"
assert_eq "health account" '{"limit":4,"learned":true}' "$(account f | jq -c '{limit, learned}')"
echo "learning cost $(ttsd_stat l throttled_concurrency) answers 429 of $(ttsd_stat l requests)"
curl -fsS -X POST "http://127.0.0.1:$TTSD_PORT_l/admin/stats/reset" >/dev/null
make_contacts "$WORK/c6.csv" 300
vx launch --campaign fl6 --contacts "$WORK/c6.csv" --template 'Hi {{first_name}}' --json >/dev/null
wait_complete fl6 120
assert_eq "fl6 done" 300 "$(status_field fl6 "done")"
peak=$(ttsd_stat l peak_in_flight)
[ "$peak" -le 4 ] || fail "peak in flight $peak above the learned limit 4"
ok "with the limit learned, peak in flight $peak <= 4"
assert_eq "429 once learned" 0 "$(ttsd_stat l throttled_concurrency)"
echo "all fleet checks passed"
