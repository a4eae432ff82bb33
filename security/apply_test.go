//go:build amd64 || arm64

package security

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Keep the main goroutine on the main thread so that no test goroutine,
// which Applies and ends locked, ever runs there (Go cannot discard the
// main thread).
func init() { runtime.LockOSThread() }

const helperEnv = "PODVISOR_SECURITY_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "probes" {
		for _, p := range probes {
			fmt.Printf("%s %d\n", p.name, int(p.call()))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: sets capabilities and seccomp filters on a thread and forks as other users (CI runs as root)")
	}
}

func cstr(s string) *byte {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		panic(err)
	}
	return p
}

// probe is a syscall made with arguments that change nothing, whose errno
// tells the filter's EPERM from the kernel's own answer.
type probe struct {
	name string
	caps []int // nil: always denied; else denied unless one is in the bounding set
	deny bool  // denied at all (false: allowed)
	call func() unix.Errno
}

const nowhere = "/nonexistent-podvisor-security-test"

func closeIfFD(r, _ uintptr, e unix.Errno) unix.Errno {
	if e == 0 {
		unix.Close(int(r))
	}
	return e
}

var probes = []probe{
	// Always denied.
	{"add_key", nil, true, func() unix.Errno {
		ring := unix.KEY_SPEC_PROCESS_KEYRING
		_, _, e := unix.Syscall6(unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(cstr("podvisor_no_such_type"))), uintptr(unsafe.Pointer(cstr("x"))), 0, 0, uintptr(ring), 0)
		return e
	}},
	{"keyctl", nil, true, func() unix.Errno {
		ring := unix.KEY_SPEC_THREAD_KEYRING
		_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(ring), 0)
		return e
	}},
	{"request_key", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall6(unix.SYS_REQUEST_KEY, uintptr(unsafe.Pointer(cstr("podvisor_no_such_type"))), uintptr(unsafe.Pointer(cstr("x"))), 0, 0, 0, 0)
		return e
	}},
	{"io_uring_setup", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, 0, 0)
		return e
	}},
	{"userfaultfd", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_USERFAULTFD, 0x7fffffff, 0, 0)
		return e
	}},
	{"pivot_root", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_PIVOT_ROOT, uintptr(unsafe.Pointer(cstr(nowhere))), uintptr(unsafe.Pointer(cstr(nowhere))), 0)
		return e
	}},
	{"swapon", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(cstr(nowhere))), 0, 0)
		return e
	}},
	{"swapoff", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(cstr(nowhere))), 0, 0)
		return e
	}},
	{"personality ADDR_NO_RANDOMIZE", nil, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, 0)
		return e
	}},
	{"socket AF_ALG", nil, true, func() unix.Errno {
		return closeIfFD(unix.RawSyscall(unix.SYS_SOCKET, unix.AF_ALG, unix.SOCK_SEQPACKET, 0))
	}},
	{"socket AF_VSOCK", nil, true, func() unix.Errno {
		return closeIfFD(unix.RawSyscall(unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0))
	}},

	// Allowed.
	{"personality query", nil, false, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
		return e
	}},
	{"socket AF_UNIX", nil, false, func() unix.Errno {
		return closeIfFD(unix.RawSyscall(unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0))
	}},
	{"clone CLONE_THREAD (EINVAL)", nil, false, func() unix.Errno {
		_, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_THREAD, 0, 0, 0, 0, 0)
		return e
	}},
	{"clone3 (EINVAL)", nil, false, func() unix.Errno {
		_, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		return e
	}},
	{"ptrace", nil, false, func() unix.Errno {
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, 1, 0, 0, 0, 0)
		return e
	}},
	{"adjtimex read", nil, false, func() unix.Errno {
		var tx unix.Timex
		_, _, e := unix.Syscall(unix.SYS_ADJTIMEX, uintptr(unsafe.Pointer(&tx)), 0, 0)
		return e
	}},

	// Gated on capabilities.
	{"unshare CLONE_NEWUSER", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		// EINVAL in a multithreaded process when allowed.
		_, _, e := unix.Syscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
		return e
	}},
	{"setns", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		fd := -1
		_, _, e := unix.Syscall(unix.SYS_SETNS, uintptr(fd), 0, 0)
		return e
	}},
	{"mount", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		_, _, e := unix.Syscall6(unix.SYS_MOUNT, uintptr(unsafe.Pointer(cstr("none"))), uintptr(unsafe.Pointer(cstr(nowhere))), uintptr(unsafe.Pointer(cstr("tmpfs"))), 0, 0, 0)
		return e
	}},
	{"umount2", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_UMOUNT2, uintptr(unsafe.Pointer(cstr(nowhere))), 0, 0)
		return e
	}},
	{"sethostname (EINVAL)", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_SETHOSTNAME, 0, 99999, 0)
		return e
	}},
	{"fsopen", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_FSOPEN, 0, 0, 0)
		return e
	}},
	{"clone CLONE_NEWNET|CLONE_THREAD (EINVAL)", []int{unix.CAP_SYS_ADMIN}, true, func() unix.Errno {
		_, _, e := unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWNET|unix.CLONE_THREAD, 0, 0, 0, 0, 0)
		return e
	}},
	{"bpf", []int{unix.CAP_SYS_ADMIN, unix.CAP_BPF}, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_BPF, 9999, 0, 0)
		return e
	}},
	{"perf_event_open", []int{unix.CAP_SYS_ADMIN, unix.CAP_PERFMON}, true, func() unix.Errno {
		m1 := -1
		_, _, e := unix.Syscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, uintptr(m1), uintptr(m1), 0, 0)
		return e
	}},
	{"syslog size", []int{unix.CAP_SYS_ADMIN, unix.CAP_SYSLOG}, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_SYSLOG, unix.SYSLOG_ACTION_SIZE_BUFFER, 0, 0)
		return e
	}},
	{"open_by_handle_at", []int{unix.CAP_DAC_READ_SEARCH}, true, func() unix.Errno {
		fd := -1
		_, _, e := unix.Syscall(unix.SYS_OPEN_BY_HANDLE_AT, uintptr(fd), 0, 0)
		return e
	}},
	{"chroot", []int{unix.CAP_SYS_CHROOT}, true, func() unix.Errno {
		_, _, e := unix.Syscall(unix.SYS_CHROOT, uintptr(unsafe.Pointer(cstr(nowhere))), 0, 0)
		return e
	}},
	{"kcmp", []int{unix.CAP_SYS_PTRACE}, true, func() unix.Errno {
		pid := uintptr(unix.Getpid())
		_, _, e := unix.Syscall6(unix.SYS_KCMP, pid, pid, 0 /* KCMP_FILE */, 9999, 9999, 0)
		return e
	}},
	{"pidfd_getfd", []int{unix.CAP_SYS_PTRACE}, true, func() unix.Errno {
		fd := -1
		_, _, e := unix.Syscall(unix.SYS_PIDFD_GETFD, uintptr(fd), uintptr(fd), 0)
		return e
	}},
	{"clock_settime CLOCK_MONOTONIC (EINVAL)", []int{unix.CAP_SYS_TIME}, true, func() unix.Errno {
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		_, _, e := unix.Syscall(unix.SYS_CLOCK_SETTIME, unix.CLOCK_MONOTONIC, uintptr(unsafe.Pointer(&ts)), 0)
		return e
	}},
	{"get_mempolicy", []int{unix.CAP_SYS_NICE}, true, func() unix.Errno {
		_, _, e := unix.Syscall6(unix.SYS_GET_MEMPOLICY, 0, 0, 0, 0, 0, 0)
		return e
	}},
}

