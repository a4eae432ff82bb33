package pod

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Causes: the one word Explain gives for where a process stands.
const (
	// CauseRunning: running, and ready.
	CauseRunning = "Running"
	// CauseStarting: running, its startup probe, postStart hook or
	// readiness probe not passed yet, and none has failed.
	CauseStarting = "Starting"
	// CauseProbeFailing: a probe fails: readiness (not ready), startup
	// (not started), or liveness (stopped, and restarted).
	CauseProbeFailing = "ProbeFailing"
	// CauseHookFailed: a postStart hook failed and the process was
	// stopped for it.
	CauseHookFailed = "HookFailed"
	// CauseCrashLoop: the process keeps exiting and waits for its back-off.
	CauseCrashLoop = "CrashLoop"
	// CauseOOMKilled: the kernel's OOM killer ended its last run.
	CauseOOMKilled = "OOMKilled"
	// CauseStartError: it could not be started (its program, user or
	// working directory, ...).
	CauseStartError = "StartError"
	// CauseConfigError: its configuration forbids its start
	// (CreateContainerConfigError).
	CauseConfigError = "ConfigError"
	// CauseWaitingForInit: an app process (or a later init process) waits
	// for an init process.
	CauseWaitingForInit = "WaitingForInit"
	// CauseWaitingForDependencies: it waits for its dependsOn.
	CauseWaitingForDependencies = "WaitingForDependencies"
	// CauseDependencyFailed: a dependency can no longer meet its condition.
	CauseDependencyFailed = "DependencyFailed"
	// CauseCompleted: it exited 0 and is not restarted.
	CauseCompleted = "Completed"
	// CauseFailed: it exited non-zero and is not restarted.
	CauseFailed = "Failed"
	// CauseStopped: the pod was stopped, or has not been started.
	CauseStopped = "Stopped"
	// CauseTerminating: the pod or the process is being stopped.
	CauseTerminating = "Terminating"
)

// Explanation says in words why each process of a pod is or is not
// running and ready (podvisor explain).
type Explanation struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace,omitempty"`
	Phase     Phase  `json:"phase"`
	Reason    string `json:"reason,omitempty"`
	Message   string `json:"message,omitempty"`
	// Ready is the pod's Ready condition.
	Ready bool `json:"ready"`
	// Summary is one sentence on the whole pod.
	Summary string `json:"summary"`
	// Processes are the explained processes, init processes first.
	Processes []ProcessExplanation `json:"processes"`
}

// ProcessExplanation says why one process is or is not running and ready.
type ProcessExplanation struct {
	Name string `json:"name"`
	// Kind is init, sidecar or app.
	Kind         string `json:"kind"`
	State        State  `json:"state"`
	Reason       string `json:"reason,omitempty"`
	Ready        bool   `json:"ready"`
	PID          int    `json:"pid,omitempty"`
	RestartCount int    `json:"restartCount"`
	// Cause is one of the Cause words.
	Cause string `json:"cause"`
	// Summary is one sentence: where it stands and why.
	Summary string `json:"summary"`
	// Details are further sentences: the evidence.
	Details []string `json:"details,omitempty"`
	// RecentExits are how its last runs ended, oldest first.
	RecentExits []Terminated `json:"recentExits,omitempty"`
	// NextStartAt is when a process in back-off starts again; Backoff is
	// that wait (a Go duration).
	NextStartAt *time.Time `json:"nextStartAt,omitempty"`
	Backoff     string     `json:"backoff,omitempty"`
	// Probe is its last probe failure, Hook its last hook failure.
	Probe *ProbeFailure `json:"probe,omitempty"`
	Hook  *HookFailure  `json:"hook,omitempty"`
	// OOMKills counts the runs the OOM killer ended; MemoryLimitBytes is
	// the limit that applies (the process's, else the pod's; 0: none).
	OOMKills         int   `json:"oomKills,omitempty"`
	MemoryLimitBytes int64 `json:"memoryLimitBytes,omitempty"`
	// LastOutput are the last lines of its output.
	LastOutput []string `json:"lastOutput,omitempty"`
}

// ExplainInput is what Explain reads.
type ExplainInput struct {
	// Spec is the pod's spec with its defaults set.
	Spec   *Pod
	Status *Status
	// Facts are the machine's facts (Machine.Facts), by process name.
	Facts map[string]ProcessFacts
	// History holds the pod's recorded events; nil for none.
	History *History
	// Output holds the last lines of each process's output, by name.
	Output map[string][]string
	// Process limits the explanation to the named process; "" for all.
	Process string
	Now     time.Time
}

