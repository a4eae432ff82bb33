package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
)

// Root integration tests of the pod lifecycle (pod.Machine carried out by
// the engine): real processes, real probes and hooks, one test per rule.
// Bounds are generous: timing goals live in the benchmarks.

// recorder keeps the events of one pod, as the supervisor publishes them.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

// recordEvents subscribes before the pod is made, so that no event of it
// is missed; the subscription ends with the test.
func recordEvents(t *testing.T, sv *Supervisor, name string) *recorder {
	t.Helper()
	ch, cancel := sv.Subscribe(8192)
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			if e.Pod == name {
				r.mu.Lock()
				r.evs = append(r.evs, e)
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *recorder) list() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

// match: a type, and a process and reason unless empty.
func match(e Event, typ EventType, process, reason string) bool {
	return e.Type == typ && (process == "" || e.Process == process) && (reason == "" || e.Reason == reason)
}

func (r *recorder) all(typ EventType, process, reason string) []Event {
	var out []Event
	for _, e := range r.list() {
		if match(e, typ, process, reason) {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) count(typ EventType, process, reason string) int {
	return len(r.all(typ, process, reason))
}

// index is the position of the first matching event, -1 if none.
func index(evs []Event, typ EventType, process, reason string) int {
	return slices.IndexFunc(evs, func(e Event) bool { return match(e, typ, process, reason) })
}

// wait waits until at least n matching events have come.
func (r *recorder) wait(t *testing.T, timeout time.Duration, n int, typ EventType, process, reason string) []Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if evs := r.all(typ, process, reason); len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d %s events (process %q, reason %q); got %s", timeout, n, typ, process, reason, r.summary())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *recorder) summary() string {
	var b strings.Builder
	for _, e := range r.list() {
		fmt.Fprintf(&b, "\n  %s %s %s/%s %q", e.Time.Format("15:04:05.000"), e.Type, e.Process, e.Reason, e.Message)
	}
	return b.String()
}

func condition(st pod.Status, typ string) pod.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return pod.Condition{}
}

// readyIs waits until process name's ready flag is want, and checks that
// the pod's Ready and ContainersReady conditions say the same.
func readyIs(t *testing.T, p *Pod, name string, want bool) pod.Status {
	t.Helper()
	st := waitCond(t, p, 15*time.Second, fmt.Sprintf("%s ready=%v", name, want), func(s *pod.Status) bool {
		return procStatus(*s, name).Ready == want && procStatus(*s, name).State == pod.StateRunning
	})
	wantCond := pod.ConditionFalse
	if want {
		wantCond = pod.ConditionTrue
	}
	for _, c := range []string{pod.ConditionReadyPod, pod.ConditionContainersReady} {
		if got := condition(st, c); got.Status != wantCond {
			t.Errorf("%s ready=%v but condition %s is %+v", name, want, c, got)
		}
	}
	return st
}

// flipReady drives a readiness probe through ready, not ready, ready with
// set, and checks the conditions' transition times and the Unhealthy
// events (Reason Readiness, message containing failMsg).
func flipReady(t *testing.T, p *Pod, ev *recorder, name string, set func(bool), failMsg string) {
	t.Helper()
	set(false)
	readyIs(t, p, name, false)
	ev.wait(t, 15*time.Second, 1, EventUnhealthy, name, "Readiness")
	set(true)
	st1 := readyIs(t, p, name, true)
	set(false)
	st2 := readyIs(t, p, name, false)
	set(true)
	st3 := readyIs(t, p, name, true)
	for _, c := range []string{pod.ConditionReadyPod, pod.ConditionContainersReady} {
		t1, t2, t3 := condition(st1, c).LastTransitionTime, condition(st2, c).LastTransitionTime, condition(st3, c).LastTransitionTime
		if !t1.Before(t2) || !t2.Before(t3) {
			t.Errorf("condition %s: lastTransitionTime did not move at each flip: %v, %v, %v", c, t1, t2, t3)
		}
	}
	un := ev.all(EventUnhealthy, name, "")
	for _, e := range un {
		if e.Reason != "Readiness" || !strings.Contains(e.Message, failMsg) {
			t.Errorf("Unhealthy event: %+v, want reason Readiness and a message containing %q", e, failMsg)
		}
	}
	if n := ev.count(EventKilling, "", ""); n != 0 {
		t.Errorf("a readiness probe stopped a process: %s", ev.summary())
	}
	if rc := procStatus(p.Status(), name).RestartCount; rc != 0 {
		t.Errorf("restartCount %d after readiness flips", rc)
	}
}

// netnsDialer is a dialer into the pod's network namespace, closed with
// the test (after what listens through it: cleanups run last first).
func netnsDialer(t *testing.T, p *Pod) *namespaces.NetDialer {
	t.Helper()
	d, err := namespaces.NewNetDialer(p.Status().Namespaces.Net)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// serveHTTP serves, inside the pod's network namespace, 200 while ok is
// set and 503 otherwise.
func serveHTTP(t *testing.T, d *namespaces.NetDialer, addr string, ok *atomic.Bool) {
	t.Helper()
	ln, err := d.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// acceptLoop accepts and closes connections until ln is closed.
func acceptLoop(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// trapCmd is a YAML flow list: a shell that, on SIGTERM, appends "<word>"
// to file and exits 0; it prints "up" once the trap is set.
func trapCmd(file, word string) string {
	return fmt.Sprintf("[sh, -c, %q]", fmt.Sprintf("trap 'echo %s >> %s; exit 0' TERM; echo up; sleep 1000 & wait", word, file))
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func stopPod(t *testing.T, p *Pod) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	if err := p.Stop(ctx, nil); err != nil {
		t.Fatalf("stop: %v", err)
	}
	return time.Since(begin)
}

// 1. An exec readiness probe follows a file: ready, not ready, ready.
func TestLifecycleExecReadinessFlips(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	ev := recordEvents(t, sv, name)
	file := filepath.Join(t.TempDir(), "ready-"+name)
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: [sleep, "1000"]
    readinessProbe:
      exec: {command: [test, -e, %q]}
      periodSeconds: 1
      failureThreshold: 1
`, file))))
	flipReady(t, p, ev, "app", func(ok bool) {
		if ok {
			touch(t, file)
		} else if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}, "Readiness probe failed")
	if st := p.Status(); !procStatus(st, "app").Started {
		t.Errorf("a process with a failing readiness probe is still started: %+v", procStatus(st, "app"))
	}
}

// 2. An httpGet readiness probe, by port number and by port name, against
// a server the test runs inside the pod's network namespace.
func TestLifecycleHTTPReadinessFlips(t *testing.T) {
	for _, c := range []struct{ name, ports, port string }{
		{"number", "", "8080"},
		{"named", "\n    ports: [{name: http, containerPort: 8080}]", "http"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sv := newTestSupervisor(t)
			name := podName(t)
			ev := recordEvents(t, sv, name)
			p, err := sv.Create(load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: [sleep, "1000"]%s
    readinessProbe:
      httpGet: {path: /healthz, port: %s}
      periodSeconds: 1
      failureThreshold: 1
`, c.ports, c.port))))
			if err != nil {
				t.Fatal(err)
			}
			var ok atomic.Bool
			serveHTTP(t, netnsDialer(t, p), "127.0.0.1:8080", &ok)
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			flipReady(t, p, ev, "app", ok.Store, "statuscode: 503")
		})
	}
}

