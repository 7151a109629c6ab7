# Dockerfile - voxcast images: one image carries all three programs.
#
# The build stage compiles with the same `make all` a developer runs; the runtime stage holds only
# the shared libraries those programs link against, so the image has no compiler and no headers.
# One image serves every role: the default command is the consumer, and docker-compose.yml runs
# voxcast-ttsd and the voxcast CLI from the same image by overriding the command.
#
#   docker build -t voxcast .                  # runtime image
#   docker build --target test -t voxcast-test .  # build stage plus `make test` (optional)

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build ---------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The build packages come from scripts/deps.sh, the project's one list: --build installs the
# compiler, pkg-config and the -dev packages of the Makefile's PKGS, and no test tools. Copied
# alone first, so this layer is rebuilt only when the list changes.
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh --build \
 && rm -rf /var/lib/apt/lists/*
COPY . .
# The Makefile's default goal; it builds bin/voxcast, bin/voxcast-consumer and bin/voxcast-ttsd.
RUN make -j"$(nproc)" all

# ---- test (not part of the default build) --------------------------------------------------
# Runs the project's whole suite inside the build environment; scripts/deps.sh installs the
# test-only tools (redis-server, curl, ...) that the build stage does not need.
FROM build AS test
RUN scripts/deps.sh && make test

# ---- runtime -------------------------------------------------------------------------------
# Shared libraries and data only: the run-time packages of the -dev packages scripts/deps.sh
# --build names (librdkafka-dev -> librdkafka1, ...), so a library added there belongs here too
# (the ldd check below and tests/integration/t_compose.sh catch a miss). tzdata is there because
# `voxcast dlq replay --window` reads the window in local time: with it, TZ=Europe/Madrid works
# in the container.
FROM ${DEBIAN_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 libcurl4 libssl3 libjansson4 libhiredis0.14 libmicrohttpd12 libespeak-ng1 libsoxr0 libsndfile1 libmp3lame0 \
      espeak-ng-data ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so that bind-mounted output directories can be prepared on the host
# (chown 10001:10001). /data/audio is created here, owned by that user, so that a fresh named
# volume mounted on it inherits the ownership.
RUN groupadd --system --gid 10001 voxcast \
 && useradd --system --uid 10001 --gid voxcast --home-dir /var/lib/voxcast --create-home \
      --shell /usr/sbin/nologin voxcast \
 && mkdir -p /data/audio \
 && chown voxcast:voxcast /data/audio

COPY --from=build /src/bin/voxcast /src/bin/voxcast-consumer /src/bin/voxcast-ttsd /usr/local/bin/

# Fail the build, not the first deployment, when a shared library is missing from the list above.
RUN for b in /usr/local/bin/voxcast /usr/local/bin/voxcast-consumer /usr/local/bin/voxcast-ttsd; do \
      if ldd "$b" | grep 'not found'; then echo "missing runtime library for $b" >&2; exit 1; fi; \
    done

USER voxcast:voxcast
WORKDIR /var/lib/voxcast

# In a container /health and /metrics must be reachable from other containers (Prometheus),
# so the consumer listens on every interface instead of the default loopback address.
ENV VOXCAST_HTTP_LISTEN=0.0.0.0:9464 \
    VOXCAST_OUTPUT_DIR=/data/audio
EXPOSE 9464

# SIGTERM starts the graceful drain (stop fetching, finish in-flight jobs, commit, exit 0):
# give the container a stop timeout longer than consumer.shutdown_grace_ms.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9464/health || exit 1

CMD ["voxcast-consumer"]
