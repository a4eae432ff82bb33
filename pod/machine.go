package pod

import (
	"fmt"
	"hash/fnv"
	"time"
)

// The pod lifecycle as a pure state machine: a Machine holds what is known
// of one pod and its processes; Step takes one Input (something that
// happened) and the time, changes the state, and returns the Actions to
// take. It makes no system call, starts no goroutine and reads no clock:
// the engine (package supervisor) carries the actions out and reports what
// came of them as further inputs. NextWake says when the machine next
// needs a Timer input.
//
// Step works in two halves, as kubelet's computePodActions then SyncPod:
// the input is recorded as facts (a process exited, a probe failed), then
// reconcile looks at the whole state and decides what to do (start what
// may start, stop what must stop, probe what is due). A rule of the
// lifecycle is a row of that decision, not a branch in the engine.

// InputKind is the closed set of things that can happen to a pod.
type InputKind uint8

// The inputs.
const (
	// InStart: run the pod (init processes, then app processes).
	InStart InputKind = iota + 1
	// InStop: stop the pod within Grace.
	InStop
	// InSpawned: run Run of Proc started with PID.
	InSpawned
	// InSpawnFailed: run Run of Proc could not start; Message says why.
	InSpawnFailed
	// InExited: run Run of Proc ended with Exit at At.
	InExited
	// InTimer: a deadline may have passed.
	InTimer
	// InProbeResult: Probe of run Run of Proc passed (OK) or failed;
	// Message is its output or error.
	InProbeResult
	// InHookDone: Hook of run Run of Proc ended, OK or with Message.
	InHookDone
	// InCgroupEmpty: what was left in the pod's cgroup is gone (Tasks 0),
	// or Tasks are still exiting after the drain's limit.
	InCgroupEmpty
	// InEvict: the pod used more than it may (an emptyDir over its size
	// limit); Message says what. It is stopped and ends Failed, Evicted.
	InEvict
)

// ProbeKind names a probe.
type ProbeKind uint8

// The probe kinds.
const (
	ProbeStartup ProbeKind = iota
	ProbeLiveness
	ProbeReadiness
)

func (k ProbeKind) String() string {
	return [...]string{"Startup", "Liveness", "Readiness"}[k]
}

// HookKind names a lifecycle hook.
type HookKind uint8

// The hooks.
const (
	HookPostStart HookKind = iota + 1
	HookPreStop
)

func (k HookKind) String() string {
	if k == HookPostStart {
		return "PostStart"
	}
	return "PreStop"
}

// Input is one thing that happened. Proc indexes init processes first,
// then app processes; Run is the run number an action gave, so that
// reports about an older run are dropped.
type Input struct {
	Kind    InputKind
	Proc    int
	Run     int
	PID     int
	Exit    Exit
	At      time.Time
	Probe   ProbeKind
	Hook    HookKind
	OK      bool
	Message string
	Grace   time.Duration
	Tasks   int
}

// ActionKind is what the engine is asked to do.
type ActionKind uint8

// The actions.
const (
	// ActStart: start run Run of Proc; report InSpawned or InSpawnFailed
	// (with Exit.ConfigError when its configuration forbids the start).
	ActStart ActionKind = iota + 1
	// ActSignal: send Signal to run Run of Proc.
	ActSignal
	// ActKillProcess: SIGKILL everything in Proc's cgroup.
	ActKillProcess
	// ActKillPod: SIGKILL everything in the pod's cgroup.
	ActKillPod
	// ActAbandon: stop watching run Run of Proc; it is taken for dead.
	ActAbandon
	// ActRunHook: run Hook for run Run of Proc, within Timeout (0: no
	// limit); report InHookDone.
	ActRunHook
	// ActRunProbe: run Probe for run Run of Proc within Timeout; report
	// InProbeResult.
	ActRunProbe
	// ActDrain: SIGKILL what is left in the pod's cgroup and report
	// InCgroupEmpty once it is empty (or after the engine's limit).
	ActDrain
	// ActPublish: publish Event (the engine fills in its pod and time).
	ActPublish
	// ActPrepare: ready the pod's cgroups for a run of the pod (the
	// engine renews what a kill left tainted); given before its first
	// ActStart.
	ActPrepare
)

