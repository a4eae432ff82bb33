package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

// startDaemonNofile runs `podvisor daemon` with RLIMIT_NOFILE set to nofile
// (soft and hard, through the shell's ulimit) and waits until it answers.
func startDaemonNofile(t *testing.T, c *cliEnv, nofile int) *daemonProc {
	t.Helper()
	cmd := c.cmd("daemon")
	exe := cmd.Path
	cmd.Path = "/bin/sh"
	cmd.Args = []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), exe, "daemon"}
	return startDaemonCmd(t, c, cmd)
}

// openFDs counts the open file descriptors of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestIdleConnsDoNotStarveDaemon: 1,100 idle keep-alive connections to a
// daemon limited to 1,024 file descriptors do not keep `podvisor run` from
// working, and the daemon never runs out of descriptors.
func TestIdleConnsDoNotStarveDaemon(t *testing.T) {
	c := newCLI(t, true)
	const nofile, idle = 1024, 1100
	d := startDaemonNofile(t, c, nofile)
	defer d.stop(t)
	pid := d.cmd.Process.Pid
	var lim unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &lim); err != nil || lim.Cur != nofile {
		t.Fatalf("daemon's RLIMIT_NOFILE: %+v %v", lim, err)
	}
	base := openFDs(t, pid)
	// Every other connection makes one request and then stays open, idle,
	// as a keep-alive client (or a leaking one) would leave it; the others
	// send nothing at all.
	var conns []net.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	req := []byte("GET /v1/version HTTP/1.1\r\nHost: podvisor\r\n\r\n")
	for range idle {
		cn, err := net.Dial("unix", c.socket())
		if err != nil {
			t.Fatalf("dial after %d connections: %v", len(conns), err)
		}
		conns = append(conns, cn)
		if len(conns)%2 == 0 {
			cn.Write(req)
		}
	}
	time.Sleep(time.Second)
	peak := openFDs(t, pid)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.cmd().Path, "run", specFile(t, "crowded", "  restartPolicy: Never\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	cmd.Env = append(c.cmd().Env, "PODVISOR_SOCKET="+c.socket())
	began := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run with %d idle connections: %v (after %v)\n%s\ndaemon:\n%s", idle, err, time.Since(began), out, tail(d.out.String(), 2000))
	}
	took := time.Since(began)
	st := c.status(t, "crowded")
	if st.Phase != pod.PhaseRunning || st.Processes[0].PID == 0 {
		t.Errorf("pod after run: %+v", st)
	}
	after := openFDs(t, pid)
	t.Logf("daemon fds: %d at rest, %d with %d idle connections, %d after run; run took %v", base, peak, idle, after, took)
	if peak >= nofile-100 || after >= nofile-100 {
		t.Errorf("daemon holds %d/%d fds: no headroom left", max(peak, after), nofile)
	}
	if strings.Contains(d.out.String(), "too many open files") {
		t.Errorf("daemon ran out of fds:\n%s", tail(d.out.String(), 2000))
	}
	c.mustPV(t, "rm", "-f", "crowded")
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestForceRemoveOutlivesClient: a DELETE ?force=true whose client goes away
// during the grace period still removes the pod.
func TestForceRemoveOutlivesClient(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer d.stop(t)
	c.mustPV(t, "run", specFile(t, "clingy", `  terminationGracePeriodSeconds: 2
  processes:
  - {name: stubborn, command: [sh, -c, "trap '' TERM; echo trapped; while :; do sleep 0.1; done"]}
`))
	// The TERM must find the trap set.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.mustPV(t, "logs", "clingy"), "trapped"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the process never set its trap")
		}
	}
	cl := api.NewClient(c.socket())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := cl.Remove(ctx, "clingy", true, nil)
	cancel()
	if err == nil {
		t.Fatal("remove returned before the grace period ended")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := cl.Get(context.Background(), "clingy")
		if errors.Is(err, pod.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod still there after its client went away: %v %+v", err, c.status(t, "clingy"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(c.root, "pods", "clingy")); !os.IsNotExist(err) {
		t.Errorf("pod directory left: %v", err)
	}
}

