#!/usr/bin/env bash
# t_compose.sh - checks of the deployment files that need no Docker engine.
#
# No container can run on a machine without a Docker engine, so this test checks what can be
# checked without one: the compose files are valid (`docker-compose config -q`), the consumer
# service can be scaled (no container_name, no host ports), every VOXCAST_* variable names a
# configuration key, the Dockerfile builds the Makefile's programs and ships exactly them, the
# Kafka init script creates the topic as documented (run against a stub kafka-topics.sh), and the
# Prometheus and Grafana files agree with the metrics the consumer exports. Each check is also
# run against a deliberately broken copy, to prove that it can fail. Optional checks that need
# tools outside the project's dependencies (promtool, stunnel) say "skip" when those are absent.
#
# Every check runs; the script exits 1 after listing the failed ones.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/t_compose.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

COMPOSE="$ROOT/docker-compose.yml"
MANAGED="$ROOT/deploy/compose/managed.yml"
MANAGED_ENV="$ROOT/deploy/compose/managed.env.example"
DOCKERFILE="$ROOT/Dockerfile"
DEPS="$ROOT/scripts/deps.sh"
INIT="$ROOT/deploy/kafka/init-topics.sh"
PROM="$ROOT/deploy/prometheus/prometheus.yml"
DASH="$ROOT/deploy/grafana/dashboards/voxcast.json"
DATASOURCE="$ROOT/deploy/grafana/provisioning/datasources/prometheus.yml"

# The configuration keys of the interface (docs/contract.md, "Configuration"; common/config.c
# declares them all), plus the two open families kafka.<librdkafka property> and
# provider.NAME.<field>.
KEYS="kafka.bootstrap.servers kafka.topic kafka.group.id redis.url output.dir
consumer.concurrency consumer.shutdown_grace_ms retry.max_attempts retry.base_ms retry.max_ms
breaker.failure_threshold breaker.open_ms breaker.half_open_successes providers http.listen
job.max_text_chars output.uri s3.endpoint s3.region s3.path_style"
PROVIDER_FIELDS="connect_timeout_ms api_key_env timeout_ms concurrency model voice type url rate
account_concurrency account_rate adaptive"

passed=0
failed=()

# check NAME CMD... - runs one check; its output is shown only when it fails.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		passed=$((passed + 1))
		printf 'ok    %s\n' "$name"
	else
		failed+=("$name")
		printf 'FAIL  %s\n' "$name"
		printf '%s\n' "$out" | sed 's/^/      /'
	fi
}

# refute NAME CMD... - the check must fail on a broken input (proves the check can fail).
refute() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		failed+=("$name")
		printf 'FAIL  %s (the check accepted a broken file)\n' "$name"
	else
		passed=$((passed + 1))
		printf 'ok    %s\n' "$name"
	fi
}

skip() { printf 'skip  %s\n' "$*"; }

have() { command -v "$1" >/dev/null 2>&1; }

# ---- YAML helpers (python3-yaml comes with docker-compose) ------------------------------------

cat >"$TMP/facts.py" <<'PY'
"""Checks over a normalized compose file (docker-compose config output) and the other
deployment files. Each command prints one line per problem and exits 1 if there was any."""
import json, re, sys
import yaml

problems = []
def bad(msg):
    problems.append(msg)

def load(path):
    with open(path) as f:
        return yaml.safe_load(f)

def duration_ms(text):
    """Compose durations: 45s, 1m30s, 500ms, 1h."""
    text = str(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("unreadable duration %r" % text)
    scale = {"h": 3600000, "m": 60000, "s": 1000, "ms": 1, "us": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)

def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}

def consumer(path):
    """The consumer can be scaled, is reachable by Prometheus, and drains on stop."""
    svcs = load(path)["services"]
    c = svcs.get("consumer")
    if c is None:
        bad("no service named consumer")
        return
    if "container_name" in c:
        bad("consumer has container_name %r: replicas would collide" % c["container_name"])
    if c.get("ports"):
        bad("consumer publishes host ports %r: replicas would collide" % c["ports"])
    env = env_of(c)
    listen = env.get("VOXCAST_HTTP_LISTEN", "")
    if not listen.startswith("0.0.0.0:"):
        bad("VOXCAST_HTTP_LISTEN=%r: Prometheus needs 0.0.0.0:PORT" % listen)
    port = listen.rsplit(":", 1)[-1]
    if port not in [str(e).split("/")[0] for e in c.get("expose") or []]:
        bad("consumer does not expose its /metrics port %s" % port)
    grace = int(env.get("VOXCAST_CONSUMER_SHUTDOWN_GRACE_MS", "30000"))
    stop = duration_ms(c.get("stop_grace_period", "10s"))
    if stop <= grace:
        bad("stop_grace_period %s is not longer than consumer.shutdown_grace_ms %d ms"
            % (c.get("stop_grace_period", "10s (default)"), grace))
    if env.get("VOXCAST_OUTPUT_URI", "").startswith("s3://"):
        return  # the audio leaves the container for the object store (see s3)
    out = env.get("VOXCAST_OUTPUT_DIR", "")
    if not any(str(v).split(":")[1:2] == [out] for v in c.get("volumes") or []):
        bad("nothing is mounted on VOXCAST_OUTPUT_DIR=%r: audio would stay in the container" % out)

def depends(path):
    """Consumers start only after the topic exists; kafka-init waits for a healthy broker."""
    svcs = load(path)["services"]
    dep = (svcs["consumer"].get("depends_on") or {}).get("kafka-init") or {}
    if dep.get("condition") != "service_completed_successfully":
        bad("consumer does not depend on kafka-init with condition service_completed_successfully")
    init = svcs.get("kafka-init") or {}
    kdep = (init.get("depends_on") or {}).get("kafka") or {}
    if kdep.get("condition") != "service_healthy":
        bad("kafka-init does not wait for kafka to be healthy")
    if "healthcheck" not in svcs.get("kafka", {}):
        bad("kafka has no healthcheck, so service_healthy can never hold")