// child is what a forked process wrote and how it ended.
type child struct {
	out    string
	status unix.WaitStatus
}

// forkWith Applies plan on a fresh locked thread and forks argv there with
// the given uid (and gid), its stdout and stderr on a pipe. The thread is
// never unlocked: Go discards it when the goroutine ends.
func forkWith(t *testing.T, plan Plan, uid uint32, argv, env []string) child {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	type result struct {
		pid int
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		if err := Apply(plan); err != nil {
			res <- result{0, err}
			return
		}
		pidfd := -1
		pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
			Env:   env,
			Files: []uintptr{null.Fd(), w.Fd(), w.Fd()},
			Sys: &syscall.SysProcAttr{
				Setsid:     true,
				Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}},
				PidFD:      &pidfd,
			},
		})
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		res <- result{pid, err}
	}()
	rr := <-res
	w.Close()
	if rr.err != nil {
		t.Fatalf("apply and fork %v: %v", argv, rr.err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return child{string(out), wait(t, rr.pid)}
}

func wait(t testing.TB, pid int) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("wait4 %d: %v", pid, err)
		}
		return ws
	}
}

// status parses a /proc/<pid>/status text.
func status(text string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func readStatus(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return status(string(b))
}

func hexCaps(t testing.TB, st map[string]string, key string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(st[key], 16, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", key, st[key], err)
	}
	return v
}

// ownBounding is the test process's bounding set (the supervisor's: a
// target capability it lacks cannot be granted).
func ownBounding(t testing.TB) uint64 {
	return hexCaps(t, readStatus(t, "/proc/self/status"), "CapBnd")
}

func TestChildCapabilitiesAndStatus(t *testing.T) {
	requireRoot(t)
	pb := ownBounding(t)
	def := mask(DefaultCapabilities()...)
	plans := []struct {
		name string
		plan Plan
	}{
		{"default caps, nnp, seccomp", Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true, Seccomp: true}},
		{"default caps, seccomp, no nnp", Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), Seccomp: true}},
		{"default caps only", Plan{SetCapabilities: true, Capabilities: DefaultCapabilities()}},
		{"default caps, nnp", Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true}},
		{"no caps, nnp, seccomp", Plan{SetCapabilities: true, NoNewPrivs: true, Seccomp: true}},
		{"all caps kept, nnp, seccomp", Plan{NoNewPrivs: true, Seccomp: true}},
		{"empty plan", Plan{}},
	}
	script := "cat /proc/self/status; ls / >/dev/null && echo ls-ok"
	for _, p := range plans {
		for _, uid := range []uint32{0, 65534} {
			t.Run(fmt.Sprintf("%s/uid %d", p.name, uid), func(t *testing.T) {
				c := forkWith(t, p.plan, uid, []string{"/bin/sh", "-c", script}, []string{"PATH=/usr/bin:/bin"})
				if !c.status.Exited() || c.status.ExitStatus() != 0 || !strings.Contains(c.out, "ls-ok") {
					t.Fatalf("child ended %v:\n%s", c.status, c.out)
				}
				st := status(c.out)
				bnd := pb
				if p.plan.SetCapabilities {
					bnd = def & pb
					if len(p.plan.Capabilities) == 0 {
						bnd = 0
					}
				}
				want := map[string]uint64{"CapBnd": bnd, "CapPrm": bnd, "CapEff": bnd, "CapInh": 0, "CapAmb": 0}
				if uid != 0 {
					want["CapPrm"], want["CapEff"] = 0, 0
				}
				for k, v := range want {
					if got := hexCaps(t, st, k); got != v {
						t.Errorf("%s %016x, want %016x", k, got, v)
					}
				}
				wantNNP, wantSeccomp := "0", "0"
				if p.plan.NoNewPrivs {
					wantNNP = "1"
				}
				if p.plan.Seccomp {
					wantSeccomp = "2"
				}
				if st["NoNewPrivs"] != wantNNP || st["Seccomp"] != wantSeccomp {
					t.Errorf("NoNewPrivs %s Seccomp %s, want %s %s", st["NoNewPrivs"], st["Seccomp"], wantNNP, wantSeccomp)
				}
				if uid != 0 && (st["Uid"] != "65534\t65534\t65534\t65534" || st["Groups"] != "") {
					t.Errorf("Uid %q Groups %q", st["Uid"], st["Groups"])
				}
			})
		}
	}
}

