#!/usr/bin/env bash
# Resets the mirror's state for a rerun. Asks before each deletion unless --yes.
#
#   scripts/reset.sh [--compose] (--all | --couchdb --packages --kafka --update-seq) [--yes]
#
#   --couchdb     records. Embedded layout: the SQLite files (*.sqlite*) in DBDATA_DIR (./dbdata),
#                 serve's search index among them. Compose: the CouchDB database and the registry
#                 service's search index (./search-index).
#                 --compose: DELETE the CouchDB database DATABASE_NAME (COUCHDB_URL, default
#                 http://localhost:$COUCHDB_HOST_PORT, credentials from the environment or .env).
#   --packages    the contents of REMOTE_PACKAGE_DIR (./packages) and LOCAL_PACKAGE_DIR (./temp_packages).
#   --kafka       embedded layout: nothing to do (the embedded broker keeps nothing on disk).
#                 --compose: deletes the consumer group and the three topics, then recreates the
#                 topics with `docker compose run --rm kafka-init`.
#   --update-seq  the checkpoints update_seq/*.json (UPDATE_SEQ_DIR).
#   --all         all four.
#   --compose     the Docker Compose stack (docker-compose.yml) instead of the embedded layout;
#                 stops changes-producer and changes-consumer first (start them again with
#                 `docker compose up -d`).
#   --yes, -y     do not ask (needed when not run from a terminal).
#
# Relative paths are relative to the repository root. Settings come from the environment, then .env
# (KEY=value lines), then the defaults above. The CouchDB password is never printed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,23s/^# \{0,1\}//p' "$0"; }
log() { echo "reset: $*"; }
die() { echo "reset: $*" >&2; exit 1; }

compose=0 yes=0 do_couchdb=0 do_packages=0 do_kafka=0 do_update_seq=0
[ $# -gt 0 ] || { usage; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --couchdb) do_couchdb=1 ;;
    --packages) do_packages=1 ;;
    --kafka) do_kafka=1 ;;
    --update-seq) do_update_seq=1 ;;
    --all) do_couchdb=1 do_packages=1 do_kafka=1 do_update_seq=1 ;;
    --compose) compose=1 ;;
    --embedded) compose=0 ;;
    -y | --yes) yes=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "reset: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[ $((do_couchdb + do_packages + do_kafka + do_update_seq)) -gt 0 ] \
  || die "nothing to reset: give --couchdb, --packages, --kafka, --update-seq or --all"
if [ "$yes" -eq 0 ] && ! [ -t 0 ]; then
  die "not running in a terminal: pass --yes to reset without questions"
fi

# setting NAME DEFAULT: the environment's value, else .env's, else DEFAULT.
setting() {
  local name=$1 default=$2 line value
  if [ -n "${!name:-}" ]; then
    printf '%s' "${!name}"
    return
  fi
  if [ -f .env ]; then
    line=$(grep -E "^[[:space:]]*(export[[:space:]]+)?$name=" .env | tail -n 1 || true)
    if [ -n "$line" ]; then
      value=${line#*=}
      value=${value%$'\r'}
      case "$value" in
        \"*\") value=${value#\"}; value=${value%\"} ;;
        \'*\') value=${value#\'}; value=${value%\'} ;;
      esac
      printf '%s' "$value"
      return
    fi
  fi
  printf '%s' "$default"
}

# confirm QUESTION: yes with --yes, otherwise asks on the terminal.
confirm() {
  [ "$yes" -eq 1 ] && return 0
  local answer
  read -r -p "reset: $1 [y/N] " answer < /dev/tty || return 1
  case "$answer" in [yY] | [yY][eE][sS]) return 0 ;; *) log "skipped"; return 1 ;; esac
}

