#!/usr/bin/env bash
# Builds npm-mirror in release mode and runs the benchmark: the real changes-producer and
# changes-consumer against a generated registry, beside curl fetching the same URLs.
#
#   scripts/bench.sh                         # variants small and large; figures in bench-results.json
#   scripts/bench.sh --variants smoke        # a quick run that checks the command works
#   scripts/bench.sh --json out.json --keep-work
#
# Every option is npm-mirror-bench's (scripts/bench.sh --help lists them). docs/performance.md
# explains the workload, the method and the latest figures.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --bench
command -v curl >/dev/null || { echo "bench: curl is needed (apt-get install curl)" >&2; exit 1; }
swift build -c release --product changes-producer
swift build -c release --product changes-consumer
swift build -c release --product npm-mirror     # the serve stage runs `npm-mirror serve`
swift build -c release --product npm-mirror-bench
exec "$(swift build -c release --show-bin-path)/npm-mirror-bench" "$@"