// Explain says why each process of a pod is or is not running and ready.
// It is pure: everything it reads is in in.
func Explain(in ExplainInput) Explanation {
	st := in.Status
	ex := Explanation{Pod: st.Name, Namespace: st.Namespace, Phase: st.Phase, Reason: st.Reason, Message: st.Message}
	for _, c := range st.Conditions {
		if c.Type == ConditionReadyPod {
			ex.Ready = c.Status == ConditionTrue
		}
	}
	e := explainer{in: in}
	for i := range st.Init {
		if in.Process == "" || st.Init[i].Name == in.Process {
			ex.Processes = append(ex.Processes, e.process(&st.Init[i], true, i))
		}
	}
	for i := range st.Processes {
		if in.Process == "" || st.Processes[i].Name == in.Process {
			ex.Processes = append(ex.Processes, e.process(&st.Processes[i], false, i))
		}
	}
	ex.Summary = e.summary(&ex)
	return ex
}

type explainer struct{ in ExplainInput }

func (e *explainer) spec(init bool, i int) *Process {
	if init {
		return &e.in.Spec.Spec.InitProcesses[i]
	}
	return &e.in.Spec.Spec.Processes[i]
}

// summary is the pod's sentence.
func (e *explainer) summary(ex *Explanation) string {
	st := e.in.Status
	ready, total := st.Ready()
	var b strings.Builder
	fmt.Fprintf(&b, "Pod %s is %s", st.Name, st.Phase)
	if st.Reason != "" {
		fmt.Fprintf(&b, " (%s)", st.Reason)
	}
	switch st.Phase {
	case PhaseRunning, PhaseInitializing:
		fmt.Fprintf(&b, ", %d of %d processes ready", ready, total)
	}
	var bad []string
	for _, p := range ex.Processes {
		if p.Cause != CauseRunning && p.Cause != CauseCompleted && !(p.Kind == "init" && p.Cause == CauseCompleted) {
			bad = append(bad, p.Name+" ("+p.Cause+")")
		}
	}
	if len(bad) > 0 && st.Phase != PhaseStopped && st.Phase != PhasePending {
		fmt.Fprintf(&b, "; not running or not ready: %s", strings.Join(bad, ", "))
	}
	b.WriteString(".")
	if st.Message != "" {
		b.WriteString(" " + sentence(st.Message))
	}
	return b.String()
}

