#!/usr/bin/env bash
# Build the Kubernetes API server, controller manager and etcd that the
# operator's envtest runs against (operator/hack/testbin: each built unchanged
# from its own module on the Go module proxy, versions pinned in its go.mod),
# and Helm (helm.sh/helm/v4, for the chart's tests), into .cache/testbin/.
# Cached: a second run compares a digest of the module's files and returns in
# milliseconds.  Prints nothing but progress on stderr; scripts/test.sh points
# KUBEBUILDER_ASSETS at the directory.
#
# Usage: scripts/operator-testbin.sh [--print-dir] [--help]
#   --print-dir  print the directory holding the three binaries, and exit
#                (non-zero when they are not built yet)
#
# Environment:
#   GO        the go binary (default: go on PATH, then /usr/local/go/bin/go)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/operator/hack/testbin"
DIR="$ROOT/.cache/testbin"
MARKER="$DIR/.resolved"

say() { printf '[testbin] %s\n' "$*" >&2; }
die() { printf '[testbin] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "${BASH_SOURCE[0]}" | sed '$d'; }

PRINT_DIR=0
for arg in "$@"; do
  case "$arg" in
    --print-dir) PRINT_DIR=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$arg'" ;;
  esac
done

HELM_VERSION=v4.3.2
want="$(cd "$SRC" && echo "helm $HELM_VERSION" | cat - go.mod go.sum */main.go "$ROOT/scripts/operator-testbin.sh" | sha256sum | cut -d' ' -f1)"
built() { [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" && -x "$DIR/kube-apiserver" && -x "$DIR/kube-controller-manager" && -x "$DIR/etcd" && -x "$DIR/helm" ]]; }

if ((PRINT_DIR)); then
  built || die "not built: run scripts/operator-testbin.sh (or scripts/setup.sh)"
  echo "$DIR"
  exit 0
fi
if built; then
  say "kube-apiserver, kube-controller-manager, etcd and helm: cached in .cache/testbin"
  exit 0
fi

GO="${GO:-$(command -v go || true)}"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
[[ -n "$GO" ]] || die "go not found (kube-apiserver and etcd are built from source: needs Go 1.26+)"
say "building kube-apiserver, kube-controller-manager, etcd and helm with $("$GO" env GOVERSION) (first time: minutes)"
t0=$SECONDS
mkdir -p "$ROOT/.cache"
tmp="$(mktemp -d "$ROOT/.cache/testbin.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# -mod=readonly: go.sum is checked in, nothing is resolved anew; CGO off: static
# binaries, no C toolchain involved; -trimpath keeps the build reproducible.
# The API server reports the release it was built from (kubectl version, Helm's
# kubeVersion checks): stamp it from go.mod, as Kubernetes's own build does.
k8s="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$SRC/go.mod")"
[[ "$k8s" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "no k8s.io/kubernetes version in operator/hack/testbin/go.mod"
pkg=k8s.io/component-base/version
ldflags="-s -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=${BASH_REMATCH[1]} -X $pkg.gitMinor=${BASH_REMATCH[2]}"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
for cmd in kube-apiserver kube-controller-manager etcd; do
  if ! (cd "$SRC" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$GO" build -mod=readonly -trimpath \
          -ldflags="$ldflags" -o "$tmp/$cmd" "./$cmd") >"$tmp/go.log" 2>&1; then
    tail -n 40 "$tmp/go.log" >&2
    cp -f "$tmp/go.log" "$ROOT/.cache/testbin-go.log" 2>/dev/null || true
    die "building $cmd failed (full log: .cache/testbin-go.log)"
  fi
done
# Helm, for the chart's tests (helm template, helm install into the test API
# server): its own module, built as its go.mod says.
if ! (cd "$tmp" && GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$GO" install -trimpath -ldflags=-s \
        "helm.sh/helm/v4/cmd/helm@$HELM_VERSION") >"$tmp/go.log" 2>&1; then
  tail -n 40 "$tmp/go.log" >&2
  cp -f "$tmp/go.log" "$ROOT/.cache/testbin-go.log" 2>/dev/null || true
  die "building helm $HELM_VERSION failed (full log: .cache/testbin-go.log)"
fi
"$tmp/helm" version --short >/dev/null || die "the helm just built does not run"
"$tmp/etcd" --version >/dev/null || die "the etcd just built does not run"
"$tmp/kube-apiserver" --version >/dev/null || die "the kube-apiserver just built does not run"
"$tmp/kube-controller-manager" --version >/dev/null || die "the kube-controller-manager just built does not run"
rm -f "$tmp/go.log"
echo "$want" >"$tmp/.resolved"
rm -rf "$DIR"
mv "$tmp" "$DIR"
trap - EXIT
say "kube-apiserver $("$DIR/kube-apiserver" --version | awk '{print $2}'), kube-controller-manager, etcd and helm in .cache/testbin (built in $((SECONDS - t0))s)"
