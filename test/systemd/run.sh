#!/usr/bin/env bash
# podvisor under a real systemd, booted as PID 1 of a container
# (systemd-nspawn), driven through the installed units. Run as root from the
# repository (make test-systemd). Prints "N passed, N failed"; exits 1 on
# any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
CACHE=${PODVISOR_TEST_CACHE:-/var/cache/podvisor-test}
ROOTFS=$CACHE/bookworm-net
pass=0 fail=0
ok()   { pass=$((pass+1)); echo "ok   - $*"; }
bad()  { fail=$((fail+1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

[ "$(id -u)" = 0 ] || { echo "test-systemd needs root"; exit 1; }
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || { echo "cannot install ${need[*]}"; exit 1; }
fi

# The root filesystem, made once and cached outside the repository.
if [ ! -x "$ROOTFS/lib/systemd/systemd" ]; then
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2; exit}')
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "# debootstrap bookworm from $mirror (about a minute)"
  mkdir -p "$CACHE"; rm -rf "$ROOTFS.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps,iproute2 bookworm "$ROOTFS.tmp" "$mirror" >/dev/null || { echo "debootstrap failed"; exit 1; }
  mv "$ROOTFS.tmp" "$ROOTFS"
fi

RUN=$(mktemp -d /var/tmp/podvisor-systemd.XXXXXX)
MACHINE=$RUN/root
CG=podvisor-systemd-test-$$
NSPAWN=
cleanup() {
  if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
    kill -TERM "$NSPAWN" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.2; done
  fi
  # Kill and remove what nspawn left in the test's own cgroup.
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/*/; do
    d=${h%/}/$CG
    [ -d "$d" ] || continue
    [ -f "$d/cgroup.kill" ] && echo 1 > "$d/cgroup.kill" 2>/dev/null
    for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    sleep 0.2
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  umount -R "$MACHINE" 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

echo "# copying the root filesystem and installing podvisor into it"
cp -a "$ROOTFS" "$MACHINE"
make -s install DESTDIR="$MACHINE" PREFIX=/usr/local >/dev/null
chroot "$MACHINE" groupadd --system podvisor
cp test/systemd/pod.yaml "$MACHINE/root/pod.yaml"
cp test/systemd/up.yaml "$MACHINE/root/up.yaml"
# A watchdog period short enough to test (the shipped unit says 30s).
mkdir -p "$MACHINE/etc/systemd/system/podvisor.service.d"
printf '[Service]\nWatchdogSec=3s\n' > "$MACHINE/etc/systemd/system/podvisor.service.d/watchdog.conf"

# Boot, in a cgroup of our own.
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/*/; do
  h=${h%/}; [ -f "$h/cgroup.procs" ] || continue
  mkdir -p "$h/$CG" 2>/dev/null
done
(
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup/*/; do
    h=${h%/}; [ -f "$h/$CG/cgroup.procs" ] && echo $BASHPID > "$h/$CG/cgroup.procs" 2>/dev/null
  done
  # A network namespace of the container's own, where the daemon makes its
  # bridge and rules; CAP_NET_ADMIN there: it sets up the pods' networks.
  exec systemd-nspawn --keep-unit --register=no -q -b -D "$MACHINE" --console=passive --private-network --capability=CAP_NET_ADMIN
) > "$RUN/console.log" 2>&1 &
NSPAWN=$!
# The container's PID 1 is the child of nspawn that runs systemd: nspawn
# forks a short-lived helper first, which must not be taken for it.
LEADER=
for _ in $(seq 100); do
  for c in $(pgrep -P "$NSPAWN"); do
    if [ "$(cat /proc/$c/comm 2>/dev/null)" = systemd ]; then LEADER=$c; break; fi
  done
  [ -n "$LEADER" ] && break
  sleep 0.1
done
[ -n "$LEADER" ] || { echo "container did not start"; cat "$RUN/console.log"; exit 1; }
ct() { nsenter -t "$LEADER" -a -- env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
for _ in $(seq 100); do
  state=$(ct systemctl is-system-running 2>/dev/null)
  case $state in running|degraded) break ;; esac
  sleep 0.2
done
echo "# container booted ($state)"

# 1. The units verify without a word.
out=$(ct systemd-analyze verify /etc/systemd/system/podvisor.service /etc/systemd/system/podvisor.socket 2>&1)
check "systemd-analyze verify prints nothing" test -z "$out"
[ -n "$out" ] && echo "$out" | sed 's/^/#   /'

prop() { ct systemctl show -p "$2" --value "$1"; }
has_status() { ct systemctl show -p StatusText --value podvisor.service | grep -q 'pods running'; }
pod_running() { ct podvisor inspect sdpod 2>/dev/null | grep -q '"phase": "Running"'; }
journal_has_pod() { ct journalctl -u podvisor.service POD=sdpod --no-pager -q | grep -q started; }
gone() { ! ct kill -0 "$1" 2>/dev/null; }
pids_of() { ct podvisor inspect sdpod | awk -F: '/"pid"/{gsub(/[ ,]/,"",$2); printf "%s ", $2}'; }

# 2. start returns once READY=1 was sent and the API answers.
ct systemctl enable podvisor.socket podvisor.service >/dev/null 2>&1
check "systemctl start podvisor succeeds" ct systemctl start podvisor.service
check "the API answers as soon as start returned" ct podvisor version --socket /run/podvisor/podvisor.sock
check "unit is active" test "$(prop podvisor.service ActiveState)" = active
check "status line reported" has_status

# 3. A pod through the CLI, inside the unit's delegated cgroup.
check "podvisor run" ct podvisor run /root/pod.yaml
cg=$(ct podvisor inspect sdpod | awk -F'"' '/"cgroup"/{print $4}')
unitcg=$(prop podvisor.service ControlGroup)
check "the pod's cgroup is inside the unit's ($cg in $unitcg)" test "${cg#"$unitcg"/}" != "$cg"
check "journal entries carry POD=" journal_has_pod
podip() { ct podvisor inspect sdpod 2>/dev/null | awk -F'"' '/"podIP"/{print $4; exit}'; }
ip1=$(podip)
check "the pod has an address on the default bridge ($ip1)" test "${ip1#10.77.}" != "$ip1"
netns_has_ip() { ct ip netns exec sdpod ip -4 -o addr show eth0 | grep -q " $ip1/"; }
check "ip netns exec sdpod shows it on eth0" netns_has_ip

# 4. reload leaves the pod's processes alone.
before=$(pids_of)
check "systemctl reload" ct systemctl reload podvisor.service
sleep 0.5
check "same pids after reload ($before)" test "$(pids_of)" = "$before"
check "still active after reload" test "$(prop podvisor.service ActiveState)" = active

# 5. The watchdog keeps the unit alive over several periods.
restarts=$(prop podvisor.service NRestarts)
sleep 8
check "watchdog keeps the unit active (3s period, 8s)" test "$(prop podvisor.service ActiveState)" = active
check "no restart meanwhile" test "$(prop podvisor.service NRestarts)" = "$restarts"

# 6. A wedged daemon is restarted by systemd.
main=$(prop podvisor.service MainPID)
ct kill -STOP "$main"
for _ in $(seq 60); do
  [ "$(prop podvisor.service NRestarts)" != "$restarts" ] && [ "$(prop podvisor.service ActiveState)" = active ] && break
  sleep 0.5
done
check "a stopped (wedged) daemon is restarted by the watchdog" test "$(prop podvisor.service NRestarts)" != "$restarts"
check "with a new main pid" test "$(prop podvisor.service MainPID)" != "$main"
for _ in $(seq 50); do pod_running && break; sleep 0.2; done
check "the pod runs again after the restart" pod_running
check "and keeps its address ($(podip))" test "$(podip)" = "$ip1"

# 7. stop: TERM, the pod's grace, KILL; nothing left in the unit's cgroup.
stubborn=$(ct podvisor inspect sdpod | awk -F: '/"name": "stubborn"/{f=1} f&&/"pid"/{gsub(/[ ,]/,"",$2); print $2; exit}')
t0=$(date +%s%N)
check "systemctl stop" ct systemctl stop podvisor.service
t1=$(date +%s%N)
ms=$(( (t1-t0)/1000000 ))
check "stop waited for the TERM-ignoring process's grace (${ms} ms >= 3000)" test "$ms" -ge 2900
check "stop did not wait much longer (${ms} ms < 15000)" test "$ms" -lt 15000
check "the TERM-ignoring process ($stubborn) is gone" gone "$stubborn"
left=$(ct sh -c "find /sys/fs/cgroup/unified$unitcg /sys/fs/cgroup$unitcg -name cgroup.procs -exec cat {} + 2>/dev/null" | wc -w)
check "no process left in the unit's cgroup ($left)" test "$left" = 0

# 8. start again brings the pod back.
check "systemctl start again" ct systemctl start podvisor.service
for _ in $(seq 50); do pod_running && break; sleep 0.2; done
check "the pod is back after start" pod_running

# 9. Socket activation: with only the socket, the first call starts the daemon.
ct systemctl stop podvisor.service podvisor.socket
ct systemctl start podvisor.socket
check "daemon inactive, socket listening" test "$(prop podvisor.service ActiveState)" != active
check "the first CLI call is answered" ct podvisor ps
check "and started the daemon" test "$(prop podvisor.service ActiveState)" = active

if [ "$fail" -gt 0 ]; then
  echo "# the daemon's journal (last 80 lines), for the failures above:"
  ct journalctl -u podvisor.service --no-pager -q -o short-monotonic 2>/dev/null | grep -v "^\S* vm podvisor\[[0-9]*\]: \(	\|  \|r[a-z0-9]* \|goroutine \|runtime\.\|[a-z]*\.\|github\|golang\|syscall\|internal\|created by\)" | tail -80 | sed 's/^/#   /'
  echo "# podvisor's mounts in the container:"
  ct grep podvisor /proc/self/mountinfo | sed 's/^/#   /'
fi
ct podvisor rm -f sdpod >/dev/null 2>&1
ct systemctl stop podvisor.service podvisor.socket >/dev/null 2>&1

# 10. One unit per pod: podvisor generate systemd, run by podvisor up.
ct sh -c 'podvisor generate systemd /root/up.yaml > /etc/systemd/system/podvisor-solo.service'
out=$(ct systemd-analyze verify /etc/systemd/system/podvisor-solo.service 2>&1)
check "the generated unit verifies without a word" test -z "$out"
[ -n "$out" ] && echo "$out" | sed 's/^/#   /'
ct systemctl daemon-reload
check "systemctl start podvisor-solo (up says READY=1)" ct systemctl start podvisor-solo.service
check "it is active" test "$(prop podvisor-solo.service ActiveState)" = active
solocg=$(prop podvisor-solo.service ControlGroup)
solo_in_unit() { ct sh -c "find /sys/fs/cgroup/unified$solocg/pods /sys/fs/cgroup$solocg/pods -name cgroup.procs -exec cat {} + 2>/dev/null; true" | grep -q .; }
check "the pod's process runs in the unit's cgroup" solo_in_unit
check "systemctl stop podvisor-solo" ct systemctl stop podvisor-solo.service
left=$(ct sh -c "find /sys/fs/cgroup/unified$solocg /sys/fs/cgroup$solocg -name cgroup.procs -exec cat {} + 2>/dev/null" | wc -w)
check "nothing left in its cgroup ($left)" test "$left" = 0
echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
