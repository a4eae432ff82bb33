package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notifyListener stands in for systemd: it collects sd_notify datagrams.
type notifyListener struct {
	mu   sync.Mutex
	msgs []string
	conn *net.UnixConn
}

func listenNotify(t *testing.T, path string) *notifyListener {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyListener{conn: conn}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

func (n *notifyListener) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

func (n *notifyListener) count(prefix string) int {
	c := 0
	for _, m := range n.all() {
		if strings.Contains(m, prefix) {
			c++
		}
	}
	return c
}

func (n *notifyListener) waitFor(t *testing.T, what string, min int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.count(what) < min {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q among %q", min, what, n.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDaemonNotifiesSystemd(t *testing.T) {
	c := newCLI(t, true)
	n := listenNotify(t, filepath.Join(c.root, "notify.sock"))
	cmd := c.cmd("daemon", "--cgroup-parent", c.parent)
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket(), "NOTIFY_SOCKET="+filepath.Join(c.root, "notify.sock"), "WATCHDOG_USEC=400000")
	d := &daemonProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	defer func() {
		if d.cmd.ProcessState == nil {
			d.stop(t)
		}
	}()
	n.waitFor(t, "READY=1", 1)
	first := n.all()[0]
	if !strings.Contains(first, "READY=1") || !strings.Contains(first, "STATUS=0 pods running, 0 failing") {
		t.Errorf("first notification %q", first)
	}
	// The API answers once READY=1 was sent.
	c.mustPV(t, "ps")
	c.mustPV(t, "run", specFile(t, "nt", "  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	n.waitFor(t, "STATUS=1 pods running", 1)
	// WATCHDOG=1 at half the period while the loops answer...
	n.waitFor(t, "WATCHDOG=1", 3)
	// ...and none while the daemon is wedged.
	cmd.Process.Signal(syscall.SIGSTOP)
	before := n.count("WATCHDOG=1")
	time.Sleep(time.Second)
	if got := n.count("WATCHDOG=1"); got != before {
		t.Errorf("watchdog pings from a stopped daemon: %d -> %d", before, got)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	n.waitFor(t, "WATCHDOG=1", before+1)
	// SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again; the pod is untouched.
	pid := c.status(t, "nt").Processes[0].PID
	cmd.Process.Signal(syscall.SIGHUP)
	n.waitFor(t, "RELOADING=1", 1)
	n.waitFor(t, "READY=1", 2)
	for _, m := range n.all() {
		if strings.Contains(m, "RELOADING=1") && !strings.Contains(m, "MONOTONIC_USEC=") {
			t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", m)
		}
	}
	if st := c.status(t, "nt"); st.Processes[0].PID != pid {
		t.Errorf("reload touched the pod: pid %d -> %d", pid, st.Processes[0].PID)
	}
	c.mustPV(t, "rm", "-f", "nt")
	// SIGTERM: STOPPING=1, then exit 0.
	if code := d.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	n.waitFor(t, "STOPPING=1", 1)
}

func TestDaemonOutsideSystemdSaysNothingOfIt(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	d.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	c.mustPV(t, "ps")
	if code := d.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	for _, word := range []string{"notify", "NOTIFY", "watchdog", "systemd"} {
		if strings.Contains(d.out.String(), word) {
			t.Errorf("the daemon spoke of %s outside systemd:\n%s", word, d.out)
		}
	}
}

// startUpNotified starts `podvisor up` of the pod name with spec body,
// with NOTIFY_SOCKET set to a listener of the test's; the process is
// killed at the end of the test if still there.
func startUpNotified(t *testing.T, c *cliEnv, name, body string) (*exec.Cmd, *syncBuffer, *notifyListener) {
	t.Helper()
	n := listenNotify(t, filepath.Join(c.root, "notify.sock"))
	cmd := c.cmd("up", specFile(t, name, body))
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+filepath.Join(c.root, "notify.sock"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, out, n
}

func TestUpNotifiesReady(t *testing.T) {
	c := newCLI(t, true)
	cmd, out, n := startUpNotified(t, c, "upn", "  terminationGracePeriodSeconds: 2\n  processes:\n  - {name: a, command: [sh, -c, \"echo hi; exec sleep 1000\"]}\n")
	n.waitFor(t, "READY=1", 1)
	if !strings.Contains(out.String(), "a | hi") && !strings.Contains(out.String(), "started") {
		t.Errorf("READY before the process started:\n%s", out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	code, _ := waitExit(t, cmd, 10*time.Second)
	if code != 0 {
		t.Errorf("exit %d:\n%s", code, out)
	}
	n.waitFor(t, "STOPPING=1", 1)
}

func TestDaemonReloadRereadsSettings(t *testing.T) {
	c := newCLI(t, true)
	conf := filepath.Join(c.root, "daemon.yaml")
	os.WriteFile(conf, []byte("logMaxSize: 1Mi\nlogMaxFiles: 2\n"), 0o644)
	d := startDaemon(t, c, "--config", conf)
	defer d.stop(t)
	c.mustPV(t, "run", specFile(t, "rl", `  processes:
  - name: talk
    command: [sh, -c, "i=0; while :; do i=$((i+1)); echo line $i ..............................................................; sleep 0.01; done"]
`))
	pid := c.status(t, "rl").Processes[0].PID
	logDir := filepath.Join(c.root, "pods", "rl", "logs")
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(logDir, "talk.log.1")); err == nil {
		t.Fatalf("rotated before the reload, with a 1Mi limit")
	}
	// A smaller limit, read again on SIGHUP: rotation follows it.
	os.WriteFile(conf, []byte("logMaxSize: 2Ki\nlogMaxFiles: 2\nlogLevel: debug\n"), 0o644)
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(logDir, "talk.log.1")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rotation after the reload:\n%s", d.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(logDir, "talk.log.2")); err == nil {
		t.Errorf("more files than logMaxFiles: 2")
	}
	if st := c.status(t, "rl"); st.Processes[0].PID != pid {
		t.Errorf("the reload touched the pod")
	}
	if !strings.Contains(d.out.String(), "reloaded") {
		t.Errorf("no reload logged:\n%s", d.out)
	}
	c.mustPV(t, "rm", "-f", "rl")
}
