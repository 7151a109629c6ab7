#!/usr/bin/env bash
# `voxcast launch` lifecycle and cost flags against a real Redis and the embedded broker (no
# consumer: the jobs are read back from the topics). --priority puts the jobs in their lane's
# topic and the priority in the campaign record; --ttl/--expires-at write expires_at into every
# job (a deadline already past, or both flags, is a usage error); --no-dedup writes dedup false;
# --variant renders each variant per row into job.variants (text = the first one's) and rejects
# a row whose variant text is missing or too long; --dry-run counts the distinct texts and the
# characters providers would bill, exactly; launch records retention_s; reconcile re-renders
# with all of it. Also: the broker and the compose init script create the priority lanes.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2

topic_jobs() {
	"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$1" | cut -f4 |
		jq -c --arg c "$2" 'select(.campaign == $c)'
}
expect_fail() {
	local code=$1 pattern=$2 rc=0
	shift 2
	vx "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" -eq "$code" ] || fail "exit $rc, expected $code, for: $* ($(cat "$WORK/err"))"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "not one error line for $*: $(cat "$WORK/err")"
	grep -qE -- "$pattern" "$WORK/err" || fail "error '$(cat "$WORK/err")' does not match /$pattern/"
	ok "exit $code for $*: $(cat "$WORK/err")"
}
make_contacts "$WORK/c.csv" 4
L=(launch --contacts "$WORK/c.csv" --template 'Hi {{first_name}}.')

# ---------------------------------------------------------------- help and usage
vx launch --help >"$WORK/help"
for w in --priority --ttl --expires-at --no-dedup --variant unique_texts; do
	grep -q -- "$w" "$WORK/help" || fail "launch --help does not mention $w"
done
ok "launch --help names the new flags"
expect_fail 2 '--priority must be high, normal or low, not "urgent"' "${L[@]}" --campaign x --priority urgent
expect_fail 2 'give --ttl or --expires-at, not both' "${L[@]}" --campaign x --ttl 1h --expires-at 2099-01-01T00:00:00Z
expect_fail 2 '--ttl must be a duration' "${L[@]}" --campaign x --ttl soon
expect_fail 2 '--expires-at must be an RFC 3339 time' "${L[@]}" --campaign x --expires-at 2099-01-01
expect_fail 2 '--expires-at 2020-01-01T00:00:00Z has already passed' "${L[@]}" --campaign x --expires-at 2020-01-01T00:00:00Z
expect_fail 2 'give exactly one of --template, --template-file and --variant' "${L[@]}" --campaign x --variant 'a=b'
expect_fail 2 '--variant name "Live" must be' launch --campaign x --contacts "$WORK/c.csv" --variant 'Live=Hi.'
expect_fail 2 '--variant live is given twice' launch --campaign x --contacts "$WORK/c.csv" --variant 'live=a' --variant 'live=b'
expect_fail 2 '--variant takes NAME=TEMPLATE' launch --campaign x --contacts "$WORK/c.csv" --variant live
expect_fail 2 'launch: --force is an option of reconcile' "${L[@]}" --campaign x --force
assert_eq "nothing recorded by refused launches" 0 "$(rcli EXISTS 'voxcast:{x}:meta')"

# ---------------------------------------------------------------- priority lanes
vx "${L[@]}" --campaign hi --priority high --json >/dev/null
vx "${L[@]}" --campaign lo --priority low --json >/dev/null
vx "${L[@]}" --campaign no -X campaign.retention_days=2 --json >/dev/null
assert_eq "high jobs on voxcast.jobs.high" "4 high" \
	"$(topic_jobs voxcast.jobs.high hi | jq -r .priority | sort | uniq -c | awk '{print $1, $2}')"
assert_eq "low jobs on voxcast.jobs.low" "4 low" \
	"$(topic_jobs voxcast.jobs.low lo | jq -r .priority | sort | uniq -c | awk '{print $1, $2}')"
