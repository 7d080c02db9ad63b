# kafka-backup container image (docs/deploy.md).
#
#   docker build -t kafka-backup:0.1.0 .
#   docker run --rm kafka-backup:0.1.0 --help
#
# The build stage runs the project's own scripts, the same ones CI runs
# (scripts/test.sh: scripts/setup.sh, then scripts/build.sh release), so a change
# that breaks the image's build breaks CI too.  tests/integration/test_deploy.py
# runs both script steps as written (build.sh with cmake and ninja recorded, not
# run) and checks the runtime packages against the binary's shared libraries.

# ------------------------------------------------------------------ build
FROM debian:12 AS build
WORKDIR /src
# The scripts alone first: the packages layer is rebuilt only when they change.
COPY scripts/ scripts/
RUN bash scripts/setup.sh --build-only
COPY . .
RUN bash scripts/build.sh release
# The release build carries debug info (RelWithDebInfo, ~75 MB); the image gets
# the stripped binary (~2 MB).
RUN strip --strip-unneeded -o /kafka-backup build/kafka-backup

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
# The shared libraries of build/kafka-backup (`ldd`, mapped to packages with
# `dpkg -S`; their dependencies come along), and CA certificates for TLS to Kafka
# (SASL_SSL) and to the object stores; kinit and the GSSAPI plugin for Kerberos
# (sasl_mechanism GSSAPI).  Not pinned to versions: Debian 12's
# security updates replace them, and a pinned version disappears from the mirrors.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        krb5-user \
        libcurl4 \
        libfmt9 \
        liblz4-1 \
        libprometheus-cpp-core1.0 \
        libprometheus-cpp-pull1.0 \
        libsasl2-2 \
        libsasl2-modules-gssapi-mit \
        libspdlog1.10 \
        libssl3 \
        libstdc++6 \
        libtinyxml2-9 \
        libxxhash0 \
        libyaml-cpp0.7 \
        libzstd1 \
        zlib1g \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 kafka-backup \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin kafka-backup
COPY --from=build /kafka-backup /usr/local/bin/kafka-backup
# Numeric, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
# Prometheus metrics and /health, when started with --metrics-port 9400.
EXPOSE 9400
ENTRYPOINT ["/usr/local/bin/kafka-backup"]
CMD ["--help"]
