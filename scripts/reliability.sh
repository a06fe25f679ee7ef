#!/usr/bin/env bash
# Builds npm-mirror and runs the reliability suite (npm-mirror-chaos): SIGKILLs and SIGTERMs of the
# real producer and consumer, Kafka, registry, CouchDB and disk faults, hostile input and a secrets
# check, then an audit of everything they left. Prints a summary; exits non-zero if a promise broke.
#
#   scripts/reliability.sh                              # every scenario, 24 consumer kills
#   scripts/reliability.sh --scenarios consumer-kills --kills 50 --keep-work
#
# docs/reliability.md explains the guarantees and each scenario. The disk-full scenario mounts a
# tmpfs, so it needs root; without it, the scenario is reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
swift build --product changes-producer
swift build --product changes-consumer
swift build --product npm-mirror-chaos
exec "$(swift build --show-bin-path)/npm-mirror-chaos" "$@"
