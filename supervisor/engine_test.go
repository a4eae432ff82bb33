package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

func podYAML(name, spec string) string {
	return fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n%s", name, spec)
}

func TestPlacementFromFirstInstruction(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: probe
    `+helperCmd(t, "placement"))))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	lines := logLines(t, sv, name, "probe")
	want := st.Cgroup + "/probe"
	placed := map[string]bool{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "cgroup ") {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(l, "cgroup "), ":", 3)
		for c := range sv.h.V1 {
			if slices.Contains(strings.Split(parts[1], ","), c) {
				placed[c] = parts[2] == want
			}
		}
		if parts[0] == "0" && sv.h.UnifiedDir != "" {
			placed["unified"] = parts[2] == want
		}
	}
	if len(placed) == 0 {
		t.Fatalf("no cgroup lines in %q", lines)
	}
	for c, ok := range placed {
		if !ok {
			t.Errorf("controller %s: the process did not start in %s: %q", c, want, lines)
		}
	}
	for _, ns := range []struct{ kind, file string }{{"net", st.Namespaces.Net}, {"ipc", st.Namespaces.IPC}, {"uts", st.Namespaces.UTS}} {
		wantLine := fmt.Sprintf("ns %s %s:[%s]", ns.kind, ns.kind, nsInode(t, ns.file))
		if !slices.Contains(lines, wantLine) {
			t.Errorf("want %q in %q", wantLine, lines)
		}
		hostLink, _ := os.Readlink("/proc/self/ns/" + ns.kind)
		if slices.Contains(lines, "ns "+ns.kind+" "+hostLink) {
			t.Errorf("process was in the host's %s namespace", ns.kind)
		}
	}
	if !slices.Contains(lines, "hostname "+name) {
		t.Errorf("hostname: want %q in %q", name, lines)
	}
}

func TestSharedLoopbackAndIPC(t *testing.T) {
	sv := newTestSupervisor(t)
	addr := "127.0.0.1:18080"
	a, b := podName(t), podName(t)
	pa := createAndStart(t, sv, load(t, podYAML(a, `
  restartPolicy: Never
  processes:
  - name: server
    restartPolicy: Always
    `+helperCmd(t, "listen", addr)+`
  - name: shm
    restartPolicy: Always
    `+helperCmd(t, "shm-create")+`
  - name: client
    `+helperCmd(t, "dial", addr)+`
  - name: shmcheck
    `+helperCmd(t, "shm-check"))))
	waitCond(t, pa, 20*time.Second, "client and shmcheck done", func(s *pod.Status) bool {
		return procStatus(*s, "client").State == pod.StateTerminated && procStatus(*s, "shmcheck").State == pod.StateTerminated
	})
	st := pa.Status()
	if c := procStatus(st, "client"); *c.ExitCode != 0 {
		t.Errorf("client in the same pod could not reach the server: %+v %q", c, logLines(t, sv, a, "client"))
	}
	if c := procStatus(st, "shmcheck"); *c.ExitCode != 0 {
		t.Errorf("shared memory not shared inside the pod: %+v %q", c, logLines(t, sv, a, "shmcheck"))
	}
	// Another pod sees neither the server nor the segment.
	pb := createAndStart(t, sv, load(t, podYAML(b, `
  restartPolicy: Never
  processes:
  - name: client
    `+helperCmd(t, "dial", addr)+`
  - name: shmcheck
    `+helperCmd(t, "shm-check"))))
	st = waitPhase(t, pb, 30*time.Second, pod.PhaseFailed)
	if c := procStatus(st, "client"); c.ExitCode == nil || *c.ExitCode != 3 {
		t.Errorf("a client in another pod reached the server: %+v", c)
	}
	if c := procStatus(st, "shmcheck"); c.ExitCode == nil || *c.ExitCode != 4 {
		t.Errorf("another pod saw the segment: %+v", c)
	}
	// Neither does the host.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("the host reached the pod's loopback server")
	}
	if _, err := unix.SysvShmGet(shmKey, 0, 0); err == nil {
		t.Errorf("the host saw the pod's shared memory segment")
	}
	if err := pa.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestInitOrderAndFailure(t *testing.T) {
	sv := newTestSupervisor(t)
	dir := t.TempDir()
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  initProcesses:
  - name: one
    command: [sh, -c, "sleep 0.2; echo one >> %[1]s/order"]
  - name: two
    command: [sh, -c, "echo two >> %[1]s/order"]
  - name: three
    command: [sh, -c, "echo three >> %[1]s/order"]
  processes:
  - name: app
    command: [sh, -c, "echo app >> %[1]s/order"]
  - name: app2
    command: [sh, -c, "echo app2 >> %[1]s/order"]
`, dir))))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	b, _ := os.ReadFile(filepath.Join(dir, "order"))
	lines := strings.Fields(string(b))
	if len(lines) != 5 || !slices.Equal(lines[:3], []string{"one", "two", "three"}) {
		t.Fatalf("init order: %q", lines)
	}
	for _, ps := range st.Init {
		if ps.Reason != pod.ReasonCompleted || ps.Ready {
			t.Errorf("init %+v", ps)
		}
	}

	// A failing init under Never fails the pod and no app starts.
	name2 := podName(t)
	p2 := createAndStart(t, sv, load(t, podYAML(name2, fmt.Sprintf(`
  restartPolicy: Never
  initProcesses:
  - name: bad
    command: [sh, -c, "exit 7"]
  processes:
  - name: app
    command: [sh, -c, "echo started >> %s/app2"]
`, dir))))
	st = waitPhase(t, p2, 20*time.Second, pod.PhaseFailed)
	if bad := procStatus(st, "bad"); bad.Reason != pod.ReasonError || *bad.ExitCode != 7 {
		t.Errorf("bad init: %+v", bad)
	}
	if app := procStatus(st, "app"); app.State != pod.StateWaiting || app.StartedAt != nil {
		t.Errorf("app started after a failed init: %+v", app)
	}
	if _, err := os.Stat(filepath.Join(dir, "app2")); err == nil {
		t.Errorf("app ran after a failed init")
	}
	if !strings.Contains(st.Message, "bad") {
		t.Errorf("message should name the init process: %q", st.Message)
	}
}

