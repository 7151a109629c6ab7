#!/usr/bin/env bash
# Shared breaker: four consumers, a primary failing every request, breaker.open_ms=1000. With
# breaker.shared=false each consumer probes the dead primary once per open period (about four
# requests a second from the fleet); with the shared breaker (the default) the fleet sends it
# about one a second. Then a probe lease left by a consumer killed mid-probe holds the fleet back
# until it expires by itself, the primary heals (restarted without failures on the same port) and
# the fleet closes the breaker for everyone: the primary renders again. Last, Redis goes away and
# comes back: every consumer logs that it keeps its own breakers, then that they are shared again.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 8
start_ttsd primary --tone --fail-rate 1 --fail-status 503
PRIMARY_PID=${PIDS[-1]}
PRIMARY_PORT=$TTSD_PORT_primary
start_ttsd s --tone --latency-ms 100
WINDOW_S=${BREAKER_WINDOW_S:-5} # the measurement window: a rate is counted over time, nothing waits on it
CONSUMERS=(c1 c2 c3 c4)
# shellcheck disable=SC2046,SC2086
common() {
	echo "-X providers=primary,secondary $(provider_args "$PRIMARY_PORT") $(provider_args "$TTSD_PORT_s" secondary)" \
		"-X consumer.concurrency=4 -X retry.base_ms=5 -X retry.max_ms=20 -X retry.max_attempts=2" \
		"-X breaker.failure_threshold=3 -X breaker.open_ms=1000 -X breaker.half_open_successes=1"
}

# opened_in NAME: the consumer's log shows the primary's breaker open (its own or adopted).
opened_in() { grep -q '"breaker state change","provider":"primary","from":"[a-z_]*","breaker":"open"' "$WORK/consumer-$1.log"; }
all_opened() { local c; for c in "${CONSUMERS[@]}"; do opened_in "$c" || return 1; done; }
closed_in() { grep -q '"breaker state change","provider":"primary","from":"[a-z_]*","breaker":"closed"' "$WORK/consumer-$1.log"; }
all_closed() { local c; for c in "${CONSUMERS[@]}"; do closed_in "$c" || return 1; done; }
primary_requests() { ttsd_stat primary requests; }
pending_jobs() { status_field "$1" pending; }

# measure CAMPAIGN: requests reaching the primary during WINDOW_S seconds, once every consumer
# has failed over; the campaign must still have work left at the end of the window.
measure() {
	wait_until 30 all_opened
	local before after
	before=$(primary_requests)
	sleep "$WINDOW_S"
	after=$(primary_requests)
	[ "$(pending_jobs "$1")" -gt 0 ] || fail "$1 finished inside the window: the measurement saw an idle fleet"
	echo $((after - before))
}

# settled: each consumer's latest assignment is its final share (the 8 partitions of each of
# the three priority lanes over 4: 6): the eager rebalances of the joins are over, so no
# revocation idles the fleet inside the window.
settled_in() { grep '"partitions \(assigned\|revoked\)"' "$WORK/consumer-$1.log" | tail -n 1 | grep -q '"partitions assigned","count":6'; }
settled() { local c; for c in "${CONSUMERS[@]}"; do settled_in "$c" || return 1; done; }

start_fleet() { # start_fleet [ARGS...]
	local c
	for c in "${CONSUMERS[@]}"; do
		# shellcheck disable=SC2046
		start_consumer "$c" $(common) "$@"
	done
}

stop_fleet() {
	local c pid_var
	for c in "${CONSUMERS[@]}"; do
		pid_var="CONSUMER_PID_$c"
		kill -TERM "${!pid_var}"
	done
	for c in "${CONSUMERS[@]}"; do
		pid_var="CONSUMER_PID_$c"
		wait "${!pid_var}" || true
		mv "$WORK/consumer-$c.log" "$WORK/consumer-$c.$1.log"
	done
}

# ---- per-process breakers: about one probe per consumer per open period
make_contacts "$WORK/a.csv" 3000
start_fleet -X breaker.shared=false
wait_until 60 settled
vx launch --campaign local --contacts "$WORK/a.csv" --template 'Hi {{first_name}}' --json >/dev/null
local_n=$(measure local)
stop_fleet local
ok "breaker.shared=false: the dead primary got $local_n requests in ${WINDOW_S}s from 4 consumers"
[ "$local_n" -gt $((2 * WINDOW_S)) ] ||
	fail "per-process breakers sent only $local_n requests in ${WINDOW_S}s: the fleet bound below could not fail"
