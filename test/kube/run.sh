#!/usr/bin/env bash
# The Kubernetes end-to-end test (make test-kube): builds the control plane
# (test/kube/build.sh: about 17 minutes the first time, then cached outside
# the repository), then runs every test under test/kube with
# PODVISOR_KUBE_BIN naming its binaries. Extra arguments go to go test
# (e.g. -run TestControlPlane).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Go, found as the Makefile finds it (make passes GO); Go 1.26 is needed.
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
command -v "$GO" >/dev/null || { echo "test/kube/run.sh: no go command (set GO)" >&2; exit 1; }
if ! "$GO" version | grep -qE 'go1\.(2[6-9]|[3-9][0-9])'; then
  export GOTOOLCHAIN=go1.26.8
fi
export GO

bin=$(test/kube/build.sh | tail -n 1) || { echo "test/kube/run.sh: building the control plane failed" >&2; exit 1; }
[ -x "$bin/kube-apiserver" ] || { echo "test/kube/run.sh: build.sh printed no bin directory ($bin)" >&2; exit 1; }
export PODVISOR_KUBE_BIN=$bin
echo "# PODVISOR_KUBE_BIN=$PODVISOR_KUBE_BIN"
exec "$GO" test -count=1 -v -timeout 30m "$@" ./test/kube/...