func TestInitRetriedUnderOnFailure(t *testing.T) {
	sv := newTestSupervisor(t)
	dir := t.TempDir()
	name := podName(t)
	// Fails twice, then succeeds: the first retry is immediate, the second
	// after initialDelay.
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: OnFailure
  restartBackoff: {initialDelay: 100ms, maxDelay: 200ms}
  initProcesses:
  - name: flaky
    command: [sh, -c, "echo x >> %[1]s/tries; [ $(wc -l < %[1]s/tries) -ge 3 ]"]
  processes:
  - name: app
    command: [sh, -c, "exit 0"]
`, dir))))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	if f := procStatus(st, "flaky"); f.RestartCount != 2 || f.Reason != pod.ReasonCompleted {
		t.Errorf("flaky init: %+v", f)
	}
}

func TestRestartPolicies(t *testing.T) {
	sv := newTestSupervisor(t)
	cases := []struct {
		policy, cmd  string
		wantPhase    pod.Phase // "" : keeps running (restarts)
		wantRestarts bool
		wantReason   string
	}{
		{"Always", "exit 0", "", true, pod.ReasonCompleted},
		{"Always", "exit 1", "", true, pod.ReasonError},
		{"OnFailure", "exit 0", pod.PhaseSucceeded, false, pod.ReasonCompleted},
		{"OnFailure", "exit 2", "", true, pod.ReasonError},
		{"Never", "exit 0", pod.PhaseSucceeded, false, pod.ReasonCompleted},
		{"Never", "exit 3", pod.PhaseFailed, false, pod.ReasonError},
	}
	for _, c := range cases {
		t.Run(c.policy+"/"+strings.ReplaceAll(c.cmd, " ", ""), func(t *testing.T) {
			name := podName(t)
			p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: %s
  restartBackoff: {initialDelay: 50ms, maxDelay: 100ms}
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: [sh, -c, %q]
`, c.policy, c.cmd))))
			var st pod.Status
			if c.wantPhase != "" {
				st = waitPhase(t, p, 20*time.Second, c.wantPhase)
				time.Sleep(200 * time.Millisecond)
				st = p.Status()
			} else {
				st = waitCond(t, p, 20*time.Second, "three restarts", func(s *pod.Status) bool {
					return s.Processes[0].RestartCount >= 3
				})
				if st.Phase != pod.PhaseRunning {
					t.Errorf("phase %s while restarting", st.Phase)
				}
			}
			app := st.Processes[0]
			if (app.RestartCount > 0) != c.wantRestarts {
				t.Errorf("restartCount %d, want restarts %v", app.RestartCount, c.wantRestarts)
			}
			if app.Reason != c.wantReason && !(c.wantRestarts && app.Reason == pod.ReasonCrashLoopBackOff) && app.State != pod.StateRunning {
				t.Errorf("reason %q, want %q", app.Reason, c.wantReason)
			}
			if app.ExitCode == nil {
				t.Errorf("no exit code recorded: %+v", app)
			}
			if err := p.Stop(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			if err := sv.Remove(context.Background(), name, RemoveOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestProcessPolicyOverridesPod(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  processes:
  - name: once
    restartPolicy: Never
    command: [sh, -c, "exit 5"]
  - name: done
    restartPolicy: OnFailure
    command: [sh, -c, "exit 0"]
`)))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseFailed)
	if o := procStatus(st, "once"); o.RestartCount != 0 || *o.ExitCode != 5 {
		t.Errorf("once: %+v", o)
	}
	if d := procStatus(st, "done"); d.RestartCount != 0 || d.Reason != pod.ReasonCompleted {
		t.Errorf("done: %+v", d)
	}
}

func TestBackoffTiming(t *testing.T) {
	sv := newTestSupervisor(t)
	events, cancel := sv.Subscribe(1024)
	defer cancel()
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  restartBackoff: {initialDelay: 400ms, maxDelay: 800ms}
  processes:
  - name: crash
    command: [sh, -c, "exit 1"]
`)))
	waitCond(t, p, 10*time.Second, "waiting in back-off", func(s *pod.Status) bool {
		return s.Processes[0].State == pod.StateWaiting && s.Processes[0].Reason == pod.ReasonCrashLoopBackOff
	})
	var starts []time.Time
	var delays []string
	timeout := time.After(20 * time.Second)
	for len(starts) < 5 {
		select {
		case e := <-events:
			if e.Pod != name {
				continue
			}
			switch e.Type {
			case EventStarted:
				starts = append(starts, e.Time)
			case EventRestarting:
				delays = append(delays, e.Delay)
			}
		case <-timeout:
			t.Fatalf("only %d starts", len(starts))
		}
	}
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"0s", "400ms", "800ms", "800ms"}; !slices.Equal(delays[:4], want) {
		t.Errorf("announced delays %q, want %q", delays[:4], want)
	}
	gaps := make([]time.Duration, 4)
	for i := range gaps {
		gaps[i] = starts[i+1].Sub(starts[i])
	}
	// Generous bounds: the exact curve is unit-tested in package pod.
	if gaps[0] > 300*time.Millisecond {
		t.Errorf("first restart not immediate: %v", gaps[0])
	}
	for i, min := range []time.Duration{400, 800, 800} {
		if g := gaps[i+1]; g < min*time.Millisecond || g > min*time.Millisecond+2*time.Second {
			t.Errorf("gap %d = %v, want about %vms", i+1, g, min)
		}
	}
}