// TestDaemonDirModes: the daemon's directories are private (0700; 0710 with
// the API group on the socket's path) after a start, existing ones
// included.
func TestDaemonDirModes(t *testing.T) {
	c := newCLI(t, true)
	for _, dir := range []string{"pods", "ns", "quarantine"} {
		if err := os.MkdirAll(filepath.Join(c.root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(c.root, dir), 0o755)
	}
	os.Chmod(c.root, 0o755)
	d := startDaemon(t, c)
	defer d.stop(t)
	c.mustPV(t, "run", specFile(t, "private", "  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	defer c.mustPV(t, "rm", "-f", "private")
	group := -1
	if g, err := lookupGroup("podvisor"); err == nil {
		group = g
	}
	for _, rel := range []string{".", "pods", "pods/private", "pods/private/logs", "ns", "ns/private", "quarantine"} {
		p := filepath.Join(c.root, rel)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		perm := st.Mode & 0o7777
		ok := perm == 0o700
		if rel == "." && group >= 0 {
			// The socket is in the root: the group may pass, not list.
			ok = perm == 0o710 && int(st.Gid) == group
		}
		if !ok {
			t.Errorf("%s: mode %#o gid %d", rel, perm, st.Gid)
		}
	}
}

func lookupGroup(name string) (int, error) {
	b, err := os.ReadFile("/etc/group")
	if err != nil {
		return -1, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[0] == name {
			return strconv.Atoi(f[2])
		}
	}
	return -1, os.ErrNotExist
}

// TestQuarantineKeepsTheLastTen: at most ten entries stay in
// <root>/quarantine, the newest; each removal is logged.
func TestQuarantineKeepsTheLastTen(t *testing.T) {
	c := newCLI(t, true)
	q := filepath.Join(c.root, "quarantine")
	os.MkdirAll(q, 0o700)
	for i := range 12 {
		os.WriteFile(filepath.Join(q, fmt.Sprintf("old%02d.state.json.20200101T000000.%09d", i, i)), []byte("{"), 0o600)
	}
	bad := filepath.Join(c.root, "pods", "garbled")
	os.MkdirAll(bad, 0o700)
	os.WriteFile(filepath.Join(bad, "spec.json"), []byte("\x00 not json"), 0o600)
	d := startDaemon(t, c)
	defer d.stop(t)
	entries, _ := os.ReadDir(q)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) != 10 || !strings.HasPrefix(names[0], "garbled.") || !strings.HasPrefix(names[1], "old03.") {
		t.Errorf("quarantine kept the wrong entries: %v", names)
	}
	logged := 0
	sc := bufio.NewScanner(strings.NewReader(d.out.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "quarantine: removed the oldest entry") {
			logged++
		}
	}
	if logged != 3 {
		t.Errorf("%d removals logged, want 3:\n%s", logged, d.out)
	}
}

// TestAPIUnclearAnswers: bad chunked bodies are 400, unclean paths a JSON
// 404 without a redirect.
func TestAPIUnclearAnswers(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer d.stop(t)
	raw := func(req string) (int, http.Header, string) {
		cn, err := net.Dial("unix", c.socket())
		if err != nil {
			t.Fatal(err)
		}
		defer cn.Close()
		cn.SetDeadline(time.Now().Add(10 * time.Second))
		cn.Write([]byte(req))
		resp, err := http.ReadResponse(bufio.NewReader(cn), nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b)
		return resp.StatusCode, resp.Header, b.String()
	}
	status, h, body := raw("POST /v1/pods HTTP/1.1\r\nHost: podvisor\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n")
	if status != 400 || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"code":"Invalid"`) {
		t.Errorf("bad chunked body: %d %v %s", status, h, body)
	}
	for _, p := range []string{"/v1/pods/../../etc/passwd", "//v1/pods", "/v1//pods", "/v1/pods/./x", "/v1/pods/"} {
		status, h, body := raw("GET " + p + " HTTP/1.1\r\nHost: podvisor\r\n\r\n")
		if status != 404 || h.Get("Location") != "" || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"code":"NotFound"`) {
			t.Errorf("GET %s: %d %v %s", p, status, h, body)
		}
	}
}