// Action is one thing for the engine to do.
type Action struct {
	Kind    ActionKind
	Proc    int
	Run     int
	Signal  int
	Hook    HookKind
	Probe   ProbeKind
	Timeout time.Duration
	Event   Event
}

// KilledExitWait is how long after a SIGKILL of the pod the exits of its
// processes may take to be reported before they are taken for dead.
const KilledExitWait = 3 * time.Second

// Reasons the machine gives besides the exit reasons.
const (
	// ReasonFailedPostStartHook: the process was stopped because its
	// postStart hook failed.
	ReasonFailedPostStartHook = "FailedPostStartHook"
	// ReasonDependencyFailed: a dependency can no longer meet its
	// condition; the process will not start.
	ReasonDependencyFailed = "DependencyFailed"
	// ReasonWaitingForDependencies: the process waits for its dependsOn.
	ReasonWaitingForDependencies = "WaitingForDependencies"
)

type procPhase uint8

const (
	psWaiting  procPhase = iota // not started in this run of the pod
	psStarting                  // ActStart given, no report yet
	psRunning
	psBackOff // exited; restarts at restartAt
	psDone    // exited; no restart coming
)

type probeState struct {
	next      time.Time // when it is due; zero: not scheduled
	sched     time.Time // when the one in flight was due
	inFlight  bool
	successes int
	failures  int
	ok        bool // passed (startup: for good; readiness: now)
}

type procStop struct {
	reason    string    // why this process alone is stopped; "" in a pod's wind-down
	killAt    time.Time // when its cgroup is killed; zero in a wind-down (the pod's deadline rules)
	preStop   bool      // the preStop hook is running
	signalled bool
	killed    bool
	exitsDue  time.Time // after the kill: its exit, unreported by then, is taken as killed
	probe     bool      // stopped for a failed liveness or startup probe
}

type proc struct {
	spec    *Process
	init    bool
	sidecar bool

	phase     procPhase
	run       int
	pid       int
	startedAt time.Time
	stop      *procStop
	killSent  bool // SIGKILLed: a SIGKILL exit is reason Killed
	hookFail  string
	postStart bool           // the postStart hook is running
	probes    *[3]probeState // nil for a process without probes

	restartCount int
	streak       int
	restartAt    time.Time
	backoff      time.Duration // the delay before restartAt
	succeeded    bool          // exited 0 in this run of the pod
	wasStarted   bool          // has been started in this run of the pod
	wasReady     bool          // has been ready in this run of the pod
	waitReason   string
	waitMessage  string
	depFailed    bool
	last, prev   *Terminated
}

type goal uint8

const (
	goalStop    goal = iota // Stopped on request
	goalEnd                 // the apps ended: endPhase once all is down
	goalRestart             // a RestartAllContainers rule: start again
)

type winddown struct {
	goal      goal
	endPhase  Phase
	endMsg    string
	endReason string
	deadline  time.Time
	killed    bool
	exitsDue  time.Time
	draining  bool
}

// Machine is the lifecycle state of one pod. Make one with NewMachine; it
// is not safe for concurrent use.
type Machine struct {
	spec      *Spec
	name      string
	phase     Phase
	message   string
	reason    string // the pod's phase reason (DeadlineExceeded)
	startedAt *time.Time
	// activeDeadline is when activeDeadlineSeconds ends the pod's run.
	activeDeadline time.Time
	procs          []proc
	nInit          int
	initIdx        int
	initDone       bool
	down           *winddown
	// Pod restarts (RestartAllContainers) back off: the streak, and when
	// the pod restarts while it waits.
	podStreak    int
	podRestartAt time.Time
	conds        [3]Condition
	out          []Action
	now          time.Time
	// rev counts the changes of what Fill shows; print is its fingerprint
	// at the last count.
	rev          uint64
	print, spare []uint64
	lastPh       Phase
	lastMsg      string
}