func TestStopPoliteReturnsAtOnce(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 30
  processes:
  - name: a
    command: [sleep, "1000"]
  - name: b
    command: [sleep, "1000"]
`)))
	waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool {
		return s.Processes[0].PID > 0 && s.Processes[1].PID > 0
	})
	begin := time.Now()
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("stop of polite processes took %v (grace 30s)", took)
	}
	st := p.Status()
	if st.Phase != pod.PhaseStopped {
		t.Errorf("phase %s", st.Phase)
	}
	for _, ps := range st.Processes {
		if ps.State != pod.StateTerminated || ps.Signal != "SIGTERM" || *ps.ExitCode != 143 || ps.PID != 0 {
			t.Errorf("after stop: %+v", ps)
		}
	}
}

func TestStopTermIgnoringKilledAtGrace(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  processes:
  - name: stubborn
    `+helperCmd(t, "ignore-term")+`
  - name: polite
    command: [sleep, "1000"]
`)))
	waitLog(t, sv, name, "stubborn", "ignoring TERM", 10*time.Second)
	begin := time.Now()
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	if took < time.Second || took > 4*time.Second {
		t.Errorf("stop took %v, want about the 1s grace period", took)
	}
	st := p.Status()
	s := procStatus(st, "stubborn")
	if s.Reason != pod.ReasonKilled || s.Signal != "SIGKILL" || *s.ExitCode != 137 {
		t.Errorf("stubborn: %+v", s)
	}
	if pl := procStatus(st, "polite"); pl.Reason != pod.ReasonError || pl.Signal != "SIGTERM" {
		t.Errorf("polite: %+v", pl)
	}
}

