#!/usr/bin/env bash
# redis.wait_replicas=1 against a primary and one replica: with the replica up a campaign
# completes and the replica holds its outcomes; with the replica stopped, the consumer logs that
# the batch was not confirmed, counts nothing more and pauses (health: redis down), since its
# offsets must not be stored; with the replica back the campaign completes, nothing lost.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2
start_ttsd p --tone

# start_replica N: a replica of the primary, logging to replica-N.log; waits for its first sync.
start_replica() {
	mkdir -p "$WORK/replica-$1"
	redis-server --port "$REPLICA_PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$WORK/replica-$1" --replicaof 127.0.0.1 "$REDIS_PORT" >"$WORK/replica-$1.log" 2>&1 &
	PIDS+=($!)
	REPLICA_PID=$!
	wait_log "$WORK/replica-$1.log" 'MASTER <-> REPLICA sync: Finished with success'
}
replica() { redis-cli -p "$REPLICA_PORT" --no-auth-warning "$@"; }
health_redis() {
	local port
	port=$(grep -m1 '"http listening"' "$WORK/consumer-a.log" | jq -r .port)
	curl -sS "http://127.0.0.1:$port/health" | jq -r .redis
}
launch() {
	make_contacts "$WORK/$1.csv" 30
	vx launch --campaign "$1" --contacts "$WORK/$1.csv" --template 'Hi {{first_name}}' --json >/dev/null
}

REPLICA_PORT=$("$TESTBIN/freeport")
start_replica 1
launch w1
# shellcheck disable=SC2046
start_consumer a -X providers=primary $(provider_args "$TTSD_PORT_p") -X consumer.concurrency=4 \
	-X redis.wait_replicas=1 -X redis.wait_timeout_ms=300
wait_complete w1 30
assert_eq "replica holds the first campaign" 30 "$(replica HGET 'voxcast:{w1}:meta' "done")"
assert_eq "done jobs" 30 "$(consumer_metric a 'voxcast_jobs_total\{outcome="done"')"

stop_within 5 "$REPLICA_PID"
launch w2
wait_log "$WORK/consumer-a.log" 'redis replicas did not confirm an outcome batch' 20
ok "the unconfirmed batch is logged: $(grep -m1 'replicas did not confirm' "$WORK/consumer-a.log" | jq -r .error)"
sleep 2 # no progress while the replica is away
assert_eq "no job counted (no offset stored) without the replica" 30 \
	"$(consumer_metric a 'voxcast_jobs_total\{outcome="done"')"
assert_eq "health reports redis" down "$(health_redis)"

start_replica 2
wait_log "$WORK/consumer-a.log" 'redis replicas caught up' 20
wait_complete w2 30
assert_eq "done jobs, each counted once" 60 "$(consumer_metric a 'voxcast_jobs_total\{outcome="done"')"
assert_eq "no duplicates" 0 "$(consumer_metric a 'voxcast_jobs_total\{outcome="duplicate"')"
assert_eq "second campaign done on the primary" 30 "$(status_field w2 "done")"
assert_eq "replica holds the second campaign" 30 "$(replica HGET 'voxcast:{w2}:meta' "done")"
assert_eq "audio files" 60 "$(find "$WORK/audio" -name '*.wav' | wc -l)"
assert_eq "health reports redis" ok "$(health_redis)"
echo "all wait_replicas checks passed"
