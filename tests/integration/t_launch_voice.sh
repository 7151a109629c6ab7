#!/usr/bin/env bash
# launch --voice / --model against the consumers' configuration: given the provider chain, launch
# says in one line per provider what the campaign's logical voice and model become there, warns
# where the choice is lost (no map entry: the provider's own voice; no map and no voice in a
# chain of several: the name is sent as it is), refuses a malformed map (exit 2, naming the key)
# and never fails for an unmapped name. The jobs carry the logical names, which reconcile keeps
# (with the --meta columns).
. "$(dirname "$0")/lib.sh"
start_redis
start_broker 2

csv=$WORK/contacts.csv
make_contacts "$csv" 300
# The consumers' configuration: an OpenAI-shaped primary that maps the campaign's names, and an
# ElevenLabs secondary that maps the model but not the voice (it has its own voice id).
cat >"$WORK/consumers.conf" <<'EOF'
providers = primary, secondary
provider.primary.type = openai
provider.primary.url = http://127.0.0.1:9/v1/audio/speech
provider.primary.voices = alloy=nova, echo=onyx
provider.primary.models = standard=tts-1, hd=tts-1-hd
provider.secondary.type = elevenlabs
provider.secondary.url = http://127.0.0.1:9/v1/text-to-speech/{voice_id}
provider.secondary.voice = 21m00Tcm4TlvDq8ikWAM
provider.secondary.models = hd=eleven_multilingual_v2
EOF

# launch_check NAME ARGS...: runs launch, keeping stdout and stderr in $WORK/NAME.{out,err}
launch_check() {
	local name=$1 rc=0
	shift
	vx "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	echo "$rc"
}

rc=$(launch_check mapped -c "$WORK/consumers.conf" launch --campaign it-voice --contacts "$csv" \
	--template 'Hi {{first_name}}' --voice alloy --model hd --meta first_name --json)
assert_eq "launch with an unmapped voice succeeds" 0 "$rc"
assert_eq "enqueued" 300 "$(jq -r .enqueued "$WORK/mapped.out")"
assert_eq "one line per provider and name" 4 "$(wc -l <"$WORK/mapped.err")"
assert_eq "primary's voice line" "voxcast: provider.primary renders voice 'alloy' as 'nova'" \
	"$(sed -n 1p "$WORK/mapped.err")"
assert_eq "primary's model line" "voxcast: provider.primary renders model 'hd' as 'tts-1-hd'" \
	"$(sed -n 2p "$WORK/mapped.err")"
assert_eq "secondary's voice warning" \
	"voxcast: warning: provider.secondary has no mapping for voice 'alloy' in provider.secondary.voices; it will speak with its own voice '21m00Tcm4TlvDq8ikWAM'" \
	"$(sed -n 3p "$WORK/mapped.err")"
assert_eq "secondary's model line" \
	"voxcast: provider.secondary renders model 'hd' as 'eleven_multilingual_v2'" \
	"$(sed -n 4p "$WORK/mapped.err")"

# the jobs carry the campaign's logical names: each consumer maps them for its provider
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic.tsv"
assert_eq "jobs with the logical voice and model" 300 \
	"$(cut -f4 "$WORK/topic.tsv" | jq -c 'select(.campaign == "it-voice" and .voice == "alloy" and .model == "hd")' | wc -l)"
assert_eq "model saved for reconcile" hd "$(rcli HGET 'voxcast:{it-voice}:meta' model)"
vx reconcile --campaign it-voice --contacts "$csv" --json >"$WORK/reconcile.json" 2>/dev/null
assert_eq "reconcile re-enqueues the pending contacts" 300 "$(jq -r .enqueued "$WORK/reconcile.json")"
"$TESTBIN/topic_dump" "$VOXCAST_KAFKA_BOOTSTRAP_SERVERS" voxcast.jobs >"$WORK/topic2.tsv"
assert_eq "reconciled jobs keep the voice, model and meta columns" 600 \
	"$(cut -f4 "$WORK/topic2.tsv" | jq -c 'select(.campaign == "it-voice" and .voice == "alloy" and .model == "hd"
		and .meta == {first_name: ("Name" + (.contact[2:] | tonumber | tostring))})' | wc -l)"

