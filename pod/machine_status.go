package pod

import (
	"fmt"
	"strings"
	"time"
)

// Fill writes the machine's part of a pod's status into st: phase,
// message, start time, the processes' states and the conditions. The
// engine adds what it alone knows (names, paths, log counters).
func (m *Machine) Fill(st *Status) {
	st.Phase, st.Message, st.Reason, st.StartedAt = m.phase, m.message, m.reason, m.startedAt
	st.Init = st.Init[:0]
	st.Processes = st.Processes[:0]
	for i := range m.procs {
		p := &m.procs[i]
		ps := p.status()
		if p.init {
			st.Init = append(st.Init, ps)
		} else {
			st.Processes = append(st.Processes, ps)
		}
	}
	st.Conditions = append(st.Conditions[:0], m.conds[:]...)
}

func (p *proc) status() ProcessStatus {
	ps := ProcessStatus{Name: p.spec.Name, RestartCount: p.restartCount, Sidecar: p.sidecar}
	if t := p.last; t != nil {
		f, code := t.FinishedAt, t.ExitCode
		ps.FinishedAt, ps.ExitCode, ps.StartedAt = &f, &code, t.StartedAt
		if t.Signal != 0 {
			ps.Signal = SignalName(t.Signal)
		}
	}
	switch p.phase {
	case psRunning:
		s := p.startedAt
		ps.State, ps.PID, ps.StartedAt = StateRunning, p.pid, &s
		ps.Ready, ps.Started = p.ready(), p.started()
		ps.LastState.Terminated = p.last
	case psBackOff:
		ps.State, ps.Reason = StateWaiting, ReasonCrashLoopBackOff
		if p.last.Reason == ReasonCreateContainerConfigError {
			// As kubelet: the process waits with the configuration error,
			// not a crash loop (it never ran).
			ps.Reason = ReasonCreateContainerConfigError
		}
		ps.Message = fmt.Sprintf("back-off %s restarting process after %s", p.backoff, p.last.Reason)
		if p.last.Message != "" {
			ps.Message += ": " + p.last.Message
		}
		ps.LastState.Terminated = p.last
	case psDone:
		ps.State, ps.Reason, ps.Message = StateTerminated, p.last.Reason, p.last.Message
		ps.LastState.Terminated = p.prev
	default:
		ps.State, ps.Reason, ps.Message = StateWaiting, p.waitReason, p.waitMessage
		ps.LastState.Terminated = p.last
	}
	return ps
}

// updateConditions recomputes the pod's conditions, keeping the time of
// each one's last change.
func (m *Machine) updateConditions(now time.Time) {
	set := func(i int, ok bool, reason, msg string) {
		c := &m.conds[i]
		st := ConditionFalse
		if ok {
			st, reason, msg = ConditionTrue, "", ""
		}
		if c.Status != st {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = st, reason, msg
	}
	ended := m.phase.Ended() || m.phase == PhaseTerminating
	switch {
	case m.initDone:
		set(0, true, "", "")
	case m.phase == PhasePending:
		set(0, false, "PodNotStarted", "")
	default:
		var names []string
		for i := m.initIdx; i < m.nInit; i++ {
			names = append(names, m.procs[i].spec.Name)
		}
		set(0, false, "ContainersNotInitialized", "processes with incomplete status: ["+strings.Join(names, " ")+"]")
	}
	var unready []string
	for i := range m.procs {
		p := &m.procs[i]
		if (!p.init || p.sidecar) && !p.ready() {
			unready = append(unready, p.spec.Name)
		}
	}
	reason, msg := "", ""
	switch {
	case ended && m.phase != PhaseTerminating:
		reason = "PodCompleted"
	case m.phase == PhasePending:
		reason = "PodNotStarted"
	default:
		reason, msg = "ContainersNotReady", "processes with unready status: ["+strings.Join(unready, " ")+"]"
	}
	ok := len(unready) == 0 && (m.phase == PhaseRunning || m.phase == PhaseInitializing)
	set(1, ok, reason, msg)
	set(2, ok, reason, msg)
}

// Restore brings back what a previous run of the engine saved: the phase
// (a pod that was running is Stopped: nothing runs any more), the start
// time, and each process's restart count and last exits. It is for a
// machine fresh from NewMachine.
func (m *Machine) Restore(st *Status, now time.Time) {
	m.startedAt = st.StartedAt
	switch st.Phase {
	case PhaseSucceeded, PhaseFailed, PhasePending:
		m.phase, m.message, m.reason = st.Phase, st.Message, st.Reason
	default:
		m.phase, m.message = PhaseStopped, ""
	}
	byName := map[string]*ProcessStatus{}
	for _, list := range [][]ProcessStatus{st.Init, st.Processes} {
		for i := range list {
			byName[list[i].Name] = &list[i]
		}
	}
	for i := range m.procs {
		p := &m.procs[i]
		ps := byName[p.spec.Name]
		if ps == nil {
			continue
		}
		p.restartCount = ps.RestartCount
		var flat *Terminated
		if ps.ExitCode != nil {
			flat = &Terminated{ExitCode: *ps.ExitCode, Reason: ps.Reason, Message: ps.Message, StartedAt: ps.StartedAt}
			if ps.FinishedAt != nil {
				flat.FinishedAt = *ps.FinishedAt
			}
			if n, ok := ParseSignal(ps.Signal); ok {
				flat.Signal = n
			}
		}
		switch {
		case ps.State == StateRunning:
			// The run was lost with its exit status (255: not collected);
			// ps.ExitCode is the exit of the run before, in LastState.
			p.last = &Terminated{ExitCode: 255, Reason: ReasonError, Message: "podvisor restarted", StartedAt: ps.StartedAt, FinishedAt: now}
			p.prev = ps.LastState.Terminated
		case ps.State == StateTerminated:
			p.last, p.prev = flat, ps.LastState.Terminated
		case ps.LastState.Terminated != nil:
			p.last = ps.LastState.Terminated
		case flat != nil:
			flat.Reason, flat.Message = ReasonError, ""
			p.last = flat
		}
		if p.last != nil && ps.State != StateWaiting || ps.State == StateWaiting && (ps.Reason == ReasonCrashLoopBackOff || ps.Reason == ReasonCreateContainerConfigError) && p.last != nil {
			p.phase = psDone
		}
	}
	m.updateConditions(now)
}

// ProcessFacts are what the machine knows of a process beyond its status,
// for explanations (Explain).
type ProcessFacts struct {
	// NextStart is when a process waiting for its back-off is started
	// again; zero otherwise. Backoff is that wait.
	NextStart time.Time
	Backoff   time.Duration
	// ProbeFailures are each probe's failures in a row in the current run,
	// by ProbeKind.
	ProbeFailures [3]int
	// PostStart: the postStart hook is running.
	PostStart bool
	// Stopping says why the process alone is being stopped, "" when it is
	// not.
	Stopping string
}

// Facts returns process i's facts.
func (m *Machine) Facts(i int) ProcessFacts {
	p := &m.procs[i]
	var f ProcessFacts
	if p.phase == psBackOff {
		f.NextStart, f.Backoff = p.restartAt, p.backoff
		if !m.podRestartAt.IsZero() && m.podRestartAt.After(f.NextStart) {
			f.NextStart = m.podRestartAt
		}
	}
	if p.probes != nil {
		for k := range p.probes {
			f.ProbeFailures[k] = p.probes[k].failures
		}
	}
	f.PostStart = p.postStart
	if p.stop != nil {
		f.Stopping = p.stop.reason
	}
	return f
}
