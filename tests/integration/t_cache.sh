#!/usr/bin/env bash
# Render once (CONTRACT "Pay once per sound"): contacts whose spoken request is identical share
# one provider request across consumers. Two consumers and 2,000 contacts over 20 distinct texts:
# voxcast-ttsd sees each text once and every contact has its file, identical within a text. A
# consumer killed (SIGKILL) while it holds a text's claim and the provider answers slowly: the
# other renders it once the claim expires, and every contact gets its file. An entry whose file
# was deleted is rendered again. A campaign launched with --no-dedup renders every contact. On S3
# the copies are server-side copies, and a deleted source (404) is rendered again too.
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 4
start_ttsd p --latency-ms 5

# contacts FILE N FIRST: N contacts from FIRST on, spread over 20 texts (column n).
contacts() {
	awk -v n="$2" -v f="$3" 'BEGIN { print "contact_id,n"; for (i = f; i < f + n; i++) printf "c-%06d,%d\n", i, i % 20 }' >"$1"
}
requests() { ttsd_stat p requests; }
reset_stats() { ttsd_curl "$TTSD_PORT_p" /admin/stats/reset -X POST >/dev/null; }
faults() { ttsd_curl "$TTSD_PORT_p" /admin/faults -X POST -d "$1" >/dev/null; }
consumer() {
	# shellcheck disable=SC2046
	start_consumer "$1" -X providers=primary $(provider_args "$TTSD_PORT_p") -X consumer.concurrency=16 \
		-X cache.claim_ttl_ms=2000 -X kafka.session.timeout.ms=6000
}
consumer a
consumer b

# ---------------------------------------------------------------- 2,000 contacts, 20 texts
contacts "$WORK/many.csv" 2000 1
vx launch --campaign many --contacts "$WORK/many.csv" --template 'Message number {{n}} for everyone.' --json >/dev/null
wait_complete many 120
assert_eq "many: done" 2000 "$(status_field many "done")"
assert_eq "many: provider requests (one per text)" 20 "$(requests)"
assert_eq "many: audio files" 2000 "$(find "$WORK/audio/many" -name '*.wav' | wc -l)"
# files identical within a text, and the 20 texts 20 different sounds
(cd "$WORK/audio/many" && sha256sum -- *.wav) | sed 's/^\([0-9a-f]*\)  c-0*\([0-9]*\)\.wav$/\2 \1/' |
	awk '{ print $1 % 20, $2 }' | sort -u >"$WORK/by_text"
