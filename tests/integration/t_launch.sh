#!/usr/bin/env bash
# Launch 2,000 contacts with a handful of bad rows against the embedded broker and a real Redis:
# exactly the good ones land on Kafka as v1 jobs keyed by contact, the bad ones are listed with
# their reasons, and `status --json` agrees. Then the bad-input cases, each one clear line.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 4

csv=$WORK/contacts.csv
make_contacts "$csv" 2000
long=$(printf 'x%.0s' $(seq 1 200))
{
	printf ',NoId\n'                       # empty id
	printf 'c-000010,Again\n'              # repeated id
	printf 'c-bad-1,\n'                    # no value for {{first_name}}
	printf 'c-bad-2,\xff\xfe\n'            # not UTF-8
	printf 'c-bad-3,%s\n' "$long"          # text too long (limit 120 below)
	printf '"c-q1","Quoted, ""with"" comma"\n'
	printf '"c-q2","Multi\nline"\n'
} >>"$csv"
vx -X job.max_text_chars=120 launch --campaign it-launch --contacts "$csv" \
	--template 'Hi {{first_name}}, your order ships today.' --rejects "$WORK/rejects.csv" --json >"$WORK/launch.json"
assert_eq "launch enqueued" 2002 "$(jq -r .enqueued "$WORK/launch.json")"
assert_eq "launch rejected" 5 "$(jq -r .rejected "$WORK/launch.json")"

"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic.tsv"
assert_eq "messages on the topic" 2002 "$(wc -l <"$WORK/topic.tsv")"
assert_eq "distinct keys" 2002 "$(cut -f3 "$WORK/topic.tsv" | sort -u | wc -l)"
bad=$(cut -f3- "$WORK/topic.tsv" | awk -F'\t' '{print $2}' |
	jq -r 'select(.v != 1 or .campaign != "it-launch" or .format != "wav" or .replay != 0) | .contact' | wc -l)
assert_eq "jobs that are not v1 of this campaign" 0 "$bad"
mismatch=$(cut -f3- "$WORK/topic.tsv" | jq -R 'split("\t") | select((.[1] | fromjson).contact != .[0])' | wc -l)
assert_eq "jobs whose key is not their contact" 0 "$mismatch"
assert_eq "rendered text" 'Hi Name7, your order ships today.' \
	"$(awk -F'\t' '$3 == "c-000007" {print $4}' "$WORK/topic.tsv" | jq -r .text)"
assert_eq "quoted field with comma" 'Hi Quoted, "with" comma, your order ships today.' \
	"$(awk -F'\t' '$3 == "c-q1" {print $4}' "$WORK/topic.tsv" | jq -r .text)"

assert_eq "rejects listed" 6 "$(wc -l <"$WORK/rejects.csv" | tr -d ' ')"
grep -q '^2002,,empty contact id' "$WORK/rejects.csv" || fail "empty id not in rejects"
grep -q '^2003,c-000010,repeated contact id' "$WORK/rejects.csv" || fail "repeated id not in rejects"
grep -q '^2004,c-bad-1,no value for {{first_name}}' "$WORK/rejects.csv" || fail "missing value not in rejects"
grep -q '^2005,c-bad-2,text is not valid UTF-8' "$WORK/rejects.csv" || fail "bad UTF-8 not in rejects"
grep -q '^2006,c-bad-3,"text is 2[0-9][0-9] characters, over the limit of 120"' "$WORK/rejects.csv" || fail "long text not in rejects"

# --meta: 6,000 contacts (two chunks) whose meta values vary in length, hold UTF-8, quotes,
# commas, tabs and line breaks. Every job read back must carry its own key as contact, and its
# text and meta values exactly as the row had them (a job's strings once pointed into a buffer
# that the next append could move, which garbled some contacts depending on memory layout).
awk 'BEGIN {
	print "contact_id,first_name,note,phone"
	for (i = 1; i <= 6000; i++) {
		note = "note " i " é€😀, \"q\"\t" (i % 7 == 0 ? "\nsecond line" : "")
		for (k = 0; k < i % 61; k++) note = note "x"
		gsub(/"/, "\"\"", note)
		printf "m%06d,Name%d,\"%s\",+1555%07d\n", i, i, note, i
	}
}' >"$WORK/meta.csv"
vx launch --campaign it-meta --contacts "$WORK/meta.csv" --template 'Hi {{first_name}}: {{note}}' \
	--meta note --meta phone --json >"$WORK/meta.json"