# safe_dir PATH: refuses an empty path, /, and the repository root itself.
safe_dir() {
  local path=$1 resolved
  [ -n "$path" ] || die "refusing an empty path"
  resolved=$(realpath -m -- "$path")
  [ "$resolved" != "/" ] || die "refusing to delete in /"
  [ "$resolved" != "$(pwd -P)" ] || die "refusing to delete the repository root ($path)"
  [ "$resolved" != "$(realpath -m -- "${HOME:-/}")" ] || die "refusing to delete the home folder ($path)"
}

# compose_cmd ARGS...: `docker compose` from the repository root.
compose_cmd() { docker compose --project-directory . -f docker-compose.yml "$@"; }

# empty_dir PATH: removes what is in PATH and keeps PATH (a bind mount or a volume may sit on it).
empty_dir() {
  local path=$1
  safe_dir "$path"
  if [ ! -d "$path" ]; then
    log "$path does not exist: nothing to do"
    return 0
  fi
  if [ -z "$(find "$path" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
    log "$path is empty: nothing to do"
    return 0
  fi
  confirm "delete everything in $path?" || return 0
  if find "$path" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2> /dev/null; then
    log "emptied $path"
  elif [ "$compose" -eq 1 ]; then
    # Files written by the containers belong to uid 10001: delete them from a root container.
    log "no permission on the host; emptying $path from a container"
    compose_cmd run --rm --no-deps --user 0:0 --entrypoint /bin/sh \
      -v "$(realpath -- "$path"):/target" mirror-init -c 'find /target -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +'
    log "emptied $path"
  else
    die "could not empty $path (permissions?)"
  fi
}

# remove_files DESCRIPTION DIR PATTERN: removes DIR/PATTERN (not recursive).
remove_files() {
  local description=$1 dir=$2 pattern=$3 files=() file
  safe_dir "$dir"
  [ -d "$dir" ] && mapfile -t files < <(find "$dir" -maxdepth 1 -type f -name "$pattern")
  if [ ${#files[@]} -eq 0 ]; then
    log "no $description in $dir: nothing to do"
    return 0
  fi
  printf '  %s\n' "${files[@]}"
  confirm "delete these ${#files[@]} $description files?" || return 0
  if rm -f -- "${files[@]}" 2> /dev/null; then
    log "deleted ${#files[@]} $description files"
  elif [ "$compose" -eq 1 ]; then
    log "no permission on the host; deleting from a container"
    local names=()
    for file in "${files[@]}"; do names+=("$(basename -- "$file")"); done
    # shellcheck disable=SC2016 # expanded by the container's shell
    compose_cmd run --rm --no-deps --user 0:0 --entrypoint /bin/sh \
      -v "$(realpath -- "$dir"):/target" mirror-init -c 'cd /target && rm -f -- "$@"' sh "${names[@]}"
    log "deleted ${#files[@]} $description files"
  else
    die "could not delete the $description files in $dir (permissions?)"
  fi
}

if [ "$compose" -eq 1 ]; then
  command -v docker > /dev/null || die "--compose needs docker"
  confirm "stop changes-producer and changes-consumer first (docker compose stop)?" \
    || die "stop them first: the services would write while their state is deleted"
  compose_cmd stop changes-producer changes-consumer
fi

# ---- CouchDB / embedded records -----------------------------------------------------------------
if [ "$do_couchdb" -eq 1 ]; then
  if [ "$compose" -eq 1 ]; then
    url=$(setting COUCHDB_URL "http://localhost:$(setting COUCHDB_HOST_PORT 5984)")
    url=${url%/}
    database=$(setting DATABASE_NAME npm-mirror)
    [ -n "$database" ] || die "DATABASE_NAME is empty"
    user=$(setting COUCHDB_USER admin)
    password=$(setting COUCHDB_PASSWORD "")
    [ -n "$password" ] || die "COUCHDB_PASSWORD is not set (environment or .env)"
    if confirm "delete the CouchDB database '$database' at $url?"; then
      # Credentials go to curl as a config file on stdin: not on the command line, not in the output.
      escaped_credentials=$(printf '%s:%s' "$user" "$password" | sed 's/\\/\\\\/g; s/"/\\"/g')
      status=$(printf 'user = "%s"\n' "$escaped_credentials" \
        | curl -sS -K - -o /dev/null -w '%{http_code}' -X DELETE "$url/$database") \
        || die "CouchDB at $url did not answer (is the stack up?)"
      case "$status" in
        200 | 202) log "deleted database $database (the consumer creates it again)" ;;
        404) log "database $database does not exist: nothing to do" ;;
        401 | 403) die "CouchDB refused the credentials of user $user (HTTP $status)" ;;
        *) die "CouchDB answered HTTP $status to DELETE $url/$database" ;;
      esac
    fi
    # The registry service's search index of that database (rebuilt from the new one when it starts).
    if [ -d ./search-index ]; then
      remove_files "registry search index (*-search.sqlite*)" ./search-index '*-search.sqlite*'
    fi
  else
    remove_files "embedded record database (*.sqlite*)" "$(setting DBDATA_DIR ./dbdata)" '*.sqlite*'
  fi
