#!/usr/bin/env bash
# What an operator sees of a consumer: /health follows the breakers (ok -> degraded when the
# primary's opens -> down with HTTP 503 when every breaker is open, and down when Redis or Kafka
# is unreachable); /metrics passes `promtool check metrics` and carries every contract family;
# logs are JSON lines with one line per breaker change, debug "attempt" lines only at
# log.level=debug, dead-letter lines and a periodic summary; an API key given through
# api_key_env, rejected with 401 by one server, appears nowhere: not in logs, /metrics, /health,
# Redis (DLQ entries included), rejects or command output. Also: examples/voxcast.conf names
# every configuration key with its default and parses, and every command's --help has an example.
. "$(dirname "$0")/lib.sh"
# every contact asks the provider: the faults under test are the provider's answers, and render
# once would answer repeated texts with copies (cache.h)
export VOXCAST_CACHE_TTL_S=0

# lib.sh's exit trap stops processes in start order, the broker before the consumers, and a
# consumer told to stop once Kafka is gone can block in rd_kafka_consumer_close(): whatever
# path the script took, end the consumers first (graceful exits are checked where they matter).
kill_consumers_then_cleanup() {
	local v
	for v in "${!CONSUMER_PID_@}"; do kill -KILL "${!v}" 2>/dev/null || true; done
	cleanup
}
trap kill_consumers_then_cleanup EXIT

SECRET=sk-test-0123456789abcdef
export VX_SECRET_KEY=$SECRET VX_OTHER_KEY=sk-other-fedcba9876543210
CONF=$(dirname "$0")/../../examples/voxcast.conf

http_port() { grep -m1 '"http listening"' "$WORK/consumer-$1.log" | jq -r .port; }

# wait_health NAME STATUS HTTP_CODE [SECONDS]: until the consumer's /health answers STATUS with
# HTTP_CODE; the body is left in $WORK/health-NAME.json. Callers first wait for the log line of
# the change, so this only covers the instant between that line and the gauge it precedes.
wait_health() {
	local name=$1 want=$2 code=$3 secs=${4:-10} url body
	url="http://127.0.0.1:$(http_port "$1")/health"
	body=$WORK/health-$name.json
	# shellcheck disable=SC2016
	timeout "$secs" bash -c 'until [ "$(curl -sS -o "$2" -w "%{http_code}" "$1")" = "$3" ] &&
		[ "$(jq -r .status "$2")" = "$4" ]; do :; done' _ "$url" "$body" "$code" "$want" ||
		fail "/health of $name did not become $want (HTTP $code) within ${secs}s: $(cat "$body")"
	ok "/health of $name: $want (HTTP $code)"
}

# breaker_of NAME PROVIDER: the provider's state in the last /health body fetched for NAME.
breaker_of() { jq -r --arg p "$2" '.providers[] | select(.name == $p) | .state' "$WORK/health-$1.json"; }

# keyed NAME PORT: -X flags for an OpenAI-shaped provider on voxcast-ttsd at PORT sending our key.
keyed() { echo "$(provider_args "$2" "$1") -X provider.$1.api_key_env=VX_SECRET_KEY"; }

faults() { ttsd_curl "$1" /admin/faults -X POST -d "$2" >/dev/null; }

# redis_dump: every value of every key, for the secret search.
redis_dump() {
	local key
	rcli --scan | while IFS= read -r key; do
		case $(rcli TYPE "$key") in
		hash) rcli --raw HGETALL "$key" ;;
		zset) rcli --raw ZRANGE "$key" 0 -1 WITHSCORES ;;
		set) rcli --raw SMEMBERS "$key" ;;
		list) rcli --raw LRANGE "$key" 0 -1 ;;
		string) rcli --raw GET "$key" ;;
		esac
	done
}

# --- help and the example configuration (no servers needed) ----------------------------------
# (voxcast-ttsd --help has no example yet: reported, not checked here)
for cmd in "voxcast" "voxcast launch" "voxcast status" "voxcast broker" "voxcast dlq" "voxcast dlq list" \
	"voxcast dlq show" "voxcast dlq purge" "voxcast dlq replay" "voxcast-consumer"; do
	# shellcheck disable=SC2086
	out=$("$BIN"/$cmd --help) || fail "$cmd --help did not exit 0"
	grep -qi '^example' <<<"$out" || fail "$cmd --help shows no example"
done
ok "--help exits 0 with an example: voxcast, launch, status, broker, dlq and its subcommands, voxcast-consumer"

