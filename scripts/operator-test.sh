#!/usr/bin/env bash
# The operator's checks (operator/, Go): its generated files (DeepCopy, CRDs,
# RBAC, by operator/hack/generate.sh) match its Go types, gofmt and go vet are
# clean, and its tests pass: unit tests, and envtest against Kubernetes's own
# API server, etcd and controller manager (scripts/operator-testbin.sh builds
# them) with Jobs run by the real binary against the local Kafka clusters and
# S3 server. scripts/test.sh calls it with the servers up and their env set.
#
# Usage: scripts/operator-test.sh [go test arguments, e.g. -run TestSeed -v]
#
# Environment:
#   KAFKA_BACKUP_BIN   the binary the Jobs run (default build/kafka-backup)
#   KB_OPERATOR_TEST_LOG=1  the operator's own log on stderr
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[operator] %s\n' "$*"; }
die() { printf '[operator] ERROR: %s\n' "$*" >&2; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export KUBEBUILDER_ASSETS
KUBEBUILDER_ASSETS="$(bash "$ROOT/scripts/operator-testbin.sh" --print-dir)" ||
  die "no API server to test against: run scripts/setup.sh (or scripts/operator-testbin.sh)"
export KAFKA_BACKUP_BIN="${KAFKA_BACKUP_BIN:-$ROOT/build/kafka-backup}"
# The chart's rendering is checked against the Kubernetes schemas it carries.
export KB_KUBERNETES_VALIDATE="${KB_KUBERNETES_VALIDATE:-$ROOT/.cache/deploy/venv/bin/kubernetes-validate}"
[[ -x "$KAFKA_BACKUP_BIN" ]] || die "no binary at $KAFKA_BACKUP_BIN: run scripts/build.sh"

cd "$ROOT/operator"
digest() { find api config ../charts/kafka-backup-operator/crds ../charts/kafka-backup-operator/files -type f -print0 | sort -z | xargs -0 sha256sum; }
before="$(digest)"
bash hack/generate.sh
after="$(digest)"
[[ "$before" == "$after" ]] || die "the generated files did not match the Go types (operator/hack/generate.sh just
rewrote them; review and commit):
$(diff <(echo "$before") <(echo "$after") | sed -n 's/^> //p')"
unformatted="$(gofmt -l .)"
[[ -z "$unformatted" ]] || die "not gofmt'd (gofmt -w operator/): $unformatted"
go vet ./...
say "go test"
go test -count=1 "$@" ./...