// NewMachine makes the machine of a pod whose spec has its defaults set
// and is valid, in phase Pending at time now.
func NewMachine(name string, spec *Spec, now time.Time) *Machine {
	m := &Machine{spec: spec, name: name, phase: PhasePending, nInit: len(spec.InitProcesses)}
	m.procs = make([]proc, 0, len(spec.InitProcesses)+len(spec.Processes))
	for i := range spec.InitProcesses {
		p := &spec.InitProcesses[i]
		m.procs = append(m.procs, proc{spec: p, init: true, sidecar: p.IsSidecar(), probes: probesFor(p)})
	}
	for i := range spec.Processes {
		m.procs = append(m.procs, proc{spec: &spec.Processes[i], probes: probesFor(&spec.Processes[i])})
	}
	for i, t := range []string{ConditionInitialized, ConditionContainersReady, ConditionReadyPod} {
		m.conds[i] = Condition{Type: t, Status: ConditionFalse, LastTransitionTime: now}
	}
	m.updateConditions(now)
	return m
}

// probesFor is the probes' state of a process that has probes.
func probesFor(p *Process) *[3]probeState {
	if p.StartupProbe == nil && p.LivenessProbe == nil && p.ReadinessProbe == nil {
		return nil
	}
	return new([3]probeState)
}

// Phase is the pod's phase.
func (m *Machine) Phase() Phase { return m.phase }

// Running reports the run number and pid of Proc's current run, if it has
// one.
func (m *Machine) Running(i int) (run, pid int, ok bool) {
	p := &m.procs[i]
	return p.run, p.pid, p.phase == psRunning
}

// Step records in and returns what to do now. The returned slice is valid
// until the next call.
func (m *Machine) Step(in Input, now time.Time) []Action {
	m.out, m.now = m.out[:0], now
	switch in.Kind {
	case InStart:
		if m.phase != PhaseInitializing && m.phase != PhaseRunning && m.phase != PhaseTerminating {
			m.begin(now, false)
		}
	case InStop:
		if m.phase == PhaseInitializing || m.phase == PhaseRunning {
			m.beginDown(goalStop, "", "", now.Add(max(in.Grace, 0)), now)
		} else if m.phase == PhaseTerminating && now.Add(max(in.Grace, 0)).Before(m.down.deadline) {
			m.down.deadline = now.Add(max(in.Grace, 0))
		}
	case InSpawned:
		m.spawned(in, now)
	case InSpawnFailed:
		if p := m.current(in); p != nil {
			m.exited(in.Proc, Exit{Code: 128, StartFailed: true, ConfigError: in.Exit.ConfigError}, in.Message, now, now)
		}
	case InExited:
		if p := m.current(in); p != nil {
			at := in.At
			if at.IsZero() {
				at = now
			}
			m.exited(in.Proc, in.Exit, in.Message, at, now)
		}
	case InProbeResult:
		m.probeResult(in, now)
	case InHookDone:
		m.hookDone(in, now)
	case InEvict:
		if m.down == nil && (m.phase == PhaseInitializing || m.phase == PhaseRunning) {
			m.publish(Event{Type: EventEvicted, Reason: ReasonEvicted, Message: in.Message})
			m.beginDown(goalEnd, PhaseFailed, in.Message, now.Add(m.grace()), now)
			m.down.endReason = ReasonEvicted
		}
	case InCgroupEmpty:
		m.drained(in.Tasks, now)
	case InTimer:
	}
	m.reconcile(now)
	for i := range m.procs {
		p := &m.procs[i]
		p.wasStarted = p.wasStarted || p.started()
		p.wasReady = p.wasReady || p.ready()
	}
	m.updateConditions(now)
	m.revise()
	return m.out
}

