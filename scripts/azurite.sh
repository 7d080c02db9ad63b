#!/usr/bin/env bash
# A local Azure Blob Storage emulator (Azurite, blob service only) for
# kafka-backup's object-storage integration tests.  SharedKey authentication is
# enforced: a request signed with another key (or unsigned) gets 403
# AuthenticationFailed, as from Azure (scripts/setup.sh patches Azurite, whose
# own code there is AuthorizationFailure); account and service SAS tokens work
# too.  Strict mode (no --loose), any x-ms-version (--skipApiVersionCheck).
#
#   endpoint  http://127.0.0.1:10000/kbtest (path-style: .../kbtest/<container>/<blob>;
#             KB_AZURE_PORT to change)
#   account   kbtest with the fixed test key below (the well-known emulator
#             account devstoreaccount1 is NOT enabled)
#
# usage: scripts/azurite.sh start [--fresh]
#        scripts/azurite.sh stop [--clean]
#        scripts/azurite.sh status
#        scripts/azurite.sh env                    (eval "$(... env)")
#
# start is a no-op when the server already runs; --fresh stops it and wipes
# all containers first.  stop --clean also removes the state directory.
#
# Runs Azurite from .cache/azurite (installed by scripts/setup.sh) with node.
# State lives in ${KB_AZURE_DIR:-/tmp/kafka-backup-azurite}/ (data/ = Azurite
# workspace, azurite.log = console + access log, azurite.pid, debug.log).
#
# Environment:
#   KB_AZURE_PORT           listen port on 127.0.0.1 (default 10000)
#   KB_AZURE_DIR            state directory (default /tmp/kafka-backup-azurite)
#   KB_AZURE_IN_MEMORY=1    keep blobs in memory only (default: on disk under data/)
#   KB_AZURE_DEBUG=1        Azurite debug log in debug.log (shows each SharedKey
#                           string-to-sign: the place to look on a 403)
#   KB_AZURE_NODE           node binary (default: node on PATH)
#   KB_AZURE_START_TIMEOUT  seconds to wait for the server to answer (default 60)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AZ_DIR="$ROOT/.cache/azurite"
MAIN_JS="$AZ_DIR/node_modules/azurite/dist/src/blob/main.js"
BASE="${KB_AZURE_DIR:-/tmp/kafka-backup-azurite}"
PORT="${KB_AZURE_PORT:-10000}"
IN_MEMORY="${KB_AZURE_IN_MEMORY:-0}"
DEBUG="${KB_AZURE_DEBUG:-0}"
NODE="${KB_AZURE_NODE:-node}"
START_TIMEOUT="${KB_AZURE_START_TIMEOUT:-60}"
STOP_TIMEOUT=10

# Test account: name + base64 of 64 random bytes (generated once, like a real
# storage account key).  Passed to Azurite as AZURITE_ACCOUNTS=name:key.
ACCOUNT=kbtest
ACCOUNT_KEY='/Nj7T108Xnzo5HVbQCJlrEWKXxmHDWElYVi4YEkyWuiLGVvxxRnrmDmLiKu8O+n4WYHZ69NVDhvc382sdNtrEg=='

PIDFILE="$BASE/azurite.pid"
LOG="$BASE/azurite.log"
DEBUG_LOG="$BASE/debug.log"
DATA="$BASE/data"

SERVICE=azurite
# shellcheck source=lib/service.sh
source "$ROOT/scripts/lib/service.sh"

usage() {
  sed -n 's/^#   *\(scripts\/azurite.sh.*\)/\1/p; s/^# usage: //p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

endpoint() { echo "http://127.0.0.1:$1/$ACCOUNT"; }

require_cache() {
  [[ -f "$AZ_DIR/.resolved" && -f "$MAIN_JS" ]] ||
    die "azurite not found in $AZ_DIR -- run scripts/setup.sh first"
  command -v "$NODE" >/dev/null || die "node not found (KB_AZURE_NODE=$NODE)"
}

# Prints the server pid if it is running (pid file + live Azurite blob process).
pid_of() { service_pid 'azurite/dist/src/blob/main\.js'; }

# Port of the running server (its --blobPort argument), else the requested one.
running_port() {
  local pid p=""
  if pid="$(pid_of)"; then
    p="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^--blobPort$/{n;p;q}')"
  fi
  echo "${p:-$PORT}"
}

# True when a blob service answers on the port: an anonymous List Containers
# must be refused with 403 (authentication is on).  Plain bash, no curl needed.
answers() {
  local port="$1" status
  status="$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /%s?comp=list HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$ACCOUNT" "$port" >&3
    IFS= read -r -t 5 line <&3 || exit 1
    echo "$line"
  )" || return 1
  [[ "$status" == "HTTP/1.1 403"* ]]
}

