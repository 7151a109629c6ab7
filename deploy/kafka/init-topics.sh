#!/usr/bin/env bash
# init-topics.sh - create the voxcast jobs and results topics on a real Kafka cluster, then exit.
#
# Consumers never create topics: on a real cluster the partition count is an operations
# decision (it caps how many consumers can work at once), so the deployment creates the topic
# once, before any consumer starts. docker-compose.yml runs this in the `kafka-init` service;
# elsewhere run it by hand with the same variables. Rerunning is safe: --if-not-exists makes the
# create a no-op, and the final check only reads.
#
# Environment (all optional):
#   BOOTSTRAP_SERVERS   brokers                                  (kafka:9092)
#   TOPIC               jobs topic, the consumers' kafka.topic   (voxcast.jobs)
#   TOPIC_PARTITIONS    partitions; at most this many consumers work at once (12)
#   TOPIC_REPLICATION   replication factor; 3 on a real cluster  (1)
#   TOPIC_CONFIGS       space-separated topic configs, e.g. "retention.ms=1209600000"
#   LANE_SUFFIXES       the priority lanes (launch --priority) made beside TOPIC with the same
#                       partitions: TOPIC.high and TOPIC.low; empty: none   (".high .low")
#   RESULTS_TOPIC       the consumers' results.topic, one partition so a dialer reads one
#                       ordered stream; empty: none                  (voxcast.results)
#   COMMAND_CONFIG      client properties file (SASL_SSL clusters), passed as --command-config
#   KAFKA_BIN           directory holding kafka-topics.sh        (/opt/kafka/bin)
#   WAIT_SECONDS        how long to wait for the brokers          (120)
#   WAIT_INTERVAL       seconds between two tries                 (2)
set -euo pipefail

BOOTSTRAP_SERVERS=${BOOTSTRAP_SERVERS:-kafka:9092}
TOPIC=${TOPIC:-voxcast.jobs}
TOPIC_PARTITIONS=${TOPIC_PARTITIONS:-12}
TOPIC_REPLICATION=${TOPIC_REPLICATION:-1}
TOPIC_CONFIGS=${TOPIC_CONFIGS:-}
LANE_SUFFIXES=${LANE_SUFFIXES-.high .low}
RESULTS_TOPIC=${RESULTS_TOPIC-voxcast.results}
COMMAND_CONFIG=${COMMAND_CONFIG:-}
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
WAIT_SECONDS=${WAIT_SECONDS:-120}
WAIT_INTERVAL=${WAIT_INTERVAL:-2}

say() { printf 'kafka-init: %s\n' "$*" >&2; }

topics() {
	local extra=()
	[ -n "$COMMAND_CONFIG" ] && extra=(--command-config "$COMMAND_CONFIG")
	"$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP_SERVERS" "${extra[@]}" "$@"
}

# The broker's healthcheck usually makes this pass at once; the loop covers runs outside compose.
wait_for_brokers() {
	local deadline=$((SECONDS + WAIT_SECONDS))
	until topics --list >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			say "brokers $BOOTSTRAP_SERVERS not reachable after ${WAIT_SECONDS}s"
			return 1
		fi
		sleep "$WAIT_INTERVAL"
	done
}

create_topic() {
	local args=(--create --if-not-exists --topic "$TOPIC" --partitions "$TOPIC_PARTITIONS"
		--replication-factor "$TOPIC_REPLICATION") cfg
	for cfg in $TOPIC_CONFIGS; do args+=(--config "$cfg"); done
	topics "${args[@]}"
}

# --if-not-exists leaves an existing topic as it is, so check that it can feed the fleet:
# a topic with fewer partitions than asked would silently idle the extra consumers.
check_partitions() {
	local have
	have=$(topics --describe --topic "$TOPIC" |
		sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
	if [ -z "$have" ]; then
		say "topic $TOPIC was not found after creating it"
		return 1
	fi
	if [ "$have" -lt "$TOPIC_PARTITIONS" ]; then
		say "topic $TOPIC has $have partitions, $TOPIC_PARTITIONS wanted: add them with" \
			"kafka-topics.sh --alter --topic $TOPIC --partitions $TOPIC_PARTITIONS," \
			"or set TOPIC_PARTITIONS=$have"
		return 1
	fi
	say "topic $TOPIC ready with $have partitions"
}

# The consumers publish a results event before storing each job's offset: without this topic
# (and with auto-creation off) they would stall.
create_results_topic() {
	[ -n "$RESULTS_TOPIC" ] || return 0
	topics --create --if-not-exists --topic "$RESULTS_TOPIC" --partitions 1 \
		--replication-factor "$TOPIC_REPLICATION"
	say "topic $RESULTS_TOPIC ready"
}

wait_for_brokers
create_topic
check_partitions
for lane in $LANE_SUFFIXES; do
	TOPIC=$TOPIC$lane create_topic
	TOPIC=$TOPIC$lane check_partitions
done
create_results_topic