assert_eq "meta launch enqueued" 6000 "$(jq -r .enqueued "$WORK/meta.json")"
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic2.tsv"
jq -R -n '
	def note($i): "note \($i) é€😀, \"q\"\t" + (if $i % 7 == 0 then "\nsecond line" else "" end)
		+ ([range($i % 61)] | map("x") | join(""));
	[inputs | split("\t") | {key: .[2], job: (.[3] | fromjson)} | select(.job.campaign == "it-meta")]
	| {count: length,
	   bad: [.[] | (.key[1:] | tonumber) as $i
		| select(.job.contact != .key or .job.text != "Hi Name\($i): \(note($i))"
			or .job.meta != {note: note($i), phone: ("+1555" + ("0000000\($i)" | .[-7:]))})
		| .key]}' <"$WORK/topic2.tsv" >"$WORK/meta-check.json"
assert_eq "meta jobs on the topic" 6000 "$(jq -r .count "$WORK/meta-check.json")"
assert_eq "meta jobs whose contact, text or meta differ from their row" "" \
	"$(jq -r '.bad[:5] | join(" ")' "$WORK/meta-check.json")"

# A NUL byte cannot travel in a job: in the text or a --meta value it rejects the row (it used to
# cut the message short, or reach the job as \u0000, which the consumer refuses); a --meta value
# that is not UTF-8 is left out.
printf 'contact_id,first_name,note,phone\nn1,A\000B,ok,+1\nn2,Bea,x\000y,+2\nn3,Cy,\377,+3\n' >"$WORK/nul.csv"
vx launch --campaign it-nul --contacts "$WORK/nul.csv" --template 'Hi {{first_name}}' --meta note --meta phone \
	--rejects "$WORK/nul-rejects.csv" --json >"$WORK/nul.json"
assert_eq "rows with a NUL in the text or a meta value rejected" "1 2" "$(jq -r '"\(.enqueued) \(.rejected)"' "$WORK/nul.json")"
grep -q '^2,n1,text contains a NUL character' "$WORK/nul-rejects.csv" || fail "NUL text not in rejects: $(cat "$WORK/nul-rejects.csv")"
grep -q '^3,n2,"meta column ""note"" contains a NUL character"' "$WORK/nul-rejects.csv" || fail "NUL meta not in rejects: $(cat "$WORK/nul-rejects.csv")"
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic3.tsv"
assert_eq "a meta value that is not UTF-8 is left out" '{"phone":"+3"}' \
	"$(cut -f4 "$WORK/topic3.tsv" | jq -c 'select(.campaign == "it-nul") | [.contact, .meta]' | sort | jq -c '.[1]' | paste -sd ' ')"

# meta is at most 16 KiB of JSON (job.h, JOB_META_MAX): a row whose --meta value is 20 KiB is
# rejected at launch with its reason, rather than reaching the consumer as an invalid job.
big=$(head -c 20480 /dev/zero | tr '\0' 'm')
printf 'contact_id,first_name,note\nm1,Al,small\nm2,Bo,%s\nm3,Cy,fine\n' "$big" >"$WORK/bigmeta.csv"
vx launch --campaign it-bigmeta --contacts "$WORK/bigmeta.csv" --template 'Hi {{first_name}}' --meta note \
	--rejects "$WORK/bigmeta-rejects.csv" --json >"$WORK/bigmeta.json"
