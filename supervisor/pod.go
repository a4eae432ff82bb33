package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
)

// Pod is one supervised pod. Its methods are safe for concurrent use; the
// pod's state belongs to one owner goroutine, which they ask.
//
// The owner goroutine is the engine: it feeds what happens (requests,
// exits, probe and hook results, timers) to the pod's lifecycle machine
// (pod.Machine), and carries out the actions the machine returns through
// the pod's runtime. It never blocks: slow work (hooks, probes, a draining
// cgroup, the output of an exited process) runs elsewhere and reports back
// as inputs.
type Pod struct {
	sv    *Supervisor
	name  string
	spec  *pod.Pod // defaulted and validated; never modified
	log   zerolog.Logger
	dir   string // <root>/pods/<name>
	lock  *os.File
	cg    *cgroups.Group
	nsDir string
	nsp   namespaces.Paths
	nsh   *namespaces.Handle
	files *podFiles // volumes, /tmp, /etc files and the views
	// filesMu serializes RefreshFiles; current holds each files volume's
	// items as last refreshed (the spec's until then).
	filesMu   sync.Mutex
	current   map[string]*pod.FilesVolume
	filesGone bool    // torn down: no more refreshes
	net       *podNet // what the pod got from its network
	qos       string  // the QoS class, computed once
	// pidns is the run's PID namespace (shareProcessNamespace), nil before
	// the first run or when its PID 1 could not start (pidnsErr says why).
	pidns    atomic.Pointer[pidNamespace]
	pidnsErr atomic.Pointer[error]
	execCg   *cgroups.Group
	procs    []*proc // init processes first, then app processes
	rt       podRuntime

	dialMu    sync.Mutex
	netDialer *namespaces.NetDialer // made at the first network check

	reqMu  sync.Mutex // serializes Start and Stop requests with their saves
	cmds   chan func()
	inputs chan pod.Input
	quit   chan struct{}
	done   chan struct{}

	// Owner goroutine only.
	removed bool
	waiters []chan struct{} // closed when a stop ends
	acts    []pod.Action
	queue   []pod.Input

	mu      sync.Mutex // guards m and the status fields below
	m       *pod.Machine
	created time.Time
	hist    pod.History   // what explain reads of the pod's events
	changed chan struct{} // closed and replaced at every status change
	desired Desired

	saveMu      sync.Mutex    // serializes state.json writes
	saveFails   int           // failed saves in a row; under saveMu
	saveWarned  time.Time     // when a failed save was last logged; under saveMu
	persistKick chan struct{} // a state save is wanted
	persistStop chan struct{}
	persistDone chan struct{}
}

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

// post hands an input to the owner goroutine from any other goroutine.
func (p *Pod) post(in pod.Input) {
	select {
	case p.inputs <- in:
	case <-p.done:
	}
}

func (p *Pod) loop() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		p.mu.Lock()
		next, ok := p.m.NextWake()
		p.mu.Unlock()
		if ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case f := <-p.cmds:
			f()
		case in := <-p.inputs:
			p.step(in)
		case <-timer.C:
			p.step(pod.Input{Kind: pod.InTimer})
		case <-p.quit:
			return
		}
	}
}