// 3. A tcpSocket liveness probe: past its threshold the process is
// stopped and restarted, once per crossing. "slowStop": the process
// ignores SIGTERM, so its stop lasts the whole grace period, over which
// the probe must not run again (nor stop it again).
func TestLifecycleTCPLivenessRestartsOnce(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, cmd string
		grace     int
		signal    int
		reason    string
	}{
		{"politeStop", `[sleep, "1000"]`, 2, 15, pod.ReasonError},
		{"slowStop", fmt.Sprintf("[%q, ignore-term]\n    env: [{name: PODVISOR_TEST_HELPER, value: ignore-term}]", exe), 3, 9, pod.ReasonKilled},
	} {
		t.Run(c.name, func(t *testing.T) {
			tcpLiveness(t, c.cmd, c.grace, c.signal, c.reason)
		})
	}
}

func tcpLiveness(t *testing.T, cmd string, grace, wantSignal int, wantReason string) {
	sv := newTestSupervisor(t)
	name := podName(t)
	ev := recordEvents(t, sv, name)
	p, err := sv.Create(load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: %d
  restartBackoff: {initialDelay: 200ms, maxDelay: 400ms}
  processes:
  - name: app
    command: %s
    livenessProbe:
      tcpSocket: {port: 9000}
      periodSeconds: 1
      failureThreshold: 3
`, grace, cmd))))
	if err != nil {
		t.Fatal(err)
	}
	d := netnsDialer(t, p)
	var mu sync.Mutex
	var ln net.Listener
	listen := func() {
		l, err := d.Listen("tcp", "127.0.0.1:9000")
		if err != nil {
			t.Fatal(err)
		}
		acceptLoop(l)
		mu.Lock()
		ln = l
		mu.Unlock()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if ln != nil {
			ln.Close()
		}
	})
	listen()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// Healthy: a few periods pass without a failure.
	waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool { return s.Processes[0].State == pod.StateRunning })
	time.Sleep(3 * time.Second)
	if n := ev.count(EventUnhealthy, "", ""); n != 0 || p.Status().Processes[0].RestartCount != 0 {
		t.Fatalf("a passing liveness probe failed or restarted: %s", ev.summary())
	}
	pid := p.Status().Processes[0].PID

	mu.Lock()
	ln.Close()
	ln = nil
	mu.Unlock()
	st := waitCond(t, p, 20*time.Second, "restart after liveness failures", func(s *pod.Status) bool {
		return s.Processes[0].RestartCount >= 1 && s.Processes[0].State == pod.StateRunning
	})
	listen() // the new run finds the port open again: at most one failure
	if got := st.Processes[0].PID; got == pid || !gone(pid) {
		t.Errorf("the old run (pid %d) is not gone or was not replaced (now %d)", pid, got)
	}
	last := st.Processes[0].LastState.Terminated
	if last == nil || last.Signal != wantSignal || last.ExitCode != 128+wantSignal || last.Reason != wantReason {
		t.Errorf("lastState.terminated: %+v, want signal %d, reason %s", last, wantSignal, wantReason)
	}
	if cur := st.Processes[0].StartedAt; last == nil || last.StartedAt == nil || cur == nil ||
		last.FinishedAt.Before(*last.StartedAt) || cur.Before(last.FinishedAt) || !last.StartedAt.Before(*cur) {
		t.Errorf("lastState.terminated times %+v, current run started %v", last, cur)
	}
	kills := ev.wait(t, 5*time.Second, 1, EventKilling, "app", "Liveness")
	if !strings.Contains(kills[0].Message, "liveness probe") {
		t.Errorf("Killing event: %+v", kills[0])
	}
	if n := ev.count(EventUnhealthy, "app", "Liveness"); n < 3 {
		t.Errorf("%d Liveness Unhealthy events before the stop, want at least the threshold 3", n)
	}
	for _, e := range ev.all(EventUnhealthy, "app", "") {
		if e.Reason != "Liveness" || !strings.Contains(e.Message, "Liveness probe failed") {
			t.Errorf("Unhealthy event: %+v", e)
		}
		if e.Time.After(kills[0].Time) && e.Time.Before(*st.Processes[0].StartedAt) {
			t.Errorf("a liveness probe ran while the process was being stopped: %+v", e)
		}
	}
	// Healthy again: no further stop over several periods.
	time.Sleep(4 * time.Second)
	st = p.Status()
	if rc := st.Processes[0].RestartCount; rc != 1 {
		t.Errorf("restartCount %d, want exactly 1 for one threshold crossing", rc)
	}
	if n := ev.count(EventKilling, "", ""); n != 1 {
		t.Errorf("%d Killing events, want 1: %s", n, ev.summary())
	}
	if n := ev.count(EventStarted, "app", ""); n != 2 {
		t.Errorf("%d starts, want 2: %s", n, ev.summary())
	}
	if st.Phase != pod.PhaseRunning || st.Processes[0].State != pod.StateRunning {
		t.Errorf("after recovery: %+v", st)
	}
	zero := time.Duration(0)
	if err := p.Stop(context.Background(), &zero); err != nil {
		t.Fatal(err)
	}
}

// 4. A gRPC readiness probe against a health server the test runs inside
// the pod's network namespace.
func TestLifecycleGRPCReadinessFlips(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	ev := recordEvents(t, sv, name)
	p, err := sv.Create(load(t, podYAML(name, `
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: [sleep, "1000"]
    readinessProbe:
      grpc: {port: 9090}
      periodSeconds: 1
      failureThreshold: 1
`)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := netnsDialer(t, p).Listen("tcp", "127.0.0.1:9090")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	flipReady(t, p, ev, "app", func(ok bool) {
		s := healthpb.HealthCheckResponse_NOT_SERVING
		if ok {
			s = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", s)
	}, "NOT_SERVING")
}

// 5. A startup probe holds the liveness probe off until it passes; its own
// failure past its threshold stops the process.
func TestLifecycleStartupProbeGatesLiveness(t *testing.T) {
	t.Run("gates", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		ev := recordEvents(t, sv, name)
		file := filepath.Join(t.TempDir(), "started")
		p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  restartBackoff: {initialDelay: 1h, maxDelay: 1h}
  processes:
  - name: app
    command: [sleep, "1000"]
    startupProbe:
      exec: {command: [test, -e, %q]}
      periodSeconds: 1
      failureThreshold: 60
    livenessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 2
`, file))))
		ev.wait(t, 10*time.Second, 2, EventUnhealthy, "app", "Startup")
		time.Sleep(2 * time.Second) // liveness would have failed twice by now
		st := p.Status()
		app := procStatus(st, "app")
		if app.State != pod.StateRunning || app.Started || app.Ready || app.RestartCount != 0 {
			t.Fatalf("before the startup probe passed: %+v", app)
		}
		if n := ev.count(EventUnhealthy, "app", "Liveness"); n != 0 {
			t.Fatalf("the liveness probe ran before the startup probe passed: %s", ev.summary())
		}
		if n := ev.count(EventKilling, "", ""); n != 0 {
			t.Fatalf("killed before the startup probe passed: %s", ev.summary())
		}
		passed := time.Now()
		touch(t, file)
		waitCond(t, p, 10*time.Second, "started", func(s *pod.Status) bool { return s.Processes[0].Started })
		st = waitCond(t, p, 20*time.Second, "restart by the liveness probe", func(s *pod.Status) bool { return s.Processes[0].RestartCount >= 1 })
		kills := ev.wait(t, 5*time.Second, 1, EventKilling, "app", "Liveness")
		if kills[0].Time.Before(passed) {
			t.Errorf("Killing before the startup probe passed: %+v", kills[0])
		}
		for _, e := range ev.all(EventUnhealthy, "app", "Liveness") {
			if e.Time.Before(passed) {
				t.Errorf("liveness ran before the startup probe passed: %+v", e)
			}
		}
		if n := ev.count(EventKilling, "app", "Startup"); n != 0 {
			t.Errorf("the startup probe killed: %s", ev.summary())
		}
		if rc := st.Processes[0].RestartCount; rc != 1 {
			t.Errorf("restartCount %d, want 1", rc)
		}
	})
	t.Run("fails", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		ev := recordEvents(t, sv, name)
		p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 2
  restartBackoff: {initialDelay: 1h, maxDelay: 1h}
  processes:
  - name: app
    command: [sleep, "1000"]
    startupProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 2
    livenessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 1
`)))
		st := waitCond(t, p, 20*time.Second, "restart after startup failures", func(s *pod.Status) bool { return s.Processes[0].RestartCount >= 1 })
		kills := ev.wait(t, 5*time.Second, 1, EventKilling, "app", "Startup")
		if !strings.Contains(kills[0].Message, "startup probe") {
			t.Errorf("Killing event: %+v", kills[0])
		}
		if n := ev.count(EventUnhealthy, "app", "Liveness"); n != 0 {
			t.Errorf("liveness ran though the startup probe never passed: %s", ev.summary())
		}
		if rc := st.Processes[0].RestartCount; rc != 1 {
			t.Errorf("restartCount %d, want 1", rc)
		}
		var last *pod.Terminated
		if app := st.Processes[0]; app.State == pod.StateRunning || app.State == pod.StateWaiting {
			last = app.LastState.Terminated
		}
		if last == nil || last.Signal != 15 || last.ExitCode != 143 {
			t.Errorf("last run: %+v, want stopped by SIGTERM", last)
		}
		if st.Processes[0].Started {
			t.Errorf("started though its startup probe never passed: %+v", st.Processes[0])
		}
	})
}

// 6. postStart and preStop hooks: order, failure and timing.
func TestLifecycleHooks(t *testing.T) {
	t.Run("postStartHoldsStarted", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		file := filepath.Join(t.TempDir(), "marks")
		p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: [sleep, "1000"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "sleep 1; echo poststart >> %s"]}
`, file))))
		st := waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool { return s.Processes[0].PID > 0 })
		app := st.Processes[0]
		if app.Started || app.Ready || condition(st, pod.ConditionReadyPod).Status != pod.ConditionFalse {
			t.Errorf("started or ready while postStart runs: %+v", app)
		}
		time.Sleep(300 * time.Millisecond)
		if app := p.Status().Processes[0]; app.Started || app.Ready {
			t.Errorf("started or ready while postStart runs: %+v", app)
		}
		st = waitCond(t, p, 10*time.Second, "started", func(s *pod.Status) bool { return s.Processes[0].Started })
		if lines := fileLines(t, file); !slices.Equal(lines, []string{"poststart"}) {
			t.Errorf("started before postStart completed: marks %q", lines)
		}
		if ran := time.Since(*st.Processes[0].StartedAt); ran < 900*time.Millisecond {
			t.Errorf("started %v after the start, postStart sleeps 1s", ran)
		}
		readyIs(t, p, "app", true)
	})
	t.Run("postStartFails", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		ev := recordEvents(t, sv, name)
		p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: OnFailure
  restartBackoff: {initialDelay: 1h, maxDelay: 1h}
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: [sleep, "1000"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo hook-broke; exit 1"]}
`)))
		st := waitCond(t, p, 20*time.Second, "restarted after the failed hook", func(s *pod.Status) bool {
			return s.Processes[0].RestartCount >= 1
		})
		last := st.Processes[0].LastState.Terminated
		if last == nil || last.Reason != pod.ReasonFailedPostStartHook || last.ExitCode != 143 || !strings.Contains(last.Message, "hook-broke") {
			t.Errorf("lastState.terminated: %+v, want reason FailedPostStartHook, SIGTERM, the hook's output", last)
		}
		f := ev.wait(t, 5*time.Second, 1, EventFailedPostStartHook, "app", "")
		if !strings.Contains(f[0].Message, "hook-broke") {
			t.Errorf("FailedPostStartHook event: %+v", f[0])
		}
		ev.wait(t, 5*time.Second, 1, EventKilling, "app", pod.ReasonFailedPostStartHook)
		ex := ev.wait(t, 5*time.Second, 1, EventExited, "app", "")
		if ex[0].Reason != pod.ReasonFailedPostStartHook {
			t.Errorf("Exited event: %+v", ex[0])
		}
		if st.Phase != pod.PhaseRunning {
			t.Errorf("phase %s", st.Phase)
		}
	})
	t.Run("preStopBeforeTerm", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		file := filepath.Join(t.TempDir(), "marks")
		p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 10
  processes:
  - name: app
    command: %s
    lifecycle:
      preStop:
        exec: {command: [sh, -c, "sleep 0.3; echo prestop >> %s"]}
`, trapCmd(file, "term"), file))))
		waitLog(t, sv, name, "app", "up", 10*time.Second)
		if took := stopPod(t, p); took > 8*time.Second {
			t.Errorf("stop took %v", took)
		}
		if lines := fileLines(t, file); !slices.Equal(lines, []string{"prestop", "term"}) {
			t.Errorf("marks %q, want prestop then term", lines)
		}
		if app := p.Status().Processes[0]; app.Reason != pod.ReasonCompleted {
			t.Errorf("app: %+v, want it to exit 0 from its trap", app)
		}
	})
	t.Run("preStopHangs", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		ev := recordEvents(t, sv, name)
		file := filepath.Join(t.TempDir(), "marks")
		p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  processes:
  - name: app
    command: %s
    lifecycle:
      preStop:
        exec: {command: [sleep, "1000"]}
`, trapCmd(file, "term")))))
		waitLog(t, sv, name, "app", "up", 10*time.Second)
		took := stopPod(t, p)
		if took < 1500*time.Millisecond || took > 10*time.Second {
			t.Errorf("stop took %v, want about the 2s grace period", took)
		}
		app := p.Status().Processes[0]
		if app.Reason != pod.ReasonKilled && slices.Contains(fileLines(t, file), "term") {
			t.Errorf("app: %+v, marks %q: want it killed at the deadline, not stopped by TERM", app, fileLines(t, file))
		}
		if app.Reason != pod.ReasonKilled {
			t.Logf("the hook was cut off before the kill: app %+v, events %s", app, ev.summary())
		}
	})
	t.Run("preStopSleep", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		file := filepath.Join(t.TempDir(), "marks")
		p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 20
  processes:
  - name: app
    command: %s
    lifecycle:
      preStop:
        sleep: {seconds: 2}
`, trapCmd(file, "term")))))
		waitLog(t, sv, name, "app", "up", 10*time.Second)
		begin := time.Now()
		took := stopPod(t, p)
		if took < 2*time.Second || took > 8*time.Second {
			t.Errorf("stop took %v, want the 2s of the sleep hook and a little", took)
		}
		app := p.Status().Processes[0]
		if app.FinishedAt == nil || app.FinishedAt.Sub(begin) < 1900*time.Millisecond {
			t.Errorf("app finished %v after the stop began, the sleep hook is 2s: %+v", app.FinishedAt.Sub(begin), app)
		}
		if app.Reason != pod.ReasonCompleted || !slices.Equal(fileLines(t, file), []string{"term"}) {
			t.Errorf("app: %+v marks %q, want a clean exit on TERM", app, fileLines(t, file))
		}
	})
}

