#!/usr/bin/env bash
# kill9_loop.sh - chaos (a): three consumers on one campaign; every few seconds one of them, in
# turn, is killed with SIGKILL and started again. The loop is paced by the victim's summary lines:
# wait until the restarted consumer owns partitions again (the dead member's session has to time
# out first), let the next victim log CHAOS_KILL_EVERY more summaries, check the campaign moved on
# since the last kill, kill. Ends when the campaign is complete or after CHAOS_KILLS kills, then
# verifies that every contact was done exactly once with one whole file.
# shellcheck source=tests/chaos/lib.sh disable=SC2154
# renders take 60 ms here (not the drills' 5 ms), so the campaign outlasts several kills: each
# one costs the group a session timeout and a rebalance, and a fast campaign is over after one
: "${CHAOS_LATENCY_MS:=60}"
export CHAOS_LATENCY_MS
. "$(dirname "$0")/lib.sh"
MAX_KILLS=${CHAOS_KILLS:-1000}
EVERY=${CHAOS_KILL_EVERY:-4}
chaos_redis
chaos_cluster 12 1
chaos_ttsd
chaos_campaign k9loop
for c in a b c; do spawn_consumer "$c"; done
for c in a b c; do wait_assigned "$c"; done
note "three consumers own partitions"

victims=(a b c)
kills=0 last_done=-1
while [ "$kills" -lt "$MAX_KILLS" ]; do
	v=${victims[kills % 3]}
	wait_summaries "$v" "$EVERY"
	st=$(vx status k9loop --json)
	[ "$(jq -r .pending <<<"$st")" -eq 0 ] && break
	done_now=$(jq -r .done <<<"$st")
	[ "$done_now" -gt "$last_done" ] || fail "no progress since the last kill: done stuck at $done_now"
	last_done=$done_now
	kill9_consumer "$v"
	kills=$((kills + 1))
	note "kill -9 #$kills: consumer $v (campaign done so far: $done_now)"
	spawn_consumer "$v"
	wait_assigned "$v" 60
	note "consumer $v back and owning partitions"
done
[ "$kills" -ge 1 ] || fail "the campaign finished before the first kill: nothing was proved (raise CHAOS_CONTACTS)"
ok "$kills consumers killed with SIGKILL and restarted mid-campaign"
verify_campaign k9loop
echo "all kill -9 loop checks passed"