# a provider with neither map nor voice passes the name through: a warning in a chain of several
cat >"$WORK/passthrough.conf" <<'EOF'
providers = kokoro, primary
provider.kokoro.type = openai
provider.kokoro.url = http://127.0.0.1:9/v1/audio/speech
provider.primary.type = openai
provider.primary.url = http://127.0.0.1:9/v1/audio/speech
provider.primary.voices = alloy=nova
EOF
rc=$(launch_check pass -c "$WORK/passthrough.conf" launch --campaign it-pass --contacts "$csv" \
	--template 'Hi {{first_name}}' --voice alloy --dry-run --json)
assert_eq "dry run with a pass-through provider" 0 "$rc"
assert_eq "pass-through warning" \
	"voxcast: warning: provider.kokoro has neither provider.kokoro.voices nor provider.kokoro.voice; it will be sent voice 'alloy' as it is, which in a chain of several providers is likely another type's name (map it, or give it its own voice)" \
	"$(sed -n 1p "$WORK/pass.err")"
assert_eq "then the mapped provider" "voxcast: provider.primary renders voice 'alloy' as 'nova'" \
	"$(sed -n 2p "$WORK/pass.err")"
# ... but no warning when it is the only provider (the 0.1.0 set-up: it speaks the campaign's names)
rc=$(launch_check single -X providers=kokoro -X provider.kokoro.type=openai \
	-X provider.kokoro.url=http://127.0.0.1:9/v1/audio/speech launch --campaign it-single \
	--contacts "$csv" --template 'Hi {{first_name}}' --voice af_bella --dry-run --json)
assert_eq "dry run with one pass-through provider" 0 "$rc"
assert_eq "single provider: no warning, one line" \
	"voxcast: provider.kokoro renders voice 'af_bella' as it is (no provider.kokoro.voices or .voice)" \
	"$(cat "$WORK/single.err")"

# a map the consumers would refuse: exit 2, one line naming the key, nothing launched
rc=$(launch_check bad -c "$WORK/consumers.conf" -X 'provider.secondary.voices=alloy=x, echo' \
	launch --campaign it-bad --contacts "$csv" --template 'Hi {{first_name}}' --voice alloy)
assert_eq "exit for a malformed voices map" 2 "$rc"
assert_eq "one error line" 1 "$(wc -l <"$WORK/bad.err")"
grep -q "^voxcast: provider.secondary.voices: entry 2 \"echo\" has no '='" "$WORK/bad.err" ||
	fail "unclear error: $(cat "$WORK/bad.err")"
rc=$(launch_check badm -c "$WORK/consumers.conf" -X 'provider.primary.models=hd=a=b' \
	launch --campaign it-bad --contacts "$csv" --template 'Hi {{first_name}}' --model hd)
assert_eq "exit for a malformed models map" 2 "$rc"
grep -q '^voxcast: provider.primary.models: ' "$WORK/badm.err" || fail "unclear error: $(cat "$WORK/badm.err")"
assert_eq "refused launches leave no record" 0 "$(rcli EXISTS 'voxcast:{it-bad}:meta')"

# without the consumers' configuration launch cannot know the chain, and says nothing
rc=$(launch_check plain launch --campaign it-plain --contacts "$csv" --template 'Hi {{first_name}}' \
	--voice alloy --model hd --dry-run --json)
assert_eq "dry run without a configuration" 0 "$rc"
assert_eq "nothing said without a configuration" "" "$(cat "$WORK/plain.err")"
# a voice or model no job could carry is refused before anything happens
rc=$(launch_check ctl launch --campaign it-ctl --contacts "$csv" --template 'Hi {{first_name}}' \
	--model $'hd\nx' --dry-run)
assert_eq "exit for a model with a line break" 2 "$rc"
grep -q -- '--model must be 1-256 bytes of UTF-8 without control characters' "$WORK/ctl.err" ||
	fail "unclear error: $(cat "$WORK/ctl.err")"
echo "all launch voice checks passed"