// Revision changes whenever what Fill shows changes (besides the times of
// running processes, which do not change while they run): a step that
// changes nothing a reader sees (a probe that passes again) leaves it as
// it was, so the engine neither wakes waiters nor saves the state.
func (m *Machine) Revision() uint64 { return m.rev }

// revise counts a change of the status's fingerprint.
func (m *Machine) revise() {
	b := func(v bool) uint64 {
		if v {
			return 1
		}
		return 0
	}
	fp := m.spare[:0]
	for i := range m.conds {
		fp = append(fp, uint64(m.conds[i].LastTransitionTime.UnixNano()), b(m.conds[i].Status == ConditionTrue))
	}
	for i := range m.procs {
		p := &m.procs[i]
		var last uint64
		if p.last != nil {
			last = uint64(p.last.FinishedAt.UnixNano())
		}
		fp = append(fp, uint64(p.phase), uint64(p.run), uint64(p.restartCount), last,
			b(p.ready())<<1|b(p.started()), uint64(len(p.waitReason))<<32|uint64(len(p.waitMessage)))
	}
	changed := len(fp) != len(m.print) || m.lastPh != m.phase || m.lastMsg != m.message
	for i := 0; !changed && i < len(fp); i++ {
		changed = fp[i] != m.print[i]
	}
	m.print, m.spare = fp, m.print
	if changed {
		m.rev++
		m.lastPh, m.lastMsg = m.phase, m.message
	}
}

// current is in's process if in is about its current run.
func (m *Machine) current(in Input) *proc {
	if in.Proc < 0 || in.Proc >= len(m.procs) {
		return nil
	}
	p := &m.procs[in.Proc]
	if in.Run != p.run || (p.phase != psRunning && p.phase != psStarting) {
		return nil
	}
	return p
}

func (m *Machine) emit(a Action) { m.out = append(m.out, a) }

func (m *Machine) publish(e Event) { m.emit(Action{Kind: ActPublish, Event: e}) }

func (m *Machine) setPhase(ph Phase, msg string) {
	if m.phase == ph && m.message == msg {
		return
	}
	m.phase, m.message = ph, msg
	m.publish(Event{Type: EventPhase, Phase: ph, Message: msg})
}

// begin starts a run of the pod: every process waits for its turn.
func (m *Machine) begin(now time.Time, restart bool) {
	t := now
	m.startedAt = &t
	m.initIdx, m.initDone, m.down = 0, false, nil
	m.reason, m.activeDeadline = "", time.Time{}
	if d := m.spec.ActiveDeadlineSeconds; d != nil {
		m.activeDeadline = now.Add(time.Duration(*d) * time.Second)
	}
	m.emit(Action{Kind: ActPrepare})
	for i := range m.procs {
		p := &m.procs[i]
		if restart && (p.last != nil || p.phase != psWaiting) {
			p.restartCount++
		}
		p.phase, p.pid, p.stop, p.killSent, p.hookFail, p.postStart = psWaiting, 0, nil, false, "", false
		p.resetProbes()
		p.streak, p.restartAt, p.succeeded, p.depFailed = 0, time.Time{}, false, false
		p.wasStarted, p.wasReady = false, false
		p.waitReason, p.waitMessage = "", ""
		if m.nInit > 0 {
			p.waitReason = ReasonPodInitializing
		}
	}
	if m.nInit > 0 {
		m.setPhase(PhaseInitializing, "")
	} else {
		m.initDone = true
		m.setPhase(PhaseRunning, "")
	}
}

// start gives run n+1 of process i.
func (m *Machine) start(i int, restart bool) {
	p := &m.procs[i]
	if restart {
		p.restartCount++
	}
	p.run++
	p.phase, p.restartAt = psStarting, time.Time{}
	p.waitReason, p.waitMessage = "", ""
	m.emit(Action{Kind: ActStart, Proc: i, Run: p.run})
}

