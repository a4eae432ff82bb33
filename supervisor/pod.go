package supervisor

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
)

// Pod is one supervised pod. Its methods are safe for concurrent use; the
// pod's state belongs to one owner goroutine, which they ask.
type Pod struct {
	sv     *Supervisor
	name   string
	spec   *pod.Pod // defaulted and validated; never modified
	log    zerolog.Logger
	dir    string // <root>/pods/<name>
	lock   *os.File
	cg     *cgroups.Group
	nsDir  string
	nsp    namespaces.Paths
	nsh    *namespaces.Handle
	execCg *cgroups.Group
	procs  []*proc // init processes first, then app processes
	nInit  int

	cmds  chan func()
	exits chan exitMsg
	quit  chan struct{}
	done  chan struct{}

	// Owner goroutine only.
	initIdx  int
	stopping *stopState
	removed  bool

	mu      sync.Mutex // guards the status fields below and every proc.st
	phase   pod.Phase
	message string
	created time.Time
	started *time.Time
	changed chan struct{} // closed and replaced at every status change
	desired Desired

	saveMu      sync.Mutex    // serializes state.json writes
	saveFails   int           // failed saves in a row; under saveMu
	saveWarned  time.Time     // when a failed save was last logged; under saveMu
	persistKick chan struct{} // a state save is wanted
	persistStop chan struct{}
	persistDone chan struct{}
}

// drainTimeout bounds the wait for a process's output after it exited.
const drainTimeout = 2 * time.Second

type stopState struct {
	deadline time.Time
	killed   bool
	waiters  []chan struct{}
	// After the kill: exitsDue is when processes whose exit has still not
	// been reported are taken for dead; drainCheck the next look at the
	// pod's cgroup while its last tasks exit (zero: not draining);
	// drainSince when that began.
	exitsDue   time.Time
	drainCheck time.Time
	drainSince time.Time
}

// Bounds of a stop after the grace period: how long the exits of killed
// processes may take to be reported before they are taken for dead, and
// how long the pod's cgroup may take to empty (a pod with many thousands
// of tasks) before the pod is Stopped anyway, with a message.
const (
	killedExitWait = 3 * time.Second
	drainLimit     = time.Minute
)

// Done is closed when the pod has been removed.
func (p *Pod) Done() <-chan struct{} { return p.done }

// Name is the pod's name.
func (p *Pod) Name() string { return p.name }

// Spec returns the pod's spec with its defaults applied. The caller must
// not modify it.
func (p *Pod) Spec() *pod.Pod { return p.spec }

// do runs f on the owner goroutine and waits for it. It returns false if
// the pod's loop has ended.
func (p *Pod) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case p.cmds <- func() { f(); close(ran) }:
	case <-p.done:
		return false
	}
	select {
	case <-ran:
		return true
	case <-p.done:
		return false
	}
}

func (p *Pod) loop() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if next, ok := p.nextWake(); ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case f := <-p.cmds:
			f()
		case m := <-p.exits:
			p.onExit(m)
		case <-timer.C:
			p.onTimer(time.Now())
		case <-p.quit:
			return
		}
	}
}

// nextWake is the earliest pending restart or stop deadline.
func (p *Pod) nextWake() (time.Time, bool) {
	var next time.Time
	if s := p.stopping; s != nil {
		switch {
		case !s.drainCheck.IsZero():
			next = s.drainCheck
		case !s.killed:
			next = s.deadline
		default:
			next = s.exitsDue
		}
	}
	for _, pr := range p.procs {
		if !pr.restartAt.IsZero() && (next.IsZero() || pr.restartAt.Before(next)) {
			next = pr.restartAt
		}
	}
	return next, !next.IsZero()
}

// update changes status fields under the lock and wakes waiters.
func (p *Pod) update(f func()) {
	p.mu.Lock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	p.markDirty()
}