// runProbes forks the test binary as a probe helper under plan (uid 0) and
// returns each probe's errno.
func runProbes(t *testing.T, plan Plan) map[string]unix.Errno {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := forkWith(t, plan, 0, []string{exe}, []string{helperEnv + "=probes"})
	if !c.status.Exited() || c.status.ExitStatus() != 0 {
		t.Fatalf("helper ended %v:\n%s", c.status, c.out)
	}
	got := map[string]unix.Errno{}
	for _, line := range strings.Split(strings.TrimSpace(c.out), "\n") {
		i := strings.LastIndexByte(line, ' ')
		n, err := strconv.Atoi(line[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("helper output %q", line)
		}
		got[line[:i]] = unix.Errno(n)
	}
	if len(got) != len(probes) {
		t.Fatalf("helper answered %d probes of %d:\n%s", len(got), len(probes), c.out)
	}
	return got
}

func errnoString(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return unix.ErrnoName(e)
}

// Each probe, in a Go program forked from a thread after Apply, gets the
// filter's EPERM exactly when the profile denies it, and otherwise the same
// answer as without a filter.
func TestDeniedSyscalls(t *testing.T) {
	requireRoot(t)
	pb := ownBounding(t)
	control := runProbes(t, Plan{})
	for _, p := range probes {
		t.Logf("control: %-42s %s", p.name, errnoString(control[p.name]))
	}
	configs := []struct {
		name string
		plan Plan
	}{
		{"all caps kept", Plan{NoNewPrivs: true, Seccomp: true}},
		{"default caps", Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true, Seccomp: true}},
		// CAP_SYSLOG too: with dmesg_restrict the kernel itself refuses
		// syslog to CAP_SYS_ADMIN alone.
		{"default+SYS_ADMIN+SYS_PTRACE+SYSLOG, no nnp", Plan{SetCapabilities: true,
			Capabilities: append(DefaultCapabilities(), unix.CAP_SYS_ADMIN, unix.CAP_SYS_PTRACE, unix.CAP_SYSLOG), Seccomp: true}},
		{"no caps", Plan{SetCapabilities: true, NoNewPrivs: true, Seccomp: true}},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			bset := pb
			if cfg.plan.SetCapabilities {
				bset &= mask(cfg.plan.Capabilities...)
			}
			got := runProbes(t, cfg.plan)
			for _, p := range probes {
				lifted := false
				for _, c := range p.caps {
					lifted = lifted || bset&(1<<c) != 0
				}
				g, ctl := got[p.name], control[p.name]
				switch {
				case p.deny && !lifted:
					if g != unix.EPERM {
						t.Errorf("%s: %s, want EPERM", p.name, errnoString(g))
					} else if ctl == unix.EPERM && p.caps == nil {
						t.Logf("%s: inconclusive, EPERM without the filter too", p.name)
					}
				default:
					if g != ctl {
						t.Errorf("%s: %s, want %s as without the filter", p.name, errnoString(g), errnoString(ctl))
					}
				}
			}
		})
	}
}

