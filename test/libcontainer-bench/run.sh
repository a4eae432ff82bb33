#!/bin/sh
# Build and run the libcontainer start-cost benchmark. Must run as root.
# Usage: ./run.sh [-n 50] [-check]
set -eu
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
bin="$(mktemp -d)/libcontainer-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
CGO_ENABLED=1 go build -o "$bin" .
"$bin" "$@"