func TestStopCancelsPendingRestart(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartBackoff: {initialDelay: 1h, maxDelay: 1h}
  processes:
  - name: crash
    command: [sh, -c, "exit 1"]
`)))
	waitCond(t, p, 10*time.Second, "back-off", func(s *pod.Status) bool {
		return s.Processes[0].Reason == pod.ReasonCrashLoopBackOff
	})
	begin := time.Now()
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 2*time.Second {
		t.Errorf("stop waited for a pending restart")
	}
	if st := p.Status(); st.Phase != pod.PhaseStopped || st.Processes[0].State != pod.StateTerminated || st.Processes[0].Reason != pod.ReasonError {
		t.Errorf("after stop: %+v", st)
	}
}

var pidLine = regexp.MustCompile(`^grandchild (\d+)$`)

func grandchildPid(t *testing.T, sv *Supervisor, podName, process string) int {
	t.Helper()
	for _, l := range waitLog(t, sv, podName, process, "grandchild", 10*time.Second) {
		if m := pidLine.FindStringSubmatch(l); m != nil {
			pid, _ := strconv.Atoi(m[1])
			return pid
		}
	}
	t.Fatal("no grandchild pid")
	return 0
}

func waitGone(t *testing.T, pid int, timeout time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: pid %d still there (alive %v)", what, pid, alive(pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStopKillsSetsidGrandchildren(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  processes:
  - name: parent
    command: [sh, -c, "setsid sh -c 'trap \"\" TERM; while :; do sleep 1; done' & echo grandchild $!; exec sleep 1000"]
`)))
	gc := grandchildPid(t, sv, name, "parent")
	if !alive(gc) {
		t.Fatalf("grandchild %d not running", gc)
	}
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	waitGone(t, gc, 3*time.Second, "setsid grandchild after stop")
}

func TestLeftoversKilledWhenProcessExits(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: leaver
    command: [sh, -c, "setsid sleep 1000 & echo grandchild $!; exit 1"]
  - name: stay
    restartPolicy: Always
    command: [sleep, "1000"]
`)))
	gc := grandchildPid(t, sv, name, "leaver")
	waitCond(t, p, 10*time.Second, "leaver exited", func(s *pod.Status) bool {
		return procStatus(*s, "leaver").State == pod.StateTerminated
	})
	// The orphan is killed and, the supervisor being its subreaper, reaped.
	waitGone(t, gc, 3*time.Second, "leftover of an exited process")
	if st := p.Status(); st.Phase != pod.PhaseRunning {
		t.Errorf("phase %s", st.Phase)
	}
}

func TestOrphansReapedPromptly(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	createAndStart(t, sv, load(t, podYAML(name, `
  processes:
  - name: forker
    command: [sh, -c, "sh -c 'sleep 0.3 & echo grandchild $!'; exec sleep 1000"]
`)))
	gc := grandchildPid(t, sv, name, "forker")
	// Its parent is gone: it is the supervisor's child now, and must be
	// reaped as soon as it exits (0.3 s), not left a zombie.
	waitGone(t, gc, 3*time.Second, "orphan")
}

func TestOOMKilled(t *testing.T) {
	for _, level := range []string{"process", "pod"} {
		t.Run(level, func(t *testing.T) {
			sv := newTestSupervisor(t)
			events, cancel := sv.Subscribe(256)
			defer cancel()
			limits := "\n    resources: {limits: {memory: 32Mi}}"
			podLimits := ""
			if level == "pod" {
				limits, podLimits = "", "\n  resources: {limits: {memory: 32Mi}}"
			}
			name := podName(t)
			p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never`+podLimits+`
  processes:
  - name: hog
    `+helperCmd(t, "hog")+limits+`
`)))
			st := waitPhase(t, p, 30*time.Second, pod.PhaseFailed)
			h := procStatus(st, "hog")
			if h.Reason != pod.ReasonOOMKilled || h.Signal != "SIGKILL" || *h.ExitCode != 137 {
				t.Errorf("hog: %+v", h)
			}
			for {
				select {
				case e := <-events:
					if e.Type == EventOOMKilled && e.Process == "hog" {
						return
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no OOMKilled event")
				}
			}
		})
	}
}

