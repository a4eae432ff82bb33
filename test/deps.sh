#!/usr/bin/env bash
# Installs what the root integration tests use and the machine may lack:
# Debian's CNI plugins (bridge, host-local, portmap: the CNI network tests)
# and iproute2 (ip netns). Waits for the dpkg lock rather than failing on it.
set -euo pipefail
[ "$(id -u)" = 0 ] || exit 0 # the root tests skip without root anyway
need=()
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
command -v getent >/dev/null || need+=(libc-bin)
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || { echo "# test deps: no apt-get; missing: ${need[*]} (their tests skip)"; exit 0; }
echo "# installing test dependencies: ${need[*]}"
apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${need[@]}" >/dev/null
