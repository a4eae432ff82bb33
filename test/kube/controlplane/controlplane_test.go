package controlplane_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podvisor/podvisor/test/kube/controlplane"
)

// wantVersion is the Kubernetes release test/kube/build.sh pins.
const wantVersion = "v1.37.2"

// TestControlPlane boots the control plane from the binaries in
// PODVISOR_KUBE_BIN (make test-kube builds them and sets it) and checks
// that the API server, the controller manager and the API's node objects
// work; then that Stop leaves no process behind. No node runs: pods stay
// Pending.
func TestControlPlane(t *testing.T) {
	bin := os.Getenv("PODVISOR_KUBE_BIN")
	if bin == "" {
		t.Skip("PODVISOR_KUBE_BIN is not set: it names the bin directory test/kube/build.sh makes (make test-kube builds it and runs this)")
	}
	ctx := t.Context()
	cp, err := controlplane.Start(ctx, controlplane.Options{BinDir: bin, Dir: t.TempDir(), Log: t.Output()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cp.Stop()
		}
	})
	t.Cleanup(func() { // runs first
		if t.Failed() {
			for _, c := range []string{controlplane.Etcd, controlplane.APIServer, controlplane.Scheduler, controlplane.ControllerManager} {
				t.Logf("--- tail of %s ---\n%s", cp.LogFile(c), cp.LogTail(c, 20))
			}
		}
	})
	t.Logf("ready in %.1fs at %s", cp.BootTime.Seconds(), cp.URL)

	kubectl := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := cp.Kubectl(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// eventually polls f until it returns "" (done) or the timeout passes
	// (then the last message fails the test).
	eventually := func(t *testing.T, timeout time.Duration, f func() string) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			msg := f()
			if msg == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %s", timeout, msg)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("version", func(t *testing.T) {
		var v struct {
			ClientVersion struct{ GitVersion string } `json:"clientVersion"`
			ServerVersion struct{ GitVersion string } `json:"serverVersion"`
		}
		out := kubectl(t, "version", "-o", "json")
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if v.ClientVersion.GitVersion != wantVersion || v.ServerVersion.GitVersion != wantVersion {
			t.Errorf("client %q, server %q; want %s for both", v.ClientVersion.GitVersion, v.ServerVersion.GitVersion, wantVersion)
		}
	})

	t.Run("deployment", func(t *testing.T) {
		// The ReplicaSet controller (in the controller manager) makes the
		// pods; no node, so the scheduler leaves them Pending.
		kubectl(t, "create", "deployment", "web", "--image=registry.invalid/podvisor/web:1", "--replicas=2")
		var pods []string
		eventually(t, time.Minute, func() string {
			out, err := cp.Kubectl(ctx, "get", "pods", "-l", "app=web", "-o",
				`jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.ownerReferences[0].kind}{"\n"}{end}`)
			if err != nil {
				return err.Error()
			}
			pods = strings.Fields(strings.TrimSpace(out))
			if len(pods) != 6 {
				return "pods: " + out
			}
			return ""
		})
		for i := 0; i < len(pods); i += 3 {
			if pods[i+1] != "Pending" || pods[i+2] != "ReplicaSet" {
				t.Errorf("pod %s: phase %s, owner %s; want Pending, ReplicaSet", pods[i], pods[i+1], pods[i+2])
			}
		}
		if out := kubectl(t, "get", "replicasets", "-l", "app=web", "-o", "jsonpath={.items[0].status.replicas}"); out != "2" {
			t.Errorf("the ReplicaSet has %q replicas, want 2", out)
		}
		// The scheduler saw them: "no nodes available".
		eventually(t, time.Minute, func() string {
			out, err := cp.Kubectl(ctx, "get", "pods", "-l", "app=web", "-o", `jsonpath={.items[*].status.conditions[?(@.type=="PodScheduled")].reason}`)
			if err != nil {
				return err.Error()
			}
			if strings.Count(out, "Unschedulable") != 2 {
				return "PodScheduled reasons: " + out
			}
			return ""
		})
	})

	t.Run("node", func(t *testing.T) {
		const node = "podvisor-test-node"
		kubectlIn := func(stdin string, args ...string) string {
			t.Helper()
			out, err := cp.KubectlInput(ctx, stdin, args...)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		kubectlIn(`{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "`+node+`", "labels": {"kubernetes.io/hostname": "`+node+`"}}}`, "create", "-f", "-")
		uid := kubectl(t, "get", "node", node, "-o", "jsonpath={.metadata.uid}")
		renew := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		kubectlIn(`{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
			"metadata": {"name": "`+node+`", "namespace": "kube-node-lease",
				"ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "`+node+`", "uid": "`+uid+`"}]},
			"spec": {"holderIdentity": "`+node+`", "leaseDurationSeconds": 40, "renewTime": "`+renew+`"}}`, "create", "-f", "-")
		if out := kubectl(t, "get", "lease", "-n", "kube-node-lease", node, "-o", "jsonpath={.spec.holderIdentity} {.metadata.ownerReferences[0].uid}"); out != node+" "+uid {
			t.Errorf("lease: %q", out)
		}
		if out := kubectl(t, "get", "nodes", "-o", "name"); strings.TrimSpace(out) != "node/"+node {
			t.Errorf("nodes: %q", out)
		}
	})

	// The idle footprint, for the record.
	t.Run("footprint", func(t *testing.T) {
		pids, begin := cp.PIDs(), time.Now()
		ticks0 := cpuTicks(pids)
		time.Sleep(5 * time.Second)
		ticks1 := cpuTicks(pids)
		secs := time.Since(begin).Seconds()
		rss, err := cp.RSS()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{controlplane.Etcd, controlplane.APIServer, controlplane.Scheduler, controlplane.ControllerManager} {
			t.Logf("idle: %-23s RSS %4d MiB, CPU %4.1f%% of a core", c, rss[c]>>20, float64(ticks1[c]-ticks0[c])/secs)
		}
	})

	t.Run("stop", func(t *testing.T) {
		pids := cp.PIDs()
		begin := time.Now()
		stopped = true
		if err := cp.Stop(); err != nil {
			t.Error(err)
		}
		t.Logf("stopped in %.1fs", time.Since(begin).Seconds())
		for name, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s (pid %d) remains: kill 0: %v", name, pid, err)
			}
		}
		if kids := children(); len(kids) > 0 {
			t.Errorf("child processes remain: %v", kids)
		}
		left, _ := filepath.Glob(filepath.Join(cp.Dir, "*"))
		for _, f := range left {
			if !strings.HasSuffix(f, ".log") {
				t.Errorf("left after Stop: %s", f)
			}
		}
	})
}

