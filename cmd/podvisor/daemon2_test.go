package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

func TestLogsFollowAcrossRestartAndRotation(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c, "--log-max-size", "4096", "--log-max-files", "3")
	defer d.stop(t)
	counter := filepath.Join(t.TempDir(), "n")
	c.mustPV(t, "run", specFile(t, "chatty", fmt.Sprintf(`  restartBackoff: {initialDelay: 100ms, maxDelay: 200ms}
  processes:
  - name: talk
    command: [sh, -c]
    args: ["n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo \"run $n line $i ........................................................................\"; done; sleep 0.2; exit 1"]
`, counter)))
	cmd := c.cmd("logs", "-f", "chatty", "talk")
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket())
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "run 4 line 20 ") {
		if time.Now().After(deadline) {
			t.Fatalf("logs -f did not follow to run 4:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Errorf("line twice: %q", l)
		}
		seen[l] = true
	}
	for _, want := range []string{"run 2 line 1 ", "run 3 line 10 ", "run 4 line 20 "} {
		found := false
		for l := range seen {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("no line %q followed", want)
		}
	}
	logDir := filepath.Join(c.root, "pods", "chatty", "logs")
	if _, err := os.Stat(filepath.Join(logDir, "talk.log.1")); err != nil {
		t.Errorf("log not rotated: %v", err)
	}
	if _, err := os.Stat(filepath.Join(logDir, "talk.log.3")); err == nil {
		t.Errorf("more files kept than --log-max-files")
	}
	if fi, err := os.Stat(filepath.Join(logDir, "talk.log")); err != nil || fi.Size() > 4096 {
		t.Errorf("current log: %v %v", fi, err)
	}
	c.mustPV(t, "rm", "-f", "chatty")
}

func TestExec(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer d.stop(t)
	c.mustPV(t, "run", specFile(t, "box", `  processes:
  - {name: main, command: [sleep, "1000"]}
  - {name: worker, command: [sleep, "1000"], user: "65534", workingDir: /tmp, env: [{name: ROLE, value: worker}]}
`))
	st := c.status(t, "box")
	if _, _, code := c.pv(t, "exec", "box", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	if out, _, code := c.pv(t, "exec", "box", "--", "true"); code != 0 || out != "" {
		t.Errorf("true: %d %q", code, out)
	}
	out := c.mustPV(t, "exec", "box", "--", "sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/uts; hostname; grep -E '^(0|[0-9]+:memory):' /proc/self/cgroup")
	for _, ns := range []struct{ kind, file string }{{"net", st.Namespaces.Net}, {"ipc", st.Namespaces.IPC}, {"uts", st.Namespaces.UTS}} {
		var s unix.Stat_t
		unix.Stat(ns.file, &s)
		if want := fmt.Sprintf("%s:[%d]", ns.kind, s.Ino); !strings.Contains(out, want) {
			t.Errorf("exec not in the pod's %s namespace: want %s in\n%s", ns.kind, want, out)
		}
	}
	if !strings.Contains(out, "\nbox\n") || !strings.Contains(out, st.Cgroup+"/_exec") {
		t.Errorf("exec hostname or cgroup:\n%s", out)
	}
	out = c.mustPV(t, "exec", "--process", "worker", "box", "--", "sh", "-c", "echo $PROCESS_NAME $ROLE $(id -u) $PWD; grep -E ':memory:|^0::' /proc/self/cgroup")
	if !strings.HasPrefix(out, "worker worker 65534 /tmp\n") || !strings.Contains(out, st.Cgroup+"/worker") {
		t.Errorf("exec --process worker:\n%s", out)
	}
	cmd := c.cmd("exec", "-i", "box", "--", "cat")
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket())
	cmd.Stdin = strings.NewReader("through stdin\n")
	if b, err := cmd.Output(); err != nil || string(b) != "through stdin\n" {
		t.Errorf("exec -i: %v %q", err, b)
	}
	out = c.mustPV(t, "exec", "-it", "box", "--", "sh", "-c", "test -t 0 && test -t 1 && echo has-tty")
	if !strings.Contains(out, "has-tty") {
		t.Errorf("exec -t: %q", out)
	}
	if _, stderr, code := c.pv(t, "exec", "box", "--", "/no/such/cmd"); code != 1 || !strings.Contains(stderr, "/no/such/cmd") {
		t.Errorf("missing command: %d %q", code, stderr)
	}
	c.mustPV(t, "stop", "box")
	if _, stderr, code := c.pv(t, "exec", "box", "--", "true"); code != 1 || !strings.Contains(stderr, "not running") {
		t.Errorf("exec into a stopped pod: %d %q", code, stderr)
	}
	c.mustPV(t, "rm", "box")
}

func TestConcurrentPods(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d:\n%s", code, d.out)
		}
		if strings.Contains(d.out.String(), "DATA RACE") {
			t.Errorf("the daemon saw a data race:\n%s", d.out)
		}
	}()
	cl := api.NewClient(c.socket())
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	each := func(f func(i int) error) {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(i); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
	}
	each(func(i int) error {
		spec := fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  terminationGracePeriodSeconds: 5\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n  - {name: b, command: [sleep, \"1000\"]}\n  - {name: c, command: [sh, -c, \"exec sleep 1000\"]}\n", i)
		st, err := cl.Create(ctx, []byte(spec), true, true)
		if err == nil && st.Phase != pod.PhaseRunning {
			err = fmt.Errorf("p%d: %s", i, st.Phase)
		}
		return err
	})
	// Reads go on while pods stop and are removed.
	stopReads := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stopReads:
				return
			default:
			}
			if _, err := cl.List(ctx); err != nil {
				errs <- err
				return
			}
		}
	}()
	list, err := cl.List(ctx)
	if err != nil || len(list) != n {
		t.Fatalf("list: %d pods, %v", len(list), err)
	}
	for _, st := range list {
		if ready, total := st.Ready(); ready != 3 || total != 3 {
			t.Errorf("%s: ready %d/%d", st.Name, ready, total)
		}
	}
	each(func(i int) error {
		_, err := cl.Stop(ctx, fmt.Sprintf("p%d", i), nil)
		return err
	})
	each(func(i int) error { return cl.Remove(ctx, fmt.Sprintf("p%d", i), false, nil) })
	close(stopReads)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if list, _ := cl.List(ctx); len(list) != 0 {
		t.Errorf("%d pods left", len(list))
	}
}

func TestTwoDaemonsSideBySide(t *testing.T) {
	a, b := newCLI(t, true), newCLI(t, true)
	da, db := startDaemon(t, a), startDaemon(t, b)
	defer da.stop(t)
	defer db.stop(t)
	spec := specFile(t, "same", "  processes:\n  - {name: s, command: [sleep, \"1000\"]}\n")
	a.mustPV(t, "run", spec)
	b.mustPV(t, "run", spec)
	sa, sb := a.status(t, "same"), b.status(t, "same")
	if sa.Cgroup == sb.Cgroup || sa.Namespaces.Net == sb.Namespaces.Net || sa.Processes[0].PID == sb.Processes[0].PID {
		t.Fatalf("the two daemons share a pod: %+v %+v", sa, sb)
	}
	a.mustPV(t, "rm", "-f", "same")
	if st := b.status(t, "same"); st.Phase != pod.PhaseRunning || st.Processes[0].PID != sb.Processes[0].PID {
		t.Errorf("removing a's pod touched b's: %+v", st)
	}
	if unix.Kill(sb.Processes[0].PID, 0) != nil {
		t.Errorf("b's process died")
	}
	b.mustPV(t, "rm", "-f", "same")
}