func (p *Pod) setPhase(ph pod.Phase, msg string) {
	if p.phase == ph && p.message == msg {
		return
	}
	p.update(func() { p.phase, p.message = ph, msg })
	ev := p.log.Info()
	if ph == pod.PhaseFailed {
		ev = p.log.Warn()
	}
	ev = ev.Str("phase", string(ph))
	if msg != "" {
		ev = ev.Str("detail", msg)
	}
	ev.Msg("pod phase")
	p.sv.bus.publish(Event{Time: time.Now(), Type: EventPhase, Pod: p.name, Phase: ph, Message: msg})
}

// Start runs the pod: init processes one by one, then the app processes.
// It returns once the first process has been launched; use WaitFor or Wait
// to follow the pod. Starting a running pod does nothing; starting an ended
// one runs it again (restart counts are kept).
func (p *Pod) Start() error {
	var err error
	if !p.do(func() {
		if p.removed {
			err = fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
			return
		}
		if err = p.setDesired(DesiredRunning); err != nil {
			return
		}
		err = p.start()
	}) {
		return fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
	}
	return err
}

func (p *Pod) start() error {
	switch {
	case p.removed:
		return fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
	case p.phase == pod.PhaseInitializing || p.phase == pod.PhaseRunning:
		return nil
	case p.phase == pod.PhaseTerminating:
		return fmt.Errorf("pod %q is terminating: %w", p.name, pod.ErrConflict)
	}
	now := time.Now()
	p.update(func() {
		p.started = &now
		for _, pr := range p.procs {
			pr.st.State, pr.st.Reason, pr.st.Message, pr.st.PID, pr.st.Ready = pod.StateWaiting, "", "", 0, false
			if p.nInit > 0 {
				pr.st.Reason = pod.ReasonPodInitializing
			}
		}
	})
	for _, pr := range p.procs {
		pr.final, pr.streak, pr.restartAt, pr.killing = false, 0, time.Time{}, false
	}
	if err := p.execCg.Renew(cgroups.Limits{}); err != nil {
		p.log.Warn().Err(err).Msg("renew the exec cgroup")
	}
	if p.nInit > 0 {
		p.setPhase(pod.PhaseInitializing, "")
		p.initIdx = 0
		p.launch(p.procs[0])
		return nil
	}
	p.startApps()
	return nil
}

func (p *Pod) startApps() {
	p.setPhase(pod.PhaseRunning, "")
	for _, pr := range p.procs[p.nInit:] {
		if p.phase != pod.PhaseRunning {
			return
		}
		p.launch(pr)
	}
}

// launch starts one run of pr, or records why it could not start.
func (p *Pod) launch(pr *proc) {
	plog := p.log.With().Str("process", pr.spec.Name).Logger()
	run, err := p.spawn(pr)
	now := time.Now()
	if err != nil {
		msg := err.Error()
		plog.Warn().Err(err).Msg("start failed")
		p.sv.bus.publish(Event{Time: now, Type: EventStartFailed, Pod: p.name, Process: pr.spec.Name, Reason: pod.ReasonStartError, Message: msg})
		ex := pod.Exit{Code: 128, StartFailed: true}
		p.recordExit(pr, ex, now, now, msg)
		p.afterExit(pr, ex, 0)
		return
	}
	pr.run = run
	p.update(func() {
		pr.st.State, pr.st.Reason, pr.st.Message = pod.StateRunning, "", ""
		pr.st.PID = run.pid
		pr.st.Ready = !pr.init
		t := run.started
		pr.st.StartedAt = &t
	})
	plog.Info().Int("pid", run.pid).Msg("started")
	p.sv.bus.publish(Event{Time: now, Type: EventStarted, Pod: p.name, Process: pr.spec.Name, PID: run.pid})
}

