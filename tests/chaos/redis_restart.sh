#!/usr/bin/env bash
# redis_restart.sh - chaos (b): Redis is killed with SIGKILL mid-campaign (twice: at a quarter and
# at half of the campaign) and restarted on the same port and directory from its append-only file.
# While it is down the consumers must notice, stop taking jobs, keep what they finished, and carry
# on by themselves once it is back: nobody restarts them. Then every contact must be done exactly
# once, which also proves that no acknowledged write was lost from the AOF.
# shellcheck source=tests/chaos/lib.sh disable=SC2154
. "$(dirname "$0")/lib.sh"
chaos_redis
chaos_cluster 12 1
chaos_ttsd
chaos_campaign redisk9
for c in a b c; do spawn_consumer "$c"; done
for c in a b c; do wait_assigned "$c"; done
note "three consumers own partitions"

for pct in 25 50; do
	wait_progress redisk9 $((CONTACTS * pct / 100)) a
	declare -A from=()
	for c in a b c; do from[$c]=$(nlines "$WORK/consumer-$c.log"); done
	before=$(status_field redisk9 "done")
	redis_kill9
	note "redis killed with SIGKILL at $before done"
	# a consumer whose partitions are all finished asks Redis nothing, and need not notice
	wait_any '"redis unreachable' 30 "$WORK/consumer-a.log" "${from[a]}" "$WORK/consumer-b.log" "${from[b]}" \
		"$WORK/consumer-c.log" "${from[c]}"
	ok "the consumers noticed that Redis is gone"
	# stay down a while: four summaries of a (about 2 s); the consumers must hold, not drop, jobs
	wait_summaries a 4
	req_down=$(ttsd_stat p requests)
	wait_summaries a 2
	[ "$(ttsd_stat p requests)" -le $((req_down + 3 * CONCURRENCY)) ] ||
		fail "consumers kept rendering while Redis was down: $req_down -> $(ttsd_stat p requests) requests"
	ok "rendering stopped while Redis was down (at most the jobs in hand finished)"
	redis_restart
	after=$(status_field redisk9 "done")
	note "redis restarted from its AOF: $after done (was $before before the kill)"
	[ "$after" -ge "$before" ] || fail "the AOF lost acknowledged outcomes: done went from $before to $after"
	noticed=""
	for c in a b c; do
		logged_after "$WORK/consumer-$c.log" "${from[$c]}" '"redis unreachable' || continue
		wait_after "$WORK/consumer-$c.log" "${from[$c]}" '"redis reachable again' 30
		noticed="$noticed $c"
	done
	ok "every consumer that lost Redis ($noticed ) resumed by itself"
done
verify_campaign redisk9
for c in a b c; do kill -0 "$(pid_of $c)" || fail "consumer $c died"; done
ok "no consumer died"
echo "all Redis restart checks passed"
