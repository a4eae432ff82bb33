package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The test binary is also the CLI: with PODVISOR_CLI_TEST set it runs main.
func TestMain(m *testing.M) {
	if os.Getenv("PODVISOR_CLI_TEST") == "1" {
		os.Exit(run(os.Args, os.Stdout, os.Stderr))
	}
	// Daemons and up runs of the tests put their pods on loopback only,
	// unless a test says otherwise: no bridge in the machine's network.
	if os.Getenv("PODVISOR_DEFAULT_NETWORK") == "" {
		os.Setenv("PODVISOR_DEFAULT_NETWORK", "none")
	}
	os.Exit(m.Run())
}

var seq atomic.Int32

type cliEnv struct {
	root, parent string
}

func newCLI(t *testing.T, needRoot bool) *cliEnv {
	t.Helper()
	if needRoot && os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and cgroups (CI runs as root)")
	}
	c := &cliEnv{root: t.TempDir(), parent: fmt.Sprintf("podvisor-cli-test-%d-%d", os.Getpid(), seq.Add(1))}
	t.Cleanup(func() {
		for _, d := range []string{"/sys/fs/cgroup/memory/", "/sys/fs/cgroup/unified/", "/sys/fs/cgroup/"} {
			if _, err := os.Stat(d + c.parent); err == nil {
				t.Errorf("cgroup left behind: %s", d+c.parent)
			}
		}
		if b, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(b, []byte(c.root)) {
			t.Errorf("mount left behind under %s", c.root)
		}
	})
	return c
}

func (c *cliEnv) cmd(args ...string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "podvisor"
	cmd.Path = exe
	cmd.Env = append(os.Environ(), "PODVISOR_CLI_TEST=1", "PODVISOR_ROOT="+c.root, "PODVISOR_CGROUP_PARENT="+c.parent, "PODVISOR_LOG_FORMAT=json")
	return cmd
}

func (c *cliEnv) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := c.cmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidate(t *testing.T) {
	c := newCLI(t, false)
	good, _ := filepath.Abs("../../examples/hello.yaml")
	out, _, code := c.run(t, "validate", good, "../../examples/web.yaml", "../../examples/lifecycle.yaml")
	if code != 0 || !strings.Contains(out, good+": ok") || !strings.Contains(out, "web.yaml: ok") || !strings.Contains(out, "lifecycle.yaml: ok") {
		t.Errorf("validate good: code %d, %q", code, out)
	}
	bad := writeFile(t, `apiVersion: podvisor/v1
kind: Pod
metadata: {name: Web_Server}
spec:
  processes:
  - name: a
    comand: [x]
  - name: a
    command: [x]
  resources: {limits: {memory: lots}}
`)
	out, stderr, code := c.run(t, "validate", bad)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		`metadata.name: "Web_Server" is not a lowercase RFC 1123 subdomain`,
		`spec.processes[0].comand: unknown field "comand"`,
		`spec.resources.limits.memory: invalid quantity "lots"`,
	} {
		if !strings.Contains(out, bad+": "+want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.HasPrefix(stderr, "podvisor: ") {
		t.Errorf("stderr: %q", stderr)
	}
	// The duplicate name is reported once decoding succeeds.
	dup := writeFile(t, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  processes:\n  - {name: a, command: [x]}\n  - {name: a, command: [y]}\n")
	if out, _, code := c.run(t, "validate", dup); code != 1 || !strings.Contains(out, `spec.processes[1].name: duplicate name "a"`) {
		t.Errorf("duplicate: code %d %q", code, out)
	}
	if _, stderr, code := c.run(t, "validate", "/nonexistent.yaml"); code != 1 || !strings.Contains(stderr, "/nonexistent.yaml") {
		t.Errorf("missing file: %d %q", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	c := newCLI(t, false)
	out, _, code := c.run(t, "version", "--client")
	if code != 0 || !strings.HasPrefix(out, "Client: podvisor ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestUpHello(t *testing.T) {
	c := newCLI(t, true)
	out, stderr, code := c.run(t, "up", "../../examples/hello.yaml")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"prepare | prepared",
		"listener | got: hello from hello, prepared by the init process",
		"listener | shared memory: shared memory says hi",
		"greeter | served one greeting",
	} {
		if !strings.Contains(out, want+"") {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, `"message":"started"`) || !strings.Contains(stderr, `"process":"listener"`) {
		t.Errorf("events missing on stderr:\n%s", stderr)
	}
	logFile := filepath.Join(c.root, "pods", "hello", "logs", "listener.log")
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), " stdout F got: hello") {
		t.Errorf("log file %s: %v %q", logFile, err, b)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.root, "ns")); len(entries) != 0 {
		t.Errorf("namespaces left: %v", entries)
	}
}

func TestUpFailedExitsOne(t *testing.T) {
	c := newCLI(t, true)
	f := writeFile(t, fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: fail%d}
spec:
  restartPolicy: Never
  processes:
  - name: bad
    command: [sh, -c, "echo failing; exit 3"]
`, os.Getpid()))
	out, stderr, code := c.run(t, "up", f)
	if code != 1 || !strings.Contains(out, "bad | failing") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestUpInvalidSpec(t *testing.T) {
	c := newCLI(t, true)
	f := writeFile(t, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  processes:\n  - {name: a, comand: [x]}\n")
	_, stderr, code := c.run(t, "up", f)
	if code != 1 || !strings.Contains(stderr, `podvisor: `) || !strings.Contains(stderr, `spec.processes[0].comand: unknown field "comand"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.root, "pods")); len(entries) != 0 {
		t.Errorf("state left: %v", entries)
	}
}

// startUp runs `podvisor up` in the background and waits for a line.
func startUp(t *testing.T, c *cliEnv, spec, wait string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := c.cmd("up", writeFile(t, spec))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), wait) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", wait, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, out
}

func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (int, time.Duration) {
	t.Helper()
	begin := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, time.Since(begin)
	case <-time.After(timeout):
		t.Fatalf("podvisor up did not exit within %v", timeout)
		return -1, 0
	}
}

func TestUpSIGINTStopsPolitely(t *testing.T) {
	c := newCLI(t, true)
	cmd, out := startUp(t, c, fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: sig%d}
spec:
  terminationGracePeriodSeconds: 30
  processes:
  - name: sleeper
    command: [sh, -c, "echo up; exec sleep 1000"]
`, os.Getpid()), "sleeper | up")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, took := waitExit(t, cmd, 10*time.Second)
	if code != 0 || took > 5*time.Second {
		t.Errorf("exit %d after %v:\n%s", code, took, out)
	}
}

func TestUpSecondSIGINTKills(t *testing.T) {
	c := newCLI(t, true)
	cmd, out := startUp(t, c, fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: sigk%d}
spec:
  terminationGracePeriodSeconds: 60
  processes:
  - name: stubborn
    command: [sh, -c, "trap '' TERM INT; echo up; while :; do sleep 0.1; done"]
`, os.Getpid()), "stubborn | up")
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	code, took := waitExit(t, cmd, 10*time.Second)
	if code != 0 || took > 5*time.Second {
		t.Errorf("exit %d after %v:\n%s", code, took, out)
	}
	if !strings.Contains(out.String(), "second signal") {
		t.Errorf("no kill notice:\n%s", out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
func regexpMatchString(re, s string) (bool, error) { return regexp.MatchString(re, s) }
