package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

type daemonProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func (c *cliEnv) socket() string { return filepath.Join(c.root, "api.sock") }

// startDaemon runs `podvisor daemon` on the test's root and waits until
// its API answers.
func startDaemon(t *testing.T, c *cliEnv, extra ...string) *daemonProc {
	t.Helper()
	return startDaemonCmd(t, c, c.cmd(append([]string{"daemon"}, extra...)...))
}

// startDaemonCmd starts cmd, a daemon command made by c.cmd and perhaps
// adjusted (a wrapper, extra files), on the test's socket, and waits until
// its API answers.
func startDaemonCmd(t *testing.T, c *cliEnv, cmd *exec.Cmd) *daemonProc {
	t.Helper()
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket())
	d := &daemonProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	cl := api.NewClient(c.socket())
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cl.Version(context.Background()); err == nil {
			break
		}
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited: %v\n%s", err, d.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not answering:\n%s", d.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d
}

// stop sends SIGTERM and returns the exit code.
func (d *daemonProc) stop(t *testing.T) int {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("daemon did not stop:\n%s", d.out)
		return -1
	}
}

func (d *daemonProc) kill9(t *testing.T) {
	t.Helper()
	d.cmd.Process.Kill()
	<-d.done
}

// pv runs a CLI command against the test's daemon.
func (c *cliEnv) pv(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := c.cmd(args...)
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket())
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (c *cliEnv) mustPV(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, code := c.pv(t, args...)
	if code != 0 {
		t.Fatalf("podvisor %s: exit %d\n%s%s", strings.Join(args, " "), code, out, stderr)
	}
	return out
}

func (c *cliEnv) status(t *testing.T, name string) pod.Status {
	t.Helper()
	var st pod.Status
	if err := json.Unmarshal([]byte(c.mustPV(t, "inspect", name)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (c *cliEnv) waitStatus(t *testing.T, name, what string, cond func(pod.Status) bool) pod.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := c.status(t, name)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waiting for %s; status %+v", name, what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func specFile(t *testing.T, name, body string) string {
	return writeFile(t, fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n%s", name, body))
}

// cgroupPids lists the processes in a pod's cgroup tree.
func cgroupPids(t *testing.T, cgroup string) []int {
	t.Helper()
	var pids []int
	base := "/sys/fs/cgroup/unified"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		base = "/sys/fs/cgroup"
	}
	filepath.Walk(filepath.Join(base, cgroup), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "cgroup.procs" {
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				n, _ := strconv.Atoi(f)
				pids = append(pids, n)
			}
		}
		return nil
	})
	slices.Sort(pids)
	return pids
}

