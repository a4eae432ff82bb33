package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
)

// fakeRT is a podRuntime that touches nothing on the system: it records
// every call with the time it was made (inside a synctest bubble, the fake
// clock), hands out pids, and lets a test script what comes of the calls:
// exits, probe and hook answers, start failures, drains. Results go back
// to the pod as inputs posted from goroutines of their own, as the Linux
// runtime's do.
//
// The engine calls it from the pod's owner goroutine; the test reads and
// scripts it from its own goroutine: everything is under mu. Policy funcs
// are called without mu held, on the owner goroutine.
type fakeRT struct {
	p *Pod

	mu      sync.Mutex
	calls   []fakeCall
	nextPID int
	live    map[int]fakeRun // process index -> its current live run

	// startErr, when set and returning an error, fails the start.
	startErr func(i, run int) error
	// onStart, when set and returning an exit, ends the run just started
	// after the given delay (0: at once).
	onStart func(i, run int) (ex *pod.Exit, after time.Duration)
	// onSignal says whether run of process i dies of sig (exit 128+sig,
	// by signal sig, at once). Nil: every signal kills.
	onSignal func(i, run, sig int) bool
	// lostKills: a SIGKILL (killProcess, killPod) kills but its exit is
	// never reported (the abandon path).
	lostKills bool
	// probe and hook answer probes and hooks; nil answers OK at once.
	probe func(i, run int, k pod.ProbeKind) fakeAnswer
	hook  func(i, run int, h pod.HookKind) fakeAnswer
	// drainLater: drain reports done=false; the test ends it with
	// finishDrain.
	drainLater bool

	pendingProbes []fakeCall // Manual answers not yet given
	pendingHooks  []fakeCall
	drainPending  bool
}

// fakeRun is one run of a process the fake takes for alive.
type fakeRun struct {
	run, pid int
}

// fakeAnswer is how the fake answers a probe or a hook.
type fakeAnswer struct {
	OK      bool
	Message string
	After   time.Duration // the answer is posted this long after the call
	Manual  bool          // not answered: the test answers with answerProbe/answerHook
}

// fakeCall is one call of the engine into the runtime.
type fakeCall struct {
	Kind    string // prepare, start, signal, killProcess, killPod, abandon, runHook, runProbe, drain
	At      time.Time
	Proc    int
	Run     int
	PID     int // start
	Err     error
	Signal  int
	Hook    pod.HookKind
	Probe   pod.ProbeKind
	Timeout time.Duration
}

func (c fakeCall) String() string {
	s := fmt.Sprintf("%s %s", c.At.Format("15:04:05.000"), c.Kind)
	switch c.Kind {
	case "start":
		s += fmt.Sprintf(" proc=%d run=%d pid=%d", c.Proc, c.Run, c.PID)
		if c.Err != nil {
			s += " err=" + c.Err.Error()
		}
	case "signal":
		s += fmt.Sprintf(" proc=%d run=%d sig=%d", c.Proc, c.Run, c.Signal)
	case "killProcess":
		s += fmt.Sprintf(" proc=%d", c.Proc)
	case "abandon":
		s += fmt.Sprintf(" proc=%d run=%d", c.Proc, c.Run)
	case "runHook":
		s += fmt.Sprintf(" proc=%d run=%d hook=%s timeout=%s", c.Proc, c.Run, c.Hook, c.Timeout)
	case "runProbe":
		s += fmt.Sprintf(" proc=%d run=%d probe=%s timeout=%s", c.Proc, c.Run, c.Probe, c.Timeout)
	}
	return s
}

var _ podRuntime = (*fakeRT)(nil)

func newFakeRT(p *Pod) *fakeRT {
	return &fakeRT{p: p, nextPID: 1000, live: map[int]fakeRun{}}
}

// set changes the fake's script under its lock.
func (f *fakeRT) set(change func(f *fakeRT)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeRT) record(c fakeCall) {
	c.At = time.Now()
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

// postLater posts in after d (0: at once), from a goroutine of its own.
func (f *fakeRT) postLater(in pod.Input, d time.Duration) {
	go func() {
		if !f.sleep(d) {
			return
		}
		if in.Kind == pod.InExited && in.At.IsZero() {
			in.At = time.Now()
		}
		f.p.post(in)
	}()
}

// sleep waits d, or until the pod's loop has ended (false): a goroutine
// asleep when the test ends would keep the bubble from ending.
func (f *fakeRT) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.p.done:
		return false
	}
}