assert_eq "many: one sound per text" 20 "$(wc -l <"$WORK/by_text")"
assert_eq "many: distinct sounds" 20 "$(cut -d' ' -f2 "$WORK/by_text" | sort -u | wc -l)"
"$TESTBIN/audio_check" "$WORK/audio/many"/*.wav >/dev/null || fail "many: an audio file is not whole"
assert_eq "many: cache_hits in Redis" 1980 "$(rcli HGET 'voxcast:{many}:meta' cache_hits)"
assert_eq "many: status --json cache_hits" 1980 "$(vx status many --json | jq '[.. | objects | .cache_hits? // empty][0]')"
assert_eq "many: cache hits on /metrics" 1980 \
	$(($(consumer_metric a '^voxcast_cache_hits_total') + $(consumer_metric b '^voxcast_cache_hits_total')))
chars=$(awk -F, 'NR > 1 { t = "Message number " $2 " for everyone."; if (!seen[t]++) s += length(t) } END { print s }' "$WORK/many.csv")
assert_eq "many: characters billed in Redis" "$chars" "$(rcli HGET 'voxcast:{many}:chars' primary)"
assert_eq "many: characters billed on /metrics" "$chars" \
	$(($(consumer_metric a '^voxcast_provider_characters_total') + $(consumer_metric b '^voxcast_provider_characters_total')))
[ "$(stat -c %h "$WORK/audio/many/c-000020.wav")" -gt 1 ] || fail "many: copies are not hard links"
ok "many: copies are hard links of the first render"

# ---------------------------------------------------------------- the claim holder dies
reset_stats
faults '{"latency_ms":4000}'
contacts "$WORK/kill.csv" 60 1
vx launch --campaign kill --contacts "$WORK/kill.csv" --template 'The holder of this one dies.' --json >/dev/null
claim() { rcli --scan --pattern 'voxcast:cache:*:claim' | head -n 1; }
in_flight() { [ "$(ttsd_stat p in_flight)" -ge 1 ]; }
wait_until 30 in_flight
key=$(claim)
[ -n "$key" ] || fail "kill: no claim while the text renders"
holder=$(rcli GET "$key" | cut -d: -f2)
case $holder in
"$CONSUMER_PID_a") survivor=b ;;
"$CONSUMER_PID_b") survivor=a ;;
*) fail "kill: the claim's token names no consumer: $(rcli GET "$key")" ;;
esac
kill -9 "$holder"
ok "kill: claim holder (pid $holder) killed with SIGKILL mid-render"
faults '{"latency_ms":5}'
wait_complete kill 120
assert_eq "kill: done" 60 "$(status_field kill "done")"
assert_eq "kill: provider requests (the dead one's and one more)" 2 "$(requests)"
assert_eq "kill: audio files" 60 "$(find "$WORK/audio/kill" -name '*.wav' | wc -l)"
assert_eq "kill: one sound" 1 "$(cd "$WORK/audio/kill" && sha256sum -- *.wav | cut -d' ' -f1 | sort -u | wc -l)"
kill -0 "$(eval echo "\$CONSUMER_PID_$survivor")" || fail "kill: the surviving consumer died"

# ---------------------------------------------------------------- an entry whose file was deleted
reset_stats
printf 'contact_id,n\nfirst,1\n' >"$WORK/first.csv"
vx launch --campaign gone1 --contacts "$WORK/first.csv" --template 'Soon to be deleted.' --json >/dev/null
wait_complete gone1 60
assert_eq "gone: first render" 1 "$(requests)"
rm "$WORK/audio/gone1/first.wav"
contacts "$WORK/gone.csv" 10 1
vx launch --campaign gone2 --contacts "$WORK/gone.csv" --template 'Soon to be deleted.' --json >/dev/null
wait_complete gone2 60
assert_eq "gone: rendered again, once" 2 "$(requests)"
assert_eq "gone: audio files" 10 "$(find "$WORK/audio/gone2" -name '*.wav' | wc -l)"
grep -q '"cached audio gone; looking the request up again"' "$WORK"/consumer-*.log || fail "gone: not logged"
ok "gone: the vanished source was noticed and logged"

# ---------------------------------------------------------------- --no-dedup
reset_stats
contacts "$WORK/nodedup.csv" 40 1
vx launch --campaign nodedup --contacts "$WORK/nodedup.csv" --template 'Message number {{n}} for everyone.' \
	--no-dedup --json >/dev/null
wait_complete nodedup 60
assert_eq "no-dedup: every contact rendered (texts cached already)" 40 "$(requests)"
assert_eq "no-dedup: audio files" 40 "$(find "$WORK/audio/nodedup" -name '*.wav' | wc -l)"
assert_eq "no-dedup: cache hits" "" "$(rcli HGET 'voxcast:{nodedup}:meta' cache_hits)"

# ---------------------------------------------------------------- S3: server-side copies
survivor_pid=$(eval echo "\$CONSUMER_PID_$survivor")
kill -TERM "$survivor_pid"
wait "$survivor_pid" || fail "s3: the file consumer did not drain"
start_s3rver voxbucket
# shellcheck disable=SC2046
start_consumer s -X providers=primary $(provider_args "$TTSD_PORT_p") -X output.uri=s3://voxbucket/calls \
	-X "s3.endpoint=http://127.0.0.1:$S3_PORT" -X s3.path_style=true
three() { awk -v p="$2" 'BEGIN { print "contact_id,n"; for (i = 1; i <= 30; i++) printf "%s-%02d,%d\n", p, i, i % 3 }' >"$1"; }
reset_stats
three "$WORK/s3a.csv" a
vx launch --campaign s3a --contacts "$WORK/s3a.csv" --template 'Stored in S3, number {{n}}.' --json >/dev/null
wait_complete s3a 60
assert_eq "s3: provider requests (one per text)" 3 "$(requests)"
assert_eq "s3: objects" 30 "$(s3_keys voxbucket calls/s3a/ | wc -l)"
assert_eq "s3: server-side copies" 27 "$(cat "$WORK"/s3rver-*.log | grep -c 'Copied object "calls/s3a/')"
for i in 01 04; do s3_get "voxbucket/calls/s3a/a-$i.wav" -o "$WORK/s3-$i.wav"; done
cmp -s "$WORK/s3-01.wav" "$WORK/s3-04.wav" || fail "s3: two contacts of one text differ"
ok "s3: copies are the rendered object"
# every object of s3a deleted: the entries' sources are gone (404), each text rendered again
while read -r k; do s3_curl -X DELETE "http://127.0.0.1:$S3_PORT/voxbucket/$k" >/dev/null; done < <(s3_keys voxbucket calls/s3a/)
assert_eq "s3: objects deleted" 0 "$(s3_keys voxbucket calls/s3a/ | wc -l)"
three "$WORK/s3b.csv" b
vx launch --campaign s3b --contacts "$WORK/s3b.csv" --template 'Stored in S3, number {{n}}.' --json >/dev/null
wait_complete s3b 60
assert_eq "s3: vanished sources rendered again, once a text" 6 "$(requests)"
assert_eq "s3: objects after the sources vanished" 30 "$(s3_keys voxbucket calls/s3b/ | wc -l)"
echo "all render-once checks passed"