func (m *Machine) spawned(in Input, now time.Time) {
	p := m.current(in)
	if p == nil || p.phase != psStarting {
		return
	}
	p.phase, p.pid, p.startedAt = psRunning, in.PID, now
	if in.At.After(time.Time{}) {
		p.startedAt = in.At
	}
	p.resetProbes()
	p.hookFail = "" // killSent stays: a SIGKILL of the pod may have come before this report
	m.publish(Event{Type: EventStarted, Process: p.spec.Name, PID: in.PID})
	if p.stop != nil {
		// Stopped while it was starting: it could not be signalled then.
		deadline := p.stop.killAt
		if deadline.IsZero() && m.down != nil {
			deadline = m.down.deadline
		}
		m.beginStop(in.Proc, deadline)
		return
	}
	if lc := p.spec.Lifecycle; lc != nil && lc.PostStart != nil {
		p.postStart = true
		m.emit(Action{Kind: ActRunHook, Proc: in.Proc, Run: p.run, Hook: HookPostStart})
	}
}

// started: running, its postStart done, its startup probe passed.
func (p *proc) started() bool {
	return p.phase == psRunning && !p.postStart && p.hookFail == "" &&
		(p.spec.StartupProbe == nil || p.probes != nil && p.probes[ProbeStartup].ok)
}

// ready: started, not being stopped, its readiness probe passing; a
// regular init process is never ready.
func (p *proc) ready() bool {
	if (p.init && !p.sidecar) || p.stop != nil || !p.started() {
		return false
	}
	return p.spec.ReadinessProbe == nil || p.probes != nil && p.probes[ProbeReadiness].ok
}

// resetProbes forgets the probes' counters, for a new run.
func (p *proc) resetProbes() {
	if p.probes != nil {
		*p.probes = [3]probeState{}
	}
}

func (p *proc) active() bool { return p.phase == psRunning || p.phase == psStarting }

// exited records the end of process i's run and applies the restart rules.
func (m *Machine) exited(i int, ex Exit, msg string, at, now time.Time) {
	p := &m.procs[i]
	if p.killSent && ex.Signal == 9 {
		ex.Killed = true
	}
	// Stopped for a failed liveness or startup probe: restarted unless
	// the policy is Never, whatever the exit code, as kubelet does.
	probeKill := p.stop != nil && p.stop.probe
	if p.hookFail != "" && !ex.StartFailed {
		ex.HookFailed = true
		if msg == "" {
			msg = p.hookFail
		}
	}
	started := p.startedAt
	if ex.StartFailed {
		started = at
	}
	code := ex.Code
	t := &Terminated{ExitCode: code, Signal: ex.Signal, Reason: ex.Reason(), Message: msg, StartedAt: &started, FinishedAt: at}
	p.prev, p.last = p.last, t
	// A failed start did not run at all: measured from an earlier run's
	// start (or from the zero time), it would look long enough to reset the
	// back-off at every failed start.
	ran := at.Sub(started)
	p.phase, p.pid, p.stop, p.killSent, p.hookFail, p.postStart = psDone, 0, nil, false, "", false
	p.resetProbes()
	if ex.Succeeded() {
		p.succeeded = true
	}
	if ex.StartFailed {
		m.publish(Event{Type: EventStartFailed, Process: p.spec.Name, Reason: t.Reason, Message: msg})
	} else {
		e := Event{Type: EventExited, Process: p.spec.Name, ExitCode: &code, Reason: t.Reason, Message: msg}
		if ex.Signal != 0 {
			e.Signal = SignalName(ex.Signal)
		}
		m.publish(e)
		if ex.OOMKilled {
			m.publish(Event{Type: EventOOMKilled, Process: p.spec.Name, Reason: ReasonOOMKilled})
		}
	}
	if m.down != nil || (m.phase != PhaseInitializing && m.phase != PhaseRunning) {
		return
	}
	restart := false
	switch action := m.rule(p, ex); {
	case action == RuleRestartAllContainers:
		m.publish(Event{Type: EventPodRestarted, Process: p.spec.Name, Message: fmt.Sprintf("process %q exited with code %d: restarting every process of the pod", p.spec.Name, code)})
		m.beginDown(goalRestart, "", "", now.Add(m.grace()), now)
		return
	case action == RuleRestart, p.sidecar:
		restart = true
	case probeKill:
		restart = m.spec.PolicyFor(p.spec) != RestartNever
	default:
		restart = ShouldRestart(m.spec.PolicyFor(p.spec), p.init, ex)
	}
	if !restart {
		if p.init && !p.sidecar && !ex.Succeeded() {
			m.beginDown(goalEnd, PhaseFailed, fmt.Sprintf("init process %q failed (%s)", p.spec.Name, t.Reason), now.Add(m.grace()), now)
		}
		return
	}
	n := m.spec.RestartBackoff.Streak(p.streak, ran)
	delay := m.spec.RestartBackoff.Delay(n)
	p.streak = n + 1
	p.phase, p.restartAt, p.backoff = psBackOff, now.Add(delay), delay
	m.publish(Event{Type: EventRestarting, Process: p.spec.Name, Delay: delay.String()})
}