// process explains one process.
func (e *explainer) process(ps *ProcessStatus, init bool, i int) ProcessExplanation {
	sp := e.spec(init, i)
	kind := "app"
	if init {
		kind = "init"
		if ps.Sidecar {
			kind = "sidecar"
		}
	}
	x := ProcessExplanation{Name: ps.Name, Kind: kind, State: ps.State, Reason: ps.Reason, Ready: ps.Ready,
		PID: ps.PID, RestartCount: ps.RestartCount, LastOutput: e.in.Output[ps.Name]}
	f := e.in.Facts[ps.Name]
	var h *ProcessHistory
	if e.in.History != nil {
		h = e.in.History.Process(ps.Name).Copy()
	}
	if h == nil {
		h = &ProcessHistory{}
	}
	x.RecentExits, x.Probe, x.Hook, x.OOMKills = h.Exits, h.Probe, h.Hook, h.OOMKills
	x.MemoryLimitBytes, _ = memoryLimit(e.in.Spec, sp)
	now := e.in.Now
	var last *Terminated
	if n := len(h.Exits); n > 0 {
		last = &h.Exits[n-1]
	} else if ps.LastState.Terminated != nil {
		last = ps.LastState.Terminated
	} else if ps.State == StateTerminated && ps.ExitCode != nil {
		t := Terminated{ExitCode: *ps.ExitCode, Reason: ps.Reason, Message: ps.Message}
		if ps.FinishedAt != nil {
			t.FinishedAt = *ps.FinishedAt
		}
		last = &t
	}
	// Did the last run end because podvisor stopped it for a probe or a
	// hook?
	var killedFor *Killing
	if k := h.Killing; k != nil && last != nil && !k.Time.After(last.FinishedAt) && (len(h.Exits) < 2 || !k.Time.Before(h.Exits[len(h.Exits)-2].FinishedAt)) {
		killedFor = k
	}

	switch ps.State {
	case StateRunning:
		e.running(&x, ps, sp, f, h, now)
	case StateWaiting:
		switch ps.Reason {
		case ReasonCrashLoopBackOff:
			e.backOff(&x, ps, f, last, killedFor, now)
		case ReasonCreateContainerConfigError:
			x.Cause = CauseConfigError
			x.Summary = "It is not started: its configuration forbids it (CreateContainerConfigError)."
			if last != nil && last.Message != "" {
				x.Details = append(x.Details, "Error: "+sentence(last.Message))
			}
			e.nextStart(&x, f, now)
		case ReasonPodInitializing:
			x.Cause = CauseWaitingForInit
			x.Summary = "It waits for the init processes to complete."
			e.initWait(&x, now)
		case ReasonWaitingForDependencies:
			x.Cause = CauseWaitingForDependencies
			x.Summary = "It waits for its dependencies: " + sentence(ps.Message)
			e.depWait(&x, sp)
		case ReasonDependencyFailed:
			x.Cause = CauseDependencyFailed
			x.Summary = "It will not start: a dependency can no longer meet its condition. " + sentence(ps.Message)
			e.depWait(&x, sp)
		default:
			e.notStarted(&x, init, i, now)
		}
	case StateTerminated:
		e.terminated(&x, ps, last, killedFor, now)
	}
	if x.Cause != CauseCompleted && len(x.RecentExits) > 1 {
		x.Details = append(x.Details, "Exit codes of its last runs, oldest first: "+exitList(x.RecentExits)+".")
	}
	if x.OOMKills > 0 && x.Cause != CauseOOMKilled {
		x.Details = append(x.Details, fmt.Sprintf("The kernel's OOM killer ended %d of its runs (%s).", x.OOMKills, limitText(e.in.Spec, sp)))
	}
	if x.Hook != nil && x.Cause != CauseHookFailed {
		x.Details = append(x.Details, fmt.Sprintf("Its %s hook last failed %s: %s", x.Hook.Hook, ago(now, x.Hook.Time), sentence(x.Hook.Output)))
	}
	if x.Probe != nil && x.Cause != CauseProbeFailing && (ps.State != StateRunning || x.Probe.Time.After(derefTime(ps.StartedAt))) {
		x.Details = append(x.Details, fmt.Sprintf("Its %s probe last failed %s: %s", strings.ToLower(x.Probe.Probe), ago(now, x.Probe.Time), sentence(trimProbe(x.Probe))))
	}
	return x
}

