#!/bin/sh
# fuzz.sh - build the libFuzzer targets in tests/fuzz/ and run each for FUZZ_SECONDS.
#
# usage: scripts/fuzz.sh [TARGET...]     TARGET: csv template job config retry_after audio launch
#                                        (default: all of them, one after the other)
# environment:
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   FUZZ_BUILD=DIR   where binaries, logs and crash artifacts go (default build/fuzz)
#   FUZZ_CC=CC       compiler with libFuzzer (default clang)
#   FUZZ_MERGE=1     after a target's run, minimise its corpus in place: hand-named seeds stay,
#                    the inputs libFuzzer saved (named by their SHA-1) are kept only if they add
#                    coverage, so the committed corpus stays small
#   FUZZ_ARGS=...    extra libFuzzer flags, e.g. "-max_len=16384" or "-runs=0"
#
# Each target is built straight from the sources it needs (not from the project libraries, which
# are not instrumented), with AddressSanitizer and UndefinedBehaviorSanitizer made fatal. New
# inputs are saved in tests/fuzz/corpus/TARGET; a crash leaves its input in
# FUZZ_BUILD/artifacts/TARGET/ and the log in FUZZ_BUILD/TARGET.log. All targets run even after
# a crash; the exit status is 1 when any target crashed or failed to build. clang's libFuzzer
# runtime is installed (apt-get, as root or through sudo) only when a probe build shows it missing.
set -eu

cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
OUT=${FUZZ_BUILD:-build/fuzz}
CC=${FUZZ_CC:-clang}
ALL_TARGETS="csv template job config retry_after audio launch"

# A job's format is checked against convert.h's names, which brings the conversion module and
# its libraries along (they are not fuzzed here).
FORMATS="common/convert.c common/mpeg.c common/audio.c"

# The sources of the module under test and what it links against, per target.
sources_of() {
	case "$1" in
	csv)         echo "common/csv.c common/buf.c common/xalloc.c" ;;
	template)    echo "common/template.c common/utf8.c common/buf.c common/xalloc.c" ;;
	job)         echo "common/job.c common/names.c common/sha256.c common/jsonw.c common/utf8.c common/buf.c common/xalloc.c $FORMATS" ;;
	config)      echo "common/config.c common/buf.c common/xalloc.c" ;;
	retry_after) echo "consumer/retry_after.c" ;;
	audio)       echo "common/audio.c common/buf.c common/xalloc.c" ;;
	launch)      echo "producer/jobbuild.c producer/contacts.c common/csv.c common/template.c common/job.c common/names.c common/sha256.c common/jsonw.c common/utf8.c common/buf.c common/xalloc.c $FORMATS" ;;
	*)           return 1 ;;
	esac
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "fuzz: need root to run: $*" >&2
		return 1
	fi
}

# True when $CC can link a libFuzzer target with both sanitizers.
probe_libfuzzer() {
	mkdir -p "$OUT"
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
		>"$OUT/probe-$$.c"
	rc=0
	"$CC" -fsanitize=fuzzer,address,undefined "$OUT/probe-$$.c" -o "$OUT/probe-$$" \
		>/dev/null 2>&1 || rc=1
	rm -f "$OUT/probe-$$.c" "$OUT/probe-$$"
	return $rc
}

ensure_toolchain() {
	probe_libfuzzer && return 0
	pkgs="libclang-rt-14-dev"
	command -v "$CC" >/dev/null 2>&1 || pkgs="clang $pkgs"
	echo "fuzz: libFuzzer not usable with $CC; installing: $pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	# shellcheck disable=SC2086
	as_root apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	probe_libfuzzer || { echo "fuzz: $CC still cannot build a libFuzzer target" >&2; exit 1; }
}

build_target() {
	t=$1
	# shellcheck disable=SC2046
	"$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -Icommon -Iconsumer -Iproducer \
		-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		"tests/fuzz/fuzz_$t.c" $(sources_of "$t") $(pkg-config --cflags --libs jansson soxr sndfile) -lmp3lame -lm -lpthread \
		-o "$OUT/fuzz_$t"
}

# Keeps the hand-written seeds and the smallest set of saved inputs that covers the same code.
merge_corpus() {
	t=$1
	dir=tests/fuzz/corpus/$t
	tmp="$OUT/merge-$t"
	rm -rf "$tmp" && mkdir -p "$tmp"
	for f in "$dir"/*; do
		[ -f "$f" ] || continue
		name=${f##*/}
		case $name in
		*[!0-9a-f]*) cp "$f" "$tmp/" ;;                    # a hand-written seed
		*) [ ${#name} -eq 40 ] || cp "$f" "$tmp/" ;;
		esac
	done
	"$OUT/fuzz_$t" -merge=1 "$tmp" "$dir" >"$OUT/$t.merge.log" 2>&1 || return 1
	find "$dir" -maxdepth 1 -type f -delete
	cp "$tmp"/* "$dir/"
	rm -rf "$tmp"
}

# Runs one target; prints its final stats line, or the crash report when it crashed.
run_target() {
	t=$1
	dir=tests/fuzz/corpus/$t
	log="$OUT/$t.log"
	mkdir -p "$dir" "$OUT/artifacts/$t"
	# shellcheck disable=SC2086
	if "$OUT/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts/$t/" ${FUZZ_ARGS:-} "$dir" >"$log" 2>&1; then
		stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
		echo "fuzz: $t ok: ${stats:-see $log}"
		if [ "${FUZZ_MERGE:-0}" = 1 ]; then
			if ! merge_corpus "$t"; then
				echo "fuzz: $t: corpus merge failed, see $OUT/$t.merge.log" >&2
				return 1
			fi
			echo "fuzz: $t corpus merged to $(find "$dir" -maxdepth 1 -type f | wc -l) files"
		fi
		return 0
	fi
	echo "fuzz: $t CRASHED; log $log; input in $OUT/artifacts/$t/" >&2
	pattern='^==[0-9]+==ERROR|runtime error|^fuzz_'
	if grep -q -E "$pattern" "$log"; then
		grep -E -A 40 "$pattern" "$log" | head -n 60 >&2
	else
		tail -n 40 "$log" >&2
	fi
	return 1
}

targets=${*:-$ALL_TARGETS}
for t in $targets; do
	if ! sources_of "$t" >/dev/null; then
		echo "fuzz: unknown target '$t' (known: $ALL_TARGETS)" >&2
		exit 2
	fi
done
pkg-config --exists jansson || scripts/deps.sh
ensure_toolchain

failed=""
for t in $targets; do
	if ! build_target "$t"; then
		echo "fuzz: $t does not build" >&2
		failed="$failed $t"
		continue
	fi
	run_target "$t" || failed="$failed $t"
done

if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz: all targets ran ${SECONDS_PER_TARGET}s without a crash: $targets"