func readCgroupFile(t *testing.T, sv *Supervisor, path, controller, file string) string {
	t.Helper()
	g, err := sv.h.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := g.UnifiedDir()
	if d, ok := g.V1Dirs()[controller]; ok {
		dir = d
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestLimitsWritten(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p, err := sv.Create(load(t, podYAML(name, `
  resources: {limits: {cpu: 500m, memory: 256Mi, pids: 100}}
  processes:
  - name: app
    command: [sleep, "1000"]
    resources: {limits: {cpu: 250m, memory: 64Mi, pids: 20}}
`)))
	if err != nil {
		t.Fatal(err)
	}
	podCg, procCg := p.Status().Cgroup, p.Status().Cgroup+"/app"
	if sv.h.V1 != nil {
		for _, c := range []struct{ path, ctrl, file, want string }{
			{podCg, "cpu", "cpu.cfs_quota_us", "50000"},
			{podCg, "cpu", "cpu.cfs_period_us", "100000"},
			{procCg, "cpu", "cpu.cfs_quota_us", "25000"},
			{podCg, "memory", "memory.limit_in_bytes", "268435456"},
			{procCg, "memory", "memory.limit_in_bytes", "67108864"},
			{podCg, "pids", "pids.max", "100"},
			{procCg, "pids", "pids.max", "20"},
		} {
			if got := readCgroupFile(t, sv, c.path, c.ctrl, c.file); got != c.want {
				t.Errorf("%s %s = %q, want %q", c.path, c.file, got, c.want)
			}
		}
	} else {
		for _, c := range []struct{ path, file, want string }{
			{podCg, "cpu.max", "50000 100000"},
			{procCg, "cpu.max", "25000 100000"},
			{podCg, "memory.max", "268435456"},
			{procCg, "pids.max", "20"},
		} {
			if got := readCgroupFile(t, sv, c.path, "", c.file); got != c.want {
				t.Errorf("%s %s = %q, want %q", c.path, c.file, got, c.want)
			}
		}
	}
}

func TestPidsLimitEnforced(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: forker
    command: [sh, -c, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 3 & done; wait; echo done"]
    resources: {limits: {pids: 4}}
`)))
	g, err := sv.h.Open(p.Status().Cgroup + "/forker")
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	deadline := time.Now().Add(20 * time.Second)
	for p.Status().Phase == pod.PhaseRunning && time.Now().Before(deadline) {
		pids, _ := g.Pids()
		most = max(most, len(pids))
		time.Sleep(5 * time.Millisecond)
	}
	if most > 4 {
		t.Errorf("%d processes in a cgroup limited to 4", most)
	}
	if most == 0 {
		t.Errorf("never saw the processes")
	}
	joined := strings.Join(logLines(t, sv, name, "forker"), "\n")
	if !strings.Contains(joined, "fork") && !strings.Contains(joined, "Resource temporarily unavailable") {
		t.Errorf("no fork failure in the output: %q", joined)
	}
}

func TestStartErrors(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: nobin
    command: [/nonexistent/podvisor-missing]
  - name: nopath
    command: [podvisor-missing-command]
  - name: baduser
    user: no-such-user-podvisor
    command: [sleep, "1"]
  - name: baddir
    workingDir: /nonexistent-podvisor-dir
    command: [sleep, "1"]
`)))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseFailed)
	for proc, want := range map[string]string{
		"nobin":   "/nonexistent/podvisor-missing",
		"nopath":  "podvisor-missing-command",
		"baduser": "no-such-user-podvisor",
		"baddir":  "/nonexistent-podvisor-dir",
	} {
		ps := procStatus(st, proc)
		if ps.Reason != pod.ReasonStartError || !strings.Contains(ps.Message, want) || ps.State != pod.StateTerminated {
			t.Errorf("%s: %+v, want StartError naming %q", proc, ps, want)
		}
	}
}

