# What the scripts of the local test servers (s3-server.sh, azurite.sh, gcs-server.sh,
# moto-server.sh) share: their messages, the pid file, waiting until a server answers, stopping
# it, and the command line. Sourced by them, never run.
#
# The sourcing script sets SERVICE (its name: the message prefix and scripts/$SERVICE.sh),
# PIDFILE, LOG, BASE (its state directory), PORT, START_TIMEOUT and STOP_TIMEOUT, and defines,
# after sourcing this file (a definition there replaces the default here):
#   pid_of         prints the pid of its running server (service_pid does the work)
#   answers PORT   true when the server answers on PORT (service_wait_ready waits for it)
#   running_port   the port the running server listens on (default: $PORT)
#   endpoint PORT  its URL on PORT (default http://127.0.0.1:PORT)
#   cmd_start, cmd_status, cmd_env, usage

say() { printf '[%s] %s\n' "$SERVICE" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$SERVICE" "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# "${SERVICE_SPAWN[@]}" PIDFILE CMD ARGS... >LOG 2>&1 </dev/null &
# starts a server in its own session (setsid: it survives the calling shell). The bash in between
# closes every descriptor but 0-2, which would otherwise stay open for the server's life (a
# caller's lock, the pipe of a $(...) or of CI's log), writes its own pid and execs the server,
# so PIDFILE holds the server's pid.
# shellcheck disable=SC2016
SERVICE_SPAWN=(setsid bash -c 'for fd in /proc/$$/fd/*; do n=${fd##*/}; ((n > 2)) && eval "exec $n>&-"; done
echo $$ >"$1"; shift; exec "$@"' _)

running_port() { echo "$PORT"; }
endpoint() { echo "http://127.0.0.1:$1"; }

# service_pid REGEX: prints the pid in $PIDFILE when that process is alive and its command line
# (arguments joined by spaces) matches REGEX, so a reused pid is not taken for the server.
service_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq "$1" || return 1
  echo "$pid"
}

# service_wait_ready T0 WHAT: waits until `answers $PORT`; when the process exits first (after a
# 3 s grace: the launched process writes the pid file itself) or START_TIMEOUT seconds pass
# since T0, prints the log's tail and fails.
service_wait_ready() {
  local t0="$1" what="$2" deadline=$(($1 + START_TIMEOUT))
  until answers "$PORT"; do
    if ! pid_of >/dev/null && ((SECONDS > t0 + 3)); then
      tail -n 40 "$LOG" >&2 || true
      die "$what exited during startup (log: $LOG)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$LOG" >&2 || true
      die "not answering at $(endpoint "$PORT") after ${START_TIMEOUT}s (log: $LOG;" \
        "process left running for inspection: scripts/$SERVICE.sh stop)"
    fi
    sleep 0.2
  done
}

# terminate PID SECONDS [WHAT]: SIGTERM, up to SECONDS for it to exit, then SIGKILL; returns
# once it is gone.
terminate() {
  local pid="$1" seconds="$2" what="${3:+$3: }" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "${what}still running after ${seconds}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
}

# service_reuse PORT_VARIABLE: true when the server already runs (said, with a warning when it
# listens on another port than $PORT, which PORT_VARIABLE sets); with FRESH=1 it is stopped
# instead, and false.
service_reuse() {
  local pid rp
  pid="$(pid_of)" || return 1
  if ((FRESH)); then
    cmd_stop
    return 1
  fi
  rp="$(running_port)"
  say "already running (pid $pid) at $(endpoint "$rp")"
  [[ "$rp" == "$PORT" ]] ||
    say "WARNING: it listens on $rp, not $1=$PORT -- scripts/$SERVICE.sh stop, then start"
  return 0
}

# Stops the server (terminate, STOP_TIMEOUT); with CLEAN=1 the state directory goes too.
service_stop() {
  local pid
  if pid="$(pid_of)"; then
    terminate "$pid" "$STOP_TIMEOUT"
    say "stopped (pid $pid)"
  else
    say "not running"
    port_open "$(running_port)" &&
      say "WARNING: port $(running_port) is in use by a process without our pid file"
  fi
  rm -f "$PIDFILE"
  if ((${CLEAN:-0})); then
    rm -rf "$BASE"
    say "removed $BASE"
  fi
  return 0
}

cmd_stop() { service_stop; }

# service_main ARGS...: start [--fresh] | stop [--clean] | status | env, setting FRESH and CLEAN.
service_main() {
  local cmd="${1:-}" a
  [[ $# -gt 0 ]] && shift
  FRESH=0 CLEAN=0
  for a in "$@"; do
    case "$cmd:$a" in
      start:--fresh) FRESH=1 ;;
      stop:--clean) CLEAN=1 ;;
      *) usage ;;
    esac
  done
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) usage ;;
  esac
}