func (f *fakeRT) prepare() { f.record(fakeCall{Kind: "prepare"}) }

func (f *fakeRT) start(i, run int) (int, time.Time, error) {
	f.mu.Lock()
	startErr, onStart := f.startErr, f.onStart
	f.mu.Unlock()
	if startErr != nil {
		if err := startErr(i, run); err != nil {
			f.record(fakeCall{Kind: "start", Proc: i, Run: run, Err: err})
			return 0, time.Time{}, err
		}
	}
	f.mu.Lock()
	f.nextPID++
	pid := f.nextPID
	f.live[i] = fakeRun{run: run, pid: pid}
	f.mu.Unlock()
	f.record(fakeCall{Kind: "start", Proc: i, Run: run, PID: pid})
	if onStart != nil {
		if ex, after := onStart(i, run); ex != nil {
			f.mu.Lock()
			if after == 0 {
				delete(f.live, i)
			}
			f.mu.Unlock()
			if after > 0 {
				go func() {
					if f.sleep(after) {
						f.exitRun(i, run, *ex)
					}
				}()
			} else {
				f.postLater(pod.Input{Kind: pod.InExited, Proc: i, Run: run, Exit: *ex}, 0)
			}
		}
	}
	return pid, time.Now(), nil
}

func (f *fakeRT) signal(i, run, sig int) {
	f.record(fakeCall{Kind: "signal", Proc: i, Run: run, Signal: sig})
	f.mu.Lock()
	onSignal := f.onSignal
	r, ok := f.live[i]
	f.mu.Unlock()
	if !ok || r.run != run {
		return
	}
	if onSignal != nil && !onSignal(i, run, sig) {
		return
	}
	f.exitRun(i, run, pod.Exit{Code: 128 + sig, Signal: sig})
}

func (f *fakeRT) killProcess(i int) {
	f.record(fakeCall{Kind: "killProcess", Proc: i})
	f.mu.Lock()
	r, ok := f.live[i]
	f.mu.Unlock()
	if ok {
		f.kill(i, r.run)
	}
}

func (f *fakeRT) killPod() {
	f.record(fakeCall{Kind: "killPod"})
	f.mu.Lock()
	live := make(map[int]fakeRun, len(f.live))
	for i, r := range f.live {
		live[i] = r
	}
	f.mu.Unlock()
	for i, r := range live {
		f.kill(i, r.run)
	}
}

// kill SIGKILLs run of process i: it is dead, its exit reported unless
// lostKills.
func (f *fakeRT) kill(i, run int) {
	f.mu.Lock()
	lost := f.lostKills
	if lost {
		delete(f.live, i)
	}
	f.mu.Unlock()
	if !lost {
		f.exitRun(i, run, pod.Exit{Code: 128 + 9, Signal: 9})
	}
}

func (f *fakeRT) abandon(i, run int) {
	f.record(fakeCall{Kind: "abandon", Proc: i, Run: run})
	f.mu.Lock()
	if r, ok := f.live[i]; ok && r.run == run {
		delete(f.live, i)
	}
	f.mu.Unlock()
}

func (f *fakeRT) runHook(i, run int, h pod.HookKind, timeout time.Duration) {
	c := fakeCall{Kind: "runHook", Proc: i, Run: run, Hook: h, Timeout: timeout}
	f.record(c)
	f.mu.Lock()
	policy := f.hook
	f.mu.Unlock()
	a := fakeAnswer{OK: true}
	if policy != nil {
		a = policy(i, run, h)
	}
	if a.Manual {
		f.mu.Lock()
		f.pendingHooks = append(f.pendingHooks, c)
		f.mu.Unlock()
		return
	}
	f.postLater(pod.Input{Kind: pod.InHookDone, Proc: i, Run: run, Hook: h, OK: a.OK, Message: a.Message}, a.After)
}

func (f *fakeRT) runProbe(i, run int, k pod.ProbeKind, timeout time.Duration) {
	c := fakeCall{Kind: "runProbe", Proc: i, Run: run, Probe: k, Timeout: timeout}
	f.record(c)
	f.mu.Lock()
	policy := f.probe
	f.mu.Unlock()
	a := fakeAnswer{OK: true}
	if policy != nil {
		a = policy(i, run, k)
	}
	if a.Manual {
		f.mu.Lock()
		f.pendingProbes = append(f.pendingProbes, c)
		f.mu.Unlock()
		return
	}
	f.postLater(pod.Input{Kind: pod.InProbeResult, Proc: i, Run: run, Probe: k, OK: a.OK, Message: a.Message}, a.After)
}