func TestRunAsUser(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: who
    user: "65534:65534"
    command: [sh, -c, "echo uid=$(id -u) gid=$(id -g) home=$HOME pod=$POD_NAME proc=$PROCESS_NAME x=$X"]
    env: [{name: X, value: "1"}, {name: X, value: "2"}]
`)))
	waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	lines := logLines(t, sv, name, "who")
	want := fmt.Sprintf("uid=65534 gid=65534 home=%s pod=%s proc=who x=2", homeOf("65534"), name)
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("got %q, want %q", lines, want)
	}
}

func TestRemoveLeavesNothing(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  processes:
  - name: parent
    command: [sh, -c, "setsid sleep 1000 & echo grandchild $!; exec sleep 1000"]
`)))
	gc := grandchildPid(t, sv, name, "parent")
	st := p.Status()
	main := st.Processes[0].PID
	if err := sv.Remove(context.Background(), name, RemoveOptions{}); !errors.Is(err, pod.ErrConflict) {
		t.Fatalf("remove of a running pod without force: %v", err)
	}
	if err := sv.Remove(context.Background(), name, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, gc, 3*time.Second, "grandchild after rm")
	waitGone(t, main, 3*time.Second, "process after rm")
	assertNoCgroup(t, sv.h, st.Cgroup)
	for _, f := range []string{st.Namespaces.Net, st.Namespaces.IPC, st.Namespaces.UTS, filepath.Dir(st.Namespaces.Net), filepath.Join(sv.Root(), "pods", name)} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("left behind: %s", f)
		}
	}
	assertNoMountUnder(t, filepath.Join(sv.Root(), "ns", name))
	if _, err := sv.Get(name); !errors.Is(err, pod.ErrNotFound) {
		t.Errorf("get after rm: %v", err)
	}
}