def stack(path):
    """The services of the issue, with the settings that matter."""
    svcs = load(path)["services"]
    for name in ("kafka", "kafka-init", "redis", "consumer", "ttsd", "minio", "minio-init",
                 "prometheus", "grafana"):
        if name not in svcs:
            bad("missing service %s" % name)
    if problems:
        return
    if any("zookeeper" in n for n in svcs):
        bad("a ZooKeeper service is present; the stack runs Kafka in KRaft mode")
    k = svcs["kafka"]
    kenv = env_of(k)
    if not str(k.get("image", "")).startswith("apache/kafka:"):
        bad("kafka image is %r, not the official apache/kafka" % k.get("image"))
    if set(kenv.get("KAFKA_PROCESS_ROLES", "").split(",")) != {"broker", "controller"}:
        bad("kafka is not a combined KRaft broker,controller")
    if "PLAINTEXT://kafka:9092" not in kenv.get("KAFKA_ADVERTISED_LISTENERS", ""):
        bad("kafka does not advertise PLAINTEXT://kafka:9092")
    if any(key.startswith("KAFKA_ZOOKEEPER") for key in kenv):
        bad("kafka is configured for ZooKeeper")
    if svcs["kafka-init"].get("image") != k.get("image"):
        bad("kafka-init does not use the kafka image")
    ienv = env_of(svcs["kafka-init"])
    if ienv.get("TOPIC_PARTITIONS") != "12" or ienv.get("TOPIC") != "voxcast.jobs":
        bad("kafka-init does not create voxcast.jobs with 12 partitions")
    entry = " ".join(svcs["kafka-init"].get("entrypoint") or [])
    mounts = [str(v).split(":")[1] for v in svcs["kafka-init"].get("volumes") or []]
    if not any(m in entry for m in mounts):
        bad("kafka-init's entrypoint does not run the mounted init script")
    r = svcs["redis"]
    if not str(r.get("image", "")).startswith("redis:7"):
        bad("redis image is %r, not redis:7" % r.get("image"))
    cmd = " ".join(r.get("command") or []) if isinstance(r.get("command"), list) else str(r.get("command"))
    if "--appendonly yes" not in cmd:
        bad("redis runs without AOF (--appendonly yes)")
    if not any(str(v).split(":")[1:2] == ["/data"] for v in r.get("volumes") or []):
        bad("redis /data is not on a volume: the AOF would die with the container")
    t = svcs["ttsd"]
    if (t.get("command") or [])[:3] != ["voxcast-ttsd", "--listen", "0.0.0.0:9400"]:
        bad("ttsd does not run voxcast-ttsd --listen 0.0.0.0:9400")
    for name in ("ttsd", "consumer"):
        if "build" not in svcs[name]:
            bad("%s is not built from the Dockerfile" % name)
    want = {
        "VOXCAST_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
        "VOXCAST_REDIS_URL": "redis://redis:6379/0",
        "VOXCAST_HTTP_LISTEN": "0.0.0.0:9464",
        "VOXCAST_PROVIDERS": "primary,espeak",
        "VOXCAST_PROVIDER_PRIMARY_TYPE": "openai",
        "VOXCAST_PROVIDER_PRIMARY_URL": "http://ttsd:9400/v1/audio/speech",
        "VOXCAST_PROVIDER_ESPEAK_TYPE": "espeak",
        "VOXCAST_OUTPUT_URI": "s3://voxcast-audio/calls",
    }
    cenv = env_of(svcs["consumer"])
    for key, value in want.items():
        if cenv.get(key) != value:
            bad("consumer %s=%r, want %r" % (key, cenv.get(key), value))
    for name in ("prometheus", "grafana"):
        if not any("deploy/" in str(v) for v in svcs[name].get("volumes") or []):
            bad("%s does not mount its files from deploy/" % name)

def s3(path, raw_path):
    """The consumers upload to the stack's MinIO: the bucket of VOXCAST_OUTPUT_URI is the one
    minio-init creates before any consumer starts, the endpoint is the minio service (path
    style), the credentials are MinIO's own and come from the environment, not from the file."""
    svcs = load(path)["services"]
    c, m, init = svcs["consumer"], svcs.get("minio") or {}, svcs.get("minio-init") or {}
    env, menv, ienv = env_of(c), env_of(m), env_of(init)
    uri = env.get("VOXCAST_OUTPUT_URI", "")
    bucket = uri[len("s3://"):].split("/")[0] if uri.startswith("s3://") else None
    if not bucket:
        bad("consumer VOXCAST_OUTPUT_URI=%r is not s3://BUCKET/PREFIX" % uri)
    if not str(m.get("image", "")).startswith("minio/minio:RELEASE."):
        bad("minio image is %r, not a pinned minio/minio release" % m.get("image"))
    if not str(init.get("image", "")).startswith("minio/mc:RELEASE."):
        bad("minio-init image is %r, not a pinned minio/mc release" % init.get("image"))
    script = " ".join(str(x) for x in (init.get("entrypoint") or []) + (init.get("command") or []))
    script = script.replace("$$", "$")
    for var, val in ienv.items():
        script = script.replace("$" + var, val).replace("${%s}" % var, val)
    if not re.search(r"mc mb --ignore-existing \"?local/%s\"?( |$)" % re.escape(bucket or "?"), script):
        bad("minio-init does not create bucket %r idempotently: %s" % (bucket, script))
    dep = (c.get("depends_on") or {}).get("minio-init") or {}
    if dep.get("condition") != "service_completed_successfully":
        bad("consumer does not wait for minio-init (service_completed_successfully)")
    if ((init.get("depends_on") or {}).get("minio") or {}).get("condition") != "service_healthy":
        bad("minio-init does not wait for a healthy minio")
    if "healthcheck" not in m:
        bad("minio has no healthcheck, so service_healthy can never hold")
    if env.get("VOXCAST_S3_ENDPOINT") != "http://minio:9000":
        bad("consumer VOXCAST_S3_ENDPOINT=%r, want http://minio:9000" % env.get("VOXCAST_S3_ENDPOINT"))
    if env.get("VOXCAST_S3_PATH_STYLE") != "true":
        bad("consumer VOXCAST_S3_PATH_STYLE is not true: MinIO is addressed path style")
    pairs = (("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER"), ("AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD"))
    for mine, theirs in pairs:
        if not env.get(mine) or env.get(mine) != menv.get(theirs):
            bad("consumer %s is not minio's %s" % (mine, theirs))
    raw = load(raw_path)["services"]
    for sname, var in (("consumer", "AWS_SECRET_ACCESS_KEY"), ("minio", "MINIO_ROOT_PASSWORD")):
        value = str(env_of(raw.get(sname) or {}).get(var, ""))
        if not value.startswith("${"):
            bad("%s %s is written in the file, not taken from the environment" % (sname, var))

