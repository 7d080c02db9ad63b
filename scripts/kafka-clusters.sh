#!/usr/bin/env bash
# Independent single-node Apache Kafka clusters (KRaft, combined
# broker+controller) for kafka-backup's integration tests:
#
#   source  PLAINTEXT 127.0.0.1:19092  controller 127.0.0.1:19093
#   target  PLAINTEXT 127.0.0.1:29092  controller 127.0.0.1:29093
#   secure  PLAINTEXT 127.0.0.1:14092  controller 127.0.0.1:14093   (only when named)
#           SSL            127.0.0.1:14094  TLS, client certificate required (mTLS)
#           SASL_PLAINTEXT 127.0.0.1:14095  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#           SASL_SSL       127.0.0.1:14096  same mechanisms over TLS (server auth only)
#           OIDC           127.0.0.1:14097  SASL_PLAINTEXT, OAUTHBEARER JWTs of the OIDC issuer
#           KERBEROS       127.0.0.1:14099  SASL_PLAINTEXT, GSSAPI (realm KB.TEST)
#           (identity providers: OIDC issuer 127.0.0.1:14098, Kerberos KDC 127.0.0.1:14088;
#            scripts/lib/identity-providers.sh)
#
# usage: scripts/kafka-clusters.sh start [--fresh] [source|target|secure]
#        scripts/kafka-clusters.sh stop [--clean] [source|target|secure]
#        scripts/kafka-clusters.sh status [source|target|secure]
#        scripts/kafka-clusters.sh env [source|target|secure]     (eval "$(... env)")
#
# Without a name, start/stop/status/env handle source and target; the secure
# cluster is started and stopped only when named ("start secure").
#
# Runs the jars in .cache/kafka/libs (made by scripts/setup.sh).  State, config
# and logs live in ${KB_BROKER_DIR:-/tmp/kafka-backup-brokers}/<name>/
# (data/, server.properties, server.log, kafka.pid).
#
# The secure cluster (for tests/integration/test_security.py):
#   - certificates made with openssl on its first start, kept in secure/tls/ and
#     reused (start --fresh or stop --clean makes new ones): ca.crt (the CA),
#     broker.pem (the broker's encrypted PKCS#8 key + chain: a PEM keystore,
#     KIP-651; SAN DNS:localhost, IP:127.0.0.1), client.crt + client.key (mTLS),
#     client-encrypted.key (the same key, encrypted with the client key password);
#   - SCRAM users created when the storage is formatted (kafka-storage format
#     --add-scram): backup-service (SCRAM-SHA-256, as in the DR runbook) and bob
#     (SCRAM-SHA-512); the PLAIN user carol lives in the SASL listeners' JAAS config;
#   - OAUTHBEARER on the SASL listeners takes AWS MSK IAM tokens signed with one
#     test access key, checked by tests/peer/MskIamValidator.java (compiled by
#     scripts/setup.sh into .cache/peer, on this broker's classpath);
#   - the OIDC listener validates JWTs with Kafka's OAuthBearerValidatorCallbackHandler
#     against the test issuer's JWKS (scripts/lib/oidc_issuer.py, started with the broker);
#   - the KERBEROS listener logs in from a keytab of the test KDC (krb5kdc, started with
#     the broker), whose realm, principals and keytabs are made on the first start;
#   - the inter-broker and controller listeners are PLAINTEXT, so tests produce
#     and inspect through 127.0.0.1:14092; no authorizer (authentication is tested).
#   `env secure` prints the addresses, the file paths and these test-only credentials.
#
# Environment:
#   KB_BROKER_DIR       base directory (default /tmp/kafka-backup-brokers)
#   KB_KAFKA_HEAP_OPTS  broker heap flags (default "-Xmx768m -Xms256m"; KAFKA_HEAP_OPTS also honoured)
#   KB_START_TIMEOUT    seconds to wait for a broker to answer (default 90)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIBS="$ROOT/.cache/kafka/libs"
BIN="$ROOT/.cache/kafka/bin"
BASE="${KB_BROKER_DIR:-/tmp/kafka-backup-brokers}"
HEAP_OPTS="${KB_KAFKA_HEAP_OPTS:-${KAFKA_HEAP_OPTS:--Xmx768m -Xms256m}}"
START_TIMEOUT="${KB_START_TIMEOUT:-90}"
STOP_TIMEOUT=30
ALL=(source target)
# shellcheck source=lib/identity-providers.sh
source "$ROOT/scripts/lib/identity-providers.sh"
# shellcheck source=lib/service.sh
source "$ROOT/scripts/lib/service.sh"  # (terminate; this script's own say, die and pid_of win)