func TestDaemonVerbs(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	out := c.mustPV(t, "version")
	if !strings.Contains(out, "Client: podvisor") || !strings.Contains(out, "Daemon: podvisor") {
		t.Errorf("version: %q", out)
	}
	web := specFile(t, "web", `  terminationGracePeriodSeconds: 5
  initProcesses:
  - {name: init, command: [sh, -c, "echo init done"]}
  processes:
  - {name: a, command: [sh, -c, "echo hello a; exec sleep 1000"]}
  - {name: b, command: [sh, -c, "echo hello b >&2; exec sleep 1000"]}
`)
	if out := c.mustPV(t, "run", web); out != "web\n" {
		t.Errorf("run printed %q", out)
	}
	// run returns once every app process has been started.
	st := c.status(t, "web")
	if st.Phase != pod.PhaseRunning || st.Processes[0].PID == 0 || st.Processes[1].PID == 0 || st.Init[0].Reason != pod.ReasonCompleted {
		t.Errorf("after run: %+v", st)
	}
	table := c.mustPV(t, "ps")
	if !strings.HasPrefix(table, "NAME") || !strings.Contains(table, "READY") || !regexpMatch(`(?m)^web\s+Running\s+2/2\s+0\s+\d+s$`, table) {
		t.Errorf("ps table:\n%s", table)
	}
	var list []pod.Status
	if err := json.Unmarshal([]byte(c.mustPV(t, "ps", "-o", "json")), &list); err != nil || len(list) != 1 || list[0].Name != "web" {
		t.Errorf("ps -o json: %v %+v", err, list)
	}
	if y := c.mustPV(t, "ps", "-o", "yaml"); !strings.Contains(y, "name: web") || !strings.Contains(y, "phase: Running") {
		t.Errorf("ps -o yaml:\n%s", y)
	}
	raw := c.mustPV(t, "inspect", "web")
	for _, key := range []string{`"name"`, `"phase"`, `"message"`, `"hostname"`, `"cgroup"`, `"namespaces"`, `"createdAt"`, `"startedAt"`, `"initProcesses"`, `"processes"`, `"state"`, `"reason"`, `"pid"`, `"restartCount"`, `"ready"`, `"finishedAt"`, `"exitCode"`, `"signal"`} {
		if !strings.Contains(raw, key) {
			t.Errorf("inspect lacks %s", key)
		}
	}
	if y := c.mustPV(t, "inspect", "web", "-o", "yaml"); !strings.Contains(y, "hostname: web") {
		t.Errorf("inspect -o yaml:\n%s", y)
	}
	logs := c.mustPV(t, "logs", "web")
	for _, want := range []string{"init | init done", "a | hello a", "b | hello b"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if l := c.mustPV(t, "logs", "web", "a"); l != "hello a\n" {
		t.Errorf("logs web a: %q", l)
	}
	if l := c.mustPV(t, "logs", "web", "a", "--timestamps"); !regexpMatch(`^\d{4}-\d\d-\d\dT\S+ hello a\n$`, l) {
		t.Errorf("logs --timestamps: %q", l)
	}
	if _, stderr, code := c.pv(t, "logs", "web", "nope"); code != 1 || !strings.Contains(stderr, "nope") {
		t.Errorf("logs of a missing process: %d %q", code, stderr)
	}

	// stop returns at once for polite processes, then start and restart.
	begin := time.Now()
	c.mustPV(t, "stop", "web")
	if took := time.Since(begin); took > 4*time.Second {
		t.Errorf("stop took %v", took)
	}
	if st := c.status(t, "web"); st.Phase != pod.PhaseStopped {
		t.Errorf("after stop: %s", st.Phase)
	}
	c.mustPV(t, "start", "web")
	st = c.status(t, "web")
	if st.Phase != pod.PhaseRunning {
		t.Errorf("after start: %s", st.Phase)
	}
	old := st.Processes[0].PID
	c.mustPV(t, "restart", "web", "--timeout", "1")
	if st := c.status(t, "web"); st.Phase != pod.PhaseRunning || st.Processes[0].PID == old || st.Processes[0].PID == 0 {
		t.Errorf("after restart: %+v", st)
	}

	// rm refuses a running pod without -f.
	_, stderr, code := c.pv(t, "rm", "web")
	if code != 1 || !strings.HasPrefix(stderr, "podvisor: ") {
		t.Errorf("rm of a running pod: %d %q", code, stderr)
	}
	// create + start.
	c.mustPV(t, "create", specFile(t, "idle", "  processes:\n  - {name: s, command: [sleep, \"1000\"]}\n"))
	if st := c.status(t, "idle"); st.Phase != pod.PhasePending {
		t.Errorf("created pod: %s", st.Phase)
	}
	c.mustPV(t, "start", "idle")
	events := c.mustPV(t, "events", "-o", "json")
	for _, want := range []string{`"type":"Created"`, `"type":"Started"`, `"type":"PhaseChanged"`, `"pod":"idle"`} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %s", want)
		}
	}
	cg := c.status(t, "web").Cgroup
	if out := c.mustPV(t, "rm", "-f", "web", "idle"); out != "web\nidle\n" {
		t.Errorf("rm -f printed %q", out)
	}
	if pids := cgroupPids(t, cg); len(pids) != 0 {
		t.Errorf("processes left after rm -f: %v", pids)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.root, "pods")); len(entries) != 0 {
		t.Errorf("state left after rm -f: %v", entries)
	}
	if out := c.mustPV(t, "ps", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("ps after rm: %q", out)
	}
	if _, stderr, code := c.pv(t, "inspect", "web"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("inspect of a removed pod: %d %q", code, stderr)
	}
}