def providers(path):
    """Every provider named in VOXCAST_PROVIDERS has a type, and every provider variable
    belongs to a listed provider (a typo would configure a provider nobody uses)."""
    fields = sys.argv[3].split()
    for sname, svc in load(path)["services"].items():
        env = env_of(svc)
        if "VOXCAST_PROVIDERS" not in env:
            continue
        listed = [p.strip() for p in env["VOXCAST_PROVIDERS"].split(",") if p.strip()]
        for p in listed:
            if "VOXCAST_PROVIDER_%s_TYPE" % re.sub(r"[.-]", "_", p).upper() not in env:
                bad("%s: provider %s has no VOXCAST_PROVIDER_%s_TYPE" % (sname, p, p.upper()))
        names = {re.sub(r"[.-]", "_", p).upper() for p in listed}
        for key in env:
            if not key.startswith("VOXCAST_PROVIDER_"):
                continue
            rest = key[len("VOXCAST_PROVIDER_"):]
            owner = next((rest[: -len(f) - 1] for f in sorted(fields, key=len, reverse=True) if rest.endswith("_" + f.upper())), None)
            if owner not in names:
                bad("%s: %s belongs to no provider listed in VOXCAST_PROVIDERS=%s"
                    % (sname, key, env["VOXCAST_PROVIDERS"]))

def prometheus(path):
    """Every consumer replica is scraped through DNS A records of the service name."""
    found = False
    for job in load(path).get("scrape_configs") or []:
        for sd in job.get("dns_sd_configs") or []:
            names = sd.get("names") or []
            if "tasks.consumer" in names:
                bad("job %s uses tasks.consumer, which only Docker Swarm resolves" % job.get("job_name"))
            if "consumer" in names and sd.get("type") == "A" and sd.get("port") == 9464:
                found = True
    if not found:
        bad("no dns_sd_configs with names [consumer], type A, port 9464")

METRICS = ["voxcast_jobs_total", "voxcast_provider_latency_seconds_bucket", "voxcast_breaker_state",
           "voxcast_retries_total", "voxcast_failovers_total", "voxcast_in_flight",
           "voxcast_provider_requests_total"]

def panels(dash):
    for p in dash.get("panels") or []:
        yield p
        for q in p.get("panels") or []:
            yield q

def dashboard(path, datasource_path):
    """The dashboard shows every metric of the contract and finds the provisioned datasource."""
    with open(path) as f:
        dash = json.load(f)
    exprs = [t.get("expr", "") for p in panels(dash) for t in p.get("targets") or []]
    text = "\n".join(exprs)
    for m in METRICS:
        if m not in text:
            bad("no panel queries %s" % m)
    if not re.search(r"rate\(voxcast_jobs_total[^)]*\)", text) or "by (outcome)" not in text:
        bad("no throughput panel: rate of voxcast_jobs_total by outcome")
    for q in ("0.5", "0.95", "0.99"):
        if not re.search(r"histogram_quantile\(%s, sum by \(provider, le\)" % re.escape(q), text):
            bad("no p%s latency by provider from the histogram" % q)
    ids = [p.get("id") for p in panels(dash)]
    if len(ids) != len(set(ids)):
        bad("panel ids are not unique")
    texts = set()
    for p in panels(dash):
        for m in (p.get("fieldConfig", {}).get("defaults", {}).get("mappings") or []):
            texts |= {o.get("text") for o in (m.get("options") or {}).values()}
    if not {"closed", "half-open", "open"} <= texts:
        bad("breaker states 0/1/2 are not mapped to closed/half-open/open")
    cells = set()
    for p in panels(dash):
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    bad("panel %r overlaps another" % p.get("title"))
                    break
                cells.add((x, y))
            else:
                continue
            break
        if g["x"] + g["w"] > 24:
            bad("panel %r is wider than the grid" % p.get("title"))
    uids = [d.get("uid") for d in load(datasource_path).get("datasources") or []]
    var = [v for v in dash["templating"]["list"] if v.get("type") == "datasource"]
    if not var or var[0].get("current", {}).get("value") not in uids:
        bad("the dashboard's datasource variable does not default to a provisioned datasource %r" % uids)