assert_eq "normal jobs on voxcast.jobs, no priority field" "4 null" \
	"$(topic_jobs voxcast.jobs no | jq -r .priority | sort | uniq -c | awk '{print $1, $2}')"
assert_eq "no high or low job in the normal lane" 0 "$(topic_jobs voxcast.jobs hi | wc -l)"
assert_eq "priority in the campaign record" "high low normal" \
	"$(for c in hi lo no; do rcli HGET "voxcast:{$c}:meta" priority; done | tr '\n' ' ' | sed 's/ $//')"
assert_eq "retention_s (campaign.retention_days=2)" 172800 "$(rcli HGET 'voxcast:{no}:meta' retention_s)"
assert_eq "retention_s default (30 days)" 2592000 "$(rcli HGET 'voxcast:{hi}:meta' retention_s)"
assert_eq "no dedup/expires_at/variants by default" "null null null" \
	"$(topic_jobs voxcast.jobs no | head -1 | jq -r '"\(.dedup) \(.expires_at) \(.variants)"')"

# ---------------------------------------------------------------- deadlines and dedup
t0=$(date +%s)
vx "${L[@]}" --campaign ttl --ttl 2h --no-dedup --json >/dev/null
t1=$(date +%s)
topic_jobs voxcast.jobs ttl >"$WORK/ttl.jobs"
assert_eq "one deadline for every job" 1 "$(jq -r .expires_at "$WORK/ttl.jobs" | sort -u | wc -l)"
exp=$(jq -r '.expires_at | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601' "$WORK/ttl.jobs" | head -1)
[ "$exp" -ge $((t0 + 7200)) ] && [ "$exp" -le $((t1 + 7200)) ] ||
	fail "--ttl 2h: expires_at $exp not within [$((t0 + 7200)), $((t1 + 7200))]"
ok "--ttl 2h: expires_at $(jq -r .expires_at "$WORK/ttl.jobs" | head -1)"
assert_eq "--no-dedup: dedup false in every job" "4 false" \
	"$(jq -r .dedup "$WORK/ttl.jobs" | sort | uniq -c | awk '{print $1, $2}')"
vx "${L[@]}" --campaign at --expires-at 2099-01-02T03:04:05+01:00 --json >/dev/null
assert_eq "--expires-at in UTC in every job" "4 2099-01-02T02:04:05.000Z" \
	"$(topic_jobs voxcast.jobs at | jq -r .expires_at | sort | uniq -c | awk '{print $1, $2}')"

# ---------------------------------------------------------------- variants
printf 'contact_id,first_name,city\nv1,Ann,Oslo\nv2,Bob,\nv3,Zoë,Rome\nv4,Cy,Lisbon and a very long way beyond it\n' >"$WORK/v.csv"
vx -X job.max_text_chars=30 launch --campaign var --contacts "$WORK/v.csv" --variant 'live=Hi {{first_name}}.' \
	--variant 'voicemail=Call {{first_name}} in {{city}}.' --rejects "$WORK/v.rej" --json >"$WORK/out"
assert_eq "variants: enqueued, rejected" "2 2" "$(jq -r '"\(.enqueued) \(.rejected)"' "$WORK/out")"
assert_eq "reject reasons" 'v2,variant voicemail: no value for {{city}}|v4,variant voicemail: text is 48 characters, over the limit of 30' \
	"$(tail -n +2 "$WORK/v.rej" | cut -d, -f2- | tr -d '"\r' | sort | tr '\n' '|' | sed 's/|$//')"
assert_eq "job of v3" '{"text":"Hi Zoë.","variants":[{"name":"live","text":"Hi Zoë."},{"name":"voicemail","text":"Call Zoë in Rome."}]}' \
	"$(topic_jobs voxcast.jobs var | jq -c 'select(.contact == "v3") | {text, variants}')"

