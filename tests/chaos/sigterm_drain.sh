#!/usr/bin/env bash
# sigterm_drain.sh - chaos (d): three consumers on one campaign; at a fifth of it consumer a gets
# SIGTERM, at half of it consumer b. Each must stop fetching, finish the jobs in its hands within
# consumer.shutdown_grace_ms, commit, exit 0 and say "unfinished":0; c takes over their partitions
# and finishes the campaign alone. A drain hands partitions over cleanly, so the repeated renders
# reported here are the cost of the rebalances, not of lost work.
# shellcheck source=tests/chaos/lib.sh disable=SC2154
. "$(dirname "$0")/lib.sh"
chaos_redis
chaos_cluster 12 1
chaos_ttsd
chaos_campaign drain
for c in a b c; do spawn_consumer "$c"; done
for c in a b c; do wait_assigned "$c"; done
note "three consumers own partitions"

for step in a:20 b:50; do
	v=${step%%:*} pct=${step##*:}
	wait_progress drain $((CONTACTS * pct / 100)) c
	# strike while it has jobs in hand (up to 40 summaries), so that the drain has work to finish
	for ((i = 0; i < 40; i++)); do
		[ "$(consumer_metric "$v" '^voxcast_in_flight')" -gt 0 ] && break
		wait_summaries "$v" 1
	done
	from=$(nlines "$WORK/consumer-$v.log")
	term_consumer "$v"
	in_hand=$(tail -n "+$((from + 1))" "$WORK/consumer-$v.log" | grep -m1 '"msg":"draining' | jq -r .in_flight)
	note "consumer $v drained $in_hand jobs in hand, exited 0 (campaign done so far: $(status_field drain "done"))"
	ok "consumer $v stopped cleanly on SIGTERM"
done
verify_campaign drain
kill -0 "$(pid_of c)" || fail "consumer c died"
term_consumer c
ok "consumer c drained and exited 0 at the end"
echo "all SIGTERM drain checks passed"
