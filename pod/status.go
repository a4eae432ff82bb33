package pod

import "time"

// Phase is where a pod stands in its life.
type Phase string

// The pod phases.
const (
	// PhasePending: created, not started.
	PhasePending Phase = "Pending"
	// PhaseInitializing: the init processes are running.
	PhaseInitializing Phase = "Initializing"
	// PhaseRunning: the app processes have been started and at least one
	// runs or will be restarted.
	PhaseRunning Phase = "Running"
	// PhaseTerminating: a stop is under way.
	PhaseTerminating Phase = "Terminating"
	// PhaseStopped: stopped on request.
	PhaseStopped Phase = "Stopped"
	// PhaseSucceeded: every app process exited 0 and none will restart.
	PhaseSucceeded Phase = "Succeeded"
	// PhaseFailed: every process ended, at least one failed, none will
	// restart; or an init process failed under restartPolicy Never.
	PhaseFailed Phase = "Failed"
)

// Ended reports whether a pod in this phase has nothing left running and
// nothing left to start on its own.
func (p Phase) Ended() bool {
	return p == PhaseStopped || p == PhaseSucceeded || p == PhaseFailed
}

// State is where a process stands.
type State string

// The process states, as Kubernetes container states.
const (
	StateWaiting    State = "Waiting"
	StateRunning    State = "Running"
	StateTerminated State = "Terminated"
)