// step feeds in to the machine and carries out its actions; an action
// whose outcome is known at once (a process started) is fed back before
// step returns. The status lock is held throughout, so that a status is
// never seen half-way (a process between its start and its report).
func (p *Pod) step(in pod.Input) {
	p.mu.Lock()
	rev := p.m.Revision()
	p.queue = append(p.queue[:0], in)
	for len(p.queue) > 0 {
		in := p.queue[0]
		p.queue = p.queue[1:]
		now := time.Now()
		p.acts = append(p.acts[:0], p.m.Step(in, now)...)
		for i := range p.acts {
			p.apply(&p.acts[i], now)
		}
	}
	phase := p.m.Phase()
	changed := p.m.Revision() != rev
	if changed {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	p.mu.Unlock()
	if changed {
		p.markDirty()
		p.sv.changes.publish(p.name)
	}
	if phase != pod.PhaseTerminating && len(p.waiters) > 0 {
		for _, w := range p.waiters {
			close(w)
		}
		p.waiters = nil
	}
}

// apply carries out one action of the machine.
func (p *Pod) apply(a *pod.Action, now time.Time) {
	switch a.Kind {
	case pod.ActStart:
		t0 := time.Now()
		pid, at, err := p.rt.start(a.Proc, a.Run)
		if err == nil && a.Proc < len(p.procs) {
			p.procs[a.Proc].startHist.observe(time.Since(t0))
		}
		if err != nil {
			p.log.Warn().Err(err).Str("process", p.procName(a.Proc)).Msg("start failed")
			var ce *configError
			p.queue = append(p.queue, pod.Input{Kind: pod.InSpawnFailed, Proc: a.Proc, Run: a.Run, Message: err.Error(),
				Exit: pod.Exit{ConfigError: errors.As(err, &ce)}})
			return
		}
		p.queue = append(p.queue, pod.Input{Kind: pod.InSpawned, Proc: a.Proc, Run: a.Run, PID: pid, At: at})
	case pod.ActSignal:
		p.rt.signal(a.Proc, a.Run, a.Signal)
	case pod.ActKillProcess:
		p.log.Warn().Str("process", p.procName(a.Proc)).Msg("grace period over: killing the process's cgroup")
		p.rt.killProcess(a.Proc)
	case pod.ActKillPod:
		p.log.Warn().Msg("grace period over: killing what is left")
		p.rt.killPod()
	case pod.ActAbandon:
		p.log.Error().Str("process", p.procName(a.Proc)).Msg("no exit reported after SIGKILL: taken for dead")
		p.rt.abandon(a.Proc, a.Run)
	case pod.ActRunHook:
		p.rt.runHook(a.Proc, a.Run, a.Hook, a.Timeout)
	case pod.ActRunProbe:
		p.rt.runProbe(a.Proc, a.Run, a.Probe, a.Timeout)
	case pod.ActDrain:
		if tasks, done := p.rt.drain(); done {
			p.queue = append(p.queue, pod.Input{Kind: pod.InCgroupEmpty, Tasks: tasks})
		}
	case pod.ActPrepare:
		p.rt.prepare()
	case pod.ActPublish:
		e := a.Event
		e.Pod = p.name
		if e.Time.IsZero() {
			e.Time = now
		}
		p.logEvent(&e)
		p.hist.Record(&e)
		p.sv.bus.publish(e)
	}
}

func (p *Pod) procName(i int) string { return p.procs[i].spec.Name }

// logEvent writes an event to the supervisor's log.
func (p *Pod) logEvent(e *pod.Event) {
	l := p.log
	if e.Process != "" {
		l = l.With().Str("process", e.Process).Logger()
	}
	switch e.Type {
	case pod.EventPhase:
		ev := l.Info()
		if e.Phase == pod.PhaseFailed {
			ev = l.Warn()
		}
		ev = ev.Str("phase", string(e.Phase))
		if e.Message != "" {
			ev = ev.Str("detail", e.Message)
		}
		ev.Msg("pod phase")
	case pod.EventStarted:
		l.Info().Int("pid", e.PID).Msg("started")
	case pod.EventExited:
		ev := l.Info()
		if e.Reason != pod.ReasonCompleted && p.m.Phase() != pod.PhaseTerminating {
			ev = l.Warn()
		}
		ev = ev.Int("exitCode", *e.ExitCode)
		if e.Signal != "" {
			ev = ev.Str("signal", e.Signal)
		}
		ev.Str("reason", e.Reason).Msg("exited")
	case pod.EventRestarting:
		l.Info().Str("delay", e.Delay).Msg("restarting")
	case pod.EventOOMKilled:
		l.Warn().Msg("OOMKilled")
	case pod.EventStartFailed:
		// logged where the start failed
	default:
		ev := l.Info()
		if e.Type != pod.EventPodRestarted {
			ev = l.Warn()
		}
		ev.Str("event", string(e.Type)).Str("reason", e.Reason).Msg(e.Message)
	}
}

// Start runs the pod: init processes one by one, then the app processes.
// It returns once the first process has been launched; use WaitFor or Wait
// to follow the pod. Starting a running pod does nothing; starting an ended
// one runs it again (restart counts are kept).
func (p *Pod) Start() error {
	// Requests are serialized, so that the desired state saved and the
	// order of the requests carried out agree; the save (an fsync) is made
	// here, not on the owner goroutine, which never waits for a disk.
	p.reqMu.Lock()
	defer p.reqMu.Unlock()
	var err error
	gone := fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
	if !p.do(func() {
		switch {
		case p.removed:
			err = gone
		case p.m.Phase() == pod.PhaseTerminating:
			err = fmt.Errorf("pod %q is terminating: %w", p.name, pod.ErrConflict)
		}
	}) {
		return gone
	}
	if err != nil {
		return err
	}
	if err := p.setDesired(DesiredRunning); err != nil {
		return err
	}
	if !p.do(func() {
		if p.removed {
			err = gone
			return
		}
		p.start()
	}) {
		return gone
	}
	return err
}

// start runs the pod unless it runs already; on the owner goroutine.
func (p *Pod) start() {
	switch p.m.Phase() {
	case pod.PhaseInitializing, pod.PhaseRunning, pod.PhaseTerminating:
		return
	}
	p.step(pod.Input{Kind: pod.InStart})
}

// Stop stops the pod: each running process gets its stop signal (after
// its preStop hook), app processes first and sidecars last, and whatever
// is left in the pod's cgroup after the grace period (the spec's
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
	p.reqMu.Lock()
	switch desire {
	case desireStopped:
		if err := p.setDesired(DesiredStopped); err != nil {
			p.reqMu.Unlock()
			return err
		}
	case desireBestEffort:
		// A removal frees space and needs none: it goes on. Should the
		// supervisor die before the pod's files are gone, the pod would be
		// recovered as it was.
		if err := p.setDesired(DesiredStopped); err != nil {
			p.log.Warn().Err(err).Msg("removing the pod anyway")
		}
	}
	ok := p.do(func() {
		if ph := p.m.Phase(); ph == pod.PhaseInitializing || ph == pod.PhaseRunning {
			p.log.Info().Stringer("grace", g).Msg("stopping")
		}
		p.step(pod.Input{Kind: pod.InStop, Grace: g})
		if p.m.Phase() == pod.PhaseTerminating {
			p.waiters = append(p.waiters, w)
		} else {
			close(w)
		}
	})
	p.reqMu.Unlock()
	if !ok {
		return fmt.Errorf("pod %q: %w", p.name, pod.ErrNotFound)
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

// busy reports whether the pod runs or stops; on the owner goroutine.
func (p *Pod) busy() bool {
	switch p.m.Phase() {
	case pod.PhaseInitializing, pod.PhaseRunning, pod.PhaseTerminating:
		return true
	}
	return false
}

// Status returns a snapshot of the pod's state.
func (p *Pod) Status() pod.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statusLocked()
}

func (p *Pod) statusLocked() pod.Status {
	st := pod.Status{
		Name:      p.name,
		Namespace: p.spec.Metadata.Namespace,
		QOSClass:  p.qos,
		Hostname:  p.spec.Spec.Hostname,
		Namespaces: pod.NamespacePaths{
			Net: p.nsp.Net, IPC: p.nsp.IPC, UTS: p.nsp.UTS,
		},
		CreatedAt: p.created,
		Init:      make([]pod.ProcessStatus, 0, len(p.spec.Spec.InitProcesses)),
		Processes: make([]pod.ProcessStatus, 0, len(p.spec.Spec.Processes)),
	}
	if p.cg != nil {
		st.Cgroup = p.cg.Path()
	}
	st.Desired = string(p.desired)
	if st.Desired == "" {
		st.Desired = string(DesiredStopped) // created, never started
	}
	if p.files != nil {
		st.Namespaces.Mounts = p.files.byProc
	}
	if n := p.net; n != nil {
		st.Network = n.Network
		for _, a := range n.addrs() {
			st.PodIPs = append(st.PodIPs, a.String())
		}
		if len(st.PodIPs) > 0 {
			st.PodIP = st.PodIPs[0]
		}
		if n.HostIP.IsValid() {
			st.HostIP = n.HostIP.String()
		}
		st.Ports = n.Ports
	}
	if n := p.pidns.Load(); n != nil {
		st.Namespaces.PID = n.path
	}
	p.m.Fill(&st)
	for i, pr := range p.procs {
		ps := &st.Processes
		j := i - len(st.Init)
		if pr.init {
			ps, j = &st.Init, i
		}
		(*ps)[j].LogsDropped = pr.logsDropped
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

// update changes status fields under the lock and wakes waiters.
func (p *Pod) update(f func()) {
	p.mu.Lock()
	f()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	p.markDirty()
}