func (f *fakeRT) drain() (int, bool) {
	f.record(fakeCall{Kind: "drain"})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drainLater {
		f.drainPending = true
		return 0, false
	}
	return 0, true
}

// The test's side.

// exit ends the live run of process i with ex, as if it exited by itself
// now; it reports whether a run was live.
func (f *fakeRT) exit(i int, ex pod.Exit) bool {
	f.mu.Lock()
	r, ok := f.live[i]
	f.mu.Unlock()
	if ok {
		f.exitRun(i, r.run, ex)
	}
	return ok
}

// exitRun ends run of process i with ex, if it is live.
func (f *fakeRT) exitRun(i, run int, ex pod.Exit) {
	f.mu.Lock()
	r, ok := f.live[i]
	if ok && r.run == run {
		delete(f.live, i)
	}
	f.mu.Unlock()
	if ok && r.run == run {
		f.postLater(pod.Input{Kind: pod.InExited, Proc: i, Run: run, Exit: ex}, 0)
	}
}

// alive reports whether process i has a live run, and its pid.
func (f *fakeRT) alive(i int) (pid int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.live[i]
	return r.pid, ok
}

// answerProbe answers the oldest pending (Manual) probe k of process i.
func (f *fakeRT) answerProbe(t *testing.T, i int, k pod.ProbeKind, ok bool, msg string) {
	t.Helper()
	f.mu.Lock()
	idx := -1
	for j, c := range f.pendingProbes {
		if c.Proc == i && c.Probe == k {
			idx = j
			break
		}
	}
	var c fakeCall
	if idx >= 0 {
		c = f.pendingProbes[idx]
		f.pendingProbes = append(f.pendingProbes[:idx], f.pendingProbes[idx+1:]...)
	}
	f.mu.Unlock()
	if idx < 0 {
		t.Fatalf("no pending %s probe of process %d", k, i)
	}
	f.postLater(pod.Input{Kind: pod.InProbeResult, Proc: i, Run: c.Run, Probe: k, OK: ok, Message: msg}, 0)
}

// answerHook answers the oldest pending (Manual) hook h of process i.
func (f *fakeRT) answerHook(t *testing.T, i int, h pod.HookKind, ok bool, msg string) {
	t.Helper()
	f.mu.Lock()
	idx := -1
	for j, c := range f.pendingHooks {
		if c.Proc == i && c.Hook == h {
			idx = j
			break
		}
	}
	var c fakeCall
	if idx >= 0 {
		c = f.pendingHooks[idx]
		f.pendingHooks = append(f.pendingHooks[:idx], f.pendingHooks[idx+1:]...)
	}
	f.mu.Unlock()
	if idx < 0 {
		t.Fatalf("no pending %s hook of process %d", h, i)
	}
	f.postLater(pod.Input{Kind: pod.InHookDone, Proc: i, Run: c.Run, Hook: h, OK: ok, Message: msg}, 0)
}

// finishDrain reports the pod's cgroup empty (tasks 0) or given up on.
func (f *fakeRT) finishDrain(t *testing.T, tasks int) {
	t.Helper()
	f.mu.Lock()
	pending := f.drainPending
	f.drainPending = false
	f.mu.Unlock()
	if !pending {
		t.Fatal("no drain pending")
	}
	f.postLater(pod.Input{Kind: pod.InCgroupEmpty, Tasks: tasks}, 0)
}

// callsOf returns the recorded calls of the given kinds (all when none).
func (f *fakeRT) callsOf(kinds ...string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if len(kinds) == 0 || slices.Contains(kinds, c.Kind) {
			out = append(out, c)
		}
	}
	return out
}

// probeCalls returns the runProbe calls of process i for probe k.
func (f *fakeRT) probeCalls(i int, k pod.ProbeKind) []fakeCall {
	var out []fakeCall
	for _, c := range f.callsOf("runProbe") {
		if c.Proc == i && c.Probe == k {
			out = append(out, c)
		}
	}
	return out
}

// dump is every call, one a line, for failure messages.
func (f *fakeRT) dump() string {
	var b strings.Builder
	for _, c := range f.callsOf() {
		b.WriteString("\n\t" + c.String())
	}
	return b.String()
}