func TestDaemonBadInput(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer d.stop(t)
	bad := writeFile(t, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  processes:\n  - {name: a, comand: [x]}\n")
	_, stderr, code := c.pv(t, "run", bad)
	if code != 1 || !strings.Contains(stderr, `metadata.name: "Bad_Name" is not a lowercase RFC 1123 subdomain`) || !strings.Contains(stderr, `spec.processes[0].comand: unknown field "comand"`) {
		t.Errorf("bad spec: %d %q", code, stderr)
	}
	// The same through the Go client: a 400 that matches pod.ErrInvalid.
	cl := api.NewClient(c.socket())
	_, err := cl.Create(context.Background(), []byte(`{"apiVersion":"podvisor/v1","kind":"Pod","metadata":{"name":"x"},"spec":{"processes":[]}}`), true, true)
	var apiErr *api.Error
	if !errors.Is(err, pod.ErrInvalid) || !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(err.Error(), "spec.processes") {
		t.Errorf("client: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.root, "pods")); len(entries) != 0 {
		t.Errorf("state left by bad specs: %v", entries)
	}
	good := specFile(t, "dup", "  processes:\n  - {name: a, command: [sleep, \"100\"]}\n")
	c.mustPV(t, "create", good)
	_, stderr, code = c.pv(t, "create", good)
	if code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second create: %d %q", code, stderr)
	}
	if _, err := cl.Create(context.Background(), []byte(mustRead(t, good)), false, false); !errors.Is(err, pod.ErrAlreadyExists) {
		t.Errorf("client: %v", err)
	}
	if _, err := cl.Get(context.Background(), "nope"); !errors.Is(err, pod.ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	// A missing binary and a bad user end the process with StartError.
	c.mustPV(t, "create", specFile(t, "starterr", `  restartPolicy: Never
  processes:
  - {name: nobin, command: [/no/such/binary]}
  - {name: baduser, user: no-such-user, command: [sleep, "1"]}
`))
	_, stderr, code = c.pv(t, "start", "starterr")
	if code != 1 || !strings.Contains(stderr, "failed") {
		t.Errorf("start of a failing pod: %d %q", code, stderr)
	}
	st := c.status(t, "starterr")
	for i, want := range []string{"/no/such/binary", "no-such-user"} {
		if ps := st.Processes[i]; ps.Reason != pod.ReasonStartError || !strings.Contains(ps.Message, want) {
			t.Errorf("%s: %+v", ps.Name, ps)
		}
	}
	if _, err := cl.Version(context.Background()); err != nil {
		t.Errorf("daemon down after bad input: %v", err)
	}
	c.mustPV(t, "rm", "-f", "dup", "starterr")
}

func mustRead(t *testing.T, f string) string {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDaemonKill9Recovery(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	c.mustPV(t, "run", specFile(t, "running", `  terminationGracePeriodSeconds: 2
  processes:
  - {name: a, command: [sleep, "1000"]}
  - {name: b, command: [sh, -c, "setsid sleep 1000 & exec sleep 1000"]}
`))
	c.mustPV(t, "run", specFile(t, "stopped", "  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	c.mustPV(t, "stop", "stopped")
	c.mustPV(t, "run", specFile(t, "looping", `  restartBackoff: {initialDelay: 200ms, maxDelay: 400ms}
  processes:
  - {name: crash, command: [sh, -c, "exit 3"]}
`))
	before := c.waitStatus(t, "looping", "two restarts", func(s pod.Status) bool { return s.Processes[0].RestartCount >= 2 })
	running := c.status(t, "running")
	oldPids := cgroupPids(t, running.Cgroup)
	if len(oldPids) != 3 {
		t.Fatalf("running pod has %v", oldPids)
	}

	d.kill9(t)
	began := time.Now()
	d = startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "running", "stopped", "looping")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	var list []pod.Status
	if err := json.Unmarshal([]byte(c.mustPV(t, "ps", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("recovery took %v", took)
	}
	phases := map[string]pod.Phase{}
	for _, st := range list {
		phases[st.Name] = st.Phase
	}
	if phases["running"] != pod.PhaseRunning || phases["stopped"] != pod.PhaseStopped || phases["looping"] != pod.PhaseRunning {
		t.Fatalf("phases after recovery: %v\n%s", phases, d.out)
	}
	// Each process of the running pod runs exactly once: the old ones are
	// gone (escaped grandchild included), one new one per process.
	st := c.waitStatus(t, "running", "both processes running", func(s pod.Status) bool {
		return s.Processes[0].PID > 0 && s.Processes[1].PID > 0
	})
	time.Sleep(300 * time.Millisecond)
	for _, pid := range oldPids {
		if unix.Kill(pid, 0) == nil && !isZombie(pid) {
			t.Errorf("old process %d still runs", pid)
		}
	}
	now := cgroupPids(t, st.Cgroup)
	if len(now) != 3 || !slices.Contains(now, st.Processes[0].PID) || !slices.Contains(now, st.Processes[1].PID) {
		t.Errorf("running pod after recovery: cgroup %v, status pids %d %d", now, st.Processes[0].PID, st.Processes[1].PID)
	}
	for _, ns := range []string{st.Namespaces.Net, st.Namespaces.IPC, st.Namespaces.UTS} {
		var fs unix.Statfs_t
		if err := unix.Statfs(ns, &fs); err != nil || fs.Type != unix.NSFS_MAGIC {
			t.Errorf("namespace %s not mounted after recovery", ns)
		}
	}
	stopped := c.status(t, "stopped")
	if pids := cgroupPids(t, stopped.Cgroup); len(pids) != 0 || stopped.Processes[0].PID != 0 {
		t.Errorf("stopped pod runs %v", pids)
	}
	after := c.status(t, "looping")
	if after.Processes[0].RestartCount < before.Processes[0].RestartCount || after.Processes[0].ExitCode == nil {
		t.Errorf("restart count %d -> %d, last exit %v", before.Processes[0].RestartCount, after.Processes[0].RestartCount, after.Processes[0].ExitCode)
	}
	// rm -f leaves nothing of a recovered pod.
	c.mustPV(t, "rm", "-f", "running")
	if pids := cgroupPids(t, st.Cgroup); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
	for _, p := range []string{filepath.Join(c.root, "pods", "running"), filepath.Join(c.root, "ns", "running")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("left behind: %s", p)
		}
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestDaemonSIGTERMKeepsDesiredState(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	c.mustPV(t, "run", specFile(t, "keep", `  terminationGracePeriodSeconds: 1
  processes:
  - {name: stubborn, command: [sh, -c, "trap '' TERM; while :; do sleep 0.1; done"]}
  - {name: polite, command: [sleep, "1000"]}
`))
	c.mustPV(t, "run", specFile(t, "halted", "  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	c.mustPV(t, "stop", "halted")
	cg := c.status(t, "keep").Cgroup
	begin := time.Now()
	if code := d.stop(t); code != 0 {
		t.Fatalf("daemon exit %d\n%s", code, d.out)
	}
	if took := time.Since(begin); took < time.Second || took > 8*time.Second {
		t.Errorf("daemon stop took %v (grace 1s)", took)
	}
	if pids := cgroupPids(t, cg); len(pids) != 0 {
		t.Errorf("processes left after daemon stop: %v", pids)
	}
	d = startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "keep", "halted")
		d.stop(t)
	}()
	c.waitStatus(t, "keep", "running again", func(s pod.Status) bool {
		return s.Phase == pod.PhaseRunning && s.Processes[0].PID > 0 && s.Processes[1].PID > 0
	})
	if st := c.status(t, "halted"); st.Phase != pod.PhaseStopped {
		t.Errorf("halted came back %s", st.Phase)
	}
}

func TestDaemonCorruptStateQuarantined(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	c.mustPV(t, "run", specFile(t, "torn", "  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	c.mustPV(t, "run", specFile(t, "garbled", "  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	d.kill9(t)
	os.WriteFile(filepath.Join(c.root, "pods", "torn", "state.json"), []byte(`{"desired": "run`), 0o600)
	os.WriteFile(filepath.Join(c.root, "pods", "garbled", "spec.json"), []byte("\x00\x01 not json"), 0o600)
	d = startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "torn", "garbled")
		d.stop(t)
	}()
	// The pod with a torn state is listed (and stays stopped); the one with
	// a garbled spec is gone, its files quarantined; the daemon runs on.
	st := c.status(t, "torn")
	if st.Phase == pod.PhaseRunning {
		t.Errorf("torn: %s", st.Phase)
	}
	if _, stderr, code := c.pv(t, "inspect", "garbled"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("garbled: %d %q", code, stderr)
	}
	q, _ := os.ReadDir(filepath.Join(c.root, "quarantine"))
	var names []string
	for _, e := range q {
		names = append(names, e.Name())
	}
	if len(names) != 2 || !strings.HasPrefix(names[0], "garbled.") && !strings.HasPrefix(names[1], "garbled.") {
		t.Errorf("quarantine: %v", names)
	}
	if !strings.Contains(d.out.String(), "quarantined") {
		t.Errorf("no report of the quarantine:\n%s", d.out)
	}
}

func TestSocketRefusedToNobody(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer d.stop(t)
	fi, err := os.Stat(c.socket())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 && perm != 0o660 {
		t.Errorf("socket mode %v", perm)
	}
	// A copy of this binary that nobody may run, in a directory nobody may enter.
	dir, err := os.MkdirTemp("", "podvisor-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	exe, _ := os.Executable()
	bin := filepath.Join(dir, "podvisor")
	if b, err := os.ReadFile(exe); err != nil || os.WriteFile(bin, b, 0o755) != nil {
		t.Fatal(err)
	}
	asNobody := func() (string, int) {
		cmd := exec.Command(bin, "ps")
		cmd.Env = []string{"PODVISOR_CLI_TEST=1", "PODVISOR_SOCKET=" + c.socket()}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	// The socket's mode keeps nobody out.
	if out, code := asNobody(); code != 1 || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody through the socket's mode: %d %q", code, out)
	}
	// With the mode opened up, the peer credential check still refuses.
	for d := filepath.Dir(c.socket()); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(c.socket(), 0o666)
	out, code := asNobody()
	if code != 1 || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody past the socket's mode: %d %q", code, out)
	}
	if !strings.Contains(d.out.String(), "refused API client") {
		t.Errorf("no log line for the refused client:\n%s", d.out)
	}
	// Root still gets in.
	c.mustPV(t, "ps")
}

func regexpMatch(re, s string) bool {
	ok, _ := regexpMatchString(re, s)
	return ok
}
