#!/usr/bin/env bash
# combined.sh - every chaos drill in one campaign, one after the other, on a three-broker cluster:
# at 10% of the campaign consumer b is killed with SIGKILL and restarted; at 25% Redis is killed
# with SIGKILL and restarted from its AOF; at 40% consumer a is drained with SIGTERM and must exit
# 0; at 55% broker 2 goes down for four summaries of consumer c and comes back. The consumers left
# finish the campaign, and every contact must be done exactly once with one whole audio file.
# The broker bounce comes last because it is the longest step and need not slow the consumers
# (their prefetched jobs carry on): the campaign may end during it. tests/integration/
# t_chaos_quick.sh runs it small in `make test`.
# shellcheck source=tests/chaos/lib.sh disable=SC2154
. "$(dirname "$0")/lib.sh"
chaos_redis
chaos_cluster 12 3
chaos_ttsd
chaos_campaign combined
for c in a b c; do spawn_consumer "$c"; done
for c in a b c; do wait_assigned "$c"; done
note "three consumers own partitions"

# at PERCENT WHAT: waits for PERCENT of the campaign done, and fails if it is already complete
# (the fault would hit an idle fleet and prove nothing).
at() {
	wait_progress combined $((CONTACTS * $1 / 100)) c
	[ "$(status_field combined pending)" -gt 0 ] ||
		fail "the campaign finished before the $2 (raise CHAOS_CONTACTS)"
}
froms() { for c in "$@"; do echo "$WORK/consumer-$c.log" "$(nlines "$WORK/consumer-$c.log")"; done; }

at 10 "kill -9"
kill9_consumer b
note "kill -9: consumer b, at $(status_field combined "done") done"
spawn_consumer b
wait_assigned b 60
note "consumer b back and owning partitions"

at 25 "Redis kill"
# shellcheck disable=SC2046
set -- $(froms a b c)
redis_kill9
note "Redis killed with SIGKILL"
wait_any '"redis unreachable' 30 "$@"
wait_summaries c 2
redis_restart
note "Redis restarted from its AOF at $(status_field combined "done") done"

at 40 "SIGTERM"
term_consumer a
note "consumer a drained and exited 0 at $(status_field combined "done") done"

at 55 "broker bounce"
# shellcheck disable=SC2046
set -- $(froms b c)
broker_ctl down 2
note "broker 2 down"
wait_any '"kafka error"' 15 "$@"
wait_summaries c 4
broker_ctl up 2
note "broker 2 up again at $(status_field combined "done") done"

verify_campaign combined
for c in b c; do kill -0 "$(pid_of $c)" || fail "consumer $c died"; done
ok "consumers b and c alive"
echo "all combined chaos checks passed"