// 7. Sidecars: init order, and a sidecar restarts under restartPolicy
// Never.
func TestLifecycleSidecarOrderAndRestart(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	ev := recordEvents(t, sv, name)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initProcesses:
  - name: setup
    command: [sh, -c, "sleep 0.3; exit 0"]
  - name: proxy
    restartPolicy: Always
    command: [sleep, "1000"]
  processes:
  - name: app
    command: [sleep, "1000"]
`)))
	st := waitCond(t, p, 15*time.Second, "app running", func(s *pod.Status) bool {
		return procStatus(*s, "app").State == pod.StateRunning
	})
	setup, proxy, app := procStatus(st, "setup"), procStatus(st, "proxy"), procStatus(st, "app")
	if setup.State != pod.StateTerminated || setup.Reason != pod.ReasonCompleted || proxy.State != pod.StateRunning || !proxy.Sidecar {
		t.Fatalf("setup %+v proxy %+v", setup, proxy)
	}
	if proxy.StartedAt.Before(*setup.FinishedAt) {
		t.Errorf("proxy started at %v, before setup exited at %v", proxy.StartedAt, setup.FinishedAt)
	}
	if app.StartedAt.Before(*proxy.StartedAt) {
		t.Errorf("app started at %v, before proxy at %v", app.StartedAt, proxy.StartedAt)
	}
	ev.wait(t, 5*time.Second, 1, EventStarted, "app", "") // the status may come before the recorder has the event
	evs := ev.list()
	i, j, k := index(evs, EventExited, "setup", ""), index(evs, EventStarted, "proxy", ""), index(evs, EventStarted, "app", "")
	if i < 0 || j < 0 || k < 0 || !(i < j && j < k) {
		t.Errorf("events out of order (setup exit %d, proxy start %d, app start %d): %s", i, j, k, ev.summary())
	}

	old := proxy.PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = waitCond(t, p, 15*time.Second, "proxy restarted", func(s *pod.Status) bool {
		pr := procStatus(*s, "proxy")
		return pr.RestartCount == 1 && pr.State == pod.StateRunning
	})
	proxy = procStatus(st, "proxy")
	if proxy.PID == old || proxy.LastState.Terminated == nil || proxy.LastState.Terminated.Signal != 9 {
		t.Errorf("proxy after its kill: %+v (last %+v)", proxy, proxy.LastState.Terminated)
	}
	if a := procStatus(st, "app"); a.RestartCount != 0 || a.PID != app.PID || st.Phase != pod.PhaseRunning {
		t.Errorf("app %+v phase %s after the sidecar's restart", a, st.Phase)
	}
}

// 8. A job with a sidecar ends: the sidecar is stopped and the phase is the
// app's.
func TestLifecycleJobWithSidecarEnds(t *testing.T) {
	for _, c := range []struct {
		name, sidecar string
		exit          int
		phase         pod.Phase
		sidecarReason string
	}{
		{"succeeds", "trap", 0, pod.PhaseSucceeded, pod.ReasonCompleted},
		{"fails", "plain", 1, pod.PhaseFailed, pod.ReasonError},
	} {
		t.Run(c.name, func(t *testing.T) {
			sv := newTestSupervisor(t)
			name := podName(t)
			file := filepath.Join(t.TempDir(), "marks")
			cmd := `[sleep, "1000"]`
			if c.sidecar == "trap" {
				cmd = trapCmd(file, "sidecar-term")
			}
			begin := time.Now()
			p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  terminationGracePeriodSeconds: 30
  initProcesses:
  - name: sidecar
    restartPolicy: Always
    command: %s
  processes:
  - name: job
    command: [sh, -c, "sleep 0.5; exit %d"]
`, cmd, c.exit))))
			st := waitCond(t, p, 20*time.Second, "ended", func(s *pod.Status) bool { return s.Phase.Ended() })
			if took := time.Since(begin); took > 10*time.Second {
				t.Errorf("the pod took %v to end (grace 30s: was the sidecar killed at the deadline?)", took)
			}
			if st.Phase != c.phase {
				t.Errorf("phase %s (%s), want %s", st.Phase, st.Message, c.phase)
			}
			sc := procStatus(st, "sidecar")
			if sc.State != pod.StateTerminated || sc.Reason != c.sidecarReason || sc.RestartCount != 0 {
				t.Errorf("sidecar: %+v, want Terminated (%s) by its stop signal", sc, c.sidecarReason)
			}
			if c.sidecar == "trap" && !slices.Equal(fileLines(t, file), []string{"sidecar-term"}) {
				t.Errorf("sidecar did not get its TERM: %q", fileLines(t, file))
			}
			if job := procStatus(st, "job"); job.ExitCode == nil || *job.ExitCode != c.exit {
				t.Errorf("job: %+v", job)
			}
			if c.phase == pod.PhaseFailed && !strings.Contains(st.Message, `"job"`) {
				t.Errorf("message %q should name the job", st.Message)
			}
		})
	}
}