# Test-only credentials of the secure cluster (printed by `env secure`).
PLAIN_USER=carol PLAIN_PASSWORD=carol-plain-pw-4b1e
SCRAM256_USER=backup-service SCRAM256_PASSWORD=scram256-pw-9d2c
SCRAM512_USER=bob SCRAM512_PASSWORD=scram512-pw-6a7f
CLIENT_KEY_PASSWORD=client-key-pw-3e8b
BROKER_KEY_PASSWORD=broker-key-pw-51c0
# The AWS access key the SASL listeners' OAUTHBEARER (AWS MSK IAM) accepts.
MSK_ACCESS_KEY_ID=AKIAKBTESTMSKIAM0001 MSK_SECRET_ACCESS_KEY=kbtest/msk+iam-secret-7f3a MSK_REGION=eu-west-1

say() { printf '[kafka-clusters] %s\n' "$*"; }
die() { printf '[kafka-clusters] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n 's/^#   *\(scripts\/kafka-clusters.sh.*\)/\1/p; s/^# usage: //p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# Fixed ports stay below the kernel's ephemeral range (32768-60999 on Linux):
# a port inside it can be taken by any outgoing connection's local end, and a
# broker then fails to bind at random (CI saw it: SASL_SSL on 49096).
port()      { case "$1" in source) echo 19092 ;; target) echo 29092 ;; secure) echo 14092 ;; esac; }
ctl_port()  { case "$1" in source) echo 19093 ;; target) echo 29093 ;; secure) echo 14093 ;; esac; }
bootstrap() { echo "127.0.0.1:$(port "$1")"; }
dir()       { echo "$BASE/$1"; }
tls_dir()   { echo "$BASE/$1/tls"; }
# The secure cluster's other listeners.
SSL_PORT=14094 SASL_PLAINTEXT_PORT=14095 SASL_SSL_PORT=14096
# Every port a cluster listens on.
ports() {
  echo "$(port "$1") $(ctl_port "$1")"
  [[ $1 == secure ]] && echo "$SSL_PORT $SASL_PLAINTEXT_PORT $SASL_SSL_PORT $(idp_ports)"
  return 0
}

require_cache() {
  [[ -f "$LIBS/.resolved" && -x "$BIN/kafka-storage" ]] ||
    die "Kafka jars not found in $LIBS -- run scripts/setup.sh first"
}

