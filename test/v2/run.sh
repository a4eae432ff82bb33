#!/usr/bin/env bash
# podvisor's root tests on a pure cgroup v2 kernel: Debian's own kernel
# booted in a qemu VM under software emulation (TCG, no kvm needed) with
# systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all, on a Debian root
# filesystem made with debootstrap and cached outside the repository. Our
# test/v2/init.sh is the guest's PID 1: it proves the hierarchy is cgroup2,
# runs the static test binaries and reports on the serial console. The
# guest has no network (-nic none). Run as root from the repository
# (make test-v2); see test/v2/README.md.
#
#   test/v2/run.sh                      the whole plan (below)
#   test/v2/run.sh [-v] NAME[:REGEX]... only these runs of the plan, with
#                                       REGEX as -test.run; -v adds -test.v;
#                                       a NAME given again runs again
#
# Environment: PODVISOR_TEST_CACHE (default /var/cache/podvisor-test),
# PODVISOR_V2_BOUND (seconds before the VM is killed, default 1200),
# PODVISOR_V2_TEST_TIMEOUT (overrides each run's -test.timeout),
# PODVISOR_V2_ARGS (more test flags, such as -test.count=10 to look for a
# flaky test),
# PODVISOR_V2_LOG (the serial console log kept, default
# /var/tmp/podvisor-v2-last.log).
#
# Prints the guest's kernel and cgroup proof, each run's result and time,
# the output of failed runs, and "N passed, N failed" (runs); exits 1 on any
# failure, 2 when the guest did not report.
set -uo pipefail
cd "$(dirname "$0")/../.."
CACHE=${PODVISOR_TEST_CACHE:-/var/cache/podvisor-test}
ROOTFS=$CACHE/v2-bookworm
BOUND=${PODVISOR_V2_BOUND:-1200}
LOG=${PODVISOR_V2_LOG:-/var/tmp/podvisor-v2-last.log}
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
T0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# The plan, one test binary a line: NAME DIR BINARY TIMEOUT -test.run
# [MORE FLAGS] (see test/v2/README.md for what runs and why). DIR is the
# package's directory, where the binary runs (as go test does); BINARY "-"
# is a check that init.sh makes itself. Benchmarks do not run. Skipped:
# two tests that measure timing, not the kernel, and fail now and then
# under emulation (README).
PLAN="cgroups      cgroups                cgroups.test    3m  .
namespaces   namespaces             namespaces.test 3m  .
mounts       mounts                 mounts.test     3m  .
security     security               security.test   3m  .
probe        probe                  probe.test      3m  .
delegation   -                      -               -   -
supervisor   supervisor             supervisor.test 10m .  -test.skip=^TestNoisyNeighbour\$
daemon       supervisor/daemon      daemon.test     5m  .
api-server   supervisor/api/server  server.test     5m  .
embed        examples/embed         embed.test      3m  .
cmd-podvisor cmd/podvisor           podvisor.test   8m  ."

verbose=
sel=()
for a in "$@"; do
  case $a in
    -v) verbose=-test.v ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d'; exit 0 ;;
    *) sel+=("$a") ;;
  esac