func (e *explainer) running(x *ProcessExplanation, ps *ProcessStatus, sp *Process, f ProcessFacts, h *ProcessHistory, now time.Time) {
	since := ""
	if ps.StartedAt != nil {
		since = " for " + roundDuration(max(now.Sub(*ps.StartedAt), 0))
	}
	probeSince := func(kind string) *ProbeFailure {
		if h.Probe != nil && h.Probe.Probe == kind && (ps.StartedAt == nil || !h.Probe.Time.Before(*ps.StartedAt)) {
			return h.Probe
		}
		return nil
	}
	switch {
	case f.Stopping != "":
		x.Cause = CauseTerminating
		x.Summary = fmt.Sprintf("It is running (pid %d) and being stopped: %s.", ps.PID, f.Stopping)
	case !ps.Started && f.PostStart:
		x.Cause = CauseStarting
		x.Summary = fmt.Sprintf("It is running (pid %d)%s; its postStart hook is still running, so it is neither started nor ready.", ps.PID, since)
	case !ps.Started && sp.StartupProbe != nil:
		if pf := probeSince("Startup"); pf != nil && f.ProbeFailures[ProbeStartup] > 0 {
			x.Cause = CauseProbeFailing
			x.Summary = fmt.Sprintf("It is running (pid %d)%s but not started: its startup probe failed %s (threshold %d); liveness and readiness wait for it.",
				ps.PID, since, times(f.ProbeFailures[ProbeStartup]), threshold(sp.StartupProbe))
			x.Details = append(x.Details, "Last startup probe output: "+sentence(trimProbe(pf)))
		} else {
			x.Cause = CauseStarting
			x.Summary = fmt.Sprintf("It is running (pid %d)%s; its startup probe has not passed yet.", ps.PID, since)
		}
	case !ps.Ready && sp.ReadinessProbe != nil:
		if pf := probeSince("Readiness"); pf != nil && f.ProbeFailures[ProbeReadiness] > 0 {
			x.Cause = CauseProbeFailing
			x.Summary = fmt.Sprintf("It is running (pid %d)%s but not ready: its readiness probe failed %s (threshold %d).",
				ps.PID, since, times(f.ProbeFailures[ProbeReadiness]), threshold(sp.ReadinessProbe))
			x.Details = append(x.Details, "Last readiness probe output: "+sentence(trimProbe(pf)))
		} else {
			x.Cause = CauseStarting
			x.Summary = fmt.Sprintf("It is running (pid %d)%s; its readiness probe has not passed yet.", ps.PID, since)
		}
	case !ps.Ready:
		x.Cause = CauseStarting
		x.Summary = fmt.Sprintf("It is running (pid %d)%s, not ready yet.", ps.PID, since)
	default:
		x.Cause = CauseRunning
		x.Summary = fmt.Sprintf("It is running (pid %d)%s and ready.", ps.PID, since)
	}
	if n := f.ProbeFailures[ProbeLiveness]; n > 0 && sp.LivenessProbe != nil {
		x.Details = append(x.Details, fmt.Sprintf("Its liveness probe failed %s; at %d it is restarted.", times(n), threshold(sp.LivenessProbe)))
		if pf := probeSince("Liveness"); pf != nil {
			x.Details = append(x.Details, "Last liveness probe output: "+sentence(trimProbe(pf)))
		}
	}
	if ps.RestartCount > 0 && ps.LastState.Terminated != nil {
		t := ps.LastState.Terminated
		x.Details = append(x.Details, fmt.Sprintf("Restarted %s; its previous run ended %s: %s.", times(ps.RestartCount), ago(now, t.FinishedAt), exitText(t)))
	}
}

func (e *explainer) backOff(x *ProcessExplanation, ps *ProcessStatus, f ProcessFacts, last *Terminated, killedFor *Killing, now time.Time) {
	runs := "its last run"
	if last == nil {
		x.Cause = CauseCrashLoop
		x.Summary = "It waits for its back-off before it is started again (CrashLoopBackOff)."
		e.nextStart(x, f, now)
		return
	}
	ended := exitText(last)
	switch {
	case last.Reason == ReasonOOMKilled:
		x.Cause = CauseOOMKilled
		x.Summary = fmt.Sprintf("It was killed by the kernel's OOM killer %s (%s) and waits for its back-off (CrashLoopBackOff).",
			ago(now, last.FinishedAt), limitText(e.in.Spec, e.specByName(ps.Name)))
	case last.Reason == ReasonStartError:
		x.Cause = CauseStartError
		x.Summary = "It could not be started and waits for its back-off (CrashLoopBackOff): " + sentence(last.Message)
	case last.Reason == ReasonFailedPostStartHook || killedFor != nil && killedFor.Reason == ReasonFailedPostStartHook:
		x.Cause = CauseHookFailed
		x.Summary = "Its postStart hook failed, so it was stopped; it waits for its back-off (CrashLoopBackOff)."
		if x.Hook != nil {
			x.Details = append(x.Details, "postStart hook output: "+sentence(x.Hook.Output))
		}
	case killedFor != nil:
		x.Cause = CauseProbeFailing
		x.Summary = fmt.Sprintf("It was stopped %s because its %s probe failed; it waits for its back-off (CrashLoopBackOff).",
			ago(now, killedFor.Time), strings.ToLower(killedFor.Reason))
		if x.Probe != nil {
			x.Details = append(x.Details, fmt.Sprintf("Last %s probe output: %s", strings.ToLower(x.Probe.Probe), sentence(trimProbe(x.Probe))))
		}
	default:
		x.Cause = CauseCrashLoop
		x.Summary = fmt.Sprintf("It keeps exiting (CrashLoopBackOff): %s %s, %s; restarted %s.", runs, ago(now, last.FinishedAt), ended, times(ps.RestartCount))
	}
	if x.Cause != CauseCrashLoop {
		x.Details = append(x.Details, fmt.Sprintf("Its last run ended %s: %s; restarted %s.", ago(now, last.FinishedAt), ended, times(ps.RestartCount)))
	}
	e.nextStart(x, f, now)
}

