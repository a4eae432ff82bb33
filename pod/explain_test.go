package pod_test

import (
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// explain runs pod.Explain on the sim's machine, with a history of every
// event the machine published.
func explain(s *sim, process string) pod.Explanation {
	s.t.Helper()
	p := &pod.Pod{APIVersion: pod.APIVersion, Kind: pod.Kind, Metadata: pod.Metadata{Name: "web"}, Spec: *s.spec}
	var h pod.History
	for _, a := range s.log {
		if a.Kind == pod.ActPublish {
			e := a.Event
			e.Pod = "web"
			if e.Time.IsZero() {
				e.Time = a.At
			}
			h.Record(&e)
		}
	}
	st := s.status()
	st.Name = "web"
	facts := map[string]pod.ProcessFacts{}
	n := len(s.spec.InitProcesses) + len(s.spec.Processes)
	for i := range n {
		facts[s.name(i)] = s.m.Facts(i)
	}
	return pod.Explain(pod.ExplainInput{Spec: p, Status: &st, Facts: facts, History: &h, Process: process, Now: s.now,
		Output: map[string][]string{"a": {"line one", "panic: boom"}}})
}

// proc returns the explanation of the named process, failing the test if
// it is missing.
func explained(t *testing.T, ex pod.Explanation, name string) pod.ProcessExplanation {
	t.Helper()
	for _, p := range ex.Processes {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no explanation of %s in %+v", name, ex)
	return pod.ProcessExplanation{}
}

// wantText fails unless the summary and details of x hold each of subs.
func wantText(t *testing.T, x pod.ProcessExplanation, subs ...string) {
	t.Helper()
	all := x.Summary + "\n" + strings.Join(x.Details, "\n")
	for _, sub := range subs {
		if !strings.Contains(all, sub) {
			t.Errorf("%s: %q is not in:\n%s", x.Name, sub, all)
		}
	}
}

func TestExplainCrashLoop(t *testing.T) {
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("a"), prc("b")}})
	s.exit("a", 3) // the first restart is at once
	s.advance(time.Second)
	s.exit("a", 4)
	s.wake()
	s.advance(time.Second)
	s.exit("a", 3)
	s.wake()
	s.advance(time.Second)
	s.exit("a", 7)
	s.advance(2 * time.Second)
	ex := explain(s, "")
	a := explained(t, ex, "a")
	if a.Cause != pod.CauseCrashLoop || a.State != pod.StateWaiting || a.Reason != pod.ReasonCrashLoopBackOff {
		t.Fatalf("a: cause %s state %s reason %s, want CrashLoop Waiting CrashLoopBackOff", a.Cause, a.State, a.Reason)
	}
	if len(a.RecentExits) != 4 || a.RecentExits[0].ExitCode != 3 || a.RecentExits[3].ExitCode != 7 {
		t.Errorf("recent exits %+v, want codes 3 4 3 7", a.RecentExits)
	}
	if a.NextStartAt == nil || !a.NextStartAt.After(s.now) || a.Backoff == "" {
		t.Errorf("next start %v backoff %q: want a time after now and a back-off", a.NextStartAt, a.Backoff)
	}
	wantText(t, a, "exit code 7 (Error)", "restarted 3 times", "Exit codes of its last runs, oldest first: 3, 4, 3, 7.",
		"Back-off "+a.Backoff+": the next start is in ")
	if len(a.LastOutput) != 2 || a.LastOutput[1] != "panic: boom" {
		t.Errorf("last output %q", a.LastOutput)
	}
	if b := explained(t, ex, "b"); b.Cause != pod.CauseRunning || !b.Ready {
		t.Errorf("b: %+v, want Running and ready", b)
	}
	if !strings.Contains(ex.Summary, "1 of 2 processes ready") || !strings.Contains(ex.Summary, "a (CrashLoop)") {
		t.Errorf("summary %q", ex.Summary)
	}
	// One process asked for: only it.
	if ex := explain(s, "b"); len(ex.Processes) != 1 || ex.Processes[0].Name != "b" {
		t.Errorf("explain b: %+v", ex.Processes)
	}
}