// 9. A stop stops the apps first, then the sidecars, the last declared
// first.
func TestLifecycleOrderedShutdown(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	file := filepath.Join(t.TempDir(), "order")
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 10
  initProcesses:
  - name: sidecar1
    restartPolicy: Always
    command: %s
  - name: sidecar2
    restartPolicy: Always
    command: %s
  processes:
  - name: app1
    command: %s
  - name: app2
    command: %s
`, trapCmd(file, "sidecar1-term"), trapCmd(file, "sidecar2-term"), trapCmd(file, "app1-term"), trapCmd(file, "app2-term")))))
	for _, n := range []string{"sidecar1", "sidecar2", "app1", "app2"} {
		waitLog(t, sv, name, n, "up", 10*time.Second)
	}
	if took := stopPod(t, p); took > 8*time.Second {
		t.Errorf("stop took %v", took)
	}
	lines := fileLines(t, file)
	if len(lines) != 4 {
		t.Fatalf("order %q", lines)
	}
	apps := slices.Sorted(slices.Values(lines[:2]))
	if !slices.Equal(apps, []string{"app1-term", "app2-term"}) || !slices.Equal(lines[2:], []string{"sidecar2-term", "sidecar1-term"}) {
		t.Errorf("order %q, want both apps, then sidecar2, then sidecar1", lines)
	}
	st := p.Status()
	if st.Phase != pod.PhaseStopped {
		t.Errorf("phase %s", st.Phase)
	}
	for _, ps := range append(st.Init, st.Processes...) {
		if ps.State != pod.StateTerminated || ps.Reason != pod.ReasonCompleted {
			t.Errorf("%s: %+v", ps.Name, ps)
		}
	}
}

// 10. dependsOn, with each condition.
func TestLifecycleDependsOn(t *testing.T) {
	t.Run("Started", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 2
  processes:
  - name: a
    command: [sleep, "1000"]
    lifecycle: {postStart: {exec: {command: [sleep, "1"]}}}
  - name: b
    command: [sleep, "1000"]
    dependsOn: [{name: a, condition: Started}]
`)))
		st := waitCond(t, p, 10*time.Second, "a running", func(s *pod.Status) bool { return procStatus(*s, "a").PID > 0 })
		if b := procStatus(st, "b"); b.State != pod.StateWaiting || b.Reason != pod.ReasonWaitingForDependencies || !strings.Contains(b.Message, `"a" to be Started`) {
			t.Errorf("b while a runs its postStart: %+v", b)
		}
		st = waitCond(t, p, 10*time.Second, "b running", func(s *pod.Status) bool { return procStatus(*s, "b").State == pod.StateRunning })
		a, b := procStatus(st, "a"), procStatus(st, "b")
		if !a.Started || b.StartedAt.Sub(*a.StartedAt) < 900*time.Millisecond {
			t.Errorf("b started at %v, a at %v with a 1s postStart", b.StartedAt, a.StartedAt)
		}
	})
	t.Run("Ready", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		file := filepath.Join(t.TempDir(), "a-ready")
		p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  processes:
  - name: a
    command: [sleep, "1000"]
    readinessProbe:
      exec: {command: [test, -e, %q]}
      periodSeconds: 1
  - name: b
    command: [sleep, "1000"]
    dependsOn: [{name: a, condition: Ready}]
`, file))))
		waitCond(t, p, 10*time.Second, "a started", func(s *pod.Status) bool { return procStatus(*s, "a").Started })
		time.Sleep(2 * time.Second)
		st := p.Status()
		if b := procStatus(st, "b"); b.State != pod.StateWaiting || b.Reason != pod.ReasonWaitingForDependencies ||
			!strings.Contains(b.Message, `waiting for "a" to be Ready`) || b.StartedAt != nil {
			t.Fatalf("b before a is ready: %+v", b)
		}
		made := time.Now()
		touch(t, file)
		st = waitCond(t, p, 10*time.Second, "b running", func(s *pod.Status) bool { return procStatus(*s, "b").State == pod.StateRunning })
		if b := procStatus(st, "b"); b.StartedAt.Before(made) || !procStatus(st, "a").Ready {
			t.Errorf("b %+v started before a was ready", b)
		}
	})
	t.Run("Succeeded", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 2
  processes:
  - name: migrate
    restartPolicy: OnFailure
    command: [sh, -c, "sleep 0.5; exit 0"]
  - name: app
    command: [sleep, "1000"]
    dependsOn: [{name: migrate, condition: Succeeded}]
`)))
		st := waitCond(t, p, 10*time.Second, "app running", func(s *pod.Status) bool { return procStatus(*s, "app").State == pod.StateRunning })
		m, a := procStatus(st, "migrate"), procStatus(st, "app")
		if m.Reason != pod.ReasonCompleted || a.StartedAt.Before(*m.FinishedAt) {
			t.Errorf("app %+v started before migrate %+v exited 0", a, m)
		}
	})
	t.Run("SucceededFails", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		ev := recordEvents(t, sv, name)
		p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  processes:
  - name: migrate
    command: [sh, -c, "exit 1"]
  - name: app
    command: [sleep, "1000"]
    dependsOn: [{name: migrate, condition: Succeeded}]
  - name: other
    command: [sh, -c, "sleep 2; exit 0"]
`)))
		df := ev.wait(t, 10*time.Second, 1, EventDependencyFailed, "app", pod.ReasonDependencyFailed)
		if !strings.Contains(df[0].Message, `"migrate"`) {
			t.Errorf("DependencyFailed event: %+v", df[0])
		}
		if st := p.Status(); st.Phase != pod.PhaseRunning || procStatus(st, "other").State != pod.StateRunning {
			t.Errorf("the pod ended while other runs: %s, other %+v", st.Phase, procStatus(st, "other"))
		}
		st := waitPhase(t, p, 15*time.Second, pod.PhaseFailed)
		a := procStatus(st, "app")
		if a.State != pod.StateWaiting || a.Reason != pod.ReasonDependencyFailed || !strings.Contains(a.Message, `"migrate"`) || a.StartedAt != nil {
			t.Errorf("app: %+v", a)
		}
		if o := procStatus(st, "other"); o.State != pod.StateTerminated || o.Reason != pod.ReasonCompleted {
			t.Errorf("the pod failed before other ended: %+v", o)
		}
		if !strings.Contains(st.Message, `"migrate"`) {
			t.Errorf("message %q", st.Message)
		}
	})
	t.Run("DependencyRestart", func(t *testing.T) {
		sv := newTestSupervisor(t)
		name := podName(t)
		p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 2
  processes:
  - name: a
    command: [sleep, "1000"]
  - name: b
    command: [sleep, "1000"]
    dependsOn: [{name: a}]
`)))
		st := waitCond(t, p, 10*time.Second, "b running", func(s *pod.Status) bool { return procStatus(*s, "b").State == pod.StateRunning })
		a, b := procStatus(st, "a"), procStatus(st, "b")
		if err := syscall.Kill(a.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		st = waitCond(t, p, 10*time.Second, "a restarted", func(s *pod.Status) bool {
			return procStatus(*s, "a").RestartCount == 1 && procStatus(*s, "a").State == pod.StateRunning
		})
		time.Sleep(500 * time.Millisecond)
		st = p.Status()
		if b2 := procStatus(st, "b"); b2.RestartCount != 0 || b2.PID != b.PID || !alive(b.PID) {
			t.Errorf("b after a's restart: %+v (was pid %d)", b2, b.PID)
		}
	})
}