assert_eq "row with a 20 KiB meta value rejected" "2 1" "$(jq -r '"\(.enqueued) \(.rejected)"' "$WORK/bigmeta.json")"
grep -q '^3,m2,"meta is 2049[0-9] bytes of JSON, over the limit of 16384"' "$WORK/bigmeta-rejects.csv" ||
	fail "big meta not in rejects: $(cut -c1-120 "$WORK/bigmeta-rejects.csv")"
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic4.tsv"
assert_eq "only the small-meta rows enqueued" "m1 m3" \
	"$(cut -f4 "$WORK/topic4.tsv" | jq -r 'select(.campaign == "it-bigmeta") | .contact' | sort | xargs)"

vx status it-launch --json >"$WORK/status.json"
assert_eq "status enqueued" 2002 "$(jq -r .enqueued "$WORK/status.json")"
assert_eq "status rejected" 5 "$(jq -r .rejected "$WORK/status.json")"
assert_eq "status pending" 2002 "$(jq -r .pending "$WORK/status.json")"
assert_eq "status state" running "$(jq -r .state "$WORK/status.json")"
# every chunk was acknowledged, so every contact reads pending
assert_eq "chunk acknowledgements" a "$(rcli --raw HVALS 'voxcast:{it-launch}:chunks' | sort -u | tr -d '\n')"
assert_eq "contacts in state p" 2002 "$(rcli --raw HVALS 'voxcast:{it-launch}:state' | grep -c '^p')"
assert_eq "no launch lock left behind" 0 "$(rcli EXISTS 'voxcast:{it-launch}:launch:lock')"

# a second launch of the same id is refused and enqueues nothing
if vx launch --campaign it-launch --contacts "$csv" --template 'Hi {{first_name}}' 2>"$WORK/err"; then
	fail "second launch of the same campaign succeeded"
fi
grep -q 'already exists; use --resume' "$WORK/err" || fail "unclear refusal: $(cat "$WORK/err")"
# --resume enqueues again only what is not done (nothing is done yet: all good rows)
vx -X job.max_text_chars=120 launch --campaign it-launch --contacts "$csv" --template 'Hi {{first_name}}' --resume --json >"$WORK/resume.json"
assert_eq "resume re-enqueues pending contacts" 2002 "$(jq -r .enqueued "$WORK/resume.json")"
assert_eq "resume keeps counts exact" 2002 "$(status_field it-launch enqueued)"

# ---- bad input: one clear line each, right exit code, nothing enqueued
expect_error() { # CODE PATTERN ARGS...
	local code=$1 pattern=$2 rc=0
	shift 2
	vx "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" -eq "$code" ] || fail "exit $rc, expected $code for: $*"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "more than one error line for $*: $(cat "$WORK/err")"
	grep -qE -- "$pattern" "$WORK/err" || fail "error '$(cat "$WORK/err")' does not match /$pattern/"
	ok "error for $1 ${2:-}: $(cat "$WORK/err")"
}

# one launch of a campaign at a time: while another holds the campaign, a launch is refused
rcli SET 'voxcast:{it-launch}:launch:lock' another-run PX 60000 >/dev/null
expect_error 1 'is being launched by another process' launch --campaign it-launch --contacts "$csv" \
	--template 'Hi {{first_name}}' --resume
assert_eq "a refused launch enqueues nothing" 2002 "$(status_field it-launch enqueued)"
rcli DEL 'voxcast:{it-launch}:launch:lock' >/dev/null

# a launch whose lock is taken from it stops before its next reservation, and says so. It reads
# a FIFO: the first 4,999 rows (80 KB: more than the reader's 64 KiB buffer, so it gets past the
# header and takes the lock), then, once Redis (MONITOR) has seen the lock taken and the test has
# replaced it, row 5,000, which fills the first chunk.
rcli MONITOR >"$WORK/monitor.log" 2>/dev/null &
PIDS+=($!)
wait_log "$WORK/monitor.log" '^OK'
mkfifo "$WORK/fifo.csv"
make_contacts "$WORK/rows.csv" 5000
vx launch --campaign it-lock --contacts "$WORK/fifo.csv" --template 'Hi {{first_name}}' \
	>/dev/null 2>"$WORK/lock.err" &
