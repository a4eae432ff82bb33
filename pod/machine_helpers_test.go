package pod_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// This file holds a small driver for pod.Machine: it plays the engine's
// part with a fake clock, so that tests can walk a pod through its life one
// input at a time and look at every action the machine asked for.

// t0 is the fake clock's start.
var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

// stamped is an action with the time of the step that returned it.
type stamped struct {
	At time.Time
	pod.Action
}

// sim drives a Machine: it records every action, answers ActStart with
// InSpawned (pid 1000+proc) unless manualSpawn is set, and answers ActDrain
// with InCgroupEmpty{Tasks: 0} when autoDrain is set.
type sim struct {
	t    *testing.T
	spec *pod.Spec
	m    *pod.Machine
	now  time.Time

	manualSpawn bool
	autoDrain   bool

	log     []stamped // every action, in order
	runs    []int     // the run of each process's latest ActStart
	drains  int       // ActDrain actions not answered yet
	noCheck bool      // skip the NextWake check after a step
}

// newSim makes a machine for spec with its defaults set; the spec must be
// valid.
func newSim(t *testing.T, spec pod.Spec) *sim {
	t.Helper()
	p := &pod.Pod{APIVersion: pod.APIVersion, Kind: pod.Kind, Metadata: pod.Metadata{Name: "web"}, Spec: spec}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Fatalf("invalid test spec: %v", err)
	}
	s := &sim{t: t, spec: &p.Spec, now: t0}
	s.runs = make([]int, len(p.Spec.InitProcesses)+len(p.Spec.Processes))
	s.m = pod.NewMachine("web", s.spec, t0)
	return s
}

// newSimStarted is newSim followed by InStart.
func newSimStarted(t *testing.T, spec pod.Spec) *sim {
	t.Helper()
	s := newSim(t, spec)
	s.start()
	return s
}

// step feeds one input at the current time, then the automatic answers,
// and returns every action this produced (the input's first).
func (s *sim) step(in pod.Input) []pod.Action {
	s.t.Helper()
	got := append([]pod.Action(nil), s.m.Step(in, s.now)...)
	for _, a := range got {
		s.log = append(s.log, stamped{At: s.now, Action: a})
		if a.Kind == pod.ActStart {
			s.runs[a.Proc] = a.Run
		}
		if a.Kind == pod.ActDrain {
			s.drains++
		}
	}
	s.checkWake()
	all := got
	for _, a := range got {
		switch {
		case a.Kind == pod.ActStart && !s.manualSpawn:
			all = append(all, s.spawn(a.Proc)...)
		case a.Kind == pod.ActDrain && s.autoDrain:
			all = append(all, s.drain(0)...)
		}
	}
	return all
}

// checkWake fails the test when NextWake is not after now: everything due
// now must have been done by the step, or the engine would spin.
func (s *sim) checkWake() {
	s.t.Helper()
	if s.noCheck {
		return
	}
	if next, ok := s.m.NextWake(); ok && !next.After(s.now) {
		s.t.Errorf("at %s: NextWake %s is not after now (the engine would spin)", s.rel(s.now), s.rel(next))
	}
}

// rel writes a time as an offset from t0.
func (s *sim) rel(t time.Time) string { return "t0+" + t.Sub(t0).String() }

// idx is the index of the named process (init processes first).
func (s *sim) idx(name string) int {
	s.t.Helper()
	for i := range s.spec.InitProcesses {
		if s.spec.InitProcesses[i].Name == name {
			return i
		}
	}
	for i := range s.spec.Processes {
		if s.spec.Processes[i].Name == name {
			return len(s.spec.InitProcesses) + i
		}
	}
	s.t.Fatalf("no process %q", name)
	return -1
}

// run is the run number of the named process's latest ActStart.
func (s *sim) run(name string) int { return s.runs[s.idx(name)] }

func (s *sim) start() []pod.Action { return s.step(pod.Input{Kind: pod.InStart}) }

func (s *sim) stop(grace time.Duration) []pod.Action {
	return s.step(pod.Input{Kind: pod.InStop, Grace: grace})
}

// spawn reports the latest started run of process i as running.
func (s *sim) spawn(i int) []pod.Action {
	return s.step(pod.Input{Kind: pod.InSpawned, Proc: i, Run: s.runs[i], PID: 1000 + i})
}

// spawnName is spawn by name, for manualSpawn tests.
func (s *sim) spawnName(name string) []pod.Action { return s.spawn(s.idx(name)) }

// exit reports an exit with code of the named process's current run.
func (s *sim) exit(name string, code int) []pod.Action {
	s.t.Helper()
	return s.exitWith(name, pod.Exit{Code: code})
}

// signalled reports the death of the named process by signal sig.
func (s *sim) signalled(name string, sig int) []pod.Action {
	s.t.Helper()
	return s.exitWith(name, pod.Exit{Code: 128 + sig, Signal: sig})
}

