package pod

import (
	"fmt"
	"strings"
	"time"
)

// reconcile decides, from the whole state, what to do now.
func (m *Machine) reconcile(now time.Time) {
	// A process stopped on its own is killed at its time, during a
	// wind-down of the pod too (NextWake keeps asking for it).
	for i := range m.procs {
		p := &m.procs[i]
		if p.stop != nil && !p.stop.killed && !p.stop.killAt.IsZero() && !now.Before(p.stop.killAt) && p.active() {
			p.stop.killed, p.killSent = true, true
			p.stop.exitsDue = now.Add(KilledExitWait)
			m.emit(Action{Kind: ActKillProcess, Proc: i, Run: p.run})
		}
		// A killed process whose exit is still not reported is taken for
		// dead: it must not hold its restart forever.
		if p.stop != nil && p.stop.killed && !p.stop.exitsDue.IsZero() && !now.Before(p.stop.exitsDue) && p.active() {
			m.emit(Action{Kind: ActAbandon, Proc: i, Run: p.run})
			m.exited(i, Exit{Code: 128 + 9, Signal: 9, Killed: true}, "no exit reported after SIGKILL", now, now)
		}
	}
	if m.down != nil {
		m.windDown(now)
		return
	}
	if m.phase != PhaseInitializing && m.phase != PhaseRunning {
		return
	}
	if !m.activeDeadline.IsZero() && !now.Before(m.activeDeadline) {
		// activeDeadlineSeconds: the run ends Failed, as kubelet ends it.
		m.activeDeadline = time.Time{}
		msg := fmt.Sprintf("Pod was active on the node longer than the specified deadline (%ds)", *m.spec.ActiveDeadlineSeconds)
		m.publish(Event{Type: EventDeadlineExceeded, Reason: ReasonDeadlineExceeded, Message: msg})
		m.beginDown(goalEnd, PhaseFailed, msg, now.Add(m.grace()), now)
		m.down.endReason = ReasonDeadlineExceeded
		m.windDown(now)
		return
	}
	if !m.podRestartAt.IsZero() {
		if now.Before(m.podRestartAt) {
			return
		}
		m.podRestartAt = time.Time{}
		m.begin(now, true)
	}
	for i := range m.procs {
		p := &m.procs[i]
		if p.phase == psBackOff && !now.Before(p.restartAt) {
			m.start(i, true)
		}
	}
	if m.phase == PhaseInitializing {
		m.initSequence()
	}
	if m.phase == PhaseRunning {
		m.startApps()
		if m.down == nil {
			m.appsEnded(now)
		}
	}
	if m.down != nil {
		m.windDown(now)
		return
	}
	m.probe(now)
}

// initSequence starts the init processes one after the other: a regular
// one must exit 0 before the next starts, a sidecar must have started.
func (m *Machine) initSequence() {
	for m.initIdx < m.nInit {
		i := m.initIdx
		p := &m.procs[i]
		switch {
		case p.phase == psWaiting:
			m.start(i, false)
			return
		case p.sidecar && p.started():
		case !p.sidecar && p.phase == psDone && p.succeeded:
		default:
			return
		}
		m.initIdx++
	}
	m.initDone = true
	for i := range m.procs {
		if p := &m.procs[i]; p.waitReason == ReasonPodInitializing {
			p.waitReason = ""
		}
	}
	m.setPhase(PhaseRunning, "")
}

// startApps starts each waiting app process whose dependencies are met. A
// dependency failure goes down the whole chain of dependents at once,
// whatever their order in the spec: the loop runs again after one.
func (m *Machine) startApps() {
	for again := true; again; {
		again = false
		for i := m.nInit; i < len(m.procs); i++ {
			p := &m.procs[i]
			if p.phase != psWaiting || p.depFailed {
				continue
			}
			waiting, failed := m.dependencies(p)
			switch {
			case failed != "":
				p.depFailed, again = true, true
				p.waitReason, p.waitMessage = ReasonDependencyFailed, failed
				m.publish(Event{Type: EventDependencyFailed, Process: p.spec.Name, Reason: ReasonDependencyFailed, Message: failed})
			case waiting != "":
				p.waitReason, p.waitMessage = ReasonWaitingForDependencies, waiting
			default:
				m.start(i, false)
			}
		}
	}
}