lpid=$!
exec 7>"$WORK/fifo.csv"
head -n 5000 "$WORK/rows.csv" >&7
wait_log "$WORK/monitor.log" '"SET" "voxcast:[{]it-lock[}]:launch:lock"'
rcli SET 'voxcast:{it-lock}:launch:lock' another-run PX 60000 >/dev/null
tail -n 1 "$WORK/rows.csv" >&7
exec 7>&-
rc=0
wait "$lpid" || rc=$?
assert_eq "exit of a launch that lost its lock" 1 "$rc"
grep -q 'this launch lost its lock.*--resume' "$WORK/lock.err" || fail "unclear error: $(cat "$WORK/lock.err")"
assert_eq "contacts it reserved after" 0 "$(rcli HLEN 'voxcast:{it-lock}:state')"
assert_eq "the other holder keeps the lock" another-run "$(rcli GET 'voxcast:{it-lock}:launch:lock')"

# Kafka goes away mid-launch: one clear error once launch.ack_timeout_ms has passed, jobs never
# acknowledged are given up and unreserved (the record claims nothing Kafka did not acknowledge),
# and --resume finishes the campaign once Kafka is back. A broker of its own, with a control FIFO.
"$BIN/voxcast" broker --partitions 2 --control "$WORK/kctl" >"$WORK/kbroker.out" 2>"$WORK/kbroker.err" &
PIDS+=($!)
wait_log "$WORK/kbroker.out" '^127\.0\.0\.1:'
kboot=$(head -n 1 "$WORK/kbroker.out")
mkfifo "$WORK/fifo2.csv"
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$kboot vx -X launch.ack_timeout_ms=2000 launch --campaign it-kgone \
	--contacts "$WORK/fifo2.csv" --template 'Hi {{first_name}}' >/dev/null 2>"$WORK/kgone.err" &
lpid=$!
exec 7>"$WORK/fifo2.csv"
head -n 5000 "$WORK/rows.csv" >&7
wait_log "$WORK/monitor.log" '"SET" "voxcast:[{]it-kgone[}]:launch:lock"'
echo "down 1" >"$WORK/kctl"
wait_log "$WORK/kbroker.err" '"verb":"down","broker":1,"result":"Success"'
tail -n 1 "$WORK/rows.csv" >&7
exec 7>&-
rc=0
wait "$lpid" || rc=$?
assert_eq "exit of a launch whose Kafka went away" 1 "$rc"
grep -q '5000 jobs not acknowledged after 2000 ms; run the launch again with --resume' "$WORK/kgone.err" ||
	fail "unclear error: $(cat "$WORK/kgone.err")"
assert_eq "enqueued while Kafka was away" 0 "$(status_field it-kgone enqueued)"
assert_eq "contacts left reserved" 0 "$(rcli HLEN 'voxcast:{it-kgone}:state')"
echo "up 1" >"$WORK/kctl"
wait_log "$WORK/kbroker.err" '"verb":"up","broker":1,"result":"Success"'
VOXCAST_KAFKA_BOOTSTRAP_SERVERS=$kboot vx launch --campaign it-kgone --contacts "$WORK/rows.csv" \
	--template 'Hi {{first_name}}' --resume --json >"$WORK/kgone.json"