fi

# ---- Kafka ------------------------------------------------------------------------------------------
if [ "$do_kafka" -eq 1 ]; then
  if [ "$compose" -eq 1 ]; then
    group=$(setting KAFKA_CONSUMER_GROUP npm-mirror)
    topics=("$(setting KAFKA_TOPIC npm-changes)" "$(setting KAFKA_DEAD_LETTER_TOPIC npm-changes-skipped)" "$(setting KAFKA_EVENTS_TOPIC npm-mirror-events)")
    if confirm "delete consumer group '$group' and topics ${topics[*]}, then recreate the topics?"; then
      kafka_tool() { compose_cmd exec -T kafka "/opt/kafka/bin/$1" --bootstrap-server localhost:9092 "${@:2}"; }
      if kafka_tool kafka-consumer-groups.sh --list | grep -qxF "$group"; then
        kafka_tool kafka-consumer-groups.sh --delete --group "$group"
      else
        log "consumer group $group does not exist"
      fi
      for topic in "${topics[@]}"; do
        kafka_tool kafka-topics.sh --delete --if-exists --topic "$topic"
      done
      # Deletion is asynchronous: wait until the topics are gone before creating them again.
      for _ in $(seq 1 30); do
        remaining=$(kafka_tool kafka-topics.sh --list | grep -cxF -f <(printf '%s\n' "${topics[@]}") || true)
        [ "$remaining" -eq 0 ] && break
        sleep 2
      done
      [ "$remaining" -eq 0 ] || die "topics still being deleted after 60 s; run 'docker compose run --rm kafka-init' later"
      compose_cmd run --rm kafka-init
      log "consumer group and topics reset"
    fi
  else
    log "--kafka: the embedded broker (npm-mirror run) keeps nothing on disk: nothing to do"
  fi
fi

# ---- Packages ------------------------------------------------------------------------------------
if [ "$do_packages" -eq 1 ]; then
  if [ "$compose" -eq 1 ]; then
    # The compose file bind-mounts these two folders; scratch space is a per-container volume.
    empty_dir ./packages
    log "the consumers' scratch folders are anonymous volumes: 'docker compose rm -fsv changes-consumer' removes them"
  else
    empty_dir "$(setting REMOTE_PACKAGE_DIR ./packages)"
    empty_dir "$(setting LOCAL_PACKAGE_DIR ./temp_packages)"
  fi
fi

# ---- Checkpoints ---------------------------------------------------------------------------------
if [ "$do_update_seq" -eq 1 ]; then
  if [ "$compose" -eq 1 ]; then
    update_seq_dir=./update_seq
  else
    update_seq_dir=$(setting UPDATE_SEQ_DIR ./update_seq)
  fi
  remove_files "checkpoint (*.json)" "$update_seq_dir" '*.json'
fi

if [ "$compose" -eq 1 ]; then
  log "done; start the mirror again with: docker compose up -d"
else
  log "done"
fi
