#!/usr/bin/env bash
# Regenerate what controller-gen derives from the Go types and markers: the
# DeepCopy methods (api/v1alpha1/zz_generated.deepcopy.go), the CRDs
# (config/crd/bases) and the operator's ClusterRole (config/rbac/role.yaml),
# then copy the CRDs and the rules into the Helm chart. The outputs are checked
# in; scripts/operator-test.sh runs this and fails when it changed them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
go tool controller-gen object paths=./api/...
go tool controller-gen crd:maxDescLen=400 rbac:roleName=kafka-backup-operator paths=./... \
  output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
# The Helm chart installs the same CRDs and grants the same rules.
chart=../charts/kafka-backup-operator
rm -f "$chart"/crds/*.yaml
cp config/crd/bases/*.yaml "$chart/crds/"
cp config/rbac/role.yaml "$chart/files/role.yaml"
