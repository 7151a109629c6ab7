#!/usr/bin/env bash
# term_kafka_gone.sh - the fleet is stopped while Kafka goes away: mid-campaign the embedded
# cluster (three brokers) and the three consumers get SIGTERM at the same moment, as when a whole
# host or compose stack is shut down. Each consumer must still drain and exit within
# consumer.shutdown_grace_ms plus a margin (60 s here): the contract allows exit 1 when Kafka is
# unreachable, not a process that never ends. The campaign is left unfinished on purpose; the
# drill checks the exits only. Consumers that hang are reported with their last log line and
# killed, so nothing is left behind.
# shellcheck source=tests/chaos/lib.sh disable=SC2154
. "$(dirname "$0")/lib.sh"
chaos_redis
chaos_cluster 12 3
chaos_ttsd
chaos_campaign kgone
for c in a b c; do spawn_consumer "$c"; done
for c in a b c; do wait_assigned "$c"; done
note "three consumers own partitions"
wait_progress kgone $((CONTACTS / 10)) a

pids=()
for c in a b c; do pids+=("$(pid_of "$c")"); done
kill -TERM "$BROKER_PID" "${pids[@]}"
note "SIGTERM to the broker process and the three consumers at once"
wait "$BROKER_PID" 2>/dev/null || true
forget_pid "$BROKER_PID"
BROKER_PID=
hung=()
for c in a b c; do
	pid=$(pid_of "$c")
	if timeout 60 tail --pid="$pid" -f /dev/null; then
		rc=0
		wait "$pid" || rc=$?
		note "consumer $c exited $rc"
	else
		hung+=("$c")
		note "consumer $c still running 60 s after SIGTERM; last line: $(grep -v '"kafka error"\|thrd:' "$WORK/consumer-$c.log" | tail -n 1 | jq -c '{msg, unfinished}')"
		# where it is stuck, when a debugger is at hand
		if command -v gdb >/dev/null; then
			timeout 30 gdb -p "$pid" -batch -ex 'thread 1' -ex 'bt 20' 2>/dev/null |
				grep -E '^#[0-9]+ .* in (rd_kafka_|engine_|main)' | sed "s/^/#   $c: /" || true
		fi
		kill -9 "$pid"
		wait "$pid" 2>/dev/null || true
	fi
	forget_pid "$pid"
done
echo "RESULT kgone consumers_hung=${#hung[@]} elapsed_s=$(elapsed)"
[ ${#hung[@]} -eq 0 ] || fail "consumers ${hung[*]} never exited after SIGTERM once Kafka was gone (stuck in a synchronous Kafka call: the final rd_kafka_commit or rd_kafka_consumer_close)"
ok "every consumer exited after SIGTERM with Kafka gone"
echo "all Kafka-gone shutdown checks passed"