done
if [ ${#sel[@]} -gt 0 ]; then
  plan=
  for s in "${sel[@]}"; do
    name=${s%%:*} re=
    [ "$name" != "$s" ] && re=${s#*:}
    line=$(awk -v n="$name" '$1 == n' <<<"$PLAN")
    [ -n "$line" ] || { echo "no run named $name in the plan: $(awk '{printf "%s ", $1}' <<<"$PLAN")"; exit 2; }
    # A REGEX given replaces the plan's selection, skips included.
    [ -n "$re" ] && line=$(awk -v r="$re" '{print $1, $2, $3, $4, r}' <<<"$line")
    # The same run named again (to look for a flaky test): NAME#2...
    n=$(awk -v n="$name" '$1 == n || index($1, n "#") == 1' <<<"$plan" | wc -l)
    [ "$n" -gt 0 ] && line=$(awk -v n="$name#$((n+1))" '{$1 = n; print}' <<<"$line")
    plan+="$line"$'\n'
  done
  PLAN=${plan%$'\n'}
fi
if [ -n "${PODVISOR_V2_TEST_TIMEOUT:-}" ]; then
  PLAN=$(awk -v t="$PODVISOR_V2_TEST_TIMEOUT" 'NF >= 5 && $3 != "-" {$4 = t} NF' <<<"$PLAN")
fi
extra="$verbose ${PODVISOR_V2_ARGS:-}"
if [ -n "${extra// /}" ]; then
  PLAN=$(awk -v x="$extra" 'NF >= 5 && $3 != "-" {$0 = $0 " " x} NF' <<<"$PLAN")
fi

[ "$(id -u)" = 0 ] || { echo "test-v2 needs root"; exit 2; }

# What the host needs: qemu (TCG), debootstrap, mkfs.ext4 -d.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
  echo "# installing ${need[*]}"
  t=$(date +%s.%N)
  # Another apt may be running (others share this machine): wait for it.
  for _ in $(seq 600); do
    fuser -s /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock 2>/dev/null || break
    sleep 1
  done
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    { echo "cannot install ${need[*]}"; exit 2; }
  echo "# time: install $(since "$t") s"
fi

# The root filesystem with Debian's kernel and its initramfs, made once and
# cached outside the repository.
kernel() { ls "$ROOTFS"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(kernel)" ] || [ ! -x "$ROOTFS/usr/bin/perl" ] || [ ! -x "$ROOTFS/sbin/ip" ]; then
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2; exit}')
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "# debootstrap bookworm with linux-image-amd64 from $mirror (a few minutes, once)"
  t=$(date +%s.%N)
  mkdir -p "$CACHE"; rm -rf "$ROOTFS.tmp"
  debootstrap --variant=minbase --include=linux-image-amd64,iproute2,procps bookworm "$ROOTFS.tmp" "$mirror" > "$CACHE/v2-debootstrap.log" 2>&1 ||
    { echo "debootstrap failed:"; tail -n 20 "$CACHE/v2-debootstrap.log"; rm -rf "$ROOTFS.tmp"; exit 2; }
  rm -rf "$ROOTFS.tmp"/var/cache/apt/archives/*.deb
  rm -rf "$ROOTFS"; mv "$ROOTFS.tmp" "$ROOTFS"
  echo "# time: debootstrap $(since "$t") s"
fi
KERNEL=$(kernel)
INITRD=$ROOTFS/boot/initrd.img-${KERNEL##*/vmlinuz-}
[ -f "$INITRD" ] || { echo "no initramfs $INITRD (remove $ROOTFS to make it anew)"; exit 2; }

RUN=$(mktemp -d /var/tmp/podvisor-v2.XXXXXX)
QEMU= TAIL=
cleanup() {
  [ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null
  if [ -n "$QEMU" ] && kill -0 "$QEMU" 2>/dev/null; then
    kill "$QEMU" 2>/dev/null; sleep 1; kill -9 "$QEMU" 2>/dev/null
  fi
  [ -f "$RUN/console.log" ] && tr -d '\r' < "$RUN/console.log" > "$LOG"
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# The binaries, static, laid out like the repository.
t=$(date +%s.%N)
G=$RUN/root/podvisor
mkdir -p "$G/bin" "$G/examples"
make -s build || { echo "make build failed"; exit 2; }
cp bin/podvisor "$G/bin/podvisor"
cp -r examples/. "$G/examples/"
while read -r name dir bin _; do
  [ "$bin" = - ] && continue
  mkdir -p "$G/$dir"
  # A package's test data goes with its binary, as go test finds it.
  if [ -d "$dir/testdata" ]; then cp -r "$dir/testdata" "$G/$dir/"; fi
  CGO_ENABLED=0 "$GO" test -c -o "$G/$dir/$bin" "./$dir/" || { echo "cannot build the tests of ./$dir/"; exit 2; }
done <<<"$PLAN"
printf '%s\n' "$PLAN" > "$G/plan"
echo "# time: test binaries $(since "$t") s"

# The guest's disk: the cached root filesystem (hard links: nothing in the
# cache is written) plus our init and the binaries, as a fresh ext4 image.
t=$(date +%s.%N)
mkdir -p "$RUN/root"
cp -al "$ROOTFS"/. "$RUN/root/" 2>/dev/null || cp -a "$ROOTFS"/. "$RUN/root/" || { echo "cannot copy $ROOTFS"; exit 2; }
install -m 0755 test/v2/init.sh "$RUN/root/podvisor-v2-init"
truncate -s 3G "$RUN/disk.img"
mkfs.ext4 -q -F -L podvisor-v2 -d "$RUN/root" "$RUN/disk.img" || { echo "mkfs.ext4 failed"; exit 2; }
rm -rf "$RUN/root"
echo "# time: disk image $(since "$t") s"

# Boot. TCG (no kvm here), two vCPUs on threads of their own, no network.
echo "# booting ${KERNEL##*/} (TCG, -smp 2 -m 2048, -nic none); the VM is killed after ${BOUND} s"
t=$(date +%s.%N)
: > "$RUN/console.log"
qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
  -nic none -display none -monitor none -no-reboot \
  -serial "file:$RUN/console.log" \
  -kernel "$KERNEL" -initrd "$INITRD" \
  -drive "file=$RUN/disk.img,format=raw,if=virtio" \
  -append "console=ttyS0 root=/dev/vda rw panic=-1 init=/podvisor-v2-init systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
  > "$RUN/qemu.out" 2>&1 &
QEMU=$!
tail --pid="$QEMU" -n +1 -F "$RUN/console.log" 2>/dev/null | grep --line-buffered -a '^PODVISOR-V2: \(kernel\|cgroupfs\|controllers\|subtree\|begin\|end\|exit\|FATAL\)' | sed -u 's/\r$//; s/^/  guest: /' &
TAIL=$!
timedout=
while kill -0 "$QEMU" 2>/dev/null; do
  if [ "$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{print int(b-a)}')" -ge "$BOUND" ]; then
    timedout=1
    kill "$QEMU"; sleep 2; kill -9 "$QEMU" 2>/dev/null
    break
  fi
  sleep 1
done
wait "$QEMU" 2>/dev/null
QEMU=
sleep 0.5
kill "$TAIL" 2>/dev/null; TAIL=
vmsecs=$(since "$t")
tr -d '\r' < "$RUN/console.log" > "$RUN/console.txt"
C=$RUN/console.txt
val() { grep -a -m1 "^PODVISOR-V2: $1=" "$C" | cut -d= -f2- | cut -d' ' -f1; }

echo
echo "== guest"
echo "kernel:          $(grep -a -m1 '^PODVISOR-V2: kernel=' "$C" | cut -d= -f2-)"
echo "/sys/fs/cgroup:  $(grep -a -m1 '^PODVISOR-V2: cgroupfs=' "$C" | cut -d= -f2-)"
echo "controllers:     $(grep -a -m1 '^PODVISOR-V2: controllers=' "$C" | cut -d= -f2-)"
echo "subtree_control: $(grep -a -m1 '^PODVISOR-V2: subtree_control=' "$C" | cut -d= -f2-)"
echo "boot to init:    $(val 'init started uptime') s (guest uptime), ready at $(val 'ready uptime') s"
echo "VM:              $vmsecs s (qemu start to exit)"
echo
echo "== results"
pass=0 fail=0
while read -r name _; do
  [ -n "$name" ] || continue
  end=$(grep -a -m1 "^PODVISOR-V2: end pkg=$name " "$C")
  if [ -z "$end" ]; then
    fail=$((fail+1)); echo "FAIL $name: no result (the guest did not finish it)"
    continue
  fi
  rc=$(sed 's/.* exit=\([0-9]*\).*/\1/' <<<"$end")
  secs=$(sed 's/.* secs=\([0-9.]*\).*/\1/' <<<"$end")
  if [ "$rc" = 0 ]; then
    pass=$((pass+1)); echo "ok   $name (${secs} s)"
  else
    fail=$((fail+1)); echo "FAIL $name (exit $rc, ${secs} s)"
  fi
done <<<"$PLAN"
# The output of each failed run, as the guest printed it.
while read -r name _; do
  [ -n "$name" ] || continue
  end=$(grep -a -m1 "^PODVISOR-V2: end pkg=$name " "$C")
  if [ -z "$end" ] || [ -n "$verbose" ] || ! grep -q ' exit=0 ' <<<"$end"; then
    echo
    echo "== output of $name"
    awk -v n="$name" '$0 ~ "^PODVISOR-V2: begin pkg=" n " " {on=1; next} $0 ~ "^PODVISOR-V2: end pkg=" n " " {on=0} on' "$C"
  fi
done <<<"$PLAN"
left=$(grep -a '^PODVISOR-V2: \(cgroups\|processes\) left' "$C")
[ -n "$left" ] && { echo; echo "$left"; fail=$((fail+1)); }
guestexit=$(val exit)
echo
if [ -n "$timedout" ]; then
  echo "the VM did not finish within ${BOUND} s: killed (console log: $LOG)"
elif [ -z "$guestexit" ]; then
  echo "the guest did not report (console log: $LOG):"
  tail -n 30 "$C"
  grep -a -m1 '^PODVISOR-V2: FATAL' "$C"
fi
echo "# time: total $(since "$T0") s; console log: $LOG"
echo "$pass passed, $fail failed"
if [ -n "$timedout" ] || [ -z "$guestexit" ]; then exit 2; fi
[ "$fail" = 0 ] && [ "$guestexit" = 0 ]
