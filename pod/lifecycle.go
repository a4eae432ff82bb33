package pod

import "time"

// Exit is how one run of a process ended.
type Exit struct {
	// Code is the exit status, or 128+n when killed by signal n.
	Code int
	// Signal is the killing signal's number, 0 when the process exited by
	// itself.
	Signal int
	// OOMKilled: the kernel's OOM killer ended it.
	OOMKilled bool
	// StartFailed: the process could not be started at all.
	StartFailed bool
	// ConfigError (with StartFailed): its configuration forbids the start.
	ConfigError bool
	// Killed: a stop SIGKILLed it after the grace period.
	Killed bool
	// HookFailed: it was stopped because its postStart hook failed.
	HookFailed bool
}

// Succeeded reports a clean exit 0.
func (e Exit) Succeeded() bool {
	return e.Code == 0 && e.Signal == 0 && !e.StartFailed && !e.HookFailed
}

// Reason is the Terminated reason for this exit.
func (e Exit) Reason() string {
	switch {
	case e.StartFailed && e.ConfigError:
		return ReasonCreateContainerConfigError
	case e.StartFailed:
		return ReasonStartError
	case e.HookFailed:
		return ReasonFailedPostStartHook
	case e.OOMKilled:
		return ReasonOOMKilled
	case e.Killed:
		return ReasonKilled
	case e.Succeeded():
		return ReasonCompleted
	default:
		return ReasonError
	}
}

// PolicyFor returns the restart policy that applies to p: its own, else the
// pod's.
func (s *Spec) PolicyFor(p *Process) RestartPolicy {
	if p.RestartPolicy != "" {
		return p.RestartPolicy
	}
	if s.RestartPolicy == "" {
		return RestartAlways
	}
	return s.RestartPolicy
}

// ShouldRestart reports whether an exit is followed by a restart. Init
// processes restart only after a failure, and never under Never. App
// processes restart after every exit under Always, after failures under
// OnFailure and never under Never.
func ShouldRestart(policy RestartPolicy, init bool, e Exit) bool {
	switch {
	case policy == RestartNever:
		return false
	case init || policy == RestartOnFailure:
		return !e.Succeeded()
	default:
		return true
	}
}

// Delay is the wait before restart number n of a streak (n counts from 0):
// the first restart is immediate, then InitialDelay doubles up to MaxDelay.
// Zero fields take the defaults.
func (b Backoff) Delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	initial, maxDelay := b.InitialDelay.Duration, b.MaxDelay.Duration
	if initial <= 0 {
		initial = DefaultInitialDelay
	}
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	d := initial
	for i := 1; i < n; i++ {
		if d >= maxDelay/2 {
			return maxDelay
		}
		d *= 2
	}
	return min(d, maxDelay)
}

// Streak returns the restart streak after a run that lasted ran: a run of
// at least ResetAfter starts the streak over, otherwise it goes on.
func (b Backoff) Streak(prev int, ran time.Duration) int {
	reset := b.ResetAfter.Duration
	if reset <= 0 {
		reset = DefaultResetAfter
	}
	if ran >= reset {
		return 0
	}
	return prev
}

// Decision is what to do after a process exited.
type Decision struct {
	// Restart: start the process again after Delay.
	Restart bool
	// Delay before the restart; 0 restarts at once.
	Delay time.Duration
	// Streak is the restart streak to remember once the restart happens.
	Streak int
}

// Decide applies the restart policy and back-off to one exit. streak is the
// number of restarts in the current streak before this exit; ran is how long
// the run lasted.
func (s *Spec) Decide(p *Process, init bool, e Exit, ran time.Duration, streak int) Decision {
	if !ShouldRestart(s.PolicyFor(p), init, e) {
		return Decision{}
	}
	n := s.RestartBackoff.Streak(streak, ran)
	return Decision{Restart: true, Delay: s.RestartBackoff.Delay(n), Streak: n + 1}
}

// Outcome is how an app process stands, for the pod's phase.
type Outcome int

// The outcomes.
const (
	// Active: running, starting, or waiting for a restart.
	Active Outcome = iota
	// Done: ended with success, no restart coming.
	Done
	// DoneFailed: ended with failure, no restart coming.
	DoneFailed
)

// AppPhase is the phase of a pod whose app processes have been started:
// Running while any is active, then Failed if any failed, else Succeeded.
func AppPhase(outcomes []Outcome) Phase {
	failed := false
	for _, o := range outcomes {
		switch o {
		case Active:
			return PhaseRunning
		case DoneFailed:
			failed = true
		}
	}
	if failed {
		return PhaseFailed
	}
	return PhaseSucceeded
}