# ---------------------------------------------------------------- dry run: what would be billed
printf 'contact_id,first_name\nd1,Ann\nd2,Bob\nd3,Ann\nd4,Zoë\nd5,Ann\nd6,Bob\nd7,\nd3,Ann\n' >"$WORK/d.csv"
dry() { vx launch --campaign dry --contacts "$WORK/d.csv" --dry-run --json "$@" | jq -c '{enqueued, rejected, unique_texts, characters}'; }
# "Hi Ann." "Hi Bob." "Hi Zoë." are 7 characters each (Zoë is 4 bytes); d7 has no name, d3 is repeated
assert_eq "dry run" '{"enqueued":6,"rejected":2,"unique_texts":3,"characters":21}' "$(dry --template 'Hi {{first_name}}.')"
assert_eq "dry run --no-dedup" '{"enqueued":6,"rejected":2,"unique_texts":3,"characters":42}' \
	"$(dry --template 'Hi {{first_name}}.' --no-dedup)"
# the variants' texts: live as above, voicemail "Call X back." (14 each) and one text a live one repeats
assert_eq "dry run with variants" '{"enqueued":6,"rejected":2,"unique_texts":6,"characters":63}' \
	"$(dry --variant 'live=Hi {{first_name}}.' --variant 'voicemail=Call {{first_name}} back.' --variant 'same=Hi {{first_name}}.')"
vx launch --campaign dry --contacts "$WORK/d.csv" --template 'Hi {{first_name}}.' --dry-run >"$WORK/out" 2>/dev/null
grep -q '^to bill: 3 unique texts, 21 characters$' "$WORK/out" || fail "dry run text: $(cat "$WORK/out")"
assert_eq "dry run touched nothing" 0 "$(rcli EXISTS 'voxcast:{dry}:meta')"

# ---------------------------------------------------------------- reconcile keeps it all
make_contacts "$WORK/r.csv" 3
vx launch --campaign rec --contacts "$WORK/r.csv" --variant 'live=Hi {{first_name}}.' --variant 'vm=Bye.' \
	--priority high --expires-at 2099-05-06T07:08:09Z --no-dedup --json >/dev/null
topic_jobs voxcast.jobs.high rec | jq -c 'del(.enqueued_at)' | sort >"$WORK/rec.first"
vx reconcile --campaign rec --contacts "$WORK/r.csv" --json >/dev/null
topic_jobs voxcast.jobs.high rec | jq -c 'del(.enqueued_at)' | sort -u >"$WORK/rec.all"
assert_eq "reconcile sent 3 more jobs to the high lane" 6 "$(topic_jobs voxcast.jobs.high rec | wc -l)"
diff "$WORK/rec.first" "$WORK/rec.all" >/dev/null || fail "reconcile's jobs differ: $(diff "$WORK/rec.first" "$WORK/rec.all")"
ok "reconcile re-rendered the same jobs: $(head -1 "$WORK/rec.first")"

# ---------------------------------------------------------------- lanes: broker and compose init
for t in voxcast.jobs voxcast.jobs.high voxcast.jobs.low; do
	"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" "$t" >/dev/null || fail "broker has no topic $t"
done
ok "broker created voxcast.jobs, .high and .low"
mkdir -p "$WORK/kbin"
cat >"$WORK/kbin/kafka-topics.sh" <<'SH'
#!/usr/bin/env bash
echo "$*" >>"$STUB_LOG"
case " $* " in *" --describe "*) printf 'Topic: t\tPartitionCount: 12\tReplicationFactor: 1\n' ;; esac
SH
chmod +x "$WORK/kbin/kafka-topics.sh"
env KAFKA_BIN="$WORK/kbin" STUB_LOG="$WORK/stub.log" WAIT_INTERVAL=0 \
	bash "$(dirname "$0")/../../deploy/kafka/init-topics.sh" 2>/dev/null || fail "init-topics.sh failed"
for t in voxcast.jobs voxcast.jobs.high voxcast.jobs.low; do
	grep -q -- "--create --if-not-exists --topic $t --partitions 12 " "$WORK/stub.log" ||
		fail "init-topics.sh does not create $t: $(cat "$WORK/stub.log")"
done
ok "init-topics.sh creates voxcast.jobs, .high and .low with 12 partitions"

echo "t_launch_flags: all checks passed"
