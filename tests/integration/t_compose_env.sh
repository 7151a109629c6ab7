#!/usr/bin/env bash
# The consumer starts from nothing but the compose file's environment: the consumer service's
# VOXCAST_* variables (as `docker-compose config` resolves them) with the service host names
# pointed at local stand-ins (kafka -> the embedded broker, redis -> redis-server, ttsd ->
# voxcast-ttsd, minio -> s3rver, /data/audio -> a temp dir), no -c, no -X. It joins and
# renders a campaign into the object store the compose file names.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
start_redis
start_broker 12
start_s3rver voxcast-audio
start_ttsd p --tone
port=$("$TESTBIN/freeport")
docker-compose -f "$root/docker-compose.yml" config 2>/dev/null |
	awk '/^  consumer:/ { f = 1; next } f && /^  [a-z]/ { f = 0 } f && /environment:/ { e = 1; next }
	     f && e && /^      VOXCAST_/ { print; next } f && e && !/^      / { e = 0 }' |
	sed -E "s/^ +//; s/: ['\"]?([^'\"]*)['\"]?$/=\1/" |
	sed -E "s#kafka:9092#$VOXCAST_KAFKA_BOOTSTRAP_SERVERS#; s#redis://redis:6379#redis://127.0.0.1:$REDIS_PORT#;
	        s#http://ttsd:9400#http://127.0.0.1:$TTSD_PORT_p#; s#http://minio:9000#http://127.0.0.1:$S3_PORT#; s#/data/audio#$WORK/audio#; s#0\.0\.0\.0:9464#127.0.0.1:$port#" \
	>"$WORK/consumer.env"
assert_eq "consumer variables found in the compose file" 1 "$([ "$(wc -l <"$WORK/consumer.env")" -ge 8 ] && echo 1 || echo 0)"
grep -q '^VOXCAST_PROVIDERS=' "$WORK/consumer.env" || fail "no VOXCAST_PROVIDERS in the compose consumer environment"
make_contacts "$WORK/c.csv" 50
vx launch --campaign env --contacts "$WORK/c.csv" --template 'Hi {{first_name}}' --json >/dev/null
mapfile -t vars <"$WORK/consumer.env"
# the store's credentials: compose passes MinIO's as AWS_* (not VOXCAST_*), s3rver knows its own
env -i PATH="$PATH" AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
	"${vars[@]}" "$BIN/voxcast-consumer" 2>"$WORK/consumer-env.log" &
PIDS+=($!)
CONSUMER_PIDS+=($!)
wait_log "$WORK/consumer-env.log" '"partitions assigned"' 30
wait_complete env 60
assert_eq "done through the compose environment" 50 "$(status_field env "done")"
assert_eq "rendered by the compose file's primary" 50 "$(vx status env --json | jq -r .by_provider.primary)"
assert_eq "objects in the compose file's bucket" 50 "$(s3_keys voxcast-audio calls/env/ | wc -l)"
assert_eq "health on the compose http.listen" ok "$(curl -fsS "http://127.0.0.1:$port/health" | jq -r .status)"
echo "all compose-environment checks passed"