// nextStart says when a process in back-off starts again.
func (e *explainer) nextStart(x *ProcessExplanation, f ProcessFacts, now time.Time) {
	if f.NextStart.IsZero() {
		return
	}
	t := f.NextStart
	x.NextStartAt, x.Backoff = &t, f.Backoff.String()
	x.Details = append(x.Details, fmt.Sprintf("Back-off %s: the next start is %s (at %s).", f.Backoff, until(now, t), t.Local().Format(time.TimeOnly)))
}

// initWait names the init process being waited for.
func (e *explainer) initWait(x *ProcessExplanation, now time.Time) {
	for i := range e.in.Status.Init {
		ip := &e.in.Status.Init[i]
		if ip.Sidecar {
			if !ip.Started {
				x.Details = append(x.Details, fmt.Sprintf("Sidecar %s is %s, not started yet.", ip.Name, stateText(ip)))
				return
			}
			continue
		}
		if ip.State == StateTerminated && ip.Reason == ReasonCompleted {
			continue
		}
		x.Details = append(x.Details, fmt.Sprintf("Init process %s is %s.", ip.Name, stateText(ip)))
		if ip.State == StateWaiting && ip.Reason == ReasonCrashLoopBackOff && ip.LastState.Terminated != nil {
			t := ip.LastState.Terminated
			x.Details = append(x.Details, fmt.Sprintf("Its last run ended %s: %s (podvisor explain %s %s).", ago(now, t.FinishedAt), exitText(t), e.in.Status.Name, ip.Name))
		}
		return
	}
}

// depWait says where each dependency stands.
func (e *explainer) depWait(x *ProcessExplanation, sp *Process) {
	for _, d := range sp.DependsOn {
		ds := e.statusByName(d.Name)
		if ds == nil {
			continue
		}
		cond := d.Condition
		if cond == "" {
			cond = "started"
		}
		ready := "not ready"
		if ds.Ready {
			ready = "ready"
		}
		x.Details = append(x.Details, fmt.Sprintf("Dependency %s (condition %s) is %s, %s.", d.Name, cond, stateText(ds), ready))
	}
}

// notStarted explains a waiting process with no reason: the pod is not
// running, or an earlier init process runs.
func (e *explainer) notStarted(x *ProcessExplanation, init bool, i int, now time.Time) {
	st := e.in.Status
	switch st.Phase {
	case PhasePending:
		x.Cause = CauseStopped
		x.Summary = "It has not been started: the pod was never started (podvisor start " + st.Name + ")."
	case PhaseStopped:
		x.Cause = CauseStopped
		x.Summary = "It is not running: the pod was stopped on request."
	case PhaseTerminating:
		x.Cause = CauseTerminating
		x.Summary = "It is not running: the pod is being stopped."
	default:
		if init && i > 0 {
			x.Cause = CauseWaitingForInit
			x.Summary = "It waits for the init processes before it."
			e.initWait(x, now)
			return
		}
		x.Cause = CauseStarting
		x.Summary = "It is about to be started."
	}
}

func (e *explainer) terminated(x *ProcessExplanation, ps *ProcessStatus, last *Terminated, killedFor *Killing, now time.Time) {
	if last == nil {
		x.Cause, x.Summary = CauseStopped, "It has ended."
		return
	}
	when := ago(now, last.FinishedAt)
	switch {
	case last.Reason == ReasonCompleted:
		x.Cause = CauseCompleted
		x.Summary = fmt.Sprintf("It completed %s (exit code 0) and is not restarted.", when)
	case last.Reason == ReasonOOMKilled:
		x.Cause = CauseOOMKilled
		x.Summary = fmt.Sprintf("It was killed by the kernel's OOM killer %s (%s) and is not restarted.", when, limitText(e.in.Spec, e.specByName(ps.Name)))
	case last.Reason == ReasonStartError:
		x.Cause = CauseStartError
		x.Summary = "It could not be started: " + sentence(last.Message)
	case last.Reason == ReasonKilled || e.in.Status.Phase == PhaseStopped || e.in.Status.Phase == PhaseTerminating:
		x.Cause = CauseStopped
		x.Summary = fmt.Sprintf("It was stopped %s: %s.", when, exitText(last))
	case last.Reason == ReasonFailedPostStartHook || killedFor != nil && killedFor.Reason == ReasonFailedPostStartHook:
		x.Cause = CauseHookFailed
		x.Summary = fmt.Sprintf("Its postStart hook failed, so it was stopped %s; it is not restarted.", when)
	case killedFor != nil:
		x.Cause = CauseProbeFailing
		x.Summary = fmt.Sprintf("It was stopped %s because its %s probe failed; it is not restarted.", when, strings.ToLower(killedFor.Reason))
	default:
		x.Cause = CauseFailed
		x.Summary = fmt.Sprintf("It failed %s: %s; it is not restarted (restartPolicy %s).", when, exitText(last), e.policy(ps.Name))
	}
	if x.Cause != CauseCompleted && x.Cause != CauseStartError && last.Message != "" && !strings.Contains(x.Summary, last.Message) {
		x.Details = append(x.Details, sentence(last.Message))
	}
}

