package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/pod"
)

// The test binary doubles as the pod processes' program: with
// PODVISOR_TEST_HELPER set it does one job and exits, before any test runs.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PODVISOR_TEST_HELPER"); mode != "" {
		os.Exit(helper(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func helper(mode string, args []string) int {
	switch mode {
	case "placement":
		// The first thing this process does: where am I?
		cg, _ := os.ReadFile("/proc/self/cgroup")
		for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
			fmt.Println("cgroup", line)
		}
		for _, ns := range []string{"net", "ipc", "uts"} {
			l, _ := os.Readlink("/proc/self/ns/" + ns)
			fmt.Println("ns", ns, l)
		}
		h, _ := os.Hostname()
		fmt.Println("hostname", h)
		return 0
	case "listen":
		ln, err := net.Listen("tcp", args[0])
		if err != nil {
			fmt.Println("listen error:", err)
			return 1
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				return 1
			}
			c.Write([]byte("pong\n"))
			c.Close()
		}
	case "dial":
		for range 100 {
			c, err := net.DialTimeout("tcp", args[0], time.Second)
			if err == nil {
				buf := make([]byte, 16)
				n, _ := c.Read(buf)
				fmt.Printf("dial ok %s\n", strings.TrimSpace(string(buf[:n])))
				return 0
			}
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Println("dial failed")
		return 3
	case "shm-create":
		if _, err := unix.SysvShmGet(shmKey, 4096, unix.IPC_CREAT|0o600); err != nil {
			fmt.Println("shmget:", err)
			return 1
		}
		fmt.Println("shm created")
		sleepForever()
	case "shm-check":
		for range 100 {
			if id, err := unix.SysvShmGet(shmKey, 0, 0); err == nil {
				fmt.Println("shm found", id)
				return 0
			}
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Println("shm missing")
		return 4
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring TERM")
		sleepForever()
	case "hog":
		var chunks [][]byte
		for {
			b := make([]byte, 8<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			chunks = append(chunks, b)
		}
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

const shmKey = 0x70d5

// sleepForever blocks without tripping Go's deadlock detector (a bare
// select{} with no other goroutine is a fatal error).
func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

var testSeq atomic.Int32

// newTestSupervisor makes a supervisor with a temporary root and a cgroup
// parent of its own, and checks at the end that it left nothing behind.
func newTestSupervisor(t *testing.T) *Supervisor {
	t.Helper()
	return newSupervisorWith(t, Options{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)})
}

// newSupervisorWith is newTestSupervisor with options: the root is a
// temporary directory unless opts.Root is set, the cgroup parent is the
// test's own; at the end the supervisor is closed and checked to have left
// no cgroup and no mount behind.
func newSupervisorWith(t *testing.T, opts Options) *Supervisor {
	t.Helper()
	requireRoot(t)
	opts.CgroupParent = fmt.Sprintf("podvisor-test-%d-%d", os.Getpid(), testSeq.Add(1))
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	if opts.Network.Default == "" {
		// Loopback only, unless the test makes a network of its own: no
		// bridge in the machine's network namespace.
		opts.Network.Default = pod.NetworkNone
	}
	sv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := sv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		assertNoCgroup(t, sv.h, "/"+opts.CgroupParent)
		assertNoMountUnder(t, opts.Root)
	})
	return sv
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and cgroups (CI runs as root)")
	}
}

func assertNoCgroup(t *testing.T, h *cgroups.Hierarchy, path string) {
	t.Helper()
	var dirs []string
	if h.UnifiedDir != "" {
		dirs = append(dirs, filepath.Join(h.UnifiedDir, path))
	}
	for _, m := range h.V1 {
		dirs = append(dirs, filepath.Join(m.Dir, path))
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup left behind: %s", d)
		}
	}
}

func assertNoMountUnder(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			t.Errorf("mount left behind: %s", f[4])
		}
	}
}

// load makes a pod from YAML, failing the test on error.
func load(t *testing.T, doc string) *pod.Pod {
	t.Helper()
	p, err := pod.Load([]byte(doc))
	if err != nil {
		t.Fatalf("load: %v\n%s", err, doc)
	}
	return p
}

// helperCmd is a YAML flow list that runs this test binary in a helper mode.
func helperCmd(t *testing.T, mode string, args ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{fmt.Sprintf("%q", exe)}
	for _, a := range args {
		parts = append(parts, fmt.Sprintf("%q", a))
	}
	return fmt.Sprintf("command: [%s]\n    env: [{name: PODVISOR_TEST_HELPER, value: %s}]", strings.Join(parts, ", "), mode)
}

func podName(t *testing.T) string {
	return fmt.Sprintf("t%d-%d", os.Getpid()%100000, testSeq.Add(1))
}

func createAndStart(t *testing.T, sv *Supervisor, spec *pod.Pod) *Pod {
	t.Helper()
	p, err := sv.Create(spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	return p
}

func waitCond(t *testing.T, p *Pod, timeout time.Duration, what string, cond func(*pod.Status) bool) pod.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := p.WaitFor(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v; status %+v", what, err, st)
	}
	return st
}

func waitPhase(t *testing.T, p *Pod, timeout time.Duration, phase pod.Phase) pod.Status {
	t.Helper()
	return waitCond(t, p, timeout, "phase "+string(phase), func(s *pod.Status) bool { return s.Phase == phase })
}

func procStatus(st pod.Status, name string) pod.ProcessStatus {
	for _, p := range append(append([]pod.ProcessStatus{}, st.Init...), st.Processes...) {
		if p.Name == name {
			return p
		}
	}
	return pod.ProcessStatus{}
}

// logLines reads a process's log file, without the CRI prefixes.
func logLines(t *testing.T, sv *Supervisor, podName, process string) []string {
	t.Helper()
	b, err := os.ReadFile(logPath(filepath.Join(sv.Root(), "pods", podName), process))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.SplitN(l, " ", 4); len(f) == 4 {
			lines = append(lines, f[3])
		}
	}
	return lines
}

// waitLog waits until a process's log has a line containing s.
func waitLog(t *testing.T, sv *Supervisor, podName, process, s string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lines := logLines(t, sv, podName, process)
		for _, l := range lines {
			if strings.Contains(l, s) {
				return lines
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s/%s has no %q: %q", podName, process, s, lines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, os.ErrNotExist)
}

func nsInode(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(st.Ino)
}