// errFakeStart is the error of a scripted failed start.
var errFakeStart = errors.New("exec: \"/bin/missing\": no such file or directory")

// fakePod is an engine run by a fakeRT inside a synctest bubble: the real
// owner goroutine (Pod.loop), with nothing of the system behind it.
type fakePod struct {
	t      *testing.T
	p      *Pod
	rt     *fakeRT
	t0     time.Time // when the pod was made: the bubble's start
	events <-chan Event
}

// newFakePod makes the pod of a YAML spec (the part under spec:, indented
// by two spaces), with a fake runtime, and starts its owner goroutine. It
// must be called inside a synctest bubble; script the runtime (rt.set)
// before Start. The loop ends when the test does.
func newFakePod(t *testing.T, name, spec string) *fakePod {
	t.Helper()
	doc := fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n%s", name, spec)
	ps, err := pod.Load([]byte(doc))
	if err != nil {
		t.Fatalf("load: %v\n%s", err, doc)
	}
	ps.SetDefaults()
	if err := ps.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	sv := &Supervisor{opts: Options{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)}}
	now := time.Now()
	p := newPod(sv, ps, now)
	// The engine names processes from p.procs in its logs: the Linux
	// runtime's build makes them; here they carry only their spec.
	for i := range ps.Spec.InitProcesses {
		p.procs = append(p.procs, &proc{spec: &ps.Spec.InitProcesses[i], init: true})
	}
	for i := range ps.Spec.Processes {
		p.procs = append(p.procs, &proc{spec: &ps.Spec.Processes[i]})
	}
	rt := newFakeRT(p)
	p.rt = rt
	close(p.persistDone) // no persistLoop, as Supervisor.create without Persist
	events, unsubscribe := sv.Subscribe(4096)
	go p.loop()
	t.Cleanup(func() {
		close(p.quit)
		<-p.done
		unsubscribe()
	})
	return &fakePod{t: t, p: p, rt: rt, t0: now, events: events}
}

// at is the fake time d after the pod was made.
func (fp *fakePod) at(d time.Duration) time.Time { return fp.t0.Add(d) }

// since is how long after the pod was made t is.
func (fp *fakePod) since(t time.Time) time.Duration { return t.Sub(fp.t0) }

// sleepUntil advances the fake clock to t0+d and lets the engine settle.
func (fp *fakePod) sleepUntil(d time.Duration) {
	fp.t.Helper()
	if w := time.Until(fp.at(d)); w > 0 {
		time.Sleep(w)
	} else if w < 0 {
		fp.t.Fatalf("sleepUntil(%s): it is already %s", d, fp.since(time.Now()))
	}
	synctest.Wait()
}

// start starts the pod and lets the engine settle.
func (fp *fakePod) start() {
	fp.t.Helper()
	if err := fp.p.Start(); err != nil {
		fp.t.Fatalf("start: %v", err)
	}
	synctest.Wait()
}

// stopAsync calls Stop on a goroutine of its own; the returned channel
// gets Stop's error, and *when is when it returned (read it after the
// channel).
func (fp *fakePod) stopAsync(grace *time.Duration) (<-chan error, *time.Time) {
	done := make(chan error, 1)
	when := new(time.Time)
	go func() {
		err := fp.p.Stop(fp.t.Context(), grace)
		*when = time.Now()
		done <- err
	}()
	return done, when
}

// drainEvents returns the events published so far.
func (fp *fakePod) drainEvents() []Event {
	var out []Event
	for {
		select {
		case e := <-fp.events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// proc returns the status of the named process.
func (fp *fakePod) proc(name string) pod.ProcessStatus {
	fp.t.Helper()
	st := fp.p.Status()
	for _, ps := range append(append([]pod.ProcessStatus{}, st.Init...), st.Processes...) {
		if ps.Name == name {
			return ps
		}
	}
	fp.t.Fatalf("no process %q in status", name)
	return pod.ProcessStatus{}
}

// startTimes returns the offsets from t0 of the start calls of process i.
func (fp *fakePod) startTimes(i int) []time.Duration {
	var out []time.Duration
	for _, c := range fp.rt.callsOf("start") {
		if c.Proc == i {
			out = append(out, fp.since(c.At))
		}
	}
	return out
}

// offsets maps calls to their offsets from t0.
func (fp *fakePod) offsets(calls []fakeCall) []time.Duration {
	out := make([]time.Duration, len(calls))
	for i, c := range calls {
		out[i] = fp.since(c.At)
	}
	return out
}