func (s *sim) exitWith(name string, e pod.Exit) []pod.Action {
	s.t.Helper()
	i := s.idx(name)
	return s.step(pod.Input{Kind: pod.InExited, Proc: i, Run: s.runs[i], Exit: e})
}

// probe reports a probe result for the named process's current run.
func (s *sim) probe(name string, k pod.ProbeKind, ok bool) []pod.Action {
	i := s.idx(name)
	msg := ""
	if !ok {
		msg = "boom"
	}
	return s.step(pod.Input{Kind: pod.InProbeResult, Proc: i, Run: s.runs[i], Probe: k, OK: ok, Message: msg})
}

// hook reports a hook's end for the named process's current run.
func (s *sim) hook(name string, h pod.HookKind, ok bool, msg string) []pod.Action {
	i := s.idx(name)
	return s.step(pod.Input{Kind: pod.InHookDone, Proc: i, Run: s.runs[i], Hook: h, OK: ok, Message: msg})
}

// drain answers an ActDrain.
func (s *sim) drain(tasks int) []pod.Action {
	s.t.Helper()
	if s.drains == 0 {
		s.t.Errorf("at %s: InCgroupEmpty without an ActDrain", s.rel(s.now))
	}
	s.drains--
	return s.step(pod.Input{Kind: pod.InCgroupEmpty, Tasks: tasks})
}

// advance moves the clock by d and feeds InTimer.
func (s *sim) advance(d time.Duration) []pod.Action {
	s.now = s.now.Add(d)
	return s.step(pod.Input{Kind: pod.InTimer})
}

// wake moves the clock to NextWake and feeds InTimer; it fails the test if
// nothing is due.
func (s *sim) wake() []pod.Action {
	s.t.Helper()
	next, ok := s.m.NextWake()
	if !ok {
		s.t.Fatalf("at %s: NextWake: nothing due", s.rel(s.now))
	}
	s.now = next
	return s.step(pod.Input{Kind: pod.InTimer})
}

// until wakes the machine at every NextWake up to and including t, then
// sets the clock to t; it returns every action meanwhile.
func (s *sim) until(t time.Time) []pod.Action {
	s.t.Helper()
	var all []pod.Action
	for i := 0; ; i++ {
		next, ok := s.m.NextWake()
		if !ok || next.After(t) {
			break
		}
		if i > 10000 || !next.After(s.now) && i > 0 {
			s.t.Fatalf("until %s: the machine spins at %s", s.rel(t), s.rel(next))
		}
		s.now = next
		all = append(all, s.step(pod.Input{Kind: pod.InTimer})...)
	}
	if s.now.Before(t) {
		s.now = t
	}
	return all
}

// wantWake checks NextWake.
func (s *sim) wantWake(want time.Time) {
	s.t.Helper()
	next, ok := s.m.NextWake()
	if !ok || !next.Equal(want) {
		s.t.Errorf("NextWake = %s, %v; want %s", s.rel(next), ok, s.rel(want))
	}
}

// wantNoWake checks that nothing is due.
func (s *sim) wantNoWake() {
	s.t.Helper()
	if next, ok := s.m.NextWake(); ok {
		s.t.Errorf("NextWake = %s; want nothing due", s.rel(next))
	}
}

func (s *sim) status() pod.Status {
	var st pod.Status
	s.m.Fill(&st)
	return st
}

// ps is the named process's status.
func (s *sim) ps(name string) pod.ProcessStatus {
	s.t.Helper()
	st := s.status()
	for _, list := range [][]pod.ProcessStatus{st.Init, st.Processes} {
		for _, p := range list {
			if p.Name == name {
				return p
			}
		}
	}
	s.t.Fatalf("no status for %q", name)
	return pod.ProcessStatus{}
}

// cond is the named pod condition.
func (s *sim) cond(typ string) pod.Condition {
	s.t.Helper()
	for _, c := range s.status().Conditions {
		if c.Type == typ {
			return c
		}
	}
	s.t.Fatalf("no condition %q", typ)
	return pod.Condition{}
}

func (s *sim) wantPhase(ph pod.Phase, msg string) {
	s.t.Helper()
	if got := s.m.Phase(); got != ph {
		s.t.Errorf("phase = %s, want %s", got, ph)
	}
	if st := s.status(); st.Phase != ph || st.Message != msg {
		s.t.Errorf("status phase, message = %s, %q; want %s, %q", st.Phase, st.Message, ph, msg)
	}
}

// wantState checks a process's state and reason.
func (s *sim) wantState(name string, state pod.State, reason string) {
	s.t.Helper()
	p := s.ps(name)
	if p.State != state || p.Reason != reason {
		s.t.Errorf("%s: state, reason = %s, %q; want %s, %q (message %q)", name, p.State, p.Reason, state, reason, p.Message)
	}
}

// The action filters.