func TestBadSpecLeavesNothing(t *testing.T) {
	sv := newTestSupervisor(t)
	spec := load(t, podYAML("good", `
  processes:
  - name: a
    command: [sleep, "1"]
`))
	spec.Spec.Processes = append(spec.Spec.Processes, pod.Process{Name: "a", Command: []string{"x"}})
	_, err := sv.Create(spec)
	if !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), `spec.processes[1].name: duplicate name "a"`) {
		t.Fatalf("create: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(sv.Root(), "pods"))
	if len(entries) != 0 {
		t.Errorf("state left behind: %v", entries)
	}
	assertNoCgroup(t, sv.h, "/"+sv.opts.CgroupParent+"/good")
}

func TestCreateTwiceAlreadyExists(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	spec := load(t, podYAML(name, `
  processes:
  - name: a
    command: [sleep, "1"]
`))
	if _, err := sv.Create(spec); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Create(spec); !errors.Is(err, pod.ErrAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
}

func TestHostNetwork(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  network: host
  hostname: other-name
  processes:
  - name: probe
    `+helperCmd(t, "placement"))))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	if st.Namespaces.Net != "" {
		t.Errorf("net namespace file for a host-network pod: %q", st.Namespaces.Net)
	}
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	lines := logLines(t, sv, name, "probe")
	if !slices.Contains(lines, "ns net "+hostNet) {
		t.Errorf("want the host's network namespace %s in %q", hostNet, lines)
	}
	if !slices.Contains(lines, "hostname other-name") {
		t.Errorf("hostname: %q", lines)
	}
}

func TestLogFormat(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: talker
    command: [sh, -c, "echo out1; echo err1 >&2; printf 'no newline'"]
`)))
	waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
	time.Sleep(100 * time.Millisecond)
	b, err := os.ReadFile(logPath(filepath.Join(sv.Root(), "pods", name), "talker"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(\S+) (stdout|stderr) F (.*)$`)
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a CRI log line: %q", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, m[1]); err != nil {
			t.Errorf("timestamp %q: %v", m[1], err)
		}
		got[m[3]] = m[2]
	}
	want := map[string]string{"out1": "stdout", "err1": "stderr", "no newline": "stdout"}
	for line, stream := range want {
		if got[line] != stream {
			t.Errorf("line %q: stream %q, want %q (all: %v)", line, got[line], stream, got)
		}
	}
}

func TestEventsAndStatusShape(t *testing.T) {
	sv := newTestSupervisor(t)
	events, cancel := sv.Subscribe(256)
	defer cancel()
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: a
    command: [sh, -c, "exit 3"]
`)))
	st := waitPhase(t, p, 20*time.Second, pod.PhaseFailed)
	if st.StartedAt == nil || st.CreatedAt.IsZero() || st.Hostname != name || !strings.HasSuffix(st.Cgroup, "/"+name) {
		t.Errorf("status: %+v", st)
	}
	a := st.Processes[0]
	if a.FinishedAt == nil || a.StartedAt == nil || a.FinishedAt.Before(*a.StartedAt) || a.Signal != "" {
		t.Errorf("process status: %+v", a)
	}
	var types []EventType
	deadline := time.After(5 * time.Second)
	for !slices.Contains(types, EventPhase) || len(types) < 4 {
		select {
		case e := <-events:
			if e.Pod == name {
				types = append(types, e.Type)
				if e.Type == EventExited && (e.ExitCode == nil || *e.ExitCode != 3 || e.Reason != pod.ReasonError) {
					t.Errorf("exit event: %+v", e)
				}
			}
		case <-deadline:
			t.Fatalf("events: %v", types)
		}
	}
	for _, want := range []EventType{EventCreated, EventStarted, EventExited, EventPhase} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s event in %v", want, types)
		}
	}
}

// A cgroup that was killed with cgroup.kill must not kill what is started
// in it afterwards (the kernel does, for CLONE_INTO_CGROUP, until the
// cgroup is made anew).
func TestStartAgainAfterKilledStop(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 0
  processes:
  - name: a
    command: [sh, -c, "echo run; exec sleep 1000"]
  - name: b
    command: [sleep, "1000"]
`)))
	waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool { return s.Processes[0].PID > 0 && s.Processes[1].PID > 0 })
	if err := p.Stop(context.Background(), nil); err != nil { // grace 0: the pod's cgroup is killed
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	st := p.Status()
	for _, ps := range st.Processes {
		if ps.State != pod.StateRunning || ps.RestartCount != 0 || !alive(ps.PID) {
			t.Errorf("after stop and start: %+v", ps)
		}
	}
}

func TestRestartAfterLeftoversKilled(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  restartBackoff: {initialDelay: 100ms, maxDelay: 100ms}
  processes:
  - name: leaver
    command: [sh, -c, "setsid sleep 1000 & echo run; sleep 0.3; exit 1"]
`)))
	st := waitCond(t, p, 20*time.Second, "three restarts", func(s *pod.Status) bool { return s.Processes[0].RestartCount >= 3 })
	// Each run lived its 0.3 s and exited 1: none was killed at birth.
	if c := st.Processes[0].ExitCode; c == nil || *c != 1 {
		t.Errorf("last exit: %+v", st.Processes[0])
	}
	runs := 0
	for _, l := range logLines(t, sv, name, "leaver") {
		if l == "run" {
			runs++
		}
	}
	if runs < 3 {
		t.Errorf("%d runs printed", runs)
	}
}

func TestStartErrorUnderAlwaysKeepsItsMessage(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  processes:
  - name: nobin
    command: [/nonexistent/podvisor-missing]
`)))
	st := waitCond(t, p, 10*time.Second, "back-off", func(s *pod.Status) bool {
		return s.Processes[0].Reason == pod.ReasonCrashLoopBackOff
	})
	if m := st.Processes[0].Message; !strings.Contains(m, pod.ReasonStartError) || !strings.Contains(m, "/nonexistent/podvisor-missing") {
		t.Errorf("message while waiting: %q", m)
	}
}