[ -f "$CONF" ] || fail "no $CONF"
missing=0
while read -r key def _; do
	case $key in
	kafka.\<*) re='kafka\.[a-z]' ;;
	provider.NAME.*) re="provider\\.[a-z0-9_-]+\\.${key#provider.NAME.} = " ;;
	*) if [ "$def" = '""' ]; then re="${key//./\\.} = (\"\")?\$"; else re="${key//./\\.} = ${def//./\\.}\$"; fi ;;
	esac
	grep -qE "^#? ?$re" "$CONF" || { echo "examples/voxcast.conf lacks: $key = $def" >&2; missing=1; }
done < <(vx --help-config)
[ "$missing" = 0 ] || fail "examples/voxcast.conf does not cover every key with its default"
ok "examples/voxcast.conf names every key of --help-config with its default"
for p in openai elevenlabs espeak; do
	grep -qE "^#? ?provider\\.$p\\.type = $p\$" "$CONF" || fail "no example block for provider type $p"
done
ok "examples/voxcast.conf has provider blocks for openai, elevenlabs and espeak"

start_redis
vx -c "$CONF" status >/dev/null || fail "voxcast -c examples/voxcast.conf status failed"
ok "voxcast -c examples/voxcast.conf status parses the file"
# Every commented "# key = value" line, switched on, must parse too: no typo in a key or value.
sed -E 's/^# ?([a-z][a-z0-9_.-]* = )/\1/' "$CONF" >"$WORK/all-on.conf"
[ "$(grep -cE '^[a-z]' "$WORK/all-on.conf")" -gt 40 ] || fail "too few keys switched on in the example"
vx -c "$WORK/all-on.conf" status >/dev/null || fail "the example with every key switched on does not parse"
ok "the example with every key switched on parses"

# --- breakers and /health -----------------------------------------------------------------
start_broker 4
# lib.sh starts the broker through the vx function, so its $! is a subshell whose death leaves the
# broker running: find the broker itself, to stop it below and at exit.
broker_pid=$(pgrep -P "${PIDS[-1]}" -f 'voxcast broker' || echo "${PIDS[-1]}")
PIDS+=("$broker_pid")
start_ttsd p --tone --api-key-env VX_SECRET_KEY
start_ttsd s --tone --api-key-env VX_SECRET_KEY
start_ttsd k --tone --api-key-env VX_OTHER_KEY
start_ttsd g --tone --api-key-env VX_SECRET_KEY --fail-text PERM=503

make_contacts "$WORK/warm.csv" 5
vx launch --campaign warm --contacts "$WORK/warm.csv" --template 'Hi {{first_name}}' --json >"$WORK/launch-warm.json"
# shellcheck disable=SC2046
start_consumer a -X providers=primary,secondary $(keyed primary "$TTSD_PORT_p") $(keyed secondary "$TTSD_PORT_s") \
	-X breaker.failure_threshold=2 -X breaker.open_ms=600000 -X retry.base_ms=5 -X retry.max_ms=20 \
	-X consumer.shutdown_grace_ms=500
wait_complete warm
assert_eq "warm-up rendered by the key-protected primary" 5 "$(vx status warm --json | jq -r .by_provider.primary)"
wait_health a ok 200
assert_eq "primary breaker at start" closed "$(breaker_of a primary)"

faults "$TTSD_PORT_p" '{"fail_rate":1.0,"fail_status":503}'
make_contacts "$WORK/deg.csv" 4
vx launch --campaign deg --contacts "$WORK/deg.csv" --template 'Hi {{first_name}}' --json >"$WORK/launch-deg.json"
wait_log "$WORK/consumer-a.log" '"breaker state change","provider":"primary","from":"closed","breaker":"open"'
wait_complete deg
assert_eq "deg: rendered by the secondary" 4 "$(vx status deg --json | jq -r .by_provider.secondary)"
wait_health a degraded 200
assert_eq "degraded: primary breaker" open "$(breaker_of a primary)"
assert_eq "degraded: secondary breaker" closed "$(breaker_of a secondary)"