// threadsWithSeccomp returns the tids of this process's threads in seccomp
// filter mode.
func threadsWithSeccomp(t testing.TB) (filtered []int, total int) {
	t.Helper()
	dirs, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", d.Name(), "status"))
		if err != nil {
			continue // exited meanwhile
		}
		total++
		if status(string(b))["Seccomp"] == "2" {
			tid, _ := strconv.Atoi(d.Name())
			filtered = append(filtered, tid)
		}
	}
	return filtered, total
}

// waitNoFilteredThreads waits for every filtered thread to be gone.
func waitNoFilteredThreads(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, _ := threadsWithSeccomp(t)
		if len(f) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %v still filtered", f)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOtherThreadsUnaffected(t *testing.T) {
	requireRoot(t)
	waitNoFilteredThreads(t)
	pid := unix.Getpid()
	mainBefore := readStatus(t, fmt.Sprintf("/proc/self/task/%d/status", pid))
	ready := make(chan int)
	release := make(chan struct{})
	done := make(chan struct{})
	plan := Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true, Seccomp: true}
	go func() {
		runtime.LockOSThread() // never unlocked
		if err := Apply(plan); err != nil {
			t.Error(err)
			close(ready)
			return
		}
		ready <- unix.Gettid()
		<-release
		close(done)
	}()
	tid, ok := <-ready
	if !ok {
		t.FailNow()
	}
	st := readStatus(t, fmt.Sprintf("/proc/self/task/%d/status", tid))
	if st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" || hexCaps(t, st, "CapBnd") != mask(DefaultCapabilities()...)&hexCaps(t, mainBefore, "CapBnd") {
		t.Errorf("applied thread: Seccomp %s NoNewPrivs %s CapBnd %s", st["Seccomp"], st["NoNewPrivs"], st["CapBnd"])
	}
	if f, _ := threadsWithSeccomp(t); len(f) != 1 || f[0] != tid {
		t.Errorf("filtered threads %v, want only %d", f, tid)
	}
	mainAfter := readStatus(t, fmt.Sprintf("/proc/self/task/%d/status", pid))
	for _, k := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb", "NoNewPrivs", "Seccomp"} {
		if mainAfter[k] != mainBefore[k] {
			t.Errorf("main thread %s %s, was %s", k, mainAfter[k], mainBefore[k])
		}
	}

	// Another thread can still unshare and mount (in a mount namespace of
	// its own; it ends locked and is discarded).
	dir := t.TempDir()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread changes namespace
		errc <- func() error {
			st, err := os.ReadFile("/proc/thread-self/status")
			if err != nil {
				return err
			}
			if s := status(string(st)); s["Seccomp"] != "0" || s["NoNewPrivs"] != "0" || s["CapBnd"] != mainBefore["CapBnd"] {
				return fmt.Errorf("fresh thread: Seccomp %s NoNewPrivs %s CapBnd %s", s["Seccomp"], s["NoNewPrivs"], s["CapBnd"])
			}
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make / private: %w", err)
			}
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
				return fmt.Errorf("mount: %w", err)
			}
			return unix.Unmount(dir, 0)
		}()
	}()
	if err := <-errc; err != nil {
		t.Error(err)
	}

	close(release)
	<-done
	waitNoFilteredThreads(t)
}

