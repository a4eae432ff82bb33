#!/usr/bin/env bash
# Builds the control plane of the Kubernetes end-to-end test from source:
# kube-apiserver, kube-scheduler, kube-controller-manager and kubectl
# (k8s.io/kubernetes, through the module in test/kube/build) and etcd
# (go.etcd.io/etcd/server/v3), into a cache outside the repository:
#
#   ${PODVISOR_KUBE_CACHE:-/var/cache/podvisor-kube}/<version>/bin
#
# The build's module and build caches live in the same cache directory. A
# cold build takes about 17 minutes on 2 cores and leaves about 5 GB there;
# once the binaries are there with a stamp matching the pinned versions and
# sources, it does nothing. The bin directory is the last line of stdout (the
# only one: progress goes to stderr), so: BIN=$(test/kube/build.sh).
#
# Environment: PODVISOR_KUBE_CACHE (the cache directory), GO (the go
# command, as in the Makefile), PODVISOR_KUBE_NICE (the build's niceness,
# default 10).
set -euo pipefail

# The pinned versions; test/kube/build/go.mod must say the same.
K8S_VERSION=v1.37.2   # k8s.io/kubernetes; its staging modules are v0.37.2
ETCD_VERSION=v3.7.3   # go.etcd.io/etcd/server/v3
GO_MIN_TOOLCHAIN=go1.26.8

cd "$(dirname "$0")/../.."
SRC=test/kube/build
CACHE=${PODVISOR_KUBE_CACHE:-/var/cache/podvisor-kube}
DIR=$CACHE/$K8S_VERSION
BIN=$DIR/bin
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd)

die() { echo "test/kube/build.sh: FAILED: $*" >&2; exit 1; }
log() { echo "# kube build: $*" >&2; }

# The version stamped into the binaries (as Kubernetes' own build does), so
# that `kubectl version` reports the release on both sides.
ldflags="-s -w"
major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

# What the binaries are made of: the pinned versions, the module's files and
# the link flags. Any change means a rebuild.
stamp() {
  echo "kubernetes $K8S_VERSION"
  echo "etcd $ETCD_VERSION"
  (cd "$SRC" && sha256sum go.mod go.sum tools.go etcd/main.go)
  echo "ldflags $ldflags"
}
want=$(stamp) || die "cannot read the build module in $SRC"

up_to_date() {
  local b
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
  [ -f "$BIN/.stamp" ] && [ "$(cat "$BIN/.stamp")" = "$want" ]
}
if up_to_date; then
  echo "$BIN"
  exit 0
fi

# The module must pin what this script says.
grep -qE "^[[:space:]]*k8s.io/kubernetes $K8S_VERSION\$" "$SRC/go.mod" ||
  die "$SRC/go.mod does not require k8s.io/kubernetes $K8S_VERSION"
grep -qE "^[[:space:]]*go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$SRC/go.mod" ||
  die "$SRC/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
staging=v0.${K8S_VERSION#v1.}
if grep -E '^[[:space:]]*k8s.io/[a-z0-9-]+ => ' "$SRC/go.mod" | grep -vqE "=> k8s.io/[a-z0-9-]+ $staging\$"; then
  die "$SRC/go.mod replaces a staging module with a version other than $staging"
fi

# Go, found as the Makefile finds it; Go 1.26 is needed (an older go command,
# 1.21 or newer, fetches that toolchain through the module proxy, as .ci/run
# does).
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
command -v "$GO" >/dev/null || die "no go command (looked for go on PATH and /usr/local/go/bin/go; set GO)"
if ! "$GO" version | grep -qE 'go1\.(2[6-9]|[3-9][0-9])'; then
  export GOTOOLCHAIN=$GO_MIN_TOOLCHAIN
fi

mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] ||
  die "cannot write the cache directory $CACHE (run as root, or set PODVISOR_KUBE_CACHE to a writable directory outside the repository)"

# One build at a time in a cache (a second caller waits, then finds the
# stamp).
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.lock"
  flock -n 9 || { log "waiting for another build in $CACHE"; flock 9; }
  if up_to_date; then echo "$BIN"; exit 0; fi
fi

avail_kb=$(df -Pk "$CACHE" | awk 'NR==2 {print $4}')
if [ -n "$avail_kb" ] && [ "$avail_kb" -lt $((6 * 1024 * 1024)) ] && [ ! -d "$CACHE/go/build" ]; then
  die "less than 6 GiB free in $CACHE ($((avail_kb / 1024)) MiB); a cold build needs about 5 GiB"
fi

# The build's own caches and settings, whatever the caller's are.
export GOMODCACHE=$CACHE/go/mod
export GOCACHE=$CACHE/go/build
export GOTMPDIR=$CACHE/go/tmp # the build's work files (the linker's are large)
export GOFLAGS="-modcacherw -buildvcs=false -mod=readonly"
export CGO_ENABLED=0
unset GOOS GOARCH
export GOWORK=off

# The module's sources are copied into the cache and built there: the build
# writes nothing into the repository.
rm -rf "$DIR/src" "$BIN.tmp" "$GOTMPDIR"
mkdir -p "$DIR/src/etcd" "$BIN.tmp" "$GOTMPDIR"
cp "$SRC/go.mod" "$SRC/go.sum" "$SRC/tools.go" "$DIR/src/"
cp "$SRC/etcd/main.go" "$DIR/src/etcd/"

log "building Kubernetes $K8S_VERSION and etcd $ETCD_VERSION into $BIN"
log "with $("$GO" version); caches in $CACHE/go (a cold build takes about 17 minutes)"
start=$(date +%s)
(
  cd "$DIR/src"
  nice -n "${PODVISOR_KUBE_NICE:-10}" "$GO" build -trimpath -ldflags "$ldflags" -o "$BIN.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl \
    ./etcd
) >&2 || die "go build failed (output above); the caches in $CACHE/go are kept, a rerun resumes"

for b in "${BINARIES[@]}"; do
  [ -x "$BIN.tmp/$b" ] || die "go build made no $b"
done
"$BIN.tmp/kubectl" version --client 2>/dev/null | grep -q "Client Version: $K8S_VERSION\$" ||
  die "the built kubectl does not report $K8S_VERSION: $("$BIN.tmp/kubectl" version --client 2>&1 | head -3)"
"$BIN.tmp/etcd" --version 2>/dev/null | grep -q "etcd Version: ${ETCD_VERSION#v}\$" ||
  die "the built etcd does not report ${ETCD_VERSION#v}: $("$BIN.tmp/etcd" --version 2>&1 | head -3)"

echo "$want" > "$BIN.tmp/.stamp"
rm -rf "$BIN" "$DIR/src" "$GOTMPDIR"
mv "$BIN.tmp" "$BIN"
# Binaries of other pinned versions are of no more use.
for old in "$CACHE"/v*; do
  [ "$old" = "$DIR" ] || [ ! -f "$old/bin/.stamp" ] || rm -rf "$old"
done
log "built in $(($(date +%s) - start)) s: $(du -sh "$BIN" | cut -f1) of binaries, $(du -sh "$CACHE/go" | cut -f1) of caches"
echo "$BIN"