# check_auth PORT: List Containers signed with the account key must give 200,
# signed with another key 403 AuthenticationFailed.  Catches an AZURITE_ACCOUNTS
# value that Azurite could not parse (it then silently falls back to
# devstoreaccount1) and an unpatched install.
check_auth() {
  # shellcheck disable=SC2016  # (JavaScript template literals, not shell)
  AZ_PORT="$1" AZ_ACCOUNT="$ACCOUNT" AZ_KEY="$ACCOUNT_KEY" "$NODE" -e '
    const http = require("http"), crypto = require("crypto");
    const { AZ_PORT: port, AZ_ACCOUNT: acct, AZ_KEY: key } = process.env;
    function probe(k) {
      return new Promise((resolve, reject) => {
        const date = new Date().toUTCString(), ver = "2021-12-02";
        const sts = ["GET", "", "", "", "", "", "", "", "", "", "", "",
          `x-ms-date:${date}\nx-ms-version:${ver}\n/${acct}/${acct}\ncomp:list`].join("\n");
        const sig = crypto.createHmac("sha256", Buffer.from(k, "base64")).update(sts, "utf8").digest("base64");
        const req = http.request({ host: "127.0.0.1", port, path: `/${acct}?comp=list`, method: "GET",
          headers: { "x-ms-date": date, "x-ms-version": ver, Authorization: `SharedKey ${acct}:${sig}` },
          timeout: 5000 }, (res) => {
            res.resume();
            res.on("end", () => resolve(`${res.statusCode} ${res.headers["x-ms-error-code"] || ""}`.trim()));
          });
        req.on("error", reject).on("timeout", () => req.destroy(new Error("timeout")));
        req.end();
      });
    }
    (async () => {
      const good = await probe(key);
      const bad = await probe(crypto.randomBytes(64).toString("base64"));
      if (good !== "200" || bad !== "403 AuthenticationFailed") {
        console.error(`signed List Containers: right key -> ${good} (want 200),` +
          ` wrong key -> ${bad} (want 403 AuthenticationFailed)`);
        process.exit(1);
      }
    })().catch((e) => { console.error(`signed List Containers: ${e.message}`); process.exit(1); });
  '
}

launch() {
  local args=(
    "$MAIN_JS"
    --blobHost 127.0.0.1 --blobPort "$PORT"
    --skipApiVersionCheck     # our client may send an x-ms-version newer than Azurite's
    --disableProductStyleUrl  # account is always the first path segment
    --disableTelemetry
  )
  # (no --loose: unsupported headers/parameters are refused, not ignored)
  # (Azurite refuses --location together with --inMemoryPersistence)
  if ((IN_MEMORY)); then args+=(--inMemoryPersistence); else args+=(--location "$DATA"); fi
  ((DEBUG)) && args+=(--debug "$DEBUG_LOG")
  [[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.prev"
  # setsid: own session, survives the calling shell; bash writes its own pid
  # and execs node, so the pid file holds node's pid.  AZURITE_DB would switch
  # Azurite to a SQL metadata store: never inherit it.  cwd = state directory.
  cd "$BASE"
  # shellcheck disable=SC2016
  env -u AZURITE_DB AZURITE_ACCOUNTS="$ACCOUNT:$ACCOUNT_KEY" \
    "${SERVICE_SPAWN[@]}" "$PIDFILE" \
    "$NODE" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
}

# Waits until the server answers; on timeout/crash prints the log tail and fails.
wait_ready() {
  local t0="$1"
  service_wait_ready "$t0" azurite
  check_auth "$PORT" ||
    die "answers at $(endpoint "$PORT") but SharedKey auth for $ACCOUNT is not as expected" \
      "(log: $LOG; an old .cache/azurite? run scripts/setup.sh; left running: scripts/azurite.sh stop)"
  say "up at $(endpoint "$PORT") (pid $(pid_of), $( ((IN_MEMORY)) && echo in-memory || echo on-disk)," \
    "$((SECONDS - t0))s)"
}

cmd_start() {
  local pid t0
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "KB_AZURE_PORT=$PORT is not a port number"
  require_cache
  service_reuse KB_AZURE_PORT && return 0
  if ((FRESH)); then
    rm -rf "$DATA" "$DEBUG_LOG"
    say "wiped $DATA"
  fi
  port_open "$PORT" &&
    die "port $PORT is in use by another process (not started by this script?) -- free it or set KB_AZURE_PORT"
  mkdir -p "$BASE" "$DATA"
  t0=$SECONDS
  launch
  say "starting azurite-blob $(cat "$AZ_DIR/VERSION" 2>/dev/null || echo '?') on node $("$NODE" --version) (log: $LOG)"
  wait_ready "$t0"
}

cmd_status() {
  local pid port
  pid="$(pid_of || echo none)"
  port="$(running_port)"
  if answers "$port"; then
    if command -v "$NODE" >/dev/null && ! check_auth "$port"; then
      say "answering at $(endpoint "$port") (pid $pid) but SharedKey auth for $ACCOUNT FAILS"
      return 1
    fi
    say "answering at $(endpoint "$port") (pid $pid, state $BASE)"
  else
    say "NOT answering at $(endpoint "$port") (pid $pid) -- scripts/azurite.sh start"
    return 1
  fi
}

cmd_env() {
  echo "export KB_AZURE_ENDPOINT=$(endpoint "$(running_port)") KB_AZURE_ACCOUNT=$ACCOUNT" \
    "KB_AZURE_KEY=$ACCOUNT_KEY"
}

service_main "$@"