// recordExit writes an exit into pr's status and the event stream.
func (p *Pod) recordExit(pr *proc, ex pod.Exit, started, at time.Time, msg string) {
	code := ex.Code
	sig := ""
	if ex.Signal != 0 {
		sig = pod.SignalName(ex.Signal)
	}
	reason := ex.Reason()
	pr.lastExit = reason
	p.update(func() {
		pr.st.State, pr.st.Reason, pr.st.Message = pod.StateTerminated, reason, msg
		pr.st.PID, pr.st.Ready = 0, false
		t := at
		pr.st.FinishedAt = &t
		if ex.StartFailed {
			s := started
			pr.st.StartedAt = &s
		}
		pr.st.ExitCode = &code
		pr.st.Signal = sig
	})
	if ex.StartFailed {
		return
	}
	plog := p.log.With().Str("process", pr.spec.Name).Logger()
	ev := plog.Info()
	if !ex.Succeeded() && p.phase != pod.PhaseTerminating {
		ev = plog.Warn()
	}
	ev = ev.Int("exitCode", code)
	if sig != "" {
		ev = ev.Str("signal", sig)
	}
	ev.Str("reason", reason).Msg("exited")
	p.sv.bus.publish(Event{Time: at, Type: EventExited, Pod: p.name, Process: pr.spec.Name, ExitCode: &code, Signal: sig, Reason: reason, Message: msg})
	if ex.OOMKilled {
		plog.Warn().Msg("OOMKilled")
		p.sv.bus.publish(Event{Time: at, Type: EventOOMKilled, Pod: p.name, Process: pr.spec.Name, Reason: pod.ReasonOOMKilled})
	}
}

func (p *Pod) onExit(m exitMsg) {
	pr := m.pr
	if m.gen != pr.gen || pr.run == nil {
		return
	}
	run := pr.run
	pr.run = nil
	ex := pod.Exit{Code: m.st.code, Signal: m.st.signal}
	msg := ""
	if m.err != nil {
		ex = pod.Exit{Code: 255}
		msg = "wait: " + m.err.Error()
	}
	if n, err := pr.cg.OOMKills(); err == nil && n > pr.oomBase {
		ex.OOMKilled = !ex.Succeeded()
		pr.oomBase = n
	}
	if pr.killing && ex.Signal == int(unix.SIGKILL) {
		ex.Killed = true
	}
	pr.killing = false
	// Whatever the process left in its cgroup dies with it.
	if pr.cg.Populated() {
		if err := pr.cg.Kill(); err != nil {
			p.log.Warn().Err(err).Str("process", pr.spec.Name).Msg("kill leftovers")
		}
	}
	// Its last lines are logged before its exit is: the writers are dead,
	// so the pipes reach EOF at once (the bound is for a writer that
	// escaped the cgroup).
	select {
	case <-run.drained:
	case <-time.After(drainTimeout):
	}
	p.recordExit(pr, ex, run.started, m.st.at, msg)
	p.afterExit(pr, ex, m.st.at.Sub(run.started))
}

// afterExit applies the restart rules to an exit.
func (p *Pod) afterExit(pr *proc, ex pod.Exit, ran time.Duration) {
	if p.phase == pod.PhaseTerminating {
		pr.final = true
		p.maybeFinishStop()
		return
	}
	if p.phase != pod.PhaseInitializing && p.phase != pod.PhaseRunning {
		pr.final = true
		return
	}
	d := p.spec.Spec.Decide(pr.spec, pr.init, ex, ran, pr.streak)
	switch {
	case pr.init && ex.Succeeded():
		pr.final = true
		p.initIdx++
		if p.initIdx < p.nInit {
			p.launch(p.procs[p.initIdx])
		} else {
			p.startApps()
		}
		return
	case !d.Restart && pr.init:
		pr.final = true
		p.update(func() {
			for _, ap := range p.procs[p.initIdx+1:] {
				ap.st.Reason = ""
			}
		})
		p.setPhase(pod.PhaseFailed, fmt.Sprintf("init process %q failed (%s)", pr.spec.Name, ex.Reason()))
		p.ended()
		return
	case !d.Restart:
		pr.final = true
		p.appPhase()
		return
	}
	pr.streak = d.Streak
	p.sv.bus.publish(Event{Time: time.Now(), Type: EventRestarting, Pod: p.name, Process: pr.spec.Name, Delay: d.Delay.String()})
	p.log.Info().Str("process", pr.spec.Name).Stringer("delay", d.Delay).Msg("restarting")
	if d.Delay <= 0 {
		p.restart(pr)
		return
	}
	pr.restartAt = time.Now().Add(d.Delay)
	p.update(func() {
		// The last exit's reason and message stay readable while waiting.
		msg := fmt.Sprintf("back-off %s restarting process after %s", d.Delay, ex.Reason())
		if pr.st.Message != "" {
			msg += ": " + pr.st.Message
		}
		pr.st.State, pr.st.Reason, pr.st.Message = pod.StateWaiting, pod.ReasonCrashLoopBackOff, msg
	})
}