// rule is the action of the first restart rule that matches ex, or "".
func (m *Machine) rule(p *proc, ex Exit) string {
	// An init process's success is what the pod waits for: no rule
	// restarts it.
	if ex.StartFailed || p.init && !p.sidecar && ex.Succeeded() {
		return ""
	}
	for _, r := range p.spec.RestartPolicyRules {
		if r.ExitCodes.Matches(ex.Code) {
			return r.Action
		}
	}
	return ""
}

func (m *Machine) grace() time.Duration {
	if m.spec.TerminationGracePeriodSeconds == nil {
		return DefaultGracePeriod * time.Second
	}
	g, _ := GracePeriod(*m.spec.TerminationGracePeriodSeconds)
	return g
}

// probeGrace is the grace of a stop for a failed probe k: the probe's
// own, else the pod's.
func (m *Machine) probeGrace(pr *Probe) time.Duration {
	if pr != nil && pr.TerminationGracePeriodSeconds != nil {
		g, _ := GracePeriod(*pr.TerminationGracePeriodSeconds)
		return g
	}
	return m.grace()
}

func (m *Machine) probeResult(in Input, now time.Time) {
	p := m.current(in)
	if p == nil || p.phase != psRunning || p.probes == nil || int(in.Probe) >= len(p.probes) {
		return
	}
	spec := p.probe(in.Probe)
	ps := &p.probes[in.Probe]
	if spec == nil || !ps.inFlight {
		return
	}
	ps.inFlight = false
	period := time.Duration(spec.PeriodSeconds) * time.Second
	if period <= 0 {
		period = DefaultProbePeriod * time.Second
	}
	ps.next = ps.sched.Add(period)
	if !ps.next.After(now) {
		ps.next = now.Add(period)
	}
	if p.stop != nil {
		return
	}
	if in.OK {
		ps.failures = 0
		ps.successes++
		if ps.successes >= int(max(spec.SuccessThreshold, 1)) {
			ps.ok = true
			if in.Probe == ProbeStartup {
				ps.next = time.Time{} // it never runs again: no wake for it
			}
		}
		return
	}
	ps.successes = 0
	ps.failures++
	m.publish(Event{Type: EventUnhealthy, Process: p.spec.Name, Reason: in.Probe.String(), Message: fmt.Sprintf("%s probe failed: %s", in.Probe, in.Message)})
	if ps.failures < int(max(spec.FailureThreshold, 1)) {
		return
	}
	ps.failures = 0
	switch in.Probe {
	case ProbeReadiness:
		ps.ok = false
	default:
		what := "liveness"
		if in.Probe == ProbeStartup {
			what = "startup"
		}
		msg := fmt.Sprintf("process %q failed its %s probe", p.spec.Name, what)
		if m.spec.PolicyFor(p.spec) != RestartNever || p.sidecar {
			msg += ", will be restarted"
		}
		m.publish(Event{Type: EventKilling, Process: p.spec.Name, Reason: in.Probe.String(), Message: msg})
		m.stopProc(in.Proc, msg, now.Add(m.probeGrace(spec)))
		p.stop.probe = true
	}
}