// dependencies says what p still waits for, or which dependency can no
// longer meet its condition.
func (m *Machine) dependencies(p *proc) (waiting, failed string) {
	var wait []string
	for _, d := range p.spec.DependsOn {
		j := m.index(d.Name)
		if j < 0 {
			continue // refused by validation
		}
		q := &m.procs[j]
		cond := d.Condition
		if cond == "" {
			cond = ConditionStarted
		}
		met, was := false, false
		switch cond {
		case ConditionSucceeded:
			met = q.succeeded
		case ConditionReady:
			met, was = q.ready(), q.wasReady
		default:
			met, was = q.started(), q.wasStarted
		}
		if met {
			continue
		}
		if q.phase == psDone || q.depFailed {
			if was {
				continue // it met the condition before it ended
			}
			why := "it ended"
			if q.depFailed {
				why = "it will not start"
			} else if q.last != nil {
				why = fmt.Sprintf("it ended (%s, exit code %d)", q.last.Reason, q.last.ExitCode)
			}
			return "", fmt.Sprintf("dependency %q cannot become %s: %s", d.Name, cond, why)
		}
		wait = append(wait, fmt.Sprintf("%q to be %s", d.Name, cond))
	}
	if len(wait) > 0 {
		return "waiting for " + strings.Join(wait, ", "), ""
	}
	return "", ""
}

func (m *Machine) index(name string) int {
	for i := range m.procs {
		if m.procs[i].spec.Name == name {
			return i
		}
	}
	return -1
}

// appsEnded winds the pod down once no app process is active or will be:
// sidecars are stopped, then the phase is the apps'.
func (m *Machine) appsEnded(now time.Time) {
	failed := ""
	for i := m.nInit; i < len(m.procs); i++ {
		p := &m.procs[i]
		switch {
		case p.phase == psDone && p.last != nil && p.last.Reason == ReasonCompleted:
		case p.phase == psDone, p.depFailed:
			if failed == "" {
				failed = p.spec.Name
			}
		default:
			return
		}
	}
	if failed != "" {
		m.beginDown(goalEnd, PhaseFailed, fmt.Sprintf("process %q failed", failed), now.Add(m.grace()), now)
		return
	}
	m.beginDown(goalEnd, PhaseSucceeded, "", now.Add(m.grace()), now)
}

// beginDown starts (or hastens) a wind-down of the pod: app processes stop
// first, then sidecars in reverse order, all by deadline, then what is
// left in the pod's cgroup is killed.
func (m *Machine) beginDown(g goal, ph Phase, msg string, deadline, now time.Time) {
	if d := m.down; d != nil {
		if g == goalStop {
			d.goal = goalStop
			m.setPhase(PhaseTerminating, "")
		}
		if deadline.Before(d.deadline) {
			d.deadline = deadline
		}
		return
	}
	m.down = &winddown{goal: g, endPhase: ph, endMsg: msg, deadline: deadline}
	m.podRestartAt = time.Time{}
	if g == goalStop {
		m.setPhase(PhaseTerminating, "")
	}
	for i := range m.procs {
		p := &m.procs[i]
		if p.phase == psBackOff {
			p.phase, p.restartAt = psDone, time.Time{}
		}
		if p.phase == psWaiting && !p.depFailed {
			p.waitReason, p.waitMessage = "", ""
		}
	}
}

func (m *Machine) windDown(now time.Time) {
	d := m.down
	// App processes (and running regular init processes) first, together.
	mains := false
	for i := range m.procs {
		p := &m.procs[i]
		if !p.active() || p.sidecar {
			continue
		}
		mains = true
		if p.stop == nil {
			p.stop = &procStop{}
			m.beginStop(i, d.deadline)
		} else if p.stop.killAt.After(d.deadline) {
			p.stop.killAt = time.Time{}
		}
	}
	// Then sidecars, the last declared first, one at a time.
	if !mains {
		for i := len(m.procs) - 1; i >= 0; i-- {
			p := &m.procs[i]
			if !p.active() {
				continue
			}
			if p.stop == nil {
				p.stop = &procStop{}
				m.beginStop(i, d.deadline)
			}
			break
		}
	}
	if !d.killed && !d.draining && !now.Before(d.deadline) {
		d.killed = true
		d.exitsDue = now.Add(KilledExitWait)
		for i := range m.procs {
			if p := &m.procs[i]; p.active() {
				p.killSent = true
			}
		}
		m.emit(Action{Kind: ActKillPod})
	}
	if d.killed && !now.Before(d.exitsDue) {
		for i := range m.procs {
			p := &m.procs[i]
			if !p.active() {
				continue
			}
			m.emit(Action{Kind: ActAbandon, Proc: i, Run: p.run})
			m.exited(i, Exit{Code: 128 + 9, Signal: 9, Killed: true}, "no exit reported after SIGKILL", now, now)
		}
	}
	for i := range m.procs {
		if m.procs[i].active() {
			return
		}
	}
	if !d.draining {
		d.draining = true
		m.emit(Action{Kind: ActDrain})
	}
}