func TestExplainOOMKilled(t *testing.T) {
	a := prc("a")
	a.Resources.Limits.Memory = qty(t, "64Mi")
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{a}})
	crashOnce(s, "a")
	s.exitWith("a", pod.Exit{Code: 137, Signal: 9, OOMKilled: true})
	x := explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseOOMKilled || x.OOMKills != 1 || x.MemoryLimitBytes != 64<<20 {
		t.Fatalf("cause %s oomKills %d limit %d, want OOMKilled 1 %d", x.Cause, x.OOMKills, x.MemoryLimitBytes, 64<<20)
	}
	wantText(t, x, "OOM killer", "memory limit 64Mi, the process's", "killed by SIGKILL (exit code 137, OOMKilled)", "Back-off")

	// Under the pod's limit, with restartPolicy Never: terminated.
	s = newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{prc("a"), prc("b")}})
	s.spec.Resources.Limits.Memory = qty(t, "1Gi")
	s.exitWith("a", pod.Exit{Code: 137, Signal: 9, OOMKilled: true})
	x = explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseOOMKilled || x.State != pod.StateTerminated {
		t.Fatalf("cause %s state %s, want OOMKilled Terminated", x.Cause, x.State)
	}
	wantText(t, x, "memory limit 1Gi, the pod's", "not restarted")
}

func TestExplainStartError(t *testing.T) {
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("a")}})
	s.manualSpawn = true
	crashOnce(s, "a")
	s.step(pod.Input{Kind: pod.InSpawnFailed, Proc: s.idx("a"), Run: s.run("a"),
		Message: `start "/bin/a": exec: no such file or directory`})
	x := explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseStartError {
		t.Fatalf("cause %s, want StartError: %+v", x.Cause, x)
	}
	wantText(t, x, `could not be started`, `"/bin/a": exec: no such file or directory`, "Back-off")
	if len(x.RecentExits) != 2 || x.RecentExits[1].Reason != pod.ReasonStartError {
		t.Errorf("recent exits %+v", x.RecentExits)
	}

	// A configuration error waits with its own reason.
	s = newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("a")}})
	s.manualSpawn = true
	crashOnce(s, "a")
	s.step(pod.Input{Kind: pod.InSpawnFailed, Proc: s.idx("a"), Run: s.run("a"), Exit: pod.Exit{ConfigError: true},
		Message: "runAsNonRoot: the process would run as root (uid 0)"})
	x = explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseConfigError {
		t.Fatalf("cause %s, want ConfigError", x.Cause)
	}
	wantText(t, x, "runAsNonRoot: the process would run as root (uid 0).")
}

func TestExplainProbes(t *testing.T) {
	a := prc("a")
	a.ReadinessProbe = execProbe(0, 1, 1, 3)
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{a}})
	s.wake()
	s.probe("a", pod.ProbeReadiness, false)
	s.wake()
	s.probe("a", pod.ProbeReadiness, false)
	x := explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseProbeFailing || x.Ready || x.Probe == nil || x.Probe.Probe != "Readiness" {
		t.Fatalf("readiness: %+v, want ProbeFailing, not ready", x)
	}
	wantText(t, x, "not ready: its readiness probe failed 2 times (threshold 3)", "Last readiness probe output: boom.")
	s.wake()
	s.probe("a", pod.ProbeReadiness, true)
	if x := explained(t, explain(s, ""), "a"); x.Cause != pod.CauseRunning || !x.Ready {
		t.Errorf("after a pass: %+v, want Running and ready", x)
	}

	// A liveness probe that fails its threshold stops the process, which
	// then waits for its back-off.
	l := prc("a")
	l.LivenessProbe = execProbe(0, 1, 1, 2)
	s = newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{l}})
	crashOnce(s, "a") // the first probe of the new run is due at once, and in flight
	s.probe("a", pod.ProbeLiveness, false)
	x = explained(t, explain(s, ""), "a")
	wantText(t, x, "liveness probe failed once; at 2 it is restarted", "Last liveness probe output: boom.")
	s.wake()
	s.probe("a", pod.ProbeLiveness, false)
	s.advance(100 * time.Millisecond)
	s.signalled("a", 15)
	x = explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseProbeFailing || x.Reason != pod.ReasonCrashLoopBackOff {
		t.Fatalf("after the liveness kill: cause %s reason %s, want ProbeFailing CrashLoopBackOff: %+v", x.Cause, x.Reason, x)
	}
	wantText(t, x, "because its liveness probe failed", "Last liveness probe output: boom.", "Back-off")

	// A startup probe failing holds the process not started.
	st := prc("a")
	st.StartupProbe = execProbe(0, 1, 1, 5)
	s = newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{st}})
	s.wake()
	s.probe("a", pod.ProbeStartup, false)
	x = explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseProbeFailing {
		t.Fatalf("startup: cause %s, want ProbeFailing", x.Cause)
	}
	wantText(t, x, "not started: its startup probe failed once (threshold 5)")
}

