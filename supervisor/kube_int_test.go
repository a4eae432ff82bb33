package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
)

// These tests run Kubernetes manifests as users write them (testdata/kube,
// from the Kubernetes documentation's examples, with host programs for
// commands) through pod/kube and the engine, for real.

// loadKube loads a manifest of testdata/kube with HOSTDIR replaced, and
// renames its one pod uniquely (its name stays in the downward API).
func loadKube(t *testing.T, file string, replace ...string) *pod.Pod {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kube", file))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer(replace...).Replace(string(b))
	res, err := kube.Load([]byte(text), kube.Options{NodeName: "test-node", HostIP: "192.0.2.10", NodeCPU: 2, NodeMemory: 4 << 30})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(res.Pods) != 1 {
		t.Fatalf("%s: %d pods", file, len(res.Pods))
	}
	p := res.Pods[0]
	p.Metadata.Name = p.Metadata.Name + "-" + podName(t)
	return p
}

func TestKubeDownwardAPIAndDependentEnv(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "dapi-envars.yaml")
	p := createAndStart(t, sv, spec)
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	lines := waitLog(t, sv, spec.Metadata.Name, "test-container", "hello world", 5*time.Second)
	want := []string{"test-node", "dapi-envars-fieldref", "default", "default", "envars", "42", "250", "64",
		"name=world", "hello world from dapi-envars-fieldref, $(NOT_EXPANDED)"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestKubeEmptyDirSharedByThree(t *testing.T) {
	sv := newTestSupervisor(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "host.txt"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := loadKube(t, "emptydir-three.yaml", "HOSTDIR", host)
	p := createAndStart(t, sv, spec)
	waitPhase(t, p, 15*time.Second, pod.PhaseSucceeded)
	reader := waitLog(t, sv, spec.Metadata.Name, "reader", "index.html", 5*time.Second)
	if reader[0] != "written-by-init" || strings.Contains(strings.Join(reader, " "), "host.txt") {
		t.Errorf("reader: %q", reader)
	}
	waitLog(t, sv, spec.Metadata.Name, "appender", "written-by-init", 5*time.Second)
	if entries, _ := os.ReadDir(host); len(entries) != 1 {
		t.Errorf("the host directory changed: %v", entries)
	}
	if _, err := os.Lstat("/usr/share/podvisor-test"); err == nil {
		t.Error("a mount path was made on the host")
	}
}

func TestKubeJobWithNativeSidecar(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "job-sidecar.yaml")
	if !spec.Spec.InitProcesses[0].IsSidecar() {
		t.Fatal("the init container with restartPolicy Always is not a sidecar")
	}
	p := createAndStart(t, sv, spec)
	st := waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	waitLog(t, sv, spec.Metadata.Name, "myjob", "job-done", 5*time.Second)
	waitLog(t, sv, spec.Metadata.Name, "logshipper", "shipper-down", 5*time.Second)
	if s := procStatus(st, "logshipper"); !s.Sidecar {
		t.Errorf("logshipper: %+v", s)
	}
}

func TestKubeExecLivenessWithPrivateTmp(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "liveness-exec.yaml")
	p := createAndStart(t, sv, spec)
	// Healthy while /tmp/healthy exists in the pod's /tmp, then restarted.
	st := waitCond(t, p, 20*time.Second, "a liveness restart", func(s *pod.Status) bool {
		return procStatus(*s, "liveness").RestartCount >= 1
	})
	if _, err := os.Stat("/tmp/healthy"); err == nil {
		t.Error("/tmp/healthy is on the host's /tmp")
	}
	l := procStatus(st, "liveness")
	if l.LastState.Terminated == nil {
		t.Errorf("liveness: %+v", l)
	}
}

func TestKubeSecurityContexts(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "security.yaml")
	p := createAndStart(t, sv, spec)
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	demo := waitLog(t, sv, spec.Metadata.Name, "sec-ctx-demo", "end", 5*time.Second)
	if u := statusField(demo, "Uid"); !strings.HasPrefix(u, "1000\t") {
		t.Errorf("Uid %q", u)
	}
	if g := statusField(demo, "Gid"); !strings.HasPrefix(g, "3000\t") {
		t.Errorf("Gid %q", g)
	}
	if g := statusField(demo, "Groups"); !strings.Contains(g, "2000") || !strings.Contains(g, "4000") {
		t.Errorf("Groups %q", g)
	}
	if statusField(demo, "NoNewPrivs") != "1" || statusField(demo, "CapEff") != "0000000000000000" {
		t.Errorf("NoNewPrivs %q CapEff %q", statusField(demo, "NoNewPrivs"), statusField(demo, "CapEff"))
	}
	if all := strings.Join(demo, "\n"); !strings.Contains(all, " 1000 2000 ") {
		t.Errorf("a file in the fsGroup volume is not the fsGroup's:\n%s", all)
	}
	caps := waitLog(t, sv, spec.Metadata.Name, "caps", "end", 5*time.Second)
	// The default set without NET_RAW (13), with NET_ADMIN (12) and
	// SYS_TIME (25).
	if got := statusField(caps, "CapEff"); got != "00000000aa0415fb" {
		t.Errorf("caps CapEff %s", got)
	}
	if got := statusField(caps, "CapBnd"); got != "00000000aa0415fb" {
		t.Errorf("caps CapBnd %s", got)
	}
	if statusField(caps, "NoNewPrivs") != "0" {
		t.Errorf("caps NoNewPrivs %q", statusField(caps, "NoNewPrivs"))
	}
}

func TestKubeRunAsNonRootRefused(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "nonroot.yaml")
	p := createAndStart(t, sv, spec)
	st := waitCond(t, p, 10*time.Second, "CreateContainerConfigError", func(s *pod.Status) bool {
		return procStatus(*s, "app").Reason == pod.ReasonCreateContainerConfigError
	})
	if a := procStatus(st, "app"); a.State != pod.StateWaiting {
		t.Errorf("app: %+v", a)
	}
	if lines := logLines(t, sv, spec.Metadata.Name, "app"); len(lines) != 0 {
		t.Errorf("the refused process ran: %q", lines)
	}
}

func TestKubeShareProcessNamespace(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "share-pid.yaml")
	createAndStart(t, sv, spec)
	lines := waitLog(t, sv, spec.Metadata.Name, "shell", "end", 10*time.Second)
	n := 0
	sawSleep := false
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] >= "0" && f[0][0] <= '9' {
			n++
			sawSleep = sawSleep || f[1] == "sleep"
		}
	}
	if n < 3 || n > 6 || !sawSleep {
		t.Errorf("ps in the pod (%d processes):\n%s", n, strings.Join(lines, "\n"))
	}
}

func TestKubeActiveDeadline(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := loadKube(t, "deadline.yaml")
	p := createAndStart(t, sv, spec)
	st := waitPhase(t, p, 15*time.Second, pod.PhaseFailed)
	if st.Reason != pod.ReasonDeadlineExceeded {
		t.Errorf("reason %q", st.Reason)
	}
}