func (p *proc) probe(k ProbeKind) *Probe {
	switch k {
	case ProbeStartup:
		return p.spec.StartupProbe
	case ProbeLiveness:
		return p.spec.LivenessProbe
	default:
		return p.spec.ReadinessProbe
	}
}

func (m *Machine) hookDone(in Input, now time.Time) {
	p := m.current(in)
	if p == nil || p.phase != psRunning {
		return
	}
	switch in.Hook {
	case HookPostStart:
		if !p.postStart {
			return
		}
		p.postStart = false
		if in.OK {
			return
		}
		p.hookFail = "postStart hook failed: " + in.Message
		m.publish(Event{Type: EventFailedPostStartHook, Process: p.spec.Name, Reason: ReasonFailedPostStartHook, Message: in.Message})
		if p.stop == nil {
			msg := fmt.Sprintf("process %q: its postStart hook failed", p.spec.Name)
			m.publish(Event{Type: EventKilling, Process: p.spec.Name, Reason: ReasonFailedPostStartHook, Message: msg})
			m.stopProc(in.Proc, msg, now.Add(m.grace()))
		}
	case HookPreStop:
		if p.stop == nil || !p.stop.preStop {
			return
		}
		p.stop.preStop = false
		if !in.OK {
			m.publish(Event{Type: EventFailedPreStopHook, Process: p.spec.Name, Reason: string(EventFailedPreStopHook), Message: in.Message})
		}
		m.signal(in.Proc)
	}
}

// stopProc stops process i alone (a failed probe or hook): preStop, the
// stop signal, and SIGKILL of its cgroup at killAt.
func (m *Machine) stopProc(i int, reason string, killAt time.Time) {
	p := &m.procs[i]
	p.stop = &procStop{reason: reason, killAt: killAt}
	m.beginStop(i, killAt)
}

// beginStop runs process i's preStop hook, or sends its stop signal. A
// process not yet reported spawned is stopped by spawned. With no time
// left the hook is skipped: its Timeout would be 0, which means no limit.
func (m *Machine) beginStop(i int, deadline time.Time) {
	p := &m.procs[i]
	if lc := p.spec.Lifecycle; lc != nil && lc.PreStop != nil && p.phase == psRunning && deadline.After(m.now) {
		p.stop.preStop = true
		m.emit(Action{Kind: ActRunHook, Proc: i, Run: p.run, Hook: HookPreStop, Timeout: deadline.Sub(m.now)})
		return
	}
	m.signal(i)
}

func (m *Machine) signal(i int) {
	p := &m.procs[i]
	if p.stop == nil || p.stop.signalled || p.phase != psRunning {
		return
	}
	p.stop.signalled = true
	sig, ok := ParseSignal(p.spec.StopSignal)
	if !ok {
		sig = 15
	}
	m.emit(Action{Kind: ActSignal, Proc: i, Run: p.run, Signal: sig})
}

// hash spreads probes of different processes over their period.
func (m *Machine) hash(i int, k ProbeKind) uint32 {
	h := fnv.New32a()
	h.Write([]byte(m.name))
	h.Write([]byte{0, byte(k)})
	h.Write([]byte(m.procs[i].spec.Name))
	return h.Sum32()
}
