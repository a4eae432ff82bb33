package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// secretAt7 opens a root-only file and returns the files that put it at
// fd 7 of a child (ExtraFiles start at fd 3).
func secretAt7(t *testing.T) (string, []*os.File) {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "secret")
	f, err := os.OpenFile(secret, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { null.Close() })
	return secret, []*os.File{null, null, null, null, f}
}

const writeFd7 = `  restartPolicy: Never
  processes:
  - name: a
    user: nobody
    command: [sh, -c, "if echo leaked >&7; then echo WROTE; else echo NOFD; fi"]
`

// A daemon started with fd 7 open on a root-only file: a pod process
// running as nobody cannot write to it (fd 7 does not reach it).
func TestDaemonInheritedFdDoesNotReachPods(t *testing.T) {
	c := newCLI(t, true)
	secret, extra := secretAt7(t)
	cmd := c.cmd("daemon")
	cmd.ExtraFiles = extra
	d := startDaemonCmd(t, c, cmd)
	defer d.stop(t)
	name := "fd7"
	c.mustPV(t, "run", specFile(t, name, writeFd7))
	defer c.pv(t, "rm", "-f", name)
	c.waitStatus(t, name, "ended", func(s pod.Status) bool { return s.Phase.Ended() })
	logs := c.mustPV(t, "logs", name)
	if !strings.Contains(logs, "NOFD") {
		t.Errorf("logs %q, want NOFD", logs)
	}
	if b, _ := os.ReadFile(secret); len(b) != 0 {
		t.Errorf("a pod process wrote %q into the daemon's inherited fd 7", b)
	}

	// podvisor exec, started with fd 7 open: the command (root, in the
	// pod) does not get it either.
	c.mustPV(t, "run", specFile(t, "fd7s", "  processes:\n  - {name: s, command: [sleep, \"1000\"]}\n"))
	defer c.pv(t, "rm", "-f", "fd7s")
	ex := c.cmd("exec", "fd7s", "--", "sh", "-c", "if echo leaked >&7; then echo WROTE; else echo NOFD; fi")
	ex.Env = append(ex.Env, "PODVISOR_SOCKET="+c.socket())
	ex.ExtraFiles = extra
	out, err := ex.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "NOFD") {
		t.Errorf("exec: %v, printed %q, want NOFD", err, out)
	}
	if b, _ := os.ReadFile(secret); len(b) != 0 {
		t.Errorf("an exec'd command wrote %q into exec's inherited fd 7", b)
	}
}

// The same for `podvisor up`.
func TestUpInheritedFdDoesNotReachPods(t *testing.T) {
	c := newCLI(t, true)
	secret, extra := secretAt7(t)
	cmd := c.cmd("up", specFile(t, "fd7up", writeFd7))
	cmd.ExtraFiles = extra
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "NOFD") {
		t.Errorf("up printed %q, want NOFD", out)
	}
	if b, _ := os.ReadFile(secret); len(b) != 0 {
		t.Errorf("a pod process wrote %q into up's inherited fd 7", b)
	}
}