assert_eq "enqueued by --resume once Kafka is back" 5000 "$(jq -r .enqueued "$WORK/kgone.json")"
assert_eq "status after the resume" 5000 "$(status_field it-kgone enqueued)"
: >"$WORK/empty.csv"
printf 'contact_id,first_name\nc1,"unterminated\n' >"$WORK/unbalanced.csv"
expect_error 2 'nope.csv: No such file' launch --campaign b1 --contacts "$WORK/nope.csv" --template 'x'
expect_error 2 'no header row' launch --campaign b2 --contacts "$WORK/empty.csv" --template 'x'
expect_error 2 'no column "last_name"' launch --campaign b3 --contacts "$csv" --template 'Hi {{last_name}}'
expect_error 2 'campaign "bad/id" must be' launch --campaign 'bad/id' --contacts "$csv" --template 'x'
expect_error 2 'campaign ".." must be' launch --campaign '..' --contacts "$csv" --template 'x'
expect_error 2 'campaign "." must be' launch --campaign '.' --contacts "$csv" --template 'x'
expect_error 2 'template: ' launch --campaign b4 --contacts "$csv" --template 'Hi {{first_name'
assert_eq "refused campaigns leave no record" "it-bigmeta it-kgone it-launch it-lock it-meta it-nul" "$(vx status --json | jq -r .campaign | sort | xargs)"
vx launch --campaign b5 --contacts "$WORK/unbalanced.csv" --template 'Hi {{first_name}}' \
	--rejects "$WORK/rej5.csv" --json >"$WORK/b5.json"
grep -q 'unterminated quoted field' "$WORK/rej5.csv" || fail "unbalanced quote not reported"
assert_eq "unbalanced quote rejected" 1 "$(jq -r .rejected "$WORK/b5.json")"
dead=$("$TESTBIN/freeport")
start=$(date +%s)
expect_error 1 'kafka 127.0.0.1:[0-9]+: unreachable' -X "kafka.bootstrap.servers=127.0.0.1:$dead" \
	launch --campaign b6 --contacts "$csv" --template 'x'
[ $(($(date +%s) - start)) -le 20 ] || fail "kafka unreachable took more than 20 s to report"
expect_error 1 'redis 127.0.0.1:[0-9]+.*refused' -X "redis.url=redis://127.0.0.1:$dead/0" \
	-X redis.connect_timeout_ms=500 launch --campaign b7 --contacts "$csv" --template 'x'
vx -X job.max_text_chars=120 launch --campaign dry --contacts "$csv" --template 'Hi {{first_name}}' --dry-run --json >"$WORK/dry.json"
assert_eq "dry run counts" "2002 5" "$(jq -r '"\(.enqueued) \(.rejected)"' "$WORK/dry.json")"
# JSON Lines: a line over 1 MiB (the CSV limit) is one rejected row, read to its end without
# being held whole, and the rows after it are enqueued; job.max_text_chars = 0 means no limit,
# as it does in the consumer.
{
	printf '{"contact_id":"j1","first_name":"Ann"}\n'
	printf '{"contact_id":"j2","first_name":"%s"}\n' "$(head -c 1100000 /dev/zero | tr '\0' x)"
	printf 'not json\n'
	printf '{"contact_id":"j3","first_name":"%s"}\n' "$(head -c 6000 /dev/zero | tr '\0' y)"
} >"$WORK/c.jsonl"
vx -X job.max_text_chars=0 launch --campaign jl --contacts "$WORK/c.jsonl" --template 'Hi {{first_name}}' \
	--dry-run --json --rejects "$WORK/jl-rejects.csv" >"$WORK/jl.json"
assert_eq "jsonl: enqueued, rejected" "2 2" "$(jq -r '"\(.enqueued) \(.rejected)"' "$WORK/jl.json")"
grep -q '^2,,line longer than 1048576 bytes' "$WORK/jl-rejects.csv" || fail "the long line is not in rejects: $(cut -c1-200 "$WORK/jl-rejects.csv")"
ok "a JSON Lines line over 1 MiB is one rejected row; max_text_chars = 0 is no limit"
# 2^32 ms once wrapped to 0 through an int cast: every launch then "timed out" at once
vx -X launch.ack_timeout_ms=4294967296 -X job.max_text_chars=5000 launch --campaign bigwait --contacts "$WORK/c.jsonl" \
	--template 'Hi {{first_name}}' --json >"$WORK/bigwait.json" || fail "launch with a 2^32 ms ack timeout failed"
assert_eq "a 2^32 ms ack timeout waits for the acks" 1 "$(jq -r .enqueued "$WORK/bigwait.json")"
echo "all launch checks passed"