faults "$TTSD_PORT_s" '{"fail_rate":1.0,"fail_status":503}'
make_contacts "$WORK/down.csv" 3
vx launch --campaign down --contacts "$WORK/down.csv" --template 'Hi {{first_name}}' --json >"$WORK/launch-down.json"
wait_log "$WORK/consumer-a.log" '"breaker state change","provider":"secondary","from":"closed","breaker":"open"'
wait_health a down 503
assert_eq "down: primary breaker" open "$(breaker_of a primary)"
assert_eq "down: secondary breaker" open "$(breaker_of a secondary)"
# with every breaker open the consumer stops taking jobs, so a slow run (valgrind) may hold only
# those it had taken when the second breaker opened: 1 to 3, none of them dead-lettered
held=$(jq -r .in_flight "$WORK/health-a.json")
[ "$held" -ge 1 ] && [ "$held" -le 3 ] || fail "down: jobs held: expected 1-3, got $held"
ok "down: jobs held, not dead-lettered = $held"
assert_eq "down: campaign pending" 3 "$(status_field down pending)"
assert_eq "down: campaign dlq" 0 "$(status_field down dlq)"
for p in primary secondary; do
	assert_eq "breaker lines for $p (one per change)" 1 "$(grep -c "\"breaker state change\",\"provider\":\"$p\"" "$WORK/consumer-a.log")"
done

# --- /metrics --------------------------------------------------------------------------------
curl -fsS "http://127.0.0.1:$(http_port a)/metrics" >"$WORK/metrics-a.txt"
promtool check metrics <"$WORK/metrics-a.txt" || fail "promtool check metrics rejected /metrics"
ok "promtool check metrics accepts /metrics"
for family in voxcast_jobs_total voxcast_provider_requests_total voxcast_provider_latency_seconds_bucket \
	voxcast_provider_latency_seconds_sum voxcast_provider_latency_seconds_count voxcast_breaker_state \
	voxcast_retries_total voxcast_failovers_total voxcast_in_flight; do
	grep -qE "^$family(\\{| )" "$WORK/metrics-a.txt" || fail "/metrics lacks $family"
done
ok "/metrics carries every contract family"
for o in "done" dlq duplicate invalid; do
	grep -q "^voxcast_jobs_total{outcome=\"$o\"} " "$WORK/metrics-a.txt" || fail "no jobs_total outcome $o"
done
grep -q '^# TYPE voxcast_provider_latency_seconds histogram$' "$WORK/metrics-a.txt" || fail "latency is not a histogram"
assert_eq "metric: jobs done" 9 "$(awk '/^voxcast_jobs_total\{outcome="done"\}/ { print $NF }' "$WORK/metrics-a.txt")"
assert_eq "metric: primary 200s" 5 "$(awk '/^voxcast_provider_requests_total\{provider="primary",code="200"\}/ { print $NF }' "$WORK/metrics-a.txt")"
assert_eq "metric: breaker gauges" "2 2" "$(awk '/^voxcast_breaker_state\{/ { printf "%s%s", s, $NF; s = " " }' "$WORK/metrics-a.txt")"
assert_eq "metric: in flight" 3 "$(awk '/^voxcast_in_flight / { print $NF }' "$WORK/metrics-a.txt")"

# --- logs at the default level ----------------------------------------------------------------
wait_log "$WORK/consumer-a.log" '"msg":"summary"'
jq -e 'has("ts") and has("level") and has("msg")' "$WORK/consumer-a.log" >/dev/null ||
	fail "a consumer log line is not a JSON object with ts, level and msg"
ok "every consumer log line is JSON with ts, level, msg"
assert_eq "attempt lines at log.level=info" 0 "$(grep -c '"msg":"attempt"' "$WORK/consumer-a.log" || true)"
assert_eq "summary line fields" true "$(grep -m1 '"msg":"summary"' "$WORK/consumer-a.log" |
	jq 'has("done") and has("dlq") and has("in_flight") and has("rate_per_s")')"
kill -TERM "$CONSUMER_PID_a"
wait "$CONSUMER_PID_a" || true # its 3 held jobs outlive the 500 ms grace: redelivered below
wait_log "$WORK/consumer-a.log" '"msg":"stopped"'

# --- an API key rejected with 401, and debug logs ----------------------------------------------
make_contacts "$WORK/keys.csv" 6
printf 'perm-1,PERM\nperm-2,PERM\n,NoId\n' >>"$WORK/keys.csv"
vx launch --campaign keys --contacts "$WORK/keys.csv" --template 'Hello {{first_name}}' \
	--rejects "$WORK/rejects.csv" --json >"$WORK/launch-keys.json"