// cpuTicks reads the CPU time (user and system, in clock ticks of 1/100 s)
// of processes, by name.
func cpuTicks(pids map[string]int) map[string]int64 {
	m := map[string]int64{}
	for name, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command's name, "(...)": utime and stime are
		// the 12th and 13th.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			m[name] = u + s
		}
	}
	return m
}

// children lists this process's child processes (pid and command).
func children() []string {
	var kids []string
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == self {
			kids = append(kids, string(b[:i+1]))
		}
	}
	return kids
}

// TestStartFailure checks that Start reports a component that fails with
// the tail of its log, and leaves nothing running.
func TestStartFailure(t *testing.T) {
	bin := os.Getenv("PODVISOR_KUBE_BIN")
	if bin == "" {
		t.Skip("PODVISOR_KUBE_BIN is not set: it names the bin directory test/kube/build.sh makes (make test-kube builds it and runs this)")
	}
	dir := t.TempDir()
	_, err := controlplane.Start(t.Context(), controlplane.Options{
		BinDir: bin, Dir: dir, Log: t.Output(),
		Args: map[string][]string{controlplane.APIServer: {"--no-such-flag"}},
	})
	if err == nil {
		t.Fatal("Start succeeded with a bad flag")
	}
	t.Logf("the error:\n%v", err)
	for _, want := range []string{"kube-apiserver exited", "tail of " + filepath.Join(dir, "kube-apiserver.log"), "unknown flag: --no-such-flag"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q", want)
		}
	}
	if kids := children(); len(kids) > 0 {
		t.Errorf("child processes remain: %v", kids)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 2 { // etcd.log, kube-apiserver.log
		t.Errorf("left: %v", left)
	}
}
