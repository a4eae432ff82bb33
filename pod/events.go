package pod

import "time"

// EventType says what happened to a pod or one of its processes.
type EventType string

// The event types.
const (
	// EventCreated: a pod was created.
	EventCreated EventType = "Created"
	// EventStarted: a process was started.
	EventStarted EventType = "Started"
	// EventStartFailed: a process could not be started (reason StartError).
	EventStartFailed EventType = "StartFailed"
	// EventExited: a process exited (exit code, signal, reason).
	EventExited EventType = "Exited"
	// EventOOMKilled: the kernel killed a process for its memory limit.
	EventOOMKilled EventType = "OOMKilled"
	// EventRestarting: a process will be restarted after Delay.
	EventRestarting EventType = "Restarting"
	// EventPhase: the pod's phase changed.
	EventPhase EventType = "PhaseChanged"
	// EventRemoved: a pod was removed.
	EventRemoved EventType = "Removed"
	// EventUnhealthy: a probe failed; Reason is the probe kind
	// (Liveness, Readiness, Startup) and Message its output or error.
	EventUnhealthy EventType = "Unhealthy"
	// EventKilling: a process is being stopped on its own; Message says
	// why (a failed liveness or startup probe, a failed postStart hook).
	EventKilling EventType = "Killing"
	// EventFailedPostStartHook: a process's postStart hook failed.
	EventFailedPostStartHook EventType = "FailedPostStartHook"
	// EventFailedPreStopHook: a process's preStop hook failed.
	EventFailedPreStopHook EventType = "FailedPreStopHook"
	// EventPodRestarted: the whole pod was restarted in place (a
	// RestartAllContainers rule).
	EventPodRestarted EventType = "PodRestarted"
	// EventDependencyFailed: a process will not start, for a dependency
	// can no longer meet its condition.
	EventDependencyFailed EventType = "DependencyFailed"
	// EventDeadlineExceeded: the pod ran past activeDeadlineSeconds and is
	// being stopped.
	EventDeadlineExceeded EventType = "DeadlineExceeded"
	// EventEvicted: the pod used more than it may and is being stopped.
	EventEvicted EventType = "Evicted"
	// EventNetworkNotReady: the pod's network could not be set up (its
	// create, or its recovery, failed); Message has the netlink, nftables
	// or CNI error.
	EventNetworkNotReady EventType = "NetworkNotReady"
)

// Event is one thing that happened to a pod or one of its processes, as
// the daemon's event stream carries it.
type Event struct {
	// Seq numbers the daemon's events, from 1, in the order it recorded
	// them: a client that reconnects asks for those after the last it saw
	// (GET /v1/events?since=SEQ). Zero outside the daemon's history.
	Seq      uint64    `json:"seq,omitempty"`
	Time     time.Time `json:"time"`
	Type     EventType `json:"type"`
	Pod      string    `json:"pod"`
	Process  string    `json:"process,omitempty"`
	PID      int       `json:"pid,omitempty"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Signal   string    `json:"signal,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	// Delay is the back-off before a restart, as a Go duration string.
	Delay   string `json:"delay,omitempty"`
	Phase   Phase  `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
}