[ "$(rcli HLEN 'voxcast:{breakers}:open')" = 0 ] || fail "breaker.shared=false wrote the shared record"

# ---- the shared breaker: one probe for the fleet per open period
make_contacts "$WORK/b.csv" 3000
start_fleet
wait_until 60 settled
vx launch --campaign shared --contacts "$WORK/b.csv" --template 'Hello {{first_name}}' --json >/dev/null
shared_n=$(measure shared)
ok "breaker.shared=true: the dead primary got $shared_n requests in ${WINDOW_S}s from 4 consumers"
[ "$shared_n" -le $((2 * WINDOW_S)) ] ||
	fail "the shared breaker let $shared_n requests through in ${WINDOW_S}s (at most $((2 * WINDOW_S)) expected)"
[ "$shared_n" -lt "$local_n" ] || fail "shared ($shared_n) is not below per-process ($local_n)"
[ "$(rcli HEXISTS 'voxcast:{breakers}:open' primary)" = 1 ] || fail "no shared record for the primary"

# ---- a consumer killed while probing leaves its lease: nobody probes until it expires, then
# one consumer does. The lease is planted well inside an open period, when no probe can be out.
open_left_ms() { # the fleet's open time left for the primary, on Redis's clock
	local t
	mapfile -t t < <(rcli TIME)
	echo $(($(rcli HGET 'voxcast:{breakers}:open' primary) - t[0] * 1000 - t[1] / 1000))
}
well_inside_open() { [ "$(open_left_ms)" -gt 400 ]; }
ghost_holds() { [ "$(rcli GET 'voxcast:{breakers}:probe:primary')" = ghost-of-a-killed-consumer ]; }
wait_until 10 well_inside_open
rcli SET 'voxcast:{breakers}:probe:primary' ghost-of-a-killed-consumer PX 2500 >/dev/null
before=$(primary_requests)
# ghost_expired: true once the lease is gone; fails the test if anyone probed while it held
ghost_expired() {
	ghost_holds || return 0
	[ "$(primary_requests)" = "$before" ] || fail "a consumer probed while a killed consumer's lease held"
	return 1
}
wait_until 10 ghost_expired
wait_until 10 bash -c "[ \$(curl -fsS http://127.0.0.1:$PRIMARY_PORT/admin/stats | jq -r .requests) -gt $before ]"
ok "nobody probed while a killed prober's lease held; once it expired the fleet probed again"

# ---- the primary heals: restarted without failures on the same port, the fleet closes the breaker
kill "$PRIMARY_PID"
wait "$PRIMARY_PID" 2>/dev/null || true
"$BIN/voxcast-ttsd" --listen "127.0.0.1:$PRIMARY_PORT" --tone >"$WORK/ttsd-healed.out" 2>"$WORK/ttsd-healed.err" &
PIDS+=($!)
wait_log "$WORK/ttsd-healed.out" 'listening on'
wait_until 30 all_closed
wait_until 10 bash -c "[ \$(redis-cli -p $REDIS_PORT HEXISTS 'voxcast:{breakers}:open' primary) = 0 ]"
ok "the fleet closed the primary's breaker after it healed"
wait_complete shared 120
[ "$(vx status shared --json | jq -r '.by_provider.primary // 0')" -gt 0 ] || fail "the healed primary rendered nothing"
ok "the healed primary renders again: $(vx status shared --json | jq -c .by_provider)"
# ---- Redis unreachable: each consumer falls back to breakers of its own and says so; then back
all_logged() { local c; for c in "${CONSUMERS[@]}"; do grep -q "$1" "$WORK/consumer-$c.log" || return 1; done; }
kill "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
wait_until 15 all_logged '"shared breaker: redis unreachable; each consumer keeps its own breakers'
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --dir "$WORK" >"$WORK/redis-again.log" 2>&1 &
PIDS+=($!)
wait_log "$WORK/redis-again.log" 'Ready to accept connections'
wait_until 20 all_logged '"shared breaker: redis reachable; breakers are shared again"'
ok "redis lost: every consumer said it keeps its own breakers; redis back: shared again"
echo "all shared breaker checks passed"
