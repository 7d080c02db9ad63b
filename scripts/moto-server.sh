#!/usr/bin/env bash
# A second local S3 implementation (moto's server, from PyPI) for the features
# s3proxy lacks: S3 Object Lock, SSE-KMS with a customer key, storage classes.
# It checks SigV4 signatures against IAM users: start creates the user
# kafka-backup with an access key (a wrong secret gets SignatureDoesNotMatch)
# and one KMS key.
#
#   endpoint  http://127.0.0.1:19100 (path-style; KB_MOTO_PORT to change)
#
# usage: scripts/moto-server.sh start [--fresh]
#        scripts/moto-server.sh stop [--clean]
#        scripts/moto-server.sh status
#        scripts/moto-server.sh env                 (eval "$(... env)")
#
# moto keeps everything in memory: a restart starts empty (new user, key and
# KMS key); start --fresh restarts a running one. Runs .cache/moto/venv (made by scripts/setup.sh). State: pid file,
# log and credentials.env under ${KB_MOTO_DIR:-/tmp/kafka-backup-moto}/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.cache/moto/venv"
BASE="${KB_MOTO_DIR:-/tmp/kafka-backup-moto}"
PORT="${KB_MOTO_PORT:-19100}"
PIDFILE="$BASE/moto.pid"
LOG="$BASE/moto.log"
CREDS="$BASE/credentials.env"

START_TIMEOUT=30
STOP_TIMEOUT=5

SERVICE=moto-server
# shellcheck source=lib/service.sh
source "$ROOT/scripts/lib/service.sh"

usage() {
  sed -n 's/^# usage: //p; s/^#        \(scripts\/moto-server.sh.*\)/\1/p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

pid_of() { service_pid moto_server; }
answers() { port_open "$1"; }

cmd_start() {
  [[ -x "$VENV/bin/moto_server" ]] || die "moto not found in $VENV -- run scripts/setup.sh first"
  local pid
  if pid="$(pid_of)"; then
    ((FRESH)) || [[ ! -f "$CREDS" ]] || { say "already running (pid $pid) at http://127.0.0.1:$PORT"; return 0; }
    cmd_stop
  fi
  port_open "$PORT" && die "port $PORT is in use -- free it or set KB_MOTO_PORT"
  mkdir -p "$BASE"
  rm -f "$CREDS"
  # The first three requests (the IAM bootstrap below) are unauthenticated;
  # every later one must be signed by a known key.
  # shellcheck disable=SC2016
  INITIAL_NO_AUTH_ACTION_COUNT=3 "${SERVICE_SPAWN[@]}" "$PIDFILE" \
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 </dev/null &
  local t0=$SECONDS
  service_wait_ready "$t0" moto
  "$VENV/bin/python" - "http://127.0.0.1:$PORT" "$CREDS" <<'PY'
import json, sys
import boto3
endpoint, out = sys.argv[1], sys.argv[2]
def client(name, key="bootstrap", secret="bootstrap"):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)
iam = client("iam")
iam.create_user(UserName="kafka-backup")
iam.put_user_policy(UserName="kafka-backup", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
k = iam.create_access_key(UserName="kafka-backup")["AccessKey"]
kms = client("kms", k["AccessKeyId"], k["SecretAccessKey"]).create_key(Description="kafka-backup tests")
with open(out, "w") as f:
    f.write(f"export KB_MOTO_ENDPOINT={endpoint} KB_MOTO_ACCESS_KEY={k['AccessKeyId']} "
            f"KB_MOTO_SECRET_KEY={k['SecretAccessKey']} KB_MOTO_KMS_KEY={kms['KeyMetadata']['KeyId']}\n")
PY
  say "up at http://127.0.0.1:$PORT (pid $(pid_of), $((SECONDS - t0))s)"
}

cmd_stop() {
  service_stop
  rm -f "$CREDS"
}

cmd_status() {
  local pid
  if pid="$(pid_of)"; then say "answering at http://127.0.0.1:$PORT (pid $pid)"; else say "not running"; return 1; fi
}

cmd_env() {
  [[ -f "$CREDS" ]] || die "not running: scripts/moto-server.sh start"
  cat "$CREDS"
}

service_main "$@"
