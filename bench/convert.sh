#!/usr/bin/env bash
# bench/convert.sh - CPU cost of the conversion stage (common/convert.c) per job and per second
# of audio, for every output format: a 3 s tone at 24 kHz (OpenAI's rate) and 22.05 kHz
# (espeak-ng, voxcast-ttsd), and the 200 ms 22.05 kHz tone of the consumer benchmark's provider.
# Extra arguments are MS RATE pairs. Build first: make unit-bins (or BUILD=dir).
set -euo pipefail
cd "$(dirname "$0")/.."
TESTBIN=${VOXCAST_TESTBIN:-$PWD/build/release/tests}
exec "$TESTBIN/convert_bench" "$@"
