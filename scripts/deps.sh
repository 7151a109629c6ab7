#!/bin/sh
# deps.sh [--check] - install the Debian packages voxcast needs, only when they are missing.
# Libraries are probed with pkg-config, programs with command -v; apt-get runs (as root)
# only when something is absent, so a ready machine pays nothing. This is the one list of the
# packages voxcast builds and tests with.
# --check: install nothing; name what the build lacks and exit 1 (what plain `make` runs).
set -eu
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

missing=""
need_pkg() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_hdr() { [ -f "/usr/include/$1" ] || missing="$missing $2"; }   # for libraries with no .pc

need_cmd pkg-config pkg-config
need_cmd cc gcc
need_cmd make make
need_pkg rdkafka librdkafka-dev
need_pkg libcurl libcurl4-openssl-dev
need_pkg jansson libjansson-dev
need_pkg hiredis libhiredis-dev
need_pkg check check
need_pkg libmicrohttpd libmicrohttpd-dev
need_pkg espeak-ng libespeak-ng-dev
need_pkg soxr libsoxr-dev
need_pkg sndfile libsndfile1-dev
need_hdr lame/lame.h libmp3lame-dev     # LAME ships no pkg-config file
if $check_only; then   # building needs the above; running the tests needs the rest too
	[ -z "$missing" ] && exit 0
	echo "voxcast: missing packages:$missing - run 'make deps' (as root) or 'make test', which installs them" >&2
	exit 1
fi
need_cmd redis-server redis-server
need_cmd redis-cli redis-tools
need_cmd curl curl
need_cmd jq jq
need_cmd docker-compose docker-compose   # validates docker-compose.yml in the tests
need_cmd promtool prometheus            # checks /metrics output in the tests
need_cmd npm npm                        # installs s3rver, the S3 store of the tests (below)
need_cmd shellcheck shellcheck          # `make lint-shell`, run by CI

# s3rver: the local S3-compatible store of tests/integration/t_s3.sh, from the npm registry,
# pinned, into the project's own .deps/ (ignored by git), only when that version is absent.
S3RVER_VERSION=3.7.1
install_s3rver() {
	root=$(cd "$(dirname "$0")/.." && pwd)
	grep -qs "\"version\": \"$S3RVER_VERSION\"" "$root/.deps/node_modules/s3rver/package.json" &&
		[ -x "$root/.deps/node_modules/.bin/s3rver" ] && return 0
	echo "deps: installing s3rver@$S3RVER_VERSION into .deps/" >&2
	mkdir -p "$root/.deps"
	npm install --prefix "$root/.deps" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >/dev/null
}

[ -z "$missing" ] && { install_s3rver; exit 0; }

echo "deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "deps: missing packages:$missing; run as root or install them with apt-get" >&2
		exit 1
	fi
else
	SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing espeak-ng-data >/dev/null
install_s3rver