// of returns the actions of kind k for process name ("" for any).
func (s *sim) of(acts []pod.Action, k pod.ActionKind, name string) []pod.Action {
	var out []pod.Action
	for _, a := range acts {
		if a.Kind == k && (name == "" || a.Proc == s.idx(name)) {
			out = append(out, a)
		}
	}
	return out
}

// events returns the events among acts of type typ (any when "").
func events(acts []pod.Action, typ pod.EventType) []pod.Event {
	var out []pod.Event
	for _, a := range acts {
		if a.Kind == pod.ActPublish && (typ == "" || a.Event.Type == typ) {
			out = append(out, a.Event)
		}
	}
	return out
}

// procEvents returns the events of type typ about process name.
func procEvents(acts []pod.Action, typ pod.EventType, name string) []pod.Event {
	var out []pod.Event
	for _, e := range events(acts, typ) {
		if e.Process == name {
			out = append(out, e)
		}
	}
	return out
}

// started lists the names of the processes acts start, in order.
func (s *sim) started(acts []pod.Action) []string {
	var out []string
	for _, a := range s.of(acts, pod.ActStart, "") {
		out = append(out, s.name(a.Proc))
	}
	return out
}

// signalledNames lists the processes acts signal, in order.
func (s *sim) signalledNames(acts []pod.Action) []string {
	var out []string
	for _, a := range s.of(acts, pod.ActSignal, "") {
		out = append(out, s.name(a.Proc))
	}
	return out
}

func (s *sim) name(i int) string {
	if n := len(s.spec.InitProcesses); i >= n {
		return s.spec.Processes[i-n].Name
	}
	return s.spec.InitProcesses[i].Name
}

var actionNames = map[pod.ActionKind]string{
	pod.ActStart: "Start", pod.ActSignal: "Signal", pod.ActKillProcess: "KillProcess",
	pod.ActKillPod: "KillPod", pod.ActAbandon: "Abandon", pod.ActRunHook: "RunHook",
	pod.ActRunProbe: "RunProbe", pod.ActDrain: "Drain", pod.ActPublish: "Publish",
}

// dump writes actions one a line, for failure messages.
func (s *sim) dump(acts []pod.Action) string {
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&b, "\n  %s", actionNames[a.Kind])
		switch a.Kind {
		case pod.ActPublish:
			fmt.Fprintf(&b, " %s %s %q delay=%s phase=%s %q", a.Event.Type, a.Event.Process, a.Event.Reason, a.Event.Delay, a.Event.Phase, a.Event.Message)
		case pod.ActKillPod, pod.ActDrain:
		default:
			fmt.Fprintf(&b, " %s run=%d", s.name(a.Proc), a.Run)
			switch a.Kind {
			case pod.ActSignal:
				fmt.Fprintf(&b, " sig=%d", a.Signal)
			case pod.ActRunHook:
				fmt.Fprintf(&b, " %s timeout=%s", a.Hook, a.Timeout)
			case pod.ActRunProbe:
				fmt.Fprintf(&b, " %s timeout=%s", a.Probe, a.Timeout)
			}
		}
	}
	if len(acts) == 0 {
		b.WriteString(" (none)")
	}
	return b.String()
}

// wantKinds checks the number of actions of kind k for process name in
// acts.
func (s *sim) wantCount(acts []pod.Action, k pod.ActionKind, name string, n int) {
	s.t.Helper()
	if got := len(s.of(acts, k, name)); got != n {
		s.t.Errorf("%d %s actions for %q, want %d; actions:%s", got, actionNames[k], name, n, s.dump(acts))
	}
}

// logSince returns the logged actions from time t on.
func (s *sim) logSince(t time.Time) []pod.Action {
	var out []pod.Action
	for _, a := range s.log {
		if !a.At.Before(t) {
			out = append(out, a.Action)
		}
	}
	return out
}

// allActions is the whole log.
func (s *sim) allActions() []pod.Action { return s.logSince(time.Time{}) }

// Spec builders.

// prc is a process that runs a program of its own name.
func prc(name string) pod.Process {
	return pod.Process{Name: name, Command: []string{"/bin/" + name}}
}

// sidecar is an init process with restartPolicy Always.
func sidecar(name string) pod.Process {
	p := prc(name)
	p.RestartPolicy = pod.RestartAlways
	return p
}

// execProbe is an exec probe with the given timing; 0 leaves a default.
func execProbe(initialDelay, period, success, failure int32) *pod.Probe {
	return &pod.Probe{
		Exec:                &pod.ExecAction{Command: []string{"true"}},
		InitialDelaySeconds: initialDelay, PeriodSeconds: period,
		SuccessThreshold: success, FailureThreshold: failure,
	}
}

// execHook is an exec lifecycle handler.
func execHook() *pod.LifecycleHandler {
	return &pod.LifecycleHandler{Exec: &pod.ExecAction{Command: []string{"true"}}}
}

func i64(v int64) *int64 { return &v }

func codes(op string, values ...int32) *pod.ExitCodesRequirement {
	return &pod.ExitCodesRequirement{Operator: op, Values: values}
}