func (p *Pod) restart(pr *proc) {
	pr.restartAt = time.Time{}
	p.update(func() { pr.st.RestartCount++ })
	p.launch(pr)
}

func (p *Pod) onTimer(now time.Time) {
	if s := p.stopping; s != nil {
		switch {
		case !s.drainCheck.IsZero():
			if !now.Before(s.drainCheck) {
				p.maybeFinishStop()
			}
		case !s.killed:
			if !now.Before(s.deadline) {
				p.killAll()
			}
		case !now.Before(s.exitsDue):
			p.presumeKilled()
		}
	}
	for _, pr := range p.procs {
		if !pr.restartAt.IsZero() && !now.Before(pr.restartAt) {
			p.restart(pr)
		}
	}
}

// appPhase moves a running pod to Succeeded or Failed once no app process
// is active.
func (p *Pod) appPhase() {
	if p.phase != pod.PhaseRunning {
		return
	}
	outcomes := make([]pod.Outcome, 0, len(p.procs)-p.nInit)
	failed := ""
	for _, pr := range p.procs[p.nInit:] {
		switch {
		case !pr.final:
			outcomes = append(outcomes, pod.Active)
		case pr.st.Reason == pod.ReasonCompleted:
			outcomes = append(outcomes, pod.Done)
		default:
			outcomes = append(outcomes, pod.DoneFailed)
			if failed == "" {
				failed = pr.spec.Name
			}
		}
	}
	ph := pod.AppPhase(outcomes)
	if ph == pod.PhaseRunning {
		return
	}
	msg := ""
	if ph == pod.PhaseFailed {
		msg = fmt.Sprintf("process %q failed", failed)
	}
	p.setPhase(ph, msg)
	p.ended()
}

// ended kills whatever is left in the pod's cgroup once nothing is meant
// to run.
func (p *Pod) ended() {
	if p.cg.Populated() {
		if err := p.cg.Kill(); err != nil {
			p.log.Warn().Err(err).Msg("kill leftovers")
		}
		p.taintChildren()
		p.cg.WaitEmpty(2 * time.Second)
	}
}

// Stop stops the pod: each running process gets its stop signal, and
// whatever is left in the pod's cgroup after the grace period (the spec's
// terminationGracePeriodSeconds, or *grace when not nil) is SIGKILLed,
// escaped grandchildren included. Pending restarts are cancelled. Stop
// returns when the pod is stopped, as soon as its processes have exited,
// or when ctx ends (the stop goes on). Stopping a pod that is not running
// does nothing.
func (p *Pod) Stop(ctx context.Context, grace *time.Duration) error {
	return p.stopAndWait(ctx, grace, desireStopped)
}

// How a stop records the desired state.
type stopDesire int

const (
	desireKept       stopDesire = iota // a supervisor shutdown: unchanged
	desireStopped                      // a user's stop: saved first, or no stop
	desireBestEffort                   // a removal: saved if it can be
)