// drained ends a wind-down once the pod's cgroup is empty.
func (m *Machine) drained(tasks int, now time.Time) {
	d := m.down
	if d == nil || !d.draining {
		return
	}
	m.down = nil
	switch d.goal {
	case goalStop:
		msg := ""
		if tasks > 0 {
			msg = fmt.Sprintf("%d tasks of the pod's cgroup still exiting after SIGKILL", tasks)
		}
		m.setPhase(PhaseStopped, msg)
	case goalEnd:
		m.reason = d.endReason
		m.setPhase(d.endPhase, d.endMsg)
	case goalRestart:
		// Pod restarts back off as process restarts do, so that a rule
		// that matches at every run does not spin.
		ran := time.Duration(0)
		if m.startedAt != nil {
			ran = now.Sub(*m.startedAt)
		}
		n := m.spec.RestartBackoff.Streak(m.podStreak, ran)
		delay := m.spec.RestartBackoff.Delay(n)
		m.podStreak = n + 1
		if delay <= 0 {
			m.begin(now, true)
			return
		}
		m.podRestartAt = now.Add(delay)
		m.setPhase(PhaseRunning, fmt.Sprintf("back-off %s restarting the pod", delay))
	}
}

// probe runs the probes that are due: the startup probe until it passes,
// then liveness and readiness; none before postStart is done.
func (m *Machine) probe(now time.Time) {
	for i := range m.procs {
		p := &m.procs[i]
		if p.phase != psRunning || p.stop != nil || p.postStart || p.hookFail != "" || p.probes == nil {
			continue
		}
		for k := ProbeStartup; k <= ProbeReadiness; k++ {
			spec := p.probe(k)
			startup := p.spec.StartupProbe != nil && !p.probes[ProbeStartup].ok
			if spec == nil || (k == ProbeStartup) != startup {
				continue
			}
			ps := &p.probes[k]
			if ps.inFlight {
				continue
			}
			if ps.next.IsZero() {
				ps.next = p.startedAt.Add(time.Duration(spec.InitialDelaySeconds)*time.Second + m.jitter(i, k, spec))
				if ps.next.Before(now) {
					ps.next = now
				}
			}
			if now.Before(ps.next) {
				continue
			}
			ps.inFlight, ps.sched = true, ps.next
			timeout := time.Duration(max(spec.TimeoutSeconds, 1)) * time.Second
			m.emit(Action{Kind: ActRunProbe, Proc: i, Run: p.run, Probe: k, Timeout: timeout})
		}
	}
}

// jitter spreads the first probe of each process over a tenth of its
// period (at most a second), so that probes of processes started together
// do not run in step.
func (m *Machine) jitter(i int, k ProbeKind, spec *Probe) time.Duration {
	period := time.Duration(max(spec.PeriodSeconds, 1)) * time.Second
	span := min(period/10, time.Second)
	if span <= 0 {
		return 0
	}
	return time.Duration(m.hash(i, k)) % span
}

// NextWake is when the machine next needs an InTimer input; ok is false
// when nothing is due.
func (m *Machine) NextWake() (next time.Time, ok bool) {
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	at(m.podRestartAt)
	if m.down == nil && (m.phase == PhaseInitializing || m.phase == PhaseRunning) {
		at(m.activeDeadline)
	}
	if d := m.down; d != nil && !d.draining {
		if !d.killed {
			at(d.deadline)
		} else if !d.draining {
			at(d.exitsDue)
		}
	}
	for i := range m.procs {
		p := &m.procs[i]
		switch p.phase {
		case psBackOff:
			at(p.restartAt)
		case psRunning:
			if p.stop != nil && !p.stop.killed {
				at(p.stop.killAt)
			}
			if p.stop != nil && p.stop.killed {
				at(p.stop.exitsDue)
			}
			if p.stop == nil && m.down == nil && p.probes != nil {
				for k := range p.probes {
					if ps := &p.probes[k]; !ps.inFlight {
						at(ps.next)
					}
				}
			}
		}
	}
	return next, !next.IsZero()
}