# Prints the broker pid if it is running (pid file + live kafka.Kafka process).
pid_of() {
  local pf pid
  pf="$(dir "$1")/kafka.pid"
  [[ -f "$pf" ]] || return 1
  pid="$(cat "$pf")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}


# True when the broker answers a metadata request and lists itself (and, for
# the secure cluster, all its listeners accept connections).
answers() {
  local bs p
  bs="$(bootstrap "$1")"
  if command -v kcat >/dev/null; then
    kcat -L -b "$bs" -m 5 2>/dev/null | grep -q '^ *1 brokers:' || return 1
  else
    "$BIN/kafka-topics" --bootstrap-server "$bs" --list >/dev/null 2>&1 || return 1
  fi
  for p in $(ports "$1"); do port_open "$p" || return 1; done
}

# The secure cluster's certificates, made once with openssl (kept across
# restarts; start --fresh / stop --clean remove them with the directory).
make_certs() {
  local t
  t="$(tls_dir "$1")"
  [[ -f "$t/.complete" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (needed for the secure cluster's certificates)"
  rm -rf "$t" && mkdir -p "$t"
  (
    set -e
    cd "$t"
    exec >"$t/openssl.log" 2>&1
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=kafka-backup test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    # sign NAME SUBJECT EXTENSIONS: NAME.key (PKCS#8, unencrypted) + NAME.crt signed by the CA.
    sign() {
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -days 3650 -in "$1.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -extfile "$1.ext" -out "$1.crt"
      rm -f "$1.csr" "$1.ext"
    }
    sign broker "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
    sign client "/CN=kafka-backup-client" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
    # The broker's PEM keystore: Kafka wants the key encrypted (ssl.key.password).
    openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in broker.key -passout "pass:$BROKER_KEY_PASSWORD" -out broker-encrypted.key
    cat broker-encrypted.key broker.crt ca.crt >broker.pem
    # The client key again, encrypted: exercises ssl_key_password.
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in client.key -passout "pass:$CLIENT_KEY_PASSWORD" -out client-encrypted.key
    openssl verify -CAfile ca.crt broker.crt client.crt
  ) || { cat "$t/openssl.log" >&2; die "$1: making the certificates with openssl failed (log: $t/openssl.log)"; }
  chmod 600 "$t"/*.key "$t/broker.pem"
  touch "$t/.complete"
  say "$1: made a CA, a broker and a client certificate in $t"
}

# The secure cluster's extra listeners, TLS and SASL settings.
secure_config() {
  local t jaas_plain jaas_scram jaas_msk l
  t="$(tls_dir "$1")"
  jaas_plain="org.apache.kafka.common.security.plain.PlainLoginModule required user_$PLAIN_USER=\"$PLAIN_PASSWORD\";"
  jaas_scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  jaas_msk="org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required"
  # (the sub claim: the broker's own login token, which nothing checks)
  jaas_msk+=" unsecuredLoginStringClaim_sub=\"broker\""
  jaas_msk+=" accessKeyId=\"$MSK_ACCESS_KEY_ID\" secretAccessKey=\"$MSK_SECRET_ACCESS_KEY\" region=\"$MSK_REGION\";"
  cat <<EOF

# TLS (PEM keystore and truststore, KIP-651), for the SSL and SASL_SSL listeners.
ssl.keystore.type=PEM
ssl.keystore.location=$t/broker.pem
ssl.key.password=$BROKER_KEY_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$t/ca.crt
# The SSL listener requires a client certificate signed by the CA (mTLS);
# SASL_SSL authenticates the client with SASL only.
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none

# SASL: PLAIN users in the JAAS config, SCRAM users in the cluster metadata
# (added by kafka-storage format --add-scram); OAUTHBEARER tokens are AWS MSK
# IAM tokens, checked by tests/peer/MskIamValidator.java with the test key.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
EOF
  for l in sasl_plaintext sasl_ssl; do
    echo "listener.name.$l.plain.sasl.jaas.config=$jaas_plain"
    echo "listener.name.$l.scram-sha-256.sasl.jaas.config=$jaas_scram"
    echo "listener.name.$l.scram-sha-512.sasl.jaas.config=$jaas_scram"
    echo "listener.name.$l.oauthbearer.sasl.jaas.config=$jaas_msk"
    echo "listener.name.$l.oauthbearer.sasl.server.callback.handler.class=MskIamValidator"
  done
}

write_config() {
  local name="$1" d listeners advertised map
  d="$(dir "$name")"
  mkdir -p "$d/data"
  listeners="PLAINTEXT://127.0.0.1:$(port "$name")"
  map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ $name == secure ]]; then
    listeners+=",SSL://127.0.0.1:$SSL_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PLAINTEXT_PORT"
    listeners+=",SASL_SSL://127.0.0.1:$SASL_SSL_PORT$(idp_listeners)"
    map+=",SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL$(idp_protocol_map)"
  fi
  advertised="$listeners"
  cat >"$d/server.properties" <<EOF
# Generated by scripts/kafka-clusters.sh -- single-node KRaft test cluster "$name".
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$(ctl_port "$name")
listeners=$listeners,CONTROLLER://127.0.0.1:$(ctl_port "$name")
advertised.listeners=$advertised
listener.security.protocol.map=$map
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$d/data

# Single node: internal topics with replication factor 1 (and few partitions,
# so the first group/transaction use is quick).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
# Transactions past their timeout are aborted within a second (default 10 s):
# the test of a throttled restore's transaction age sees the abort at once.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.partitions=1
# No time-based deletion by default: tests use old timestamps (even 0), which
# the default 7-day retention would delete within minutes.  Topics that want
# retention set retention.ms themselves.
log.retention.ms=-1

# Compaction runs soon after a segment rolls, so tests can observe it.
log.cleaner.backoff.ms=1000
log.cleaner.dedupe.buffer.size=33554432
# Room for ~1 MiB records plus headers/batch overhead (default is ~1 MiB total).
message.max.bytes=10485760
replica.fetch.max.bytes=10485760
EOF
  if [[ $name == secure ]]; then
    secure_config "$name" >>"$d/server.properties"
    idp_broker_config "$name" >>"$d/server.properties"
  fi
  # Broker logs (INFO) go to stdout, which is appended to server.log.
  cat >"$d/log4j2.properties" <<'EOF'
status = error
name = kafka-backup-broker
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
}

# Formats the storage once (new random cluster id per cluster).
format_storage() {
  local name="$1" d id extra=()
  d="$(dir "$name")"
  [[ -f "$d/data/meta.properties" ]] && return 0
  id="$("$BIN/kafka-storage" random-uuid)"
  if [[ $name == secure ]]; then
    extra=(--add-scram "SCRAM-SHA-256=[name=$SCRAM256_USER,password=$SCRAM256_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=$SCRAM512_USER,password=$SCRAM512_PASSWORD]")
  fi
  "$BIN/kafka-storage" format -t "$id" -c "$d/server.properties" "${extra[@]}" >"$d/format.log" 2>&1 ||
    { cat "$d/format.log" >&2; die "$name: kafka-storage format failed"; }
  echo "$id" >"$d/cluster.id"
  say "$name: formatted storage, cluster id $id"
}

launch() {
  local name="$1" d extra=""
  d="$(dir "$name")"
  [[ $name == secure ]] && extra="$(idp_jvm_flags "$name")"
  [[ -f "$d/server.log" ]] && mv -f "$d/server.log" "$d/server.log.prev"
  # setsid: own session, survives the calling shell; bash writes its own pid
  # and execs java, so the pid file holds the JVM's pid.
  # shellcheck disable=SC2086,SC2016
  "${SERVICE_SPAWN[@]}" "$d/kafka.pid" \
    java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true $extra \
    -Dlog4j2.configurationFile="$d/log4j2.properties" \
    -cp "$LIBS/*:$ROOT/.cache/peer" kafka.Kafka "$d/server.properties" \
    >>"$d/server.log" 2>&1 </dev/null &
}

# Waits until the broker answers; on timeout/crash prints the log tail and fails.
wait_ready() {
  local name="$1" deadline=$(($2 + START_TIMEOUT)) d
  d="$(dir "$name")"
  until answers "$name"; do
    # (grace period: the pid file is written by the launched process itself)
    if ! pid_of "$name" >/dev/null && ((SECONDS > $2 + 3)); then
      tail -n 40 "$d/server.log" >&2 || true
      die "$name: broker process exited (log: $d/server.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$d/server.log" >&2 || true
      die "$name: not answering at $(bootstrap "$name") after ${START_TIMEOUT}s (log: $d/server.log;" \
        "process left running for inspection: scripts/kafka-clusters.sh stop $name)"
    fi
    sleep 0.5
  done
  say "$name: up at $(bootstrap "$name") (pid $(pid_of "$name"), ${SECONDS}s)"
}

cmd_start() {
  require_cache
  local name pid p to_start=() pids=()
  for name in "${NAMES[@]}"; do
    if pid="$(pid_of "$name")"; then
      if ((FRESH)); then
        cmd_stop_one "$name" 1
      else
        say "$name: already running (pid $pid) at $(bootstrap "$name")"
        continue
      fi
    else
      # (a broker that died leaves its identity providers running: restarted below)
      if [[ $name == secure ]]; then idp_stop "$name"; fi
      if ((FRESH)); then rm -rf "$(dir "$name")"; fi
    fi
    for p in $(ports "$name"); do
      port_open "$p" && die "$name: port $p is in use by another process (not started by this script?)"
    done
    to_start+=("$name")
  done
  ((${#to_start[@]})) || return 0

  # Format (one JVM each) in parallel, then launch all.
  for name in "${to_start[@]}"; do
    if [[ $name == secure ]]; then
      make_certs "$name"
      idp_prepare "$name"
      idp_start "$name"
    fi
    write_config "$name"
    format_storage "$name" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  local t0=$SECONDS
  for name in "${to_start[@]}"; do
    launch "$name"
    say "$name: starting (logs: $(dir "$name")/server.log)"
  done
  for name in "${to_start[@]}"; do wait_ready "$name" "$t0"; done
}

# cmd_stop_one NAME CLEAN(0|1): SIGTERM, wait, SIGKILL.
cmd_stop_one() {
  local name="$1" clean="$2" pid d
  d="$(dir "$name")"
  if pid="$(pid_of "$name")"; then
    terminate "$pid" "$STOP_TIMEOUT" "$name"
    say "$name: stopped (pid $pid)"
  else
    say "$name: not running"
    port_open "$(port "$name")" && say "$name: WARNING port $(port "$name") is in use by a process without our pid file"
  fi
  rm -f "$d/kafka.pid"
  [[ $name == secure ]] && idp_stop "$name"
  if ((clean)); then
    rm -rf "$d"
    say "$name: removed $d"
  fi
}

cmd_stop() {
  local name pid pids=() rc=0
  for name in "${NAMES[@]}"; do cmd_stop_one "$name" "$CLEAN" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  return $rc
}

cmd_status() {
  local name pid rc=0
  for name in "${NAMES[@]}"; do
    pid="$(pid_of "$name" || echo none)"
    if answers "$name"; then
      say "$name: answering at $(bootstrap "$name") (pid $pid, data $(dir "$name"))"
    else
      say "$name: NOT answering at $(bootstrap "$name") (pid $pid)"
      rc=1
    fi
  done
  return $rc
}

cmd_env() {
  local name
  local t
  for name in "${NAMES[@]}"; do
    echo "export KB_${name^^}_BOOTSTRAP=$(bootstrap "$name")"
    if [[ $name == secure ]]; then
      t="$(tls_dir "$name")"
      cat <<EOF
export KB_SECURE_SSL_BOOTSTRAP=127.0.0.1:$SSL_PORT
export KB_SECURE_SASL_PLAINTEXT_BOOTSTRAP=127.0.0.1:$SASL_PLAINTEXT_PORT
export KB_SECURE_SASL_SSL_BOOTSTRAP=127.0.0.1:$SASL_SSL_PORT
export KB_SECURE_CA=$t/ca.crt
export KB_SECURE_CLIENT_CERT=$t/client.crt
export KB_SECURE_CLIENT_KEY=$t/client.key
export KB_SECURE_CLIENT_KEY_ENCRYPTED=$t/client-encrypted.key
export KB_SECURE_CLIENT_KEY_PASSWORD=$CLIENT_KEY_PASSWORD
export KB_SECURE_PLAIN_USER=$PLAIN_USER
export KB_SECURE_PLAIN_PASSWORD=$PLAIN_PASSWORD
export KB_SECURE_SCRAM256_USER=$SCRAM256_USER
export KB_SECURE_SCRAM256_PASSWORD=$SCRAM256_PASSWORD
export KB_SECURE_SCRAM512_USER=$SCRAM512_USER
export KB_SECURE_SCRAM512_PASSWORD=$SCRAM512_PASSWORD
export KB_SECURE_MSK_ACCESS_KEY_ID=$MSK_ACCESS_KEY_ID
export KB_SECURE_MSK_SECRET_ACCESS_KEY=$MSK_SECRET_ACCESS_KEY
export KB_SECURE_MSK_REGION=$MSK_REGION
EOF
      idp_env "$name"
    fi
  done
  echo "export PATH=$BIN:\$PATH"
}

main() {
  local cmd="${1:-}" a
  [[ $# -gt 0 ]] && shift
  FRESH=0 CLEAN=0 NAMES=()
  for a in "$@"; do
    case "$cmd:$a" in
      *:source | *:target | *:secure) NAMES+=("$a") ;;
      start:--fresh) FRESH=1 ;;
      stop:--clean) CLEAN=1 ;;
      *) usage ;;
    esac
  done
  ((${#NAMES[@]})) || NAMES=("${ALL[@]}")
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) usage ;;
  esac
}

main "$@"