// stopAndWait stops the pod, recording as desire says that it should stay
// stopped.
func (p *Pod) stopAndWait(ctx context.Context, grace *time.Duration, desire stopDesire) error {
	g, _ := pod.GracePeriod(*p.spec.Spec.TerminationGracePeriodSeconds) // validated at Create
	if grace != nil {
		g = max(*grace, 0)
	}
	w := make(chan struct{})
	var err error
	if !p.do(func() {
		switch desire {
		case desireStopped:
			if err = p.setDesired(DesiredStopped); err != nil {
				return
			}
		case desireBestEffort:
			// A removal frees space and needs none: it goes on. Should the
			// supervisor die before the pod's files are gone, the pod
			// would be recovered as it was.
			if serr := p.setDesired(DesiredStopped); serr != nil {
				p.log.Warn().Err(serr).Msg("removing the pod anyway")
			}
		}
		p.stop(g, w)
	}) {
		return fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
	}
	if err != nil {
		return err
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return nil
	}
}

func (p *Pod) stop(grace time.Duration, w chan struct{}) {
	now := time.Now()
	switch p.phase {
	case pod.PhaseInitializing, pod.PhaseRunning:
		p.setPhase(pod.PhaseTerminating, "")
		p.stopping = &stopState{deadline: now.Add(grace), waiters: []chan struct{}{w}}
		for _, pr := range p.procs {
			if pr.st.Reason == pod.ReasonPodInitializing {
				p.update(func() { pr.st.Reason = "" })
			}
			if !pr.restartAt.IsZero() {
				pr.restartAt = time.Time{}
				pr.final = true
				p.update(func() { pr.st.State, pr.st.Reason, pr.st.Message = pod.StateTerminated, pr.lastExit, "" })
			}
			if pr.run == nil {
				continue
			}
			sig, _ := pod.ParseSignal(pr.spec.StopSignal)
			if err := pr.run.signal(unix.Signal(sig)); err != nil {
				p.log.Warn().Err(err).Str("process", pr.spec.Name).Msg("stop signal")
			}
		}
		p.log.Info().Stringer("grace", grace).Msg("stopping")
		if grace <= 0 {
			p.killAll()
		}
		p.maybeFinishStop()
	case pod.PhaseTerminating:
		s := p.stopping
		s.waiters = append(s.waiters, w)
		if d := now.Add(grace); d.Before(s.deadline) {
			s.deadline = d
			if grace <= 0 {
				p.killAll()
			}
		}
	default:
		close(w)
	}
}

// killAll ends the grace period: SIGKILL to everything in the pod's cgroup.
func (p *Pod) killAll() {
	if p.stopping == nil || p.stopping.killed {
		return
	}
	p.stopping.killed = true
	p.stopping.exitsDue = time.Now().Add(killedExitWait)
	for _, pr := range p.procs {
		if pr.run != nil {
			pr.killing = true
		}
	}
	p.log.Warn().Msg("grace period over: killing what is left")
	if err := p.cg.Kill(); err != nil {
		p.log.Error().Err(err).Msg("kill pod cgroup")
	}
	p.taintChildren()
}

// taintChildren records that the pod's cgroup was killed, so that every
// child cgroup is renewed before its next use (see cgroups.Group.Renew).
func (p *Pod) taintChildren() {
	for _, pr := range p.procs {
		pr.cg.Taint()
	}
	p.execCg.Taint()
}