# shellcheck disable=SC2046
start_consumer b -X providers=primary,secondary $(keyed primary "$TTSD_PORT_k") $(keyed secondary "$TTSD_PORT_g") \
	-X log.level=debug -X retry.max_attempts=2 -X retry.base_ms=5 -X retry.max_ms=20 -X breaker.failure_threshold=1000 \
	-X breaker.shared=false # other servers under the names whose breakers a opened for the fleet
wait_complete keys
wait_complete down
assert_eq "keys: done by the secondary" 6 "$(vx status keys --json | jq -r .by_provider.secondary)"
assert_eq "keys: dead-lettered" 2 "$(status_field keys dlq)"
assert_eq "keys: rejected at launch" 1 "$(status_field keys rejected)"
[ "$(ttsd_stat k by_status.\"401\")" -ge 8 ] || fail "the server with the other key answered too few 401s"
ok "the server holding another key answered 401 to every job"
assert_eq "DLQ history shows the 401 then the 503s" "primary/401 secondary/503 secondary/503" \
	"$(dlq_entries keys | jq -r 'select(.contact == "perm-1") | [.history[] | "\(.provider)/\(.http_status)"] | join(" ")')"
n=$(grep '"msg":"attempt"' "$WORK/consumer-b.log" |
	jq -c 'select(.provider == "primary" and .http_status == 401 and (.latency_ms | type) == "number" and
		.campaign == "keys" and (.contact | type) == "string" and .attempt >= 1)' | wc -l)
[ "$n" -ge 8 ] || fail "only $n debug attempt lines for the 401s at log.level=debug"
ok "log.level=debug: $n attempt lines with provider, http_status 401 and latency_ms"
assert_eq "dead-letter log lines" 2 "$(grep '"msg":"job dead-lettered"' "$WORK/consumer-b.log" |
	jq -c 'select(.campaign == "keys" and .reason == "retry_exhausted" and .provider == "secondary" and
		.http_status == 503 and .attempt == 3)' | wc -l)"
jq -e 'has("ts") and has("level") and has("msg")' "$WORK/consumer-b.log" >/dev/null ||
	fail "a debug-level log line is not a JSON object with ts, level and msg"

# --- the key appears nowhere ------------------------------------------------------------------
curl -fsS "http://127.0.0.1:$(http_port b)/metrics" >"$WORK/metrics-b.txt"
wait_health b ok 200
redis_dump >"$WORK/redis.dump"
dlq_entries keys >"$WORK/dlq-keys.jsonl"
assert_eq "DLQ entries searched" 2 "$(wc -l <"$WORK/dlq-keys.jsonl")"
for c in warm deg down keys; do vx status "$c" && vx status "$c" --json; done >"$WORK/status.out"
[ -s "$WORK/rejects.csv" ] || fail "no rejects file"
[ "$(wc -c <"$WORK/redis.dump")" -gt 1000 ] || fail "the Redis dump is suspiciously small"
if leaks=$(grep -rlF -- "$SECRET" "$WORK"); then fail "the API key leaked into: $leaks"; fi
ok "the API key is in no log, /metrics, /health, Redis value, DLQ entry, rejects file or output"

# --- /health when Redis, then Kafka, is unreachable --------------------------------------------
# consumer b is idle: no job needs Redis, its own checks (the idle check, the account sync) must notice
kill "$REDIS_PID"
wait "$REDIS_PID" || true
wait_log "$WORK/consumer-b.log" '"redis unreachable: pausing consumption".*"(idle check|account sync)"'
wait_health b down 503
assert_eq "down: redis" down "$(jq -r .redis "$WORK/health-b.json")"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis2.log" 2>&1 &
PIDS+=($!)
wait_log "$WORK/redis2.log" 'Ready to accept connections'
wait_log "$WORK/consumer-b.log" '"redis reachable again: resuming"'
wait_health b ok 200
kill "$broker_pid"
timeout 10 tail --pid="$broker_pid" -s 0.1 -f /dev/null || fail "the broker did not stop"
wait_log "$WORK/consumer-b.log" '"kafka unreachable"' 30
wait_health b down 503
assert_eq "down: kafka" down "$(jq -r .kafka "$WORK/health-b.json")"
# With Kafka gone, a SIGTERM can leave the consumer blocked in rd_kafka_consumer_close() (reported):
# stop it the hard way so the exit trap cannot hang on it.
kill -KILL "$CONSUMER_PID_b"
wait "$CONSUMER_PID_b" 2>/dev/null || true
echo "all observability checks passed"