// The applied thread keeps running Go code after the fork (allocating,
// starting goroutines, a GC), ends locked and is discarded; 200 times over,
// without a crash, a leaked thread or a thread that inherited the filter.
func TestManyForks(t *testing.T) {
	requireRoot(t)
	const n = 200
	waitNoFilteredThreads(t)
	_, before := threadsWithSeccomp(t)
	plan := Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true, Seccomp: true}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	type result struct {
		pid, pidfd int
		err        error
	}
	sink := make(chan []byte, 1)
	for i := range n {
		res := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked
			if err := Apply(plan); err != nil {
				res <- result{err: err}
				return
			}
			pidfd := -1
			uid := uint32(0)
			if i%2 == 1 {
				uid = 65534
			}
			pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{
				Files: []uintptr{null.Fd(), null.Fd(), null.Fd()},
				Sys: &syscall.SysProcAttr{
					Setsid:     true,
					Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}},
					PidFD:      &pidfd,
				},
			})
			// Go code on the filtered thread: allocation, goroutines
			// (whose threads the runtime must not clone from this one),
			// a GC now and then, channel operations.
			buf := make([]byte, 256<<10)
			buf[len(buf)-1] = byte(i)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					b := make([]byte, 4096)
					time.Sleep(100 * time.Microsecond)
					select {
					case sink <- b:
					default:
					}
				})
			}
			wg.Wait()
			if i%50 == 0 {
				runtime.GC()
			}
			res <- result{pid, pidfd, err}
		}()
		r := <-res
		if r.err != nil {
			t.Fatalf("fork %d: %v", i, r.err)
		}
		if ws := wait(t, r.pid); !ws.Exited() || ws.ExitStatus() != 0 {
			t.Fatalf("fork %d: child ended %v", i, ws)
		}
		unix.Close(r.pidfd)
	}
	waitNoFilteredThreads(t)
	_, after := threadsWithSeccomp(t)
	t.Logf("threads: %d before, %d after %d applied forks", before, after, n)
	if after > before+16 {
		t.Errorf("%d threads after %d forks, %d before", after, n, before)
	}
}

