#!/usr/bin/env bash
# Runs the whole mirror in one container (or one machine): changes-producer, restarted whenever it
# exits non-zero, and NUM_CONSUMERS changes-consumer processes of one consumer group, each restarted
# the same way. SIGTERM or SIGINT is passed on to every process; the script exits when they all have.
#
#   KAFKA_BROKERS=kafka:9092 COUCHDB_URL=... ./run_scripts.sh
#   docker run ... npm-mirror /app/run_scripts.sh
#
# Environment (besides the mirror's own settings, see README.md):
#   NUM_CONSUMERS        consumer processes (default 4)
#   RESTART_DELAY        seconds before a process that exited non-zero is started again (default 5)
#   PRODUCER_METRICS_PORT  the producer's METRICS_PORT (default 9101)
#   CONSUMER_METRICS_PORT  consumer i (0-based) gets METRICS_PORT = this + i (default 9102)
#   LOCAL_PACKAGE_DIR    scratch folder; consumer i uses LOCAL_PACKAGE_DIR/consumer-i (default ./temp_packages)
#   MIRROR_BIN_DIR       folder of the executables (default: from PATH, else .build/release beside this script)
set -uo pipefail

num_consumers=${NUM_CONSUMERS:-4}
restart_delay=${RESTART_DELAY:-5}
producer_metrics_port=${PRODUCER_METRICS_PORT:-9101}
consumer_metrics_port=${CONSUMER_METRICS_PORT:-9102}
scratch_base=${LOCAL_PACKAGE_DIR:-./temp_packages}

log() { echo "run_scripts: $*" >&2; }

for number in "$num_consumers" "$restart_delay" "$producer_metrics_port" "$consumer_metrics_port"; do
  case "$number" in
    '' | *[!0-9]*) log "not a whole number: '$number' (NUM_CONSUMERS, RESTART_DELAY, *_METRICS_PORT)"; exit 2 ;;
  esac
done
if [ -z "${KAFKA_BROKERS:-}" ]; then
  log "KAFKA_BROKERS is not set: separate processes need a real broker (npm-mirror run embeds one)"
  exit 2
fi

# Where the executables are.
executable() {
  local name=$1
  if [ -n "${MIRROR_BIN_DIR:-}" ]; then
    echo "$MIRROR_BIN_DIR/$name"
  elif command -v "$name" > /dev/null; then
    command -v "$name"
  else
    echo "$(cd "$(dirname "$0")" && pwd)/.build/release/$name"
  fi
}
producer=$(executable changes-producer)
consumer=$(executable changes-consumer)
for binary in "$producer" "$consumer"; do
  [ -x "$binary" ] || { log "not found or not executable: $binary (set MIRROR_BIN_DIR)"; exit 2; }
done

# supervise NAME COMMAND...: runs COMMAND until it exits 0 or a SIGTERM/SIGINT arrives; after a
# non-zero exit it waits RESTART_DELAY seconds and starts it again. Runs in a background subshell.
supervise() {
  local name=$1
  shift
  local child="" stopping=0 interrupted=0 status
  trap 'stopping=1; interrupted=1; [ -n "$child" ] && kill -TERM "$child" 2> /dev/null' TERM INT
  while [ "$stopping" -eq 0 ]; do
    "$@" &
    child=$!
    log "$name started (pid $child)"
    while :; do
      interrupted=0
      wait "$child"
      status=$?
      # A trapped signal interrupts `wait`; wait again for the process itself to finish.
      [ "$interrupted" -eq 1 ] || break
    done
    child=""
    if [ "$stopping" -eq 1 ]; then
      log "$name stopped (status $status)"
      exit 0
    fi
    if [ "$status" -eq 0 ]; then
      log "$name exited 0; not restarting"
      exit 0
    fi
    log "$name exited with status $status; restarting in ${restart_delay}s"
    sleep "$restart_delay" &
    child=$!
    wait "$child"
    kill "$child" 2> /dev/null
    child=""
  done
  log "$name stopped"
  exit 0
}

pids=()
interrupted=0
stop_all() {
  interrupted=1
  log "stopping: SIGTERM to ${#pids[@]} processes"
  kill -TERM "${pids[@]}" 2> /dev/null
}
trap stop_all TERM INT

supervise changes-producer env METRICS_PORT="$producer_metrics_port" "$producer" &
pids+=($!)
for ((i = 0; i < num_consumers; i++)); do
  scratch="$scratch_base/consumer-$i"
  mkdir -p "$scratch" || { log "cannot create $scratch"; stop_all; break; }
  supervise "changes-consumer-$i" env METRICS_PORT=$((consumer_metrics_port + i)) LOCAL_PACKAGE_DIR="$scratch" "$consumer" &
  pids+=($!)
done
log "running changes-producer (metrics :$producer_metrics_port) and $num_consumers changes-consumer (metrics :$consumer_metrics_port..)"

# Wait for every supervisor; the result is the first non-zero status, if any.
result=0
for pid in "${pids[@]}"; do
  while :; do
    interrupted=0
    wait "$pid"
    status=$?
    [ "$interrupted" -eq 1 ] || break
  done
  [ "$status" -eq 0 ] || [ "$result" -ne 0 ] || result=$status
done
log "all processes have exited"
exit "$result"
