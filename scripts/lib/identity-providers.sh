# Sourced by scripts/kafka-clusters.sh: the identity providers the secure
# cluster's SASL listeners trust, started before its broker and stopped after it.
#
#   OIDC   scripts/lib/oidc_issuer.py on 127.0.0.1:$OIDC_ISSUER_PORT: the client
#          credentials grant at /token, the signing key's JWKS at /jwks; the
#          broker's OIDC listener validates its JWTs with Kafka's own
#          OAuthBearerValidatorCallbackHandler. Key made once with openssl.
#
# Everything lives in $(dir secure)/idp/ (removed with the cluster's directory).
# Needs: dir, say, die, port_open from kafka-clusters.sh.

OIDC_LISTENER_PORT=14097 OIDC_ISSUER_PORT=14098
OIDC_CLIENT_ID=kafka-backup OIDC_CLIENT_SECRET=oidc-client-secret-c81d OIDC_AUDIENCE=kafka
# A client whose tokens name another audience: the broker must refuse them.
OIDC_OTHER_CLIENT_ID=kafka-backup-other-audience OIDC_OTHER_AUDIENCE=not-this-kafka
OIDC_ISSUER="http://127.0.0.1:$OIDC_ISSUER_PORT"

idp_dir() { echo "$(dir "$1")/idp"; }

# Ports the providers and their listeners take.
idp_ports() { echo "$OIDC_LISTENER_PORT $OIDC_ISSUER_PORT"; }

# The broker's listeners for the providers (listeners=, protocol map).
idp_listeners() { echo ",OIDC://127.0.0.1:$OIDC_LISTENER_PORT"; }
idp_protocol_map() { echo ",OIDC:SASL_PLAINTEXT"; }

# JVM flags of the broker: Kafka 4 fetches only the OAuth URLs it is allowed to.
idp_jvm_flags() { echo "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=$OIDC_ISSUER/jwks"; }

idp_broker_config() {
  cat <<EOF

# OIDC listener: OAUTHBEARER tokens from the test issuer (scripts/lib/oidc_issuer.py),
# checked by Kafka's own validator against the issuer's JWKS, audience and issuer.
listener.name.oidc.sasl.enabled.mechanisms=OAUTHBEARER
listener.name.oidc.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";
listener.name.oidc.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler
sasl.oauthbearer.jwks.endpoint.url=$OIDC_ISSUER/jwks
sasl.oauthbearer.expected.audience=$OIDC_AUDIENCE
sasl.oauthbearer.expected.issuer=$OIDC_ISSUER
EOF
}

# Keys and databases, made once (kept across restarts).
idp_prepare() {
  local d
  d="$(idp_dir "$1")"
  mkdir -p "$d"
  if [[ ! -f "$d/oidc.key" ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:65537 \
      -out "$d/oidc.key.tmp" 2>"$d/openssl.log" || { cat "$d/openssl.log" >&2; die "$1: making the OIDC key failed"; }
    chmod 600 "$d/oidc.key.tmp" && mv "$d/oidc.key.tmp" "$d/oidc.key"
  fi
}

idp_pid() {
  local pf pid
  pf="$(idp_dir "$1")/$2.pid"
  [[ -f "$pf" ]] && pid="$(cat "$pf")" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

idp_start() {
  local d i
  d="$(idp_dir "$1")"
  if ! idp_pid "$1" oidc >/dev/null; then
    command -v python3 >/dev/null || die "python3 not found (the OIDC issuer is a Python script)"
    setsid python3 "$ROOT/scripts/lib/oidc_issuer.py" --port "$OIDC_ISSUER_PORT" --key "$d/oidc.key" \
      --issuer "$OIDC_ISSUER" --audience "$OIDC_AUDIENCE" --client "$OIDC_CLIENT_ID:$OIDC_CLIENT_SECRET" \
      --client "$OIDC_OTHER_CLIENT_ID:$OIDC_CLIENT_SECRET:$OIDC_OTHER_AUDIENCE" \
      --log "$d/oidc-requests.log" >>"$d/oidc.log" 2>&1 </dev/null &
    echo $! >"$d/oidc.pid"
  fi
  for ((i = 0; i < 100; i++)); do
    port_open "$OIDC_ISSUER_PORT" && break
    idp_pid "$1" oidc >/dev/null || { cat "$d/oidc.log" >&2; die "$1: the OIDC issuer exited (log: $d/oidc.log)"; }
    sleep 0.1
  done
  port_open "$OIDC_ISSUER_PORT" || die "$1: the OIDC issuer does not answer on $OIDC_ISSUER_PORT (log: $d/oidc.log)"
  say "$1: OIDC issuer at $OIDC_ISSUER"
}

idp_stop() {
  local pid p
  for p in oidc; do
    if pid="$(idp_pid "$1" "$p")"; then
      kill -TERM "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$(idp_dir "$1")/$p.pid"
  done
}

idp_env() {
  cat <<EOF
export KB_SECURE_OIDC_BOOTSTRAP=127.0.0.1:$OIDC_LISTENER_PORT
export KB_SECURE_OIDC_TOKEN_ENDPOINT=$OIDC_ISSUER/token
export KB_SECURE_OIDC_CLIENT_ID=$OIDC_CLIENT_ID
export KB_SECURE_OIDC_CLIENT_SECRET=$OIDC_CLIENT_SECRET
export KB_SECURE_OIDC_OTHER_AUDIENCE_CLIENT_ID=$OIDC_OTHER_CLIENT_ID
export KB_SECURE_OIDC_REQUEST_LOG=$(idp_dir "$1")/oidc-requests.log
EOF
}
