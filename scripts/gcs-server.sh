#!/usr/bin/env bash
# A local Google Cloud Storage emulator (fake-gcs-server, JSON API) for
# kafka-backup's object-storage integration tests.  Plain HTTP; NO
# authentication: the Authorization header is ignored (any or no token works).
#
#   endpoint  http://127.0.0.1:4443 (JSON API under /storage/v1 and
#             /upload/storage/v1; KB_GCS_PORT to change)
#   project   any (?project= is accepted and ignored)
#
# usage: scripts/gcs-server.sh start [--fresh]
#        scripts/gcs-server.sh stop [--clean]
#        scripts/gcs-server.sh status
#        scripts/gcs-server.sh env                 (eval "$(... env)")
#
# start is a no-op when the server already runs; --fresh stops it and wipes
# all buckets first.  stop --clean also removes the state directory.
#
# Runs .cache/gcs/bin/fake-gcs-server (built by scripts/setup.sh).  State lives
# in ${KB_GCS_DIR:-/tmp/kafka-backup-gcs}/ (data/ = one directory per bucket,
# object names with '/' as subdirectories, metadata in xattrs; gcs.log =
# console + access log; gcs.pid).  Resumable uploads are held in memory until
# their last chunk, with either backend, and are lost on a restart.
#
# Differences from real GCS seen with v1.56.1 (keep tests clear of them):
#   - DELETE object answers 200 with body "null", not 204.
#   - Resumable PUTs append the body whatever the Content-Range start says (a
#     re-sent chunk is stored twice), and a status query (empty PUT with
#     "bytes */*") finalizes the object instead of answering 308.  DELETE of an
#     upload session answers 499 but leaves the session usable.
#   - A list without maxResults is not paginated; maxResults is not capped at 1000;
#     fields= and matchGlob= are ignored.  nextPageToken is the next object name.
#   - 404s say only "Not Found" (no bucket/object distinction); a missing object
#     with alt=media gives text/plain "Not Found", not JSON.
#   - filesystem backend: object "a" and "a/b" cannot coexist (500), names ending
#     in "/" cannot be read back, "a/../b" is stored as "b".  KB_GCS_BACKEND=memory
#     has none of these.
#
# Environment:
#   KB_GCS_PORT           listen port on 127.0.0.1 (default 4443)
#   KB_GCS_DIR            state directory (default /tmp/kafka-backup-gcs)
#   KB_GCS_BACKEND        filesystem (default; objects under data/) or memory
#   KB_GCS_LOG_LEVEL      fake-gcs-server log level: trace|debug|info|warn|error (default info;
#                         info logs one access-log line per request)
#   KB_GCS_START_TIMEOUT  seconds to wait for the server to answer (default 30)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GCS_DIR="$ROOT/.cache/gcs"
SERVER_BIN="$GCS_DIR/bin/fake-gcs-server"
BASE="${KB_GCS_DIR:-/tmp/kafka-backup-gcs}"
PORT="${KB_GCS_PORT:-4443}"
BACKEND="${KB_GCS_BACKEND:-filesystem}"
LOG_LEVEL="${KB_GCS_LOG_LEVEL:-info}"
START_TIMEOUT="${KB_GCS_START_TIMEOUT:-30}"
STOP_TIMEOUT=10

PIDFILE="$BASE/gcs.pid"
LOG="$BASE/gcs.log"
DATA="$BASE/data"

SERVICE=gcs-server
# shellcheck source=lib/service.sh
source "$ROOT/scripts/lib/service.sh"

usage() {
  sed -n 's/^#   *\(scripts\/gcs-server.sh.*\)/\1/p; s/^# usage: //p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

require_cache() {
  [[ -f "$GCS_DIR/.resolved" && -x "$SERVER_BIN" ]] ||
    die "fake-gcs-server not found in $GCS_DIR/bin -- run scripts/setup.sh first"
}

# Prints the server pid if it is running (pid file + live fake-gcs-server process).
pid_of() { service_pid '^[^ ]*fake-gcs-server '; }

# Port of the running server (its -port argument), else the requested one.
running_port() {
  local pid p=""
  if pid="$(pid_of)"; then
    p="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^-port$/{n;p;q}')"
  fi
  echo "${p:-$PORT}"
}

# Backend of the running server (its -backend argument).
running_backend() {
  local pid
  pid="$(pid_of)" || { echo '?'; return; }
  tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^-backend$/{n;p;q}'
}

# True when a GCS JSON API answers on the port: List Buckets must give 200 with
# "kind": "storage#buckets".  Plain bash, no curl needed.
answers() {
  local port="$1" resp
  resp="$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /storage/v1/b?project=kbtest HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$port" >&3
    while IFS= read -r -t 5 line || [[ -n "$line" ]]; do
      echo "$line"
    done <&3
  )" || true
  [[ "$resp" == "HTTP/1.1 200"* && "$resp" == *'"kind":"storage#buckets"'* ]]
}

launch() {
  local args=(
    -scheme http -host 127.0.0.1 -port "$PORT"
    # Upload Location headers are built from the request's Host header; these
    # two only set selfLink/mediaLink and the "public host" routes.
    -public-host "127.0.0.1:$PORT" -external-url "$(endpoint "$PORT")"
    -backend "$BACKEND" -log-level "$LOG_LEVEL"
  )
  [[ "$BACKEND" == filesystem ]] && args+=(-filesystem-root "$DATA")
  [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.prev"
  # setsid: own session, survives the calling shell; bash writes its own pid
  # and execs the server, so the pid file holds its pid.  FAKE_GCS_* variables
  # would be read as defaults for flags not given here: never inherit them.
  local unset_env=() v
  for v in $(compgen -e | grep '^FAKE_GCS_' || true); do unset_env+=(-u "$v"); done
  cd "$BASE"
  # shellcheck disable=SC2016
  env "${unset_env[@]}" "${SERVICE_SPAWN[@]}" "$PIDFILE" \
    "$SERVER_BIN" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
}

# Waits until the server answers; on timeout/crash prints the log tail and fails.
wait_ready() {
  local t0="$1"
  service_wait_ready "$t0" fake-gcs-server
  say "up at $(endpoint "$PORT") (pid $(pid_of), $BACKEND backend, $((SECONDS - t0))s)"
}

cmd_start() {
  local pid t0
  case "$BACKEND" in
    filesystem | memory) ;;
    *) die "KB_GCS_BACKEND=$BACKEND: use filesystem or memory" ;;
  esac
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "KB_GCS_PORT=$PORT is not a port number"
  require_cache
  service_reuse KB_GCS_PORT && return 0
  if ((FRESH)); then
    rm -rf "$DATA"
    say "wiped $DATA"
  fi
  port_open "$PORT" &&
    die "port $PORT is in use by another process (not started by this script?) -- free it or set KB_GCS_PORT"
  mkdir -p "$BASE" "$DATA"
  t0=$SECONDS
  launch
  say "starting fake-gcs-server $(cat "$GCS_DIR/VERSION" 2>/dev/null || echo '?') (log: $LOG)"
  wait_ready "$t0"
}

cmd_status() {
  local pid port
  pid="$(pid_of || echo none)"
  port="$(running_port)"
  if answers "$port"; then
    say "answering at $(endpoint "$port") (pid $pid, $(running_backend) backend, state $BASE)"
  else
    say "NOT answering at $(endpoint "$port") (pid $pid) -- scripts/gcs-server.sh start"
    return 1
  fi
}

cmd_env() {
  echo "export KB_GCS_ENDPOINT=$(endpoint "$(running_port)")"
}

service_main "$@"