func TestExplainHookFailed(t *testing.T) {
	a := prc("a")
	a.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{a}})
	if x := explained(t, explain(s, ""), "a"); x.Cause != pod.CauseStarting || !strings.Contains(x.Summary, "postStart hook is still running") {
		t.Errorf("hook running: %+v", x)
	}
	for range 2 { // the first restart is at once
		s.hook("a", pod.HookPostStart, false, "exit status 2: config missing")
		s.advance(100 * time.Millisecond)
		s.signalled("a", 15)
	}
	x := explained(t, explain(s, ""), "a")
	if x.Cause != pod.CauseHookFailed || x.Hook == nil || x.Hook.Hook != "postStart" {
		t.Fatalf("cause %s hook %+v, want HookFailed postStart: %+v", x.Cause, x.Hook, x)
	}
	wantText(t, x, "postStart hook failed", "exit status 2: config missing")
}

func TestExplainWaits(t *testing.T) {
	// An app process waits for an init process.
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways,
		InitProcesses: []pod.Process{prc("setup"), prc("migrate")}, Processes: []pod.Process{prc("a")}})
	ex := explain(s, "")
	x := explained(t, ex, "a")
	if x.Cause != pod.CauseWaitingForInit {
		t.Fatalf("a: cause %s, want WaitingForInit", x.Cause)
	}
	wantText(t, x, "Init process setup is Running.")
	if m := explained(t, ex, "migrate"); m.Cause != pod.CauseWaitingForInit {
		t.Errorf("migrate: cause %s, want WaitingForInit", m.Cause)
	}
	// The init process fails and backs off: the app says which, and how
	// it ended.
	crashOnce(s, "setup")
	s.exit("setup", 2)
	x = explained(t, explain(s, ""), "a")
	wantText(t, x, "Init process setup is Waiting (CrashLoopBackOff).", "exit code 2 (Error)", "podvisor explain web setup")

	// An app process waits for its dependency to be ready.
	b := prc("b")
	b.DependsOn = []pod.Dependency{{Name: "a", Condition: pod.ConditionReady}}
	a := prc("a")
	a.ReadinessProbe = execProbe(0, 1, 1, 3)
	s = newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{a, b}})
	x = explained(t, explain(s, ""), "b")
	if x.Cause != pod.CauseWaitingForDependencies {
		t.Fatalf("b: cause %s, want WaitingForDependencies: %+v", x.Cause, x)
	}
	wantText(t, x, "Dependency a (condition Ready) is Running, not ready.")

	// A pod never started, and a stopped one.
	s = newSim(t, pod.Spec{Processes: []pod.Process{prc("a")}})
	if x := explained(t, explain(s, ""), "a"); x.Cause != pod.CauseStopped || !strings.Contains(x.Summary, "never started") {
		t.Errorf("pending: %+v", x)
	}
}

func TestExplainCompletedAndFailed(t *testing.T) {
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{prc("a"), prc("b")}})
	s.autoDrain = true
	s.exit("a", 0)
	s.exit("b", 5)
	ex := explain(s, "")
	if x := explained(t, ex, "a"); x.Cause != pod.CauseCompleted {
		t.Errorf("a: cause %s, want Completed", x.Cause)
	}
	x := explained(t, ex, "b")
	if x.Cause != pod.CauseFailed {
		t.Fatalf("b: cause %s, want Failed", x.Cause)
	}
	wantText(t, x, "exit code 5 (Error)", "restartPolicy Never")
	if ex.Phase != pod.PhaseFailed || !strings.Contains(ex.Summary, "Failed") {
		t.Errorf("phase %s summary %q", ex.Phase, ex.Summary)
	}
}

func TestHistoryKeepsTheLastExits(t *testing.T) {
	var h pod.History
	for code := range 8 {
		c := code
		h.Record(&pod.Event{Type: pod.EventExited, Process: "a", ExitCode: &c, Reason: pod.ReasonError, Signal: "SIGTERM"})
	}
	h.Record(&pod.Event{Type: pod.EventStarted, Process: "a"})
	h.Record(&pod.Event{Type: pod.EventPhase})
	ph := h.Process("a")
	if ph == nil || len(ph.Exits) != pod.RecentExits || ph.Exits[0].ExitCode != 3 || ph.Exits[4].ExitCode != 7 || ph.Exits[4].Signal != 15 {
		t.Fatalf("exits %+v, want the last %d (3..7, SIGTERM)", ph, pod.RecentExits)
	}
	c := ph.Copy()
	c.Exits[0].ExitCode = 99
	if ph.Exits[0].ExitCode != 3 {
		t.Error("Copy shares its exits")
	}
	if h.Process("b") != nil {
		t.Error("a process without events has a history")
	}
}

// crashOnce makes the named process exit 1 and moves the clock a second:
// it is restarted at once (the first restart has no back-off).
func crashOnce(s *sim, name string) {
	s.t.Helper()
	s.exit(name, 1)
	s.advance(time.Second)
}

func qty(t *testing.T, s string) *pod.Quantity {
	t.Helper()
	q, err := pod.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return &q
}