def exprs(path):
    """Prints the dashboard's queries as a Prometheus rule file, Grafana variables replaced."""
    with open(path) as f:
        dash = json.load(f)
    rules = []
    for i, p in enumerate(panels(dash)):
        for t in p.get("targets") or []:
            e = t["expr"]
            for var, val in (("$__rate_interval", "1m"), ("$__range", "1h"),
                             ("$instance", ".*"), ("$provider", ".*")):
                e = e.replace(var, val)
            rules.append({"record": "dashboard:panel%d:%s" % (i, t["refId"].lower()), "expr": e})
    print(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

cmd, path = sys.argv[1], sys.argv[2]
if cmd in ("dashboard", "s3"):
    globals()[cmd](path, sys.argv[3])
else:
    globals()[cmd](path)
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY

facts() { python3 "$TMP/facts.py" "$@"; }

# ---- compose files ----------------------------------------------------------------------------

compose_config() { # FILE [ENVFILE] - validate quietly
	local args=(-f "$1")
	[ $# -gt 1 ] && args+=(--env-file "$2")
	docker-compose "${args[@]}" config -q
}

normalize() { # FILE OUT [ENVFILE] - docker-compose's resolved view of FILE
	local args=(-f "$1")
	[ $# -gt 2 ] && args+=(--env-file "$3")
	docker-compose "${args[@]}" config >"$2"
}

# Every VOXCAST_* token anywhere in FILE (comments too: examples are read and copied) must be
# the variable of a contract key, kafka.<property> or provider.NAME.<field>.
env_names_known() {
	local file=$1 tok key f ok status=0
	local -A known=()
	for key in $KEYS; do
		tok=${key//[.-]/_}
		known["VOXCAST_${tok^^}"]=1
	done
	while read -r tok; do
		ok=${known[$tok]:-}
		[[ -z $ok && $tok =~ ^VOXCAST_KAFKA_[A-Z0-9_]+$ ]] && ok=1
		if [[ -z $ok && $tok == VOXCAST_PROVIDER_* ]]; then
			for f in $PROVIDER_FIELDS; do
				[[ $tok =~ ^VOXCAST_PROVIDER_[A-Z0-9_]+_${f^^}$ ]] && { ok=1; break; }
			done
		fi
		if [ -z "$ok" ]; then
			echo "$(basename "$file"): $tok names no configuration key of the contract"
			status=1
		fi
	done < <(grep -oE 'VOXCAST_[A-Z0-9][A-Z0-9_]*' "$file" | sort -u)
	return $status
}

if ! have docker-compose; then
	failed+=("docker-compose")
	echo "FAIL  docker-compose is not installed: apt-get install docker-compose (scripts/deps.sh)"
elif ! python3 -c 'import yaml' 2>/dev/null; then
	failed+=("python3-yaml")
	echo "FAIL  python3 with the yaml module is needed (apt-get install python3-yaml)"
else
	check "docker-compose.yml is valid (docker-compose config -q)" compose_config "$COMPOSE"
	check "deploy/compose/managed.yml is valid with managed.env.example" \
		compose_config "$MANAGED" "$MANAGED_ENV"
	normalize "$COMPOSE" "$TMP/main.yml"
	normalize "$MANAGED" "$TMP/managed.yml" "$MANAGED_ENV"

	check "consumer: scalable, scrapeable, drains before SIGKILL" facts consumer "$TMP/main.yml"
	check "managed consumer: scalable, scrapeable, drains before SIGKILL" facts consumer "$TMP/managed.yml"
	check "consumers wait for kafka-init, kafka-init for a healthy broker" facts depends "$TMP/main.yml"
	check "services: KRaft Kafka, topic init, Redis AOF, ttsd, MinIO, Prometheus, Grafana" facts stack "$TMP/main.yml"
	check "audio: consumers upload to the bucket minio-init makes, credentials from the environment" \
		facts s3 "$TMP/main.yml" "$COMPOSE"
	check "VOXCAST_* names in docker-compose.yml are contract keys" env_names_known "$COMPOSE"
	check "VOXCAST_* names in managed.yml are contract keys" env_names_known "$MANAGED"
	check "provider variables match VOXCAST_PROVIDERS" facts providers "$TMP/main.yml" "$PROVIDER_FIELDS"
	check "managed provider variables match VOXCAST_PROVIDERS" facts providers "$TMP/managed.yml" "$PROVIDER_FIELDS"

	# The same checks must reject broken copies.
	python3 - "$TMP/main.yml" "$TMP" <<'PY'
import sys, yaml
src, tmp = sys.argv[1], sys.argv[2]
def variant(name, change):
    with open(src) as f:
        doc = yaml.safe_load(f)
    change(doc["services"])
    with open("%s/broken-%s.yml" % (tmp, name), "w") as f:
        yaml.safe_dump(doc, f)
variant("name", lambda s: s["consumer"].update(container_name="voxcast-consumer"))
variant("ports", lambda s: s["consumer"].update(ports=["9464:9464"]))
variant("grace", lambda s: s["consumer"].update(stop_grace_period="30s"))
variant("listen", lambda s: s["consumer"]["environment"].update(VOXCAST_HTTP_LISTEN="127.0.0.1:9464"))
variant("depends", lambda s: s["consumer"]["depends_on"].pop("kafka-init"))
variant("zk", lambda s: s.update(zookeeper={"image": "zookeeper:3.8"}))
variant("aof", lambda s: s["redis"].update(command=["redis-server"]))
variant("provider", lambda s: s["consumer"]["environment"].update(VOXCAST_PROVIDER_SECONDARY_URL="http://x"))
variant("s3dep", lambda s: s["consumer"]["depends_on"].pop("minio-init"))
variant("s3bucket", lambda s: s["consumer"]["environment"].update(VOXCAST_OUTPUT_URI="s3://other-bucket/calls"))
variant("s3key", lambda s: s["consumer"]["environment"].update(AWS_SECRET_ACCESS_KEY="not-minios"))
PY
	refute "consumer check rejects a container_name" facts consumer "$TMP/broken-name.yml"
	refute "consumer check rejects a host port" facts consumer "$TMP/broken-ports.yml"
	refute "consumer check rejects stop_grace_period <= shutdown grace" facts consumer "$TMP/broken-grace.yml"
	refute "consumer check rejects a loopback http.listen" facts consumer "$TMP/broken-listen.yml"
	refute "depends check rejects a consumer started before kafka-init" facts depends "$TMP/broken-depends.yml"
	refute "stack check rejects ZooKeeper" facts stack "$TMP/broken-zk.yml"
	refute "stack check rejects Redis without AOF" facts stack "$TMP/broken-aof.yml"
	refute "s3 check rejects a consumer started before minio-init" facts s3 "$TMP/broken-s3dep.yml" "$COMPOSE"
	refute "s3 check rejects a bucket minio-init does not make" facts s3 "$TMP/broken-s3bucket.yml" "$COMPOSE"
	refute "s3 check rejects credentials that are not minio's" facts s3 "$TMP/broken-s3key.yml" "$COMPOSE"
	sed 's/^\(      AWS_SECRET_ACCESS_KEY: \).*$/\1voxcast-local-only/' "$COMPOSE" >"$TMP/broken-s3secret.yml"
	refute "s3 check rejects a secret written in the compose file" facts s3 "$TMP/main.yml" "$TMP/broken-s3secret.yml"
	refute "provider check rejects a provider missing from VOXCAST_PROVIDERS" \
		facts providers "$TMP/broken-provider.yml" "$PROVIDER_FIELDS"
	sed 's/^\(      VOXCAST_PROVIDER_ESPEAK_TYPE: espeak\)$/\1\n      VOXCAST_CONSUMER_THREADS: "4"/' \
		"$COMPOSE" >"$TMP/broken-env.yml"
	refute "env name check rejects VOXCAST_CONSUMER_THREADS" env_names_known "$TMP/broken-env.yml"
	printf 'services:\n  consumer:\n    image: x\n    depends_on: [nosuch]\n' >"$TMP/broken-config.yml"
	refute "docker-compose config -q rejects a dependency on a missing service" \
		compose_config "$TMP/broken-config.yml"
fi

# ---- Dockerfile -----------------------------------------------------------------------------

# dockerfile_stage FILE NAME - the instructions of stage NAME, continuation lines joined,
# ${ARG} references to global ARG defaults expanded.
dockerfile_stage() {
	awk -v want="$2" '
		/^[ \t]*#/ { next }
		{ line = line $0 }
		/\\$/ { sub(/\\$/, "", line); next }
		{
			if (line ~ /^ARG [A-Za-z_]+=/ && stage == "") {
				split(substr(line, 5), kv, "="); args[kv[1]] = kv[2]
			}
			if (line ~ /^FROM /) {
				for (a in args) gsub("\\$\\{" a "\\}", args[a], line)
				n = split(line, w, /[ \t]+/); stage = (n >= 4 && tolower(w[3]) == "as") ? w[4] : ""
			}
			if (stage == want && line !~ /^[ \t]*$/) print line
			line = ""
		}' "$1"
}

# The words after `make` in the build stage's RUN lines: the targets (options and VAR=value
# assignments dropped); an empty list means the default goal.
make_targets() {
	dockerfile_stage "$1" build | grep '^RUN ' | grep -oE '(^|[;&|( ])make( +[^;&|]*)?' |
		sed -E 's/^[;&|( ]?make//' | tr ' ' '\n' | grep -vE '^$|^-|=' || true
}

# Every make target of the build stage exists and, together, they link all three programs.
check_make_targets() {
	local targets=() out p status=0
	mapfile -t targets < <(make_targets "$1")
	out=$(env -u MAKEFLAGS -u MAKELEVEL -u SANITIZE make -C "$ROOT" -n -B --no-print-directory BUILD="$TMP/mk" "${targets[@]}" 2>&1) || {
		echo "make -n ${targets[*]} fails in $ROOT:"
		printf '%s\n' "$out" | tail -n 2
		return 1
	}
	for p in voxcast voxcast-consumer voxcast-ttsd; do
		if ! grep -qE -- "-o $TMP/mk/bin/$p( |$)" <<<"$out"; then
			echo "the build stage's 'make ${targets[*]:-(default goal)}' does not link bin/$p"
			status=1
		fi
	done
	return $status
}

# The runtime stage copies from the build stage exactly the Makefile's PROGRAMS.
check_copied_programs() {
	local programs copied workdir
	# shellcheck disable=SC2016 # $(PROGRAMS) is for make, not the shell
	programs=$(printf 'print-programs:\n\t@echo $(PROGRAMS)\n' |
		env -u MAKEFLAGS -u MAKELEVEL -u SANITIZE make -C "$ROOT" -s --no-print-directory -f Makefile -f - print-programs BUILD=build)
	workdir=$(dockerfile_stage "$1" build | sed -n 's/^WORKDIR //p' | tail -n 1)
	copied=$(dockerfile_stage "$1" runtime | grep -E '^COPY --from=build ' |
		awk '{ for (i = 3; i < NF; i++) print $i }' | sort | tr '\n' ' ')
	local want
	want=$(for p in $programs; do echo "$workdir/$p"; done | sort | tr '\n' ' ')
	if [ "$copied" != "$want" ]; then
		echo "runtime stage copies [$copied] from the build, the Makefile builds [$want]"
		return 1
	fi
	dockerfile_stage "$1" runtime | grep -E '^COPY --from=build .* /usr/local/bin/?$' >/dev/null ||
		{ echo "the programs are not copied to /usr/local/bin"; return 1; }
}

# build_packages DEPS - the packages `DEPS --build` installs on a bare machine, one a line.
build_packages() { sh "$1" --list-build | awk '{ print $2 }'; }

# The build stage installs its packages with scripts/deps.sh --build (the project's one list),
# before it runs make, and has no apt-get list of its own beside it.
check_build_stage_deps() {
	local build status=0 copy_at deps_at make_at
	build=$(dockerfile_stage "$1" build)
	copy_at=$(grep -nE '^COPY (scripts/deps\.sh|\.) ' <<<"$build" | head -n 1 | cut -d: -f1)
	deps_at=$(grep -nE '^RUN (.*[;&|] *)?(\./)?scripts/deps\.sh --build( |$)' <<<"$build" | head -n 1 | cut -d: -f1)
	make_at=$(grep -nE '^RUN (.*[;&|( ])?make( |$)' <<<"$build" | head -n 1 | cut -d: -f1)
	if [ -z "$deps_at" ]; then
		echo "build stage does not RUN scripts/deps.sh --build"
		status=1
	elif [ -z "$copy_at" ] || [ "$copy_at" -gt "$deps_at" ]; then
		echo "build stage runs scripts/deps.sh --build before copying it"
		status=1
	elif [ -z "$make_at" ] || [ "$deps_at" -gt "$make_at" ]; then
		echo "build stage runs no make after scripts/deps.sh --build"
		status=1
	fi
	if grep -qE '^RUN .*apt-get install' <<<"$build"; then
		echo "build stage installs packages of its own beside scripts/deps.sh --build"
		status=1
	fi
	return $status
}

# deps.sh --build (DEPS) installs the compiler, pkg-config, check, LAME and, for every pkg-config
# module in the Makefile's PKGS, a package probed by that module; where dpkg knows the module's
# .pc file, the package named is the one that ships it.
check_build_packages() {
	local deps=$1 list pkgs m pkg pc owner status=0 p
	list=$(sh "$deps" --list-build) || { echo "$deps --list-build failed"; return 1; }
	for p in build-essential pkg-config check libmp3lame-dev; do
		grep -qE "[ ]$p$" <<<"$list" || { echo "deps.sh --build does not install $p"; status=1; }
	done
	# shellcheck disable=SC2016 # $(PKGS) is for make, not the shell
	pkgs=$(printf 'print-pkgs:\n\t@echo $(PKGS)\n' |
		env -u MAKEFLAGS -u MAKELEVEL -u SANITIZE make -C "$ROOT" -s --no-print-directory -f Makefile -f - print-pkgs BUILD=build)
	[ -n "$pkgs" ] || { echo "the Makefile's PKGS is empty"; return 1; }
	for m in $pkgs; do
		pkg=$(awk -v m="pkg:$m" '$1 == m { print $2 }' <<<"$list")
		if [ -z "$pkg" ]; then
			echo "deps.sh --build installs nothing for the Makefile's pkg-config module $m"
			status=1
			continue
		fi
		have dpkg && pc=$(pkg-config --variable=pcfiledir "$m" 2>/dev/null) || continue
		owner=$(dpkg_owner "$pc/$m.pc")
		if [ -n "$owner" ] && [ "$owner" != "$pkg" ]; then
			echo "deps.sh --build installs $pkg for $m, but $m.pc comes from $owner"
			status=1
		fi
	done
	return $status
}

# Base images, packages, user, health check and default command of the issue.
check_dockerfile_shape() {
	local build runtime status=0 p deps=${2:-$DEPS}
	build=$(dockerfile_stage "$1" build)
	runtime=$(dockerfile_stage "$1" runtime)
	grep -q '^FROM debian:bookworm-slim AS build' <<<"$build" ||
		{ echo "build stage is not FROM debian:bookworm-slim AS build"; status=1; }
	grep -q '^FROM debian:bookworm-slim AS runtime' <<<"$runtime" ||
		{ echo "runtime stage is not FROM debian:bookworm-slim AS runtime"; status=1; }
	check_build_stage_deps "$1" || status=1
	for p in build-essential pkg-config librdkafka-dev libcurl4-openssl-dev libjansson-dev \
		libhiredis-dev libmicrohttpd-dev libespeak-ng-dev check; do
		grep -qxF "$p" < <(build_packages "$deps") ||
			{ echo "build stage (scripts/deps.sh --build) does not install $p"; status=1; }
	done
	for p in librdkafka1 libcurl4 libjansson4 libhiredis0.14 libmicrohttpd12 libespeak-ng1 \
		espeak-ng-data ca-certificates curl; do
		grep -qE "apt-get install .*[ ]$p( |$)" <<<"$runtime" ||
			{ echo "runtime stage does not install $p"; status=1; }
	done
	if grep -E '^RUN .*apt-get install' <<<"$runtime" | grep -qE -- '-dev( |$)|build-essential'; then
		echo "runtime stage installs development packages"
		status=1
	fi
	local user
	user=$(sed -n 's/^USER //p' <<<"$runtime" | tail -n 1)
	if [ -z "$user" ] || [[ $user =~ ^(root|0)(:|$) ]]; then
		echo "runtime stage runs as root (USER '${user}')"
		status=1
	fi
	grep -qE '^HEALTHCHECK .*CMD curl -fsS http://127\.0\.0\.1:9464/health' <<<"$runtime" ||
		{ echo "no HEALTHCHECK curl -fsS http://127.0.0.1:9464/health"; status=1; }
	grep -qE '^ENV .*VOXCAST_HTTP_LISTEN=0\.0\.0\.0:9464' <<<"$runtime" ||
		{ echo "runtime does not set VOXCAST_HTTP_LISTEN=0.0.0.0:9464"; status=1; }
	[ "$(grep '^CMD ' <<<"$runtime" | tail -n 1)" = 'CMD ["voxcast-consumer"]' ] ||
		{ echo 'default command is not CMD ["voxcast-consumer"]'; status=1; }
	return $status
}

# dpkg_owner PATH - the package that installed a library, trying the /lib and /usr/lib spellings
# (usrmerge) and the resolved file.
dpkg_owner() {
	local p
	for p in "$1" "${1/#\/lib\//\/usr\/lib\/}" "$(readlink -f "$1")"; do
		dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
	done
	return 0
}

# The programs built here need, directly, only libraries from the runtime stage's packages.
check_runtime_libraries() {
	local bindir=$1 runtime lib path pkg status=0 b
	runtime=$(dockerfile_stage "$DOCKERFILE" runtime | grep 'apt-get install')
	for b in voxcast voxcast-consumer voxcast-ttsd; do
		for lib in $(readelf -d "$bindir/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $lib in
			libasan.* | libubsan.* | liblsan.* | libtsan.*) continue ;; # SANITIZE=1 builds
			esac
			path=$(ldd "$bindir/$b" | awk -v l="$lib" '$1 == l { print $3 }')
			pkg=$(dpkg_owner "$path")
			if [ -z "$pkg" ]; then
				echo "$b needs $lib ($path), which no Debian package provides"
				status=1
				continue
			fi
			case $pkg in
			libc6 | libgcc-s1) continue ;;
			esac
			grep -qE "[ ]$pkg( |$)" <<<"$runtime" ||
				{ echo "$b needs $lib from $pkg, which the runtime stage does not install"; status=1; }
		done
	done
	return $status
}

check_dockerignore() {
	local f="$ROOT/.dockerignore" p status=0
	for p in .git build/ bin/; do
		grep -qxF "$p" "$f" || { echo ".dockerignore does not exclude $p"; status=1; }
	done
	for p in Makefile common consumer producer tools scripts tests; do
		grep -qxE "/?$p/?" "$f" && { echo ".dockerignore excludes $p, which the build needs"; status=1; }
	done
	return $status
}

check "Dockerfile: bookworm-slim stages, packages, non-root, healthcheck, CMD" check_dockerfile_shape "$DOCKERFILE"
check "Dockerfile: build stage's make targets link the three programs" check_make_targets "$DOCKERFILE"
check "Dockerfile: runtime copies exactly the Makefile's PROGRAMS" check_copied_programs "$DOCKERFILE"
check "Dockerfile: build stage installs the -dev package of every Makefile PKGS module (deps.sh --build)" \
	check_build_packages "$DEPS"
check ".dockerignore keeps build outputs out and sources in" check_dockerignore

# shellcheck disable=SC2016 # the Dockerfile's own $(nproc)
sed 's/^RUN make -j"$(nproc)" all$/RUN make -j"$(nproc)" unit-bins/' "$DOCKERFILE" >"$TMP/Dockerfile.unit"
refute "make target check rejects a build stage that builds only tests" check_make_targets "$TMP/Dockerfile.unit"
sed 's#/src/bin/voxcast-ttsd ##' "$DOCKERFILE" >"$TMP/Dockerfile.copy"
refute "copy check rejects a runtime stage missing voxcast-ttsd" check_copied_programs "$TMP/Dockerfile.copy"
sed 's/^USER voxcast:voxcast$/USER root/' "$DOCKERFILE" >"$TMP/Dockerfile.root"
refute "shape check rejects USER root" check_dockerfile_shape "$TMP/Dockerfile.root"
sed 's#scripts/deps.sh --build#true#' "$DOCKERFILE" >"$TMP/Dockerfile.nodeps"
refute "shape check rejects a build stage that does not run deps.sh --build" check_dockerfile_shape "$TMP/Dockerfile.nodeps"
sed 's#^RUN scripts/deps.sh --build#RUN apt-get install -y gcc \&\& scripts/deps.sh --build#' "$DOCKERFILE" >"$TMP/Dockerfile.ownlist"
refute "shape check rejects a build stage with its own package list" check_dockerfile_shape "$TMP/Dockerfile.ownlist"
grep -v '^need_pkg soxr ' "$DEPS" >"$TMP/deps-nosoxr.sh"
refute "package check rejects a deps.sh --build without the soxr module" check_build_packages "$TMP/deps-nosoxr.sh"
grep -v '^need_pkg jansson ' "$DEPS" >"$TMP/deps-nojansson.sh"
refute "shape check rejects a deps.sh --build without libjansson-dev" check_dockerfile_shape "$DOCKERFILE" "$TMP/deps-nojansson.sh"
sed 's#^COPY scripts/deps.sh .*#COPY Makefile Makefile#' "$DOCKERFILE" >"$TMP/Dockerfile.nocopy"
refute "shape check rejects running deps.sh before copying it" check_dockerfile_shape "$TMP/Dockerfile.nocopy"
sed 's#^need_pkg sndfile libsndfile1-dev#need_pkg sndfile libsndfile-dev#' "$DEPS" >"$TMP/deps-wrongpkg.sh"
if have dpkg && dpkg -S "$(pkg-config --variable=pcfiledir sndfile 2>/dev/null)/sndfile.pc" >/dev/null 2>&1; then
	refute "package check rejects a package that does not ship the module's .pc" check_build_packages "$TMP/deps-wrongpkg.sh"
fi

if [ -n "${VOXCAST_BIN:-}" ] && [ -x "$VOXCAST_BIN/voxcast-consumer" ] && have dpkg && have readelf; then
	check "runtime packages provide every library the programs link" check_runtime_libraries "$VOXCAST_BIN"
else
	skip "runtime library check (needs VOXCAST_BIN with built programs, dpkg and readelf)"
fi

# ---- Kafka topic init script, against a stub kafka-topics.sh --------------------------------

# The stub fails --list $STUB_DOWN times (broker starting), then answers like Kafka 3.7.
mkdir -p "$TMP/kbin"
cat >"$TMP/kbin/kafka-topics.sh" <<'SH'
#!/usr/bin/env bash
echo "$*" >>"$STUB_LOG"
case " $* " in
*" --list "*)
	n=$(cat "$STUB_COUNT" 2>/dev/null || echo 0)
	echo $((n + 1)) >"$STUB_COUNT"
	[ "$n" -ge "${STUB_DOWN:-0}" ] || exit 1 ;;
*" --describe "*)
	printf 'Topic: voxcast.jobs\tTopicId: x\tPartitionCount: %s\tReplicationFactor: 1\tConfigs: \n' \
		"$STUB_PARTITIONS" ;;
esac
SH
chmod +x "$TMP/kbin/kafka-topics.sh"

run_init() { # run the script with the stub; extra VAR=value arguments go to its environment
	rm -f "$TMP/stub.log" "$TMP/stub.count"
	env KAFKA_BIN="$TMP/kbin" STUB_LOG="$TMP/stub.log" STUB_COUNT="$TMP/stub.count" \
		WAIT_INTERVAL=0 STUB_PARTITIONS=12 "$@" bash "$INIT"
}

init_creates_topic() {
	run_init STUB_DOWN=2 || { echo "init script failed"; return 1; }
	grep -q -- '--bootstrap-server kafka:9092 --create --if-not-exists --topic voxcast.jobs --partitions 12 --replication-factor 1$' \
		"$TMP/stub.log" || { echo "unexpected calls:"; cat "$TMP/stub.log"; return 1; }
	grep -q -- '--create --if-not-exists --topic voxcast.results --partitions 1 --replication-factor 1$' \
		"$TMP/stub.log" || { echo "no results topic created:"; cat "$TMP/stub.log"; return 1; }
	[ "$(grep -c -- '--list' "$TMP/stub.log")" -eq 3 ] ||
		{ echo "expected 3 --list probes (2 failures, 1 success):"; cat "$TMP/stub.log"; return 1; }
}

init_passes_client_config() {
	run_init COMMAND_CONFIG=/etc/kafka/client.properties TOPIC_CONFIGS="retention.ms=1000 cleanup.policy=delete" \
		TOPIC_REPLICATION=3 || return 1
	grep -q -- '--command-config /etc/kafka/client.properties --create .*--replication-factor 3 --config retention.ms=1000 --config cleanup.policy=delete$' \
		"$TMP/stub.log" || { cat "$TMP/stub.log"; return 1; }
}

init_rejects_short_topic() {
	local out
	if out=$(run_init STUB_PARTITIONS=6 2>&1); then
		echo "accepted a topic with 6 partitions"
		return 1
	fi
	grep -q '6 partitions, 12 wanted' <<<"$out" || { echo "unclear message: $out"; return 1; }
}

init_gives_up() {
	local out
	if out=$(run_init STUB_DOWN=1000 WAIT_SECONDS=0 2>&1); then
		echo "succeeded without a broker"
		return 1
	fi
	grep -q 'not reachable' <<<"$out" || { echo "unclear message: $out"; return 1; }
}

check "kafka init: waits for the broker, creates voxcast.jobs x12 and voxcast.results x1 idempotently" init_creates_topic
check "kafka init: passes --command-config, replication and topic configs" init_passes_client_config
check "kafka init: refuses an existing topic with too few partitions" init_rejects_short_topic
check "kafka init: gives up with a clear message when no broker answers" init_gives_up

# ---- Prometheus and Grafana ------------------------------------------------------------------

if python3 -c 'import yaml' 2>/dev/null; then
	check "prometheus: DNS A discovery of consumer:9464" facts prometheus "$PROM"
	check "grafana: every contract metric, p50/p95/p99, breaker states, datasource" \
		facts dashboard "$DASH" "$DATASOURCE"
	printf 'scrape_configs:\n  - job_name: c\n    dns_sd_configs:\n      - names: [tasks.consumer]\n        type: A\n        port: 9464\n' \
		>"$TMP/broken-prom.yml"
	refute "prometheus check rejects swarm-only tasks.consumer" facts prometheus "$TMP/broken-prom.yml"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["panels"]=[p for p in d["panels"] if "breaker" not in json.dumps(p)]; json.dump(d,open(sys.argv[2],"w"))' \
		"$DASH" "$TMP/broken-dash.json"
	refute "dashboard check rejects a dashboard without breaker panels" \
		facts dashboard "$TMP/broken-dash.json" "$DATASOURCE"
fi

if have promtool; then
	check "promtool: prometheus.yml and alerts.yml" promtool check config "$PROM"
	facts exprs "$DASH" >"$TMP/dash-rules.yml"
	check "promtool: every dashboard query parses" promtool check rules "$TMP/dash-rules.yml"
else
	skip "promtool checks (apt-get install prometheus to run them)"
fi

# ---- the stunnel sidecar config, for real, on loopback ---------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_line FILE PATTERN - until a line matching PATTERN appears in FILE, at most 5 s
# (redis-server prints "Ready to accept connections"; stunnel at debug = info prints
# "Accepting new connections" once its port is bound)
wait_line() { grep -q -m1 -E -- "$2" < <(timeout 5 tail -n +1 -F "$1" 2>/dev/null); }

# redis-server <- stunnel server (TLS, cert for redis.example.com) <- deploy's client config.
stunnel_tunnel() {
	local d="$TMP/tls" rport sport cport bport
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 1 \
		-subj /CN=t-compose-ca 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -keyout "$d/srv.key" -out "$d/srv.csr" \
		-subj /CN=redis.example.com 2>/dev/null
	printf 'subjectAltName=DNS:redis.example.com\n' >"$d/ext"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/srv.pem" -days 1 -extfile "$d/ext" 2>/dev/null
	rport=$(free_port) sport=$(free_port) cport=$(free_port) bport=$(free_port)
	# check runs this function in a subshell: its EXIT trap ends the daemons started here.
	trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
	redis-server --port "$rport" --bind 127.0.0.1 --requirepass t0psecret --save '' \
		--appendonly no >"$d/redis.log" 2>&1 &
	PIDS+=($!)
	printf 'foreground = yes\npid =\ndebug = info\n[s]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
		"$sport" "$rport" "$d/srv.pem" "$d/srv.key" >"$d/server.conf"
	stunnel "$d/server.conf" >"$d/server.log" 2>&1 &
	PIDS+=($!)
	sed -e "s/^accept = 0.0.0.0:6379$/accept = 127.0.0.1:$cport/" \
		-e "s/^connect = redis.example.com:6380$/connect = 127.0.0.1:$sport/" \
		-e "s#^CAfile = /etc/ssl/certs/ca-certificates.crt#CAfile = $d/ca.pem#" \
		-e "s/^debug = notice$/debug = info/" \
		"$ROOT/deploy/stunnel/redis-client.conf" >"$d/client.conf"
	grep -q "accept = 127.0.0.1:$cport" "$d/client.conf" && grep -q "^debug = info$" "$d/client.conf" ||
		{ echo "redis-client.conf no longer has the accept/connect/debug lines this check rewrites"; return 1; }
	stunnel "$d/client.conf" >"$d/client.log" 2>&1 &
	PIDS+=($!)
	sed "s/^checkHost = .*/checkHost = wrong.example.com/; s/127.0.0.1:$cport/127.0.0.1:$bport/" \
		"$d/client.conf" >"$d/bad.conf"
	stunnel "$d/bad.conf" >"$d/bad.log" 2>&1 &
	PIDS+=($!)
	local up='Accepting new connections'
	if ! { wait_line "$d/redis.log" 'Ready to accept connections' && wait_line "$d/server.log" "$up" &&
		wait_line "$d/client.log" "$up" && wait_line "$d/bad.log" "$up"; }; then
		echo "stunnel or redis-server did not start"
		cat "$d"/*.log
		return 1
	fi
	local got
	got=$(redis-cli -p "$cport" -a t0psecret --no-auth-warning ping 2>&1)
	[ "$got" = PONG ] || { echo "through the tunnel: $got"; cat "$d/client.log"; return 1; }
	got=$(timeout 5 redis-cli -p "$bport" -a t0psecret --no-auth-warning ping 2>&1) || true
	[ "$got" != PONG ] || { echo "a certificate for another host name was accepted"; return 1; }
}

if have stunnel && have openssl && have redis-server && have redis-cli; then
	check "stunnel: redis-client.conf tunnels Redis over verified TLS" stunnel_tunnel
else
	skip "stunnel tunnel check (apt-get install stunnel4 to run it)"
fi

# ---- summary ---------------------------------------------------------------------------------

if [ ${#failed[@]} -gt 0 ]; then
	printf 't_compose: %d checks failed:\n' "${#failed[@]}" >&2
	printf '  - %s\n' "${failed[@]}" >&2
	exit 1
fi
printf 't_compose: all %d checks passed\n' "$passed"