// presumeKilled ends a stop whose killed processes have not had their exit
// reported killedExitWait after the kill: the safety net should have found
// any exit the pidfd path missed, so this is a last resort that keeps a
// stop from waiting forever. Each such process is recorded as killed, and
// a report that comes later is dropped.
func (p *Pod) presumeKilled() {
	now := time.Now()
	for _, pr := range p.procs {
		run := pr.run
		if run == nil {
			continue
		}
		p.log.Error().Str("process", pr.spec.Name).Int("pid", run.pid).Msg("no exit reported after SIGKILL: taken for dead")
		// Give up its watch (reaping it if it has exited); if it lives on,
		// the orphan reaper takes it when it exits.
		run.mu.Lock()
		fd := run.pidfd
		run.pidfd = -1
		run.mu.Unlock()
		if l, err := theLoop(); err == nil && fd >= 0 {
			l.abandon(fd)
		}
		disown(run.pid)
		pr.gen++ // a late report is stale
		pr.run = nil
		pr.killing = false
		ex := pod.Exit{Code: 128 + int(unix.SIGKILL), Signal: int(unix.SIGKILL), Killed: true}
		p.recordExit(pr, ex, run.started, now, "no exit reported after SIGKILL")
		pr.final = true
	}
	p.maybeFinishStop()
}

// drainPoll bounds the interval between looks at a draining pod's cgroup.
const drainPoll = 100 * time.Millisecond

// maybeFinishStop ends a stop once every process has exited and the pod's
// cgroup is empty: what is left is killed, and the stop waits (without
// blocking the owner goroutine) for the kernel to finish the tasks, so that
// Stopped means nothing of the pod runs any more.
func (p *Pod) maybeFinishStop() {
	s := p.stopping
	if s == nil {
		return
	}
	for _, pr := range p.procs {
		if pr.run != nil {
			return
		}
	}
	now := time.Now()
	msg := ""
	if p.cg.Populated() {
		if s.drainCheck.IsZero() {
			if err := p.cg.Kill(); err != nil {
				p.log.Warn().Err(err).Msg("kill leftovers")
			}
			p.taintChildren()
			s.drainSince = now
		}
		if now.Sub(s.drainSince) < drainLimit {
			wait := min(max(now.Sub(s.drainSince)/4, time.Millisecond), drainPoll)
			s.drainCheck = now.Add(wait)
			return
		}
		n := 0
		if pids, err := p.cg.Pids(); err == nil {
			n = len(pids)
		}
		msg = fmt.Sprintf("%d tasks of the pod's cgroup still exiting after SIGKILL", n)
		p.log.Error().Int("tasks", n).Msg("stopped with tasks still exiting")
	}
	p.stopping = nil
	p.setPhase(pod.PhaseStopped, msg)
	for _, w := range s.waiters {
		close(w)
	}
}

// Status returns a snapshot of the pod's state.
func (p *Pod) Status() pod.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statusLocked()
}

func (p *Pod) statusLocked() pod.Status {
	st := pod.Status{
		Name:     p.name,
		Phase:    p.phase,
		Message:  p.message,
		Hostname: p.spec.Spec.Hostname,
		Cgroup:   p.cg.Path(),
		Namespaces: pod.NamespacePaths{
			Net: p.nsp.Net, IPC: p.nsp.IPC, UTS: p.nsp.UTS,
		},
		CreatedAt: p.created,
		StartedAt: p.started,
		Init:      make([]pod.ProcessStatus, 0, p.nInit),
		Processes: make([]pod.ProcessStatus, 0, len(p.procs)-p.nInit),
	}
	for _, pr := range p.procs {
		if pr.init {
			st.Init = append(st.Init, pr.st)
		} else {
			st.Processes = append(st.Processes, pr.st)
		}
	}
	return st
}

// WaitFor waits until cond holds for the pod's status and returns that
// status, or returns the last status and ctx's error.
func (p *Pod) WaitFor(ctx context.Context, cond func(*pod.Status) bool) (pod.Status, error) {
	for {
		p.mu.Lock()
		st := p.statusLocked()
		ch := p.changed
		p.mu.Unlock()
		if cond(&st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, ctx.Err()
		case <-p.done:
			return p.Status(), fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
		}
	}
}

// Wait waits until the pod has ended (Succeeded, Failed or Stopped).
func (p *Pod) Wait(ctx context.Context) (pod.Status, error) {
	return p.WaitFor(ctx, func(s *pod.Status) bool { return s.Phase.Ended() })
}
