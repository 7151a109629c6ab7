# shellcheck shell=bash
# lib.sh - shared set-up for the integration scripts: real redis-server, the embedded broker,
# voxcast-ttsd and consumers, all on 127.0.0.1, all stopped on exit. Nothing here sleeps to
# synchronise: servers are waited for by reading the line they print when ready, campaigns by
# `voxcast status --wait` (which polls Redis with a deadline).
set -euo pipefail

BIN=${VOXCAST_BIN:?set VOXCAST_BIN to the directory holding voxcast programs}
TESTBIN=${VOXCAST_TESTBIN:?set VOXCAST_TESTBIN to the directory holding test tools}
SLOW=${VOXCAST_SLOW:-1} # deadlines stretch by this factor (scripts/memcheck.sh runs valgrind)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/voxcast-it.XXXXXX")
PIDS=()
CONSUMER_PIDS=()
unset VOXCAST_KAFKA_BOOTSTRAP_SERVERS VOXCAST_REDIS_URL

# stop_within SECS PID...: SIGTERM to each, then SIGKILL to whatever still runs SECS later, so a
# process that hangs on its way out cannot hold a test (or CI) forever.
stop_within() {
	local deadline=$((SECONDS + $1)) p left; shift
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do
		left=$((deadline - SECONDS)); [ "$left" -gt 0 ] || left=1
		timeout "$left" tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

cleanup() {
	# consumers first: they leave the group while the broker is still there
	stop_within $((20 * SLOW)) "${CONSUMER_PIDS[@]}"
	stop_within $((10 * SLOW)) "${PIDS[@]}"
	if [ -n "${KEEP_WORK:-}" ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
vx() { "$BIN/voxcast" "$@"; }

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() { [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"; ok "$1 = $3"; }

# wait_until SECONDS COMMAND...: until COMMAND succeeds, polled every 0.1 s; fails the test once
# the deadline (stretched by SLOW) has passed. The one polling loop of the scripts.
wait_until() {
	local deadline=$((SECONDS + $1 * SLOW))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for: $*"
		sleep 0.1
	done
}

# wait_log FILE PATTERN [SECONDS]: until a line matching PATTERN appears in FILE.
wait_log() {
	local file=$1 pattern=$2 secs=$((${3:-15} * SLOW))
	grep -q -m1 -E -- "$pattern" < <(timeout "$secs" tail -n +1 -F "$file" 2>/dev/null) ||
		fail "timed out after ${secs}s waiting for /$pattern/ in $file"
}

start_redis() {
	REDIS_PORT=$("$TESTBIN/freeport")
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly "${REDIS_AOF:-no}" \
		--dir "$WORK" "$@" >"$WORK/redis.log" 2>&1 &
	PIDS+=($!)
	# shellcheck disable=SC2034  # read by the scripts that restart Redis
	REDIS_PID=$!
	wait_log "$WORK/redis.log" 'Ready to accept connections'
	export VOXCAST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

rcli() { redis-cli -p "$REDIS_PORT" --no-auth-warning "$@"; }

start_broker() {
	"$BIN/voxcast" broker --partitions "${1:-4}" >"$WORK/broker.out" 2>"$WORK/broker.err" &
	PIDS+=($!)
	wait_log "$WORK/broker.out" '^127\.0\.0\.1:'
	VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$(head -n 1 "$WORK/broker.out")
	export VOXCAST_KAFKA_BOOTSTRAP_SERVERS
}

# start_ttsd NAME [FLAGS...]: sets TTSD_PORT_<NAME>, and TTSD_KEY_<PORT> to the key of
# --api-key-env (its /admin routes need it: ttsd_curl sends it).
start_ttsd() {
	local name=$1 a prev='' key=''
	shift
	for a in "$@"; do [ "$prev" = --api-key-env ] && key=${!a:-}; prev=$a; done
	"$BIN/voxcast-ttsd" --listen 127.0.0.1:0 "$@" >"$WORK/ttsd-$name.out" 2>"$WORK/ttsd-$name.err" &
	PIDS+=($!)
	wait_log "$WORK/ttsd-$name.out" 'listening on'
	printf -v "TTSD_PORT_$name" '%s' "$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/ttsd-$name.out")"
	local port_var="TTSD_PORT_$name"
	printf -v "TTSD_KEY_${!port_var}" '%s' "$key"
}

# ttsd_curl PORT PATH [CURL ARGS...]: an admin call to the voxcast-ttsd on PORT, with its key.
ttsd_curl() {
	local port=$1 path=$2 key_var="TTSD_KEY_$1"
	shift 2
	local auth=()
	[ -n "${!key_var:-}" ] && auth=(-H "Authorization: Bearer ${!key_var}")
	curl -fsS "${auth[@]}" "$@" "http://127.0.0.1:$port$path"
}

# start_consumer NAME [ARGS...]: sets CONSUMER_PID_<NAME>; waits until it owns partitions.
start_consumer() {
	local name=$1
	shift
	"$BIN/voxcast-consumer" -X http.listen=127.0.0.1:0 -X "output.dir=$WORK/audio" \
		-X consumer.summary_interval_ms=2000 "$@" 2>>"$WORK/consumer-$name.log" &
	PIDS+=($!)
	CONSUMER_PIDS+=($!)
	printf -v "CONSUMER_PID_$name" '%s' "$!"
	wait_log "$WORK/consumer-$name.log" '"partitions assigned"' 30
}

# wait_complete CAMPAIGN [SECONDS]
wait_complete() {
	local secs=$((${2:-60} * SLOW))
	vx status "$1" --wait --timeout "$secs" >/dev/null || {
		vx status "$1" >&2 || true
		fail "campaign $1 did not complete within ${secs}s"
	}
}

# status_field CAMPAIGN FIELD: one number from `status --json`.
status_field() { vx status "$1" --json | jq -r ".$2"; }

# make_contacts FILE N: a CSV of N good contacts c-000001.. with first names.
make_contacts() {
	awk -v n="$2" 'BEGIN { print "contact_id,first_name"; for (i = 1; i <= n; i++) printf "c-%06d,Name%d\n", i, i }' >"$1"
}

# primary_args PORT [NAME]: -X flags for an OpenAI-shaped provider on voxcast-ttsd at PORT.
provider_args() {
	local port=$1 name=${2:-primary}
	echo "-X provider.$name.type=openai -X provider.$name.url=http://127.0.0.1:$port/v1/audio/speech"
}

# ttsd_stat NAME FIELD: one field of voxcast-ttsd's /admin/stats.
ttsd_stat() {
	local port_var="TTSD_PORT_$1"
	ttsd_curl "${!port_var}" /admin/stats | jq -r ".$2"
}

# dlq_entries CAMPAIGN: the campaign's DLQ entries, one JSON per line, straight from Redis.
dlq_entries() { rcli --raw HVALS "voxcast:{$1}:dlq:e"; }

# consumer_metric NAME PATTERN: sum of the metric lines matching PATTERN on a consumer's /metrics.
consumer_metric() {
	local port
	port=$(grep -m1 '"http listening"' "$WORK/consumer-$1.log" | jq -r .port)
	curl -fsS "http://127.0.0.1:$port/metrics" | awk -v p="$2" '$0 ~ p && $0 !~ /^#/ { s += $NF } END { printf "%d", s }'
}

# start_s3rver BUCKET [PORT]: a local S3-compatible store (s3rver, put in .deps/ by
# scripts/deps.sh) on 127.0.0.1 with BUCKET created, its data in $WORK/s3rver; sets S3_PORT and
# S3_PID and exports the credentials s3rver knows (S3RVER / S3RVER). Given the PORT of a store
# stopped before, it starts again on that port with the same objects. s3rver checks the access
# key id but not SigV4 signatures: tests/unit/check_s3.c checks those.
S3RVER=${VOXCAST_S3RVER:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.deps/node_modules/.bin/s3rver}
S3_STARTS=0
start_s3rver() {
	local bucket=$1 log
	[ -x "$S3RVER" ] || fail "s3rver is not installed at $S3RVER (scripts/deps.sh installs it)"
	S3_PORT=${2:-$("$TESTBIN/freeport")}
	S3_STARTS=$((S3_STARTS + 1))
	log="$WORK/s3rver-$S3_STARTS.log"
	mkdir -p "$WORK/s3rver"
	"$S3RVER" -d "$WORK/s3rver" -a 127.0.0.1 -p "$S3_PORT" --configure-bucket "$bucket" >"$log" 2>&1 &
	PIDS+=($!)
	# shellcheck disable=SC2034  # read by the scripts that stop the store
	S3_PID=$!
	wait_log "$log" "S3rver listening on 127\.0\.0\.1:$S3_PORT" 30
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
}

# s3_curl [CURL ARGS...]: curl with GET requests signed for the store of start_s3rver.
s3_curl() {
	curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$@"
}

# s3_get BUCKET/KEY [CURL ARGS...]: one object from the store of start_s3rver.
s3_get() {
	local path=$1
	shift
	s3_curl "$@" "http://127.0.0.1:$S3_PORT/$path"
}

# s3_keys BUCKET PREFIX: the keys under PREFIX, one a line (ListObjectsV2, up to 1000).
s3_keys() {
	s3_get "$1?list-type=2&prefix=$2" | grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/'
}
