#!/usr/bin/env bash
# broker_bounce.sh - chaos (c): an embedded cluster of three brokers (voxcast broker --brokers 3
# --control FIFO); mid-campaign each broker in turn is taken down for CHAOS_DOWN_SUMMARIES summary
# lines of consumer a (about 3 s) and brought back. Partitions whose leader is down stall, the group
# coordinator may be the one that went, commits fail meanwhile; once the broker is back the
# consumers must carry on by themselves, and every contact must still be done exactly once.
# shellcheck source=tests/chaos/lib.sh disable=SC2154
. "$(dirname "$0")/lib.sh"
DOWN=${CHAOS_DOWN_SUMMARIES:-6}
chaos_redis
chaos_cluster 12 3
chaos_ttsd
chaos_campaign bounce
for c in a b c; do spawn_consumer "$c"; done
for c in a b c; do wait_assigned "$c"; done
note "three consumers own partitions"

for id in 1 2 3; do
	wait_progress bounce $((CONTACTS * id / 5)) a
	before=$(status_field bounce "done")
	froms=()
	for c in a b c; do froms+=("$WORK/consumer-$c.log" "$(nlines "$WORK/consumer-$c.log")"); done
	broker_ctl down "$id"
	note "broker $id down at $before done"
	wait_any '"kafka error"' 15 "${froms[@]}"
	ok "the consumers felt broker $id go"
	wait_summaries a "$DOWN"
	broker_ctl up "$id"
	note "broker $id up again at $(status_field bounce "done") done"
done
verify_campaign bounce
for c in a b c; do kill -0 "$(pid_of $c)" || fail "consumer $c died"; done
ok "no consumer died"
echo "all broker bounce checks passed"
