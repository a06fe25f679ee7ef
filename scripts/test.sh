#!/usr/bin/env bash
# Builds npm-mirror and runs its whole test suite (README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."

# A crashing test prints its backtrace and exits instead of waiting for a debugger.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=yes,interactive=no}"

# The operations checks need promtool, shellcheck and the Compose binary: installed if missing.
scripts/install-deps.sh --test

swift build --build-tests
timeout --signal=KILL 45m swift test --skip-build "$@"