// Reasons for the Waiting and Terminated states.
const (
	// ReasonPodInitializing: an app process waits for the init processes.
	ReasonPodInitializing = "PodInitializing"
	// ReasonCrashLoopBackOff: the process waits for its back-off to expire.
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	// ReasonCompleted: the process exited 0.
	ReasonCompleted = "Completed"
	// ReasonError: the process exited non-zero or was killed by a signal.
	ReasonError = "Error"
	// ReasonOOMKilled: the kernel killed it for its or the pod's memory limit.
	ReasonOOMKilled = "OOMKilled"
	// ReasonStartError: the process could not be started; the message says why.
	ReasonStartError = "StartError"
	// ReasonCreateContainerConfigError: the process's configuration forbids
	// its start (runAsNonRoot with a root user, a volume that cannot be
	// mounted); it is retried with the back-off, as kubelet does.
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	// ReasonKilled: SIGKILLed by a stop after the grace period.
	ReasonKilled = "Killed"
	// ReasonDeadlineExceeded: the pod ran past activeDeadlineSeconds and
	// was stopped (the pod's reason, phase Failed).
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonEvicted: the pod used more than it may (an emptyDir over its
	// size limit) and was stopped (the pod's reason, phase Failed).
	ReasonEvicted = "Evicted"
)

// Status is a pod's observed state. The daemon prints it as JSON.
type Status struct {
	Name string `json:"name"`
	// Namespace is the pod's metadata.namespace (set for pods made from
	// Kubernetes manifests).
	Namespace string `json:"namespace,omitempty"`
	// QOSClass is Guaranteed, Burstable or BestEffort, as Kubernetes
	// classes the pod by its requests and limits (QOSClass).
	QOSClass string `json:"qosClass,omitempty"`
	Phase    Phase  `json:"phase"`
	// Desired is what the daemon keeps the pod to: "running" or
	// "stopped" (it starts a running pod again after its own restart).
	Desired string `json:"desired,omitempty"`
	Message string `json:"message"`
	// Reason is a word for why the pod is in its phase, when there is one
	// (DeadlineExceeded), as Kubernetes' status.reason.
	Reason   string `json:"reason,omitempty"`
	Hostname string `json:"hostname"`
	// Cgroup is the pod's cgroup path relative to the cgroup root.
	Cgroup     string         `json:"cgroup"`
	Namespaces NamespacePaths `json:"namespaces"`
	// Network is the network the pod is on: bridge's network is
	// "podvisor" (or the daemon's own default name), none, host, or a
	// network's name.
	Network string `json:"network,omitempty"`
	// PodIP is the pod's first address (IPv4 first), PodIPs all of them,
	// as Kubernetes' status.podIP and podIPs. A pod on the host's network
	// has the host's.
	PodIP  string   `json:"podIP,omitempty"`
	PodIPs []string `json:"podIPs,omitempty"`
	// HostIP is the host's address (of its default route), as Kubernetes'
	// status.hostIP.
	HostIP string `json:"hostIP,omitempty"`
	// Ports are the ports the pod publishes on the host.
	Ports     []PublishedPort `json:"ports,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	StartedAt *time.Time      `json:"startedAt"`
	Init      []ProcessStatus `json:"initProcesses"`
	Processes []ProcessStatus `json:"processes"`
	// Conditions are Initialized, ContainersReady and Ready, as
	// Kubernetes' pod conditions.
	Conditions []Condition `json:"conditions"`
}

// Pod condition types.
const (
	ConditionInitialized     = "Initialized"
	ConditionContainersReady = "ContainersReady"
	ConditionReadyPod        = "Ready"
)

// Condition statuses.
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// Condition is one of a pod's conditions.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
}

// LastState is how a process's previous run ended, as Kubernetes'
// lastState; empty before a second run.
type LastState struct {
	Terminated *Terminated `json:"terminated,omitempty"`
}

// Terminated describes one ended run.
type Terminated struct {
	ExitCode int `json:"exitCode"`
	// Signal is the killing signal's number, 0 when it exited by itself.
	Signal     int        `json:"signal,omitempty"`
	Reason     string     `json:"reason"`
	Message    string     `json:"message,omitempty"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt time.Time  `json:"finishedAt"`
}

// NamespacePaths are the pod's persistent namespace files. Net is empty for
// a pod with network: host.
type NamespacePaths struct {
	Net string `json:"net"`
	IPC string `json:"ipc"`
	UTS string `json:"uts"`
	// PID is the pod's own PID namespace (shareProcessNamespace), while a
	// run has it.
	PID string `json:"pid,omitempty"`
	// Mounts are the processes' views of the filesystem (pinned mount
	// namespaces), by process name.
	Mounts map[string]string `json:"mounts,omitempty"`
}

// ProcessStatus is one process's observed state.
type ProcessStatus struct {
	Name    string `json:"name"`
	State   State  `json:"state"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// PID is 0 unless Running.
	PID          int  `json:"pid"`
	RestartCount int  `json:"restartCount"`
	Ready        bool `json:"ready"`
	// Started: running, its postStart hook done and its startup probe
	// passed.
	Started bool `json:"started"`
	// LastState is the run before the current one.
	LastState LastState `json:"lastState"`
	// Sidecar marks an init process with restartPolicy Always.
	Sidecar bool `json:"sidecar,omitempty"`
	// StartedAt is when the current or last run started.
	StartedAt *time.Time `json:"startedAt"`
	// FinishedAt, ExitCode and Signal describe the most recent exit.
	FinishedAt *time.Time `json:"finishedAt"`
	// ExitCode is 128+n for a process killed by signal n.
	ExitCode *int `json:"exitCode"`
	// Signal is the killing signal's name, empty when it exited by itself.
	Signal string `json:"signal"`
	// LogsDropped counts the process's output lines (records) that could
	// not be written to its log file, a full disk for one, across its runs.
	// The supervisor's log warns of them too.
	LogsDropped int64 `json:"logsDropped,omitempty"`
}

// Ready counts the app processes and sidecars that are ready, and all of
// them.
func (s *Status) Ready() (ready, total int) {
	for _, p := range s.Init {
		if p.Sidecar {
			total++
			if p.Ready {
				ready++
			}
		}
	}
	for _, p := range s.Processes {
		total++
		if p.Ready {
			ready++
		}
	}
	return ready, total
}

// Restarts adds up the restart counts of every process.
func (s *Status) Restarts() int {
	n := 0
	for _, p := range s.Init {
		n += p.RestartCount
	}
	for _, p := range s.Processes {
		n += p.RestartCount
	}
	return n
}

// Launched reports whether a pod that was started is done starting: its
// init processes completed and each app process has been started at least
// once since (or waits for its dependencies, which may take long), or the
// pod has ended.
func (s *Status) Launched() bool {
	switch s.Phase {
	case PhaseFailed, PhaseSucceeded, PhaseStopped:
		return true
	case PhaseRunning:
		for _, ps := range s.Processes {
			if ps.State == StateWaiting && (ps.Reason == ReasonWaitingForDependencies || ps.Reason == ReasonDependencyFailed) {
				continue
			}
			if ps.StartedAt == nil || s.StartedAt != nil && ps.StartedAt.Before(*s.StartedAt) {
				return false
			}
		}
		return true
	}
	return false
}
