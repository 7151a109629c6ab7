#!/bin/sh
# deps.sh [--check | --build | --list-build] - install the Debian packages voxcast needs, only
# when they are missing. Libraries are probed with pkg-config, programs with command -v; apt-get
# runs (as root) only when something is absent, so a ready machine pays nothing. This is the one
# list of the packages voxcast builds and tests with (the Dockerfile's build stage runs --build;
# its runtime stage names the run-time libraries of the -dev packages below).
# (none):       what building and testing need: the build packages, the test tools, s3rver.
# --check:      install nothing; name what the build lacks and exit 1 (what plain `make` runs).
# --build:      install only the build packages: compiler, make, pkg-config, the -dev packages
#               of the Makefile's PKGS, LAME and check (the unit tests' library); no test tools.
# --list-build: install nothing; print every build package, installed or not, one a line as
#               "PROBE PACKAGE" (pkg:MODULE, cmd:PROGRAM or hdr:HEADER; t_compose.sh reads it).
set -eu
mode=all
case "${1:-}" in
"") ;;
--check) mode=check ;;
--build) mode=build ;;
--list-build) mode=list ;;
*)
	echo "usage: deps.sh [--check | --build | --list-build]" >&2
	exit 2
	;;
esac

missing=""
listed() { [ "$mode" = list ] && echo "$1 $2"; }
need_pkg() { listed "pkg:$1" "$2" || pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { listed "cmd:$1" "$2" || command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_hdr() { listed "hdr:$1" "$2" || [ -f "/usr/include/$1" ] || missing="$missing $2"; } # no .pc

# ---- build packages
need_cmd pkg-config pkg-config
need_cmd cc build-essential              # gcc, make and the C library's headers
need_cmd make make
need_pkg rdkafka librdkafka-dev
need_pkg libcurl libcurl4-openssl-dev
need_pkg libcrypto libssl-dev              # SHA-256 of every audio file (common/sha256.c)
need_pkg jansson libjansson-dev
need_pkg hiredis libhiredis-dev
need_pkg check check
need_pkg libmicrohttpd libmicrohttpd-dev
need_pkg espeak-ng libespeak-ng-dev
need_pkg soxr libsoxr-dev
need_pkg sndfile libsndfile1-dev
need_hdr lame/lame.h libmp3lame-dev     # LAME ships no pkg-config file
case $mode in
list) exit 0 ;;
check)   # building needs the above; running the tests needs the rest too
	[ -z "$missing" ] && exit 0
	echo "voxcast: missing packages:$missing - run 'make deps' (as root) or 'make test', which installs them" >&2
	exit 1
	;;
esac

# apt_install PACKAGES... - apt-get install, as root (or through sudo); the list is not empty.
apt_install() {
	echo "deps: installing:$*" >&2
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
			echo "deps: missing packages:$*; run as root or install them with apt-get" >&2
			exit 1
		fi
	else
		SUDO=""
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "$mode" = build ]; then
	# shellcheck disable=SC2086 # one word per package
	[ -z "$missing" ] || apt_install $missing
	exit 0
fi

# ---- test tools
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

# shellcheck disable=SC2086 # one word per package; espeak-ng-data: the voices the tests speak with
[ -z "$missing" ] || apt_install $missing espeak-ng-data
install_s3rver