func (e *explainer) policy(name string) RestartPolicy {
	sp := e.specByName(name)
	if sp != nil && sp.RestartPolicy != "" {
		return sp.RestartPolicy
	}
	return e.in.Spec.Spec.RestartPolicy
}

func (e *explainer) specByName(name string) *Process {
	for _, list := range [][]Process{e.in.Spec.Spec.InitProcesses, e.in.Spec.Spec.Processes} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func (e *explainer) statusByName(name string) *ProcessStatus {
	for _, list := range [][]ProcessStatus{e.in.Status.Init, e.in.Status.Processes} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// memoryLimit is the memory limit that applies to sp: its own, else the
// pod's; whose says which.
func memoryLimit(p *Pod, sp *Process) (limit int64, whose string) {
	if sp != nil && sp.Resources.Limits.Memory != nil {
		return sp.Resources.Limits.Memory.Value(), "the process's"
	}
	if p.Spec.Resources.Limits.Memory != nil {
		return p.Spec.Resources.Limits.Memory.Value(), "the pod's"
	}
	return 0, ""
}

func limitText(p *Pod, sp *Process) string {
	if sp != nil && sp.Resources.Limits.Memory != nil {
		return fmt.Sprintf("memory limit %s, the process's", sp.Resources.Limits.Memory)
	}
	if p.Spec.Resources.Limits.Memory != nil {
		return fmt.Sprintf("memory limit %s, the pod's", p.Spec.Resources.Limits.Memory)
	}
	return "no memory limit of its own: the host ran out of memory"
}

// exitText says how a run ended: "exit code 1 (Error)", "killed by
// SIGKILL (exit code 137, OOMKilled)".
func exitText(t *Terminated) string {
	if t.Reason == ReasonStartError || t.Reason == ReasonCreateContainerConfigError {
		return t.Reason
	}
	if t.Signal != 0 {
		return fmt.Sprintf("killed by %s (exit code %d, %s)", SignalName(t.Signal), t.ExitCode, t.Reason)
	}
	return fmt.Sprintf("exit code %d (%s)", t.ExitCode, t.Reason)
}

func exitList(ts []Terminated) string {
	s := make([]string, len(ts))
	for i := range ts {
		switch {
		case ts[i].Reason == ReasonStartError || ts[i].Reason == ReasonCreateContainerConfigError:
			s[i] = ts[i].Reason
		case ts[i].Signal != 0:
			s[i] = fmt.Sprintf("%d (%s)", ts[i].ExitCode, SignalName(ts[i].Signal))
		default:
			s[i] = strconv.Itoa(ts[i].ExitCode)
		}
	}
	return strings.Join(s, ", ")
}

func stateText(ps *ProcessStatus) string {
	s := string(ps.State)
	if ps.Reason != "" {
		s += " (" + ps.Reason + ")"
	}
	return s
}

func threshold(p *Probe) int32 { return max(p.FailureThreshold, 1) }

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// trimProbe is a probe failure's output without the "X probe failed: "
// that the event's message starts with.
func trimProbe(pf *ProbeFailure) string {
	return strings.TrimPrefix(pf.Output, pf.Probe+" probe failed: ")
}

// sentence ends s with a full stop, unless it ends with punctuation.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "(no output)"
	}
	if strings.ContainsAny(s[len(s)-1:], ".!?:") {
		return s
	}
	return s + "."
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// ago says how long before now t was: "12s ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return roundDuration(d) + " ago"
}

// until says how long after now t is: "in 8s", or "now".
func until(now, t time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "due now"
	}
	return "in " + roundDuration(d)
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}