// 11. restartPolicyRules decide by exit code before the restart policy.
func TestLifecycleExitCodeRules(t *testing.T) {
	for _, c := range []struct {
		name, rule    string
		first, second int
		phase         pod.Phase
	}{
		{"In", "{operator: In, values: [42]}", 42, 1, pod.PhaseFailed},
		{"NotIn", "{operator: NotIn, values: [0]}", 7, 0, pod.PhaseSucceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			sv := newTestSupervisor(t)
			name := podName(t)
			marker := filepath.Join(t.TempDir(), "ran")
			p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  restartBackoff: {initialDelay: 100ms, maxDelay: 100ms}
  processes:
  - name: app
    command: [sh, -c, "if [ -e %[1]s ]; then exit %[3]d; fi; touch %[1]s; exit %[2]d"]
    restartPolicyRules:
    - action: Restart
      exitCodes: %[4]s
`, marker, c.first, c.second, c.rule))))
			st := waitCond(t, p, 15*time.Second, "ended", func(s *pod.Status) bool { return s.Phase.Ended() })
			time.Sleep(300 * time.Millisecond)
			st = p.Status()
			app := st.Processes[0]
			if st.Phase != c.phase || app.RestartCount != 1 || app.ExitCode == nil || *app.ExitCode != c.second {
				t.Errorf("phase %s, app %+v: want %s after one restart and exit %d", st.Phase, app, c.phase, c.second)
			}
			if l := app.LastState.Terminated; l == nil || l.ExitCode != c.first {
				t.Errorf("lastState.terminated %+v, want exit %d", l, c.first)
			}
		})
	}
}

// 12. A RestartAllContainers rule restarts the whole pod in place.
func TestLifecycleRestartAllContainers(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	ev := recordEvents(t, sv, name)
	dir := t.TempDir()
	p, err := sv.Create(load(t, podYAML(name, fmt.Sprintf(`
  terminationGracePeriodSeconds: 2
  initProcesses:
  - name: init
    command: [sh, -c, "echo run >> %[1]s/init; echo init-run"]
  processes:
  - name: app
    command: [sh, -c, "if [ ! -e %[1]s/once ]; then touch %[1]s/once; sleep 0.5; exit 3; fi; exec sleep 1000"]
    restartPolicyRules:
    - action: RestartAllContainers
      exitCodes: {operator: In, values: [3]}
  - name: other
    command: [sleep, "1000"]
`, dir))))
	if err != nil {
		t.Fatal(err)
	}
	before := p.Status()
	netIno := nsInode(t, before.Namespaces.Net)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, 15*time.Second, 1, EventPodRestarted, "app", "")
	st := waitCond(t, p, 15*time.Second, "running again", func(s *pod.Status) bool {
		return s.Phase == pod.PhaseRunning && procStatus(*s, "app").RestartCount == 1 &&
			procStatus(*s, "app").State == pod.StateRunning && procStatus(*s, "other").State == pod.StateRunning
	})
	if lines := fileLines(t, filepath.Join(dir, "init")); len(lines) != 2 {
		t.Errorf("init ran %d times, want 2", len(lines))
	}
	for _, n := range []string{"init", "app", "other"} {
		if rc := procStatus(st, n).RestartCount; rc != 1 {
			t.Errorf("%s: restartCount %d, want 1", n, rc)
		}
	}
	if st.Cgroup != before.Cgroup || !reflect.DeepEqual(st.Namespaces, before.Namespaces) || nsInode(t, st.Namespaces.Net) != netIno {
		t.Errorf("cgroup or namespaces changed: %+v %+v -> %+v %+v", before.Cgroup, before.Namespaces, st.Cgroup, st.Namespaces)
	}
	if a := procStatus(st, "app"); a.LastState.Terminated == nil || a.LastState.Terminated.ExitCode != 3 {
		t.Errorf("app: %+v", a)
	}
	if n := ev.count(EventPhase, "", ""); n == 0 {
		t.Errorf("no phase events")
	}
	for _, e := range ev.all(EventPhase, "", "") {
		if e.Phase == pod.PhaseTerminating || e.Phase == pod.PhaseStopped {
			t.Errorf("the pod went through %s during its restart: %s", e.Phase, ev.summary())
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runs := 0
		for _, l := range logLines(t, sv, name, "init") {
			if l == "init-run" {
				runs++
			}
		}
		if runs == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("init's log has %d runs, want 2: %q", runs, logLines(t, sv, name, "init"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// 13. Create refuses a bad spec with the field's path and leaves nothing.
func TestLifecycleValidationLeavesNothing(t *testing.T) {
	sv := newTestSupervisor(t)
	cases := []struct {
		name, spec, want string
	}{
		{"twoHandlers", `
  processes:
  - name: a
    command: [sleep, "1"]
    readinessProbe: {exec: {command: ["true"]}, tcpSocket: {port: 80}}
`, "spec.processes[0].readinessProbe: must have exactly one handler, got exec and tcpSocket"},
		{"portZero", `
  processes:
  - name: a
    command: [sleep, "1"]
    ports: [{name: http, containerPort: 0}]
`, "spec.processes[0].ports[0].containerPort: required: a port number between 1 and 65535"},
		{"unknownPort", `
  processes:
  - name: a
    command: [sleep, "1"]
    livenessProbe: {httpGet: {port: nope}}
`, `spec.processes[0].livenessProbe.httpGet.port: named port "nope" is not declared by any process of the pod`},
		{"badAction", `
  processes:
  - name: a
    command: [sleep, "1"]
    restartPolicyRules: [{action: Foo, exitCodes: {operator: In, values: [1]}}]
`, `spec.processes[0].restartPolicyRules[0].action: unsupported value "Foo": must be Restart or RestartAllContainers`},
		{"cycle", `
  processes:
  - name: a
    command: [sleep, "1"]
    dependsOn: [{name: b}]
  - name: b
    command: [sleep, "1"]
    dependsOn: [{name: c}]
  - name: c
    command: [sleep, "1"]
    dependsOn: [{name: a}]
`, "spec.processes[0].dependsOn: dependency cycle: a -> b -> c -> a"},
		{"dependsOnInit", `
  initProcesses:
  - name: setup
    command: ["true"]
  processes:
  - name: a
    command: [sleep, "1"]
    dependsOn: [{name: setup}]
`, `spec.processes[0].dependsOn[0].name: cannot depend on init process "setup": init processes run before every app process`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := podName(t)
			spec, err := pod.Decode([]byte(podYAML(name, c.spec)))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			p, err := sv.Create(spec)
			if err == nil {
				t.Fatalf("created %s", p.Name())
			}
			if !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want ErrInvalid with %q", err, c.want)
			}
			if _, err := sv.Get(name); !errors.Is(err, pod.ErrNotFound) {
				t.Errorf("get after a refused create: %v", err)
			}
			for _, dir := range []string{filepath.Join(sv.Root(), "pods", name), filepath.Join(sv.Root(), "ns", name)} {
				if _, err := os.Lstat(dir); err == nil {
					t.Errorf("left behind: %s", dir)
				}
			}
			if left := childCgroups(t, sv); len(left) > 0 {
				t.Errorf("cgroups left behind: %q", left)
			}
		})
	}
	// The check above sees a pod's cgroup when there is one.
	name := podName(t)
	if _, err := sv.Create(load(t, podYAML(name, `
  processes:
  - name: a
    command: [sleep, "1"]
`))); err != nil {
		t.Fatal(err)
	}
	found := childCgroups(t, sv)
	if len(found) == 0 || !slices.ContainsFunc(found, func(d string) bool { return filepath.Base(d) == name }) {
		t.Errorf("childCgroups does not see the cgroup of pod %s: %q", name, found)
	}
	if err := sv.Remove(context.Background(), name, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if left := childCgroups(t, sv); len(left) > 0 {
		t.Errorf("cgroups left after remove: %q", left)
	}
}

// childCgroups lists the cgroups under the supervisor's cgroup parent, in
// every hierarchy (none if the parent does not exist).
func childCgroups(t *testing.T, sv *Supervisor) []string {
	t.Helper()
	g, err := sv.h.Open("/" + sv.opts.CgroupParent)
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{g.UnifiedDir()}
	for _, d := range g.V1Dirs() {
		dirs = append(dirs, d)
	}
	var found []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			continue // no parent: nothing under it
		}
		for _, e := range entries {
			if e.IsDir() {
				found = append(found, filepath.Join(d, e.Name()))
			}
		}
	}
	return found
}
