#!/bin/sh
# PID 1 of the cgroup v2 test VM (test/v2/run.sh boots it with
# init=/podvisor-v2-init). No systemd: it mounts what the tests need, proves
# the kernel runs pure cgroup v2, enables the controllers in the root's
# subtree_control as systemd would, runs the plan the host wrote in
# /podvisor/plan, reports on the serial console (lines starting with
# "PODVISOR-V2:") and powers the machine off.
#
# The plan has one test run a line: NAME DIR BINARY TIMEOUT REGEX [ARGS...]
# (DIR relative to /podvisor, laid out like the repository: the test binary
# of cmd/podvisor runs in /podvisor/cmd/podvisor and finds
# ../../bin/podvisor and ../../examples). A BINARY of "-" is a check of
# this script (delegation).
export PATH=/podvisor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Test files on the disk (as on a host's /tmp), not in the guest's memory.
export HOME=/root TMPDIR=/var/tmp/podvisor-tests LC_ALL=C
umask 022

say() { echo "PODVISOR-V2: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
finish() {
  say "exit=$1"
  sync
  mount -o remount,ro / 2>/dev/null
  sync
  # Power off at once (no init system to ask); qemu runs with -no-reboot,
  # so the panic that follows PID 1's exit ends it too.
  echo o > /proc/sysrq-trigger
  sleep 10
  exit "$1"
}

mnt() { # TYPE DIR [OPTIONS]
  mkdir -p "$2"
  mountpoint -q "$2" && return 0
  mount -t "$1" ${3:+-o "$3"} "$1" "$2" || say "cannot mount $1 on $2"
}
say "init started uptime=$(now)"
mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts gid=5,mode=620,ptmxmode=666
mnt tmpfs /dev/shm mode=1777
mnt tmpfs /run mode=755
mnt tmpfs /tmp mode=1777
# systemd's options for the unified hierarchy.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup 2>/dev/null ||
  mount -t cgroup2 cgroup2 /sys/fs/cgroup || say "cannot mount cgroup2"
mount -o remount,rw / 2>/dev/null
# Kernel messages (OOM kills...) go to dmesg, not amid the report.
dmesg -n 1 2>/dev/null
hostname podvisor-v2 2>/dev/null
ip link set lo up || say "cannot bring lo up"
# Debian's kernel has pod networking's parts as modules (this host's has
# them built in): bridges, veths, nf_tables with NAT, masquerade, fib and
# conntrack expressions.
modprobe -a veth bridge nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 2>/dev/null ||
  say "cannot load every networking module"
say "modules=$(awk '$1 ~ /^(veth|bridge|nf_tables|nft_chain_nat|nft_nat|nft_masq|nft_ct|nft_fib_inet)$/ {printf "%s ", $1}' /proc/modules)"
mkdir -p "$TMPDIR"

say "kernel=$(uname -r)"
say "cmdline=$(cat /proc/cmdline)"
fstype=$(stat -f -c %T /sys/fs/cgroup)
say "cgroupfs=$fstype"
say "controllers=$(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"
if [ "$fstype" != cgroup2fs ]; then
  say "FATAL: /sys/fs/cgroup is $fstype, not cgroup2fs"
  finish 97
fi
if [ -n "$(awk '$3 == "cgroup"' /proc/mounts)" ]; then
  say "FATAL: a cgroup v1 hierarchy is mounted"
  finish 97
fi
# As systemd does: the controllers the pods use, enabled for the root's
# children (the no-internal-process rule does not apply to the root, which
# holds this init until it moves into /init.scope below; it does apply to
# every cgroup below, podvisor's parents included).
for c in cpu memory pids io; do
  if grep -qw "$c" /sys/fs/cgroup/cgroup.controllers; then
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || say "cannot enable $c"
  fi
done
say "subtree_control=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
# The rest of systemd's layout: PID 1 in /init.scope, and the tests run as
# from a root login, in a session scope: the root cgroup holds no process,
# and the tests' own cgroup is a leaf that podvisor must not touch.
mkdir -p /sys/fs/cgroup/init.scope
echo $$ > /sys/fs/cgroup/init.scope/cgroup.procs || say "cannot move init into /init.scope"
SESSION=/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope
mkdir -p "$SESSION"
for d in /sys/fs/cgroup/user.slice /sys/fs/cgroup/user.slice/user-0.slice; do
  echo "+cpu +memory +pids" > "$d/cgroup.subtree_control" || say "cannot enable controllers in $d"
done
say "init cgroup=$(cat /proc/self/cgroup) tests cgroup=${SESSION#/sys/fs/cgroup}"
say "cpus=$(nproc) memory_kb=$(awk '/MemTotal/{print $2}' /proc/meminfo)"
say "ready uptime=$(now)"

# Delegation as systemd gives it (Delegate=yes): a unit's cgroup in
# /system.slice with the controllers available, podvisor up started inside
# it with INVOCATION_ID set. podvisor must move itself into a leaf, make the
# pod's cgroups below the unit's and leave nothing behind.
delegation() {
  mkdir -p /sys/fs/cgroup/system.slice
  echo "+cpu +memory +pids" > /sys/fs/cgroup/system.slice/cgroup.subtree_control || return 1
  u=/sys/fs/cgroup/system.slice/podvisor-v2-deleg.service
  rc=0
  mkdir "$u" || return 1
  # The unit's main process is podvisor itself (timeout stays outside).
  INVOCATION_ID=0123456789abcdef0123456789abcdef timeout -k 5 180 sh -c 'echo $$ > "$1/cgroup.procs" && exec podvisor up --root /tmp/deleg-root /podvisor/examples/hello.yaml' sh "$u" > /tmp/deleg.out 2>&1
  st=$?
  cat /tmp/deleg.out
  echo "# podvisor up exited $st"
  [ "$st" = 0 ] || rc=1
  grep -q 'served one greeting' /tmp/deleg.out || { echo "FAIL: the hello pod did not serve its greeting"; rc=1; }
  grep -q 'delegated cgroup' /tmp/deleg.out || { echo "FAIL: podvisor did not say it used the delegated cgroup"; rc=1; }
  echo "# cgroups left under the unit:"; (cd "$u" && find . -mindepth 1 -type d | sort | sed 's/^/#   /')
  [ -d "$u/supervisor" ] || { echo "FAIL: podvisor did not move itself into the leaf $u/supervisor"; rc=1; }
  left=$(find "$u" -name cgroup.procs -exec cat {} + | wc -w)
  [ "$left" = 0 ] || { echo "FAIL: $left processes left in $u"; rc=1; }
  echo "# unit subtree_control: $(cat "$u/cgroup.subtree_control")"
  find "$u" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
  rmdir "$u" || { echo "FAIL: cannot remove $u"; rc=1; }
  return $rc
}

[ -r /podvisor/plan ] || { say "FATAL: no /podvisor/plan"; finish 98; }
mkdir -p /results
overall=0
while read -r name dir bin timeout regex extra; do
  case $name in ''|'#'*) continue ;; esac
  say "begin pkg=$name run=$regex${extra:+ $extra}"
  t0=$(now)
  if [ "$bin" = - ]; then
    "${name%%#*}" > "/results/$name.log" 2>&1
    rc=$?
  else
    cd "/podvisor/$dir" || { say "FATAL: no /podvisor/$dir"; finish 98; }
    # The test binary's own timeout panics with every goroutine's stack;
    # timeout(1) is the backstop if even that hangs.
    secs=$(echo "$timeout" | awk '/m$/{print int($0)*60; next} {print int($0)}')
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$SESSION" \
      timeout -k 10 $((secs + 60)) "./$bin" -test.count=1 -test.timeout="$timeout" -test.run "$regex" $extra > "/results/$name.log" 2>&1
    rc=$?
    cd /
  fi
  t1=$(now)
  cat "/results/$name.log"
  # Nothing may be left behind at the root of the hierarchy.
  left=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 1 -type d -name 'podvisor*' | tr '\n' ' ')
  [ -n "$left" ] && say "cgroups left after $name: $left"
  left=$(cat "$SESSION/cgroup.procs" | tr '\n' ' ')
  [ -n "$left" ] && say "processes left in the session after $name: $left"
  say "end pkg=$name exit=$rc secs=$(echo "$t0 $t1" | awk '{printf "%.1f", $2-$1}')"
  [ "$rc" = 0 ] || overall=1
done < /podvisor/plan
# The kernel's warnings (OOM kills, pids rejections...), for the record.
say "dmesg warnings:"
dmesg --level=emerg,alert,crit,err,warn | tail -n 40 | sed 's/^/  dmesg: /'
finish $overall
