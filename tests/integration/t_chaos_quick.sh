#!/usr/bin/env bash
# t_chaos_quick.sh - the chaos drills in small, for `make test`: tests/chaos/combined.sh on a
# campaign of CHAOS_QUICK_CONTACTS contacts (7000 by default, rendered at 60 ms each): one consumer killed with SIGKILL
# and restarted, Redis killed and restarted from its AOF, a broker of a three-broker cluster taken
# down and up, a consumer drained by SIGTERM, all in one campaign that must end with every contact
# done exactly once and one whole audio file each. The drills at full size, one fault each, run
# with `make chaos` (scripts/chaos.sh).
set -euo pipefail
# 60 ms per render keeps the campaign running long enough for every drill on a fast machine.
CHAOS_LATENCY_MS=${CHAOS_LATENCY_MS:-60} CHAOS_CONTACTS=${CHAOS_QUICK_CONTACTS:-7000} exec bash "$(dirname "$0")/../chaos/combined.sh"
