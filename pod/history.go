package pod

import "time"

// RecentExits is how many ended runs History keeps per process.
const RecentExits = 5

// History keeps, per process, what a pod's events said that its status no
// longer does: how its last few runs ended, the last probe and hook
// failures, why it was last stopped on its own, and its OOM kills. It is
// what Explain reads besides the status. Record every event of the pod;
// the zero value is ready. It is not safe for concurrent use.
type History struct {
	procs map[string]*ProcessHistory
}

// ProcessHistory is one process's part of a History.
type ProcessHistory struct {
	// Exits are the last ended runs (up to RecentExits), oldest first; a
	// start that failed counts as one, with reason StartError.
	Exits []Terminated `json:"exits,omitempty"`
	// Probe is the last probe failure.
	Probe *ProbeFailure `json:"probe,omitempty"`
	// Hook is the last hook failure.
	Hook *HookFailure `json:"hook,omitempty"`
	// Killing is the last time the process was stopped on its own (a
	// failed liveness or startup probe, a failed postStart hook).
	Killing *Killing `json:"killing,omitempty"`
	// OOMKills counts the runs the kernel's OOM killer ended.
	OOMKills int `json:"oomKills,omitempty"`
}

// ProbeFailure is one failed probe.
type ProbeFailure struct {
	// Probe is Startup, Liveness or Readiness.
	Probe string    `json:"probe"`
	Time  time.Time `json:"time"`
	// Output is the probe's output or error.
	Output string `json:"output"`
}

// HookFailure is one failed lifecycle hook.
type HookFailure struct {
	// Hook is postStart or preStop.
	Hook string    `json:"hook"`
	Time time.Time `json:"time"`
	// Output is the hook's output or error.
	Output string `json:"output"`
}

// Killing is a stop of one process on its own.
type Killing struct {
	Time time.Time `json:"time"`
	// Reason is the probe kind (Liveness, Startup) or FailedPostStartHook.
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Record takes one event of the pod into the history; events of other
// kinds are ignored.
func (h *History) Record(e *Event) {
	if e.Process == "" {
		return
	}
	var ph *ProcessHistory
	get := func() *ProcessHistory {
		if ph == nil {
			if h.procs == nil {
				h.procs = map[string]*ProcessHistory{}
			}
			if ph = h.procs[e.Process]; ph == nil {
				ph = &ProcessHistory{}
				h.procs[e.Process] = ph
			}
		}
		return ph
	}
	switch e.Type {
	case EventExited, EventStartFailed:
		t := Terminated{Reason: e.Reason, Message: e.Message, FinishedAt: e.Time}
		if e.ExitCode != nil {
			t.ExitCode = *e.ExitCode
		} else if e.Type == EventStartFailed {
			t.ExitCode = 128
		}
		if n, ok := ParseSignal(e.Signal); ok {
			t.Signal = n
		}
		p := get()
		if len(p.Exits) == RecentExits {
			copy(p.Exits, p.Exits[1:])
			p.Exits = p.Exits[:RecentExits-1]
		}
		p.Exits = append(p.Exits, t)
	case EventOOMKilled:
		get().OOMKills++
	case EventUnhealthy:
		get().Probe = &ProbeFailure{Probe: e.Reason, Time: e.Time, Output: e.Message}
	case EventFailedPostStartHook:
		get().Hook = &HookFailure{Hook: "postStart", Time: e.Time, Output: e.Message}
	case EventFailedPreStopHook:
		get().Hook = &HookFailure{Hook: "preStop", Time: e.Time, Output: e.Message}
	case EventKilling:
		get().Killing = &Killing{Time: e.Time, Reason: e.Reason, Message: e.Message}
	}
}

// Process is the history of the named process; nil when nothing was
// recorded for it. The result is shared: copy before keeping it.
func (h *History) Process(name string) *ProcessHistory { return h.procs[name] }

// Set puts ph as the named process's history.
func (h *History) Set(name string, ph *ProcessHistory) {
	if h.procs == nil {
		h.procs = map[string]*ProcessHistory{}
	}
	h.procs[name] = ph
}

// Copy returns a deep copy of ph (nil for nil).
func (ph *ProcessHistory) Copy() *ProcessHistory {
	if ph == nil {
		return nil
	}
	c := *ph
	c.Exits = append([]Terminated(nil), ph.Exits...)
	if ph.Probe != nil {
		v := *ph.Probe
		c.Probe = &v
	}
	if ph.Hook != nil {
		v := *ph.Hook
		c.Hook = &v
	}
	if ph.Killing != nil {
		v := *ph.Killing
		c.Killing = &v
	}
	return &c
}