// cgroup2Root returns where cgroup2 is mounted, or "".
func cgroup2Root() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		_, after, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if f := strings.Fields(after); len(f) > 0 && f[0] == "cgroup2" {
			if g := strings.Fields(line); len(g) > 4 {
				return g[4]
			}
		}
	}
	return ""
}

// With SysProcAttr.UseCgroupFD Go forks with clone3, from the filtered
// thread: clone3 must stay allowed.
func TestForkWithClone3(t *testing.T) {
	requireRoot(t)
	root := cgroup2Root()
	if root == "" {
		t.Skip("no cgroup2 mount on this host: CLONE_INTO_CGROUP needs one (every supported host has one)")
	}
	dir := filepath.Join(root, fmt.Sprintf("podvisor-security-test-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("cannot make a cgroup2 group: %v", err)
	}
	defer func() {
		for i := 0; i < 50; i++ {
			if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("could not remove %s", dir)
	}()
	cgfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cgfd)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	plan := Plan{SetCapabilities: true, Capabilities: DefaultCapabilities(), NoNewPrivs: true, Seccomp: true}
	type result struct {
		pid int
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked
		if err := Apply(plan); err != nil {
			res <- result{0, err}
			return
		}
		pidfd := -1
		pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "cat /proc/self/cgroup; grep Seccomp: /proc/self/status"}, &syscall.ProcAttr{
			Env:   []string{"PATH=/usr/bin:/bin"},
			Files: []uintptr{w.Fd(), w.Fd(), w.Fd()},
			Sys: &syscall.SysProcAttr{
				Setsid:      true,
				Credential:  &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}},
				PidFD:       &pidfd,
				UseCgroupFD: true,
				CgroupFD:    cgfd,
			},
		})
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		res <- result{pid, err}
	}()
	rr := <-res
	w.Close()
	if rr.err != nil {
		t.Fatalf("fork with clone3 from the filtered thread: %v", rr.err)
	}
	out, _ := io.ReadAll(r)
	ws := wait(t, rr.pid)
	want := "0::/" + filepath.Base(dir)
	if !ws.Exited() || ws.ExitStatus() != 0 || !strings.Contains(string(out), want) || !strings.Contains(string(out), "Seccomp:\t2") {
		t.Errorf("child ended %v, want it in %s and filtered:\n%s", ws, want, out)
	}
}

// BenchmarkApply measures Apply alone on fresh threads, reported as
// ns/apply (ns/op also counts making and discarding the thread), for the
// full plan and each part of it.
func BenchmarkApply(b *testing.B) {
	requireRoot(b)
	def := DefaultCapabilities()
	for _, bc := range []struct {
		name string
		plan Plan
	}{
		{"full", Plan{SetCapabilities: true, Capabilities: def, NoNewPrivs: true, Seccomp: true}},
		{"capabilities", Plan{SetCapabilities: true, Capabilities: def}},
		{"nnp", Plan{NoNewPrivs: true}},
		{"nnp+seccomp", Plan{NoNewPrivs: true, Seccomp: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				done := make(chan error, 1)
				go func() {
					runtime.LockOSThread() // never unlocked
					t0 := time.Now()
					err := Apply(bc.plan)
					total += time.Since(t0)
					done <- err
				}()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/apply")
		})
	}
	b.Run("getpid", func(b *testing.B) {
		for b.Loop() {
			unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		}
	})
}
