package pod

import (
	"encoding/json"
	"strconv"
)

// Probe is a periodic check of a process, as Kubernetes' probes: exactly
// one handler (Exec, HTTPGet, TCPSocket or GRPC) and its timing.
type Probe struct {
	// Exec runs a command inside the pod, as the process: its namespaces,
	// cgroup, user, environment and working directory. Exit 0 is success.
	Exec *ExecAction `json:"exec,omitempty"`
	// HTTPGet is a GET inside the pod's network namespace; a status from
	// 200 to 399 is success.
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`
	// TCPSocket succeeds when a TCP connection opens.
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	// GRPC calls the gRPC health protocol; SERVING is success.
	GRPC *GRPCAction `json:"grpc,omitempty"`

	// InitialDelaySeconds: no probe before this long after the start.
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	// PeriodSeconds between probes. Default 10.
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// TimeoutSeconds bounds one probe. Default 1.
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
	// SuccessThreshold: successes in a row to pass after a failure.
	// Default 1; must be 1 for liveness and startup probes.
	SuccessThreshold int32 `json:"successThreshold,omitempty"`
	// FailureThreshold: failures in a row to fail. Default 3.
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
	// TerminationGracePeriodSeconds, on a liveness or startup probe,
	// replaces the pod's grace period when this probe's failure stops the
	// process.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// Probe defaults, as Kubernetes'.
const (
	DefaultProbePeriod           = 10
	DefaultProbeTimeout          = 1
	DefaultProbeSuccessThreshold = 1
	DefaultProbeFailureThreshold = 3
)

// ExecAction is a command, run without a shell.
type ExecAction struct {
	Command []string `json:"command"`
}

// HTTPGetAction is an HTTP GET.
type HTTPGetAction struct {
	// Path of the request. Default "/".
	Path string `json:"path,omitempty"`
	// Port is a number or the name of a port a process of the pod declares.
	Port IntOrString `json:"port"`
	// Host to connect to. Default the pod's own address (loopback in the
	// pod's network namespace).
	Host string `json:"host,omitempty"`
	// Scheme is HTTP (default) or HTTPS (certificates are not verified).
	Scheme string `json:"scheme,omitempty"`
	// HTTPHeaders are added to the request.
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one request header.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction opens a TCP connection.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// GRPCAction calls grpc.health.v1.Health/Check.
type GRPCAction struct {
	Port int32 `json:"port"`
	// Service is the name given to the health check. Default "".
	Service *string `json:"service,omitempty"`
}

// SleepAction waits, as a hook.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// LifecycleHandler is what a hook does: exactly one of its actions.
type LifecycleHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	Sleep     *SleepAction     `json:"sleep,omitempty"`
}

// Lifecycle holds a process's hooks, as Kubernetes' container lifecycle.
type Lifecycle struct {
	// PostStart runs right after the process starts; the process is not
	// started (nor ready) until it completes, and its failure kills the
	// process.
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	// PreStop runs before the stop signal; its time counts against the
	// grace period.
	PreStop *LifecycleHandler `json:"preStop,omitempty"`
	// StopSignal is an alias of the process's stopSignal.
	StopSignal string `json:"stopSignal,omitempty"`
}

// ContainerPort is a port a process listens on; named ports can be used by
// probes and hooks.
type ContainerPort struct {
	// Name is an IANA service name, unique in the process.
	Name string `json:"name,omitempty"`
	// ContainerPort is the port the process listens on in the pod's
	// network namespace.
	ContainerPort int32 `json:"containerPort"`
	// Protocol is TCP (default), UDP or SCTP.
	Protocol string `json:"protocol,omitempty"`
	// HostPort publishes the port on the host: connections to it on the
	// host's addresses (HostIP, or every address) reach ContainerPort in
	// the pod. 0: not published.
	HostPort int32 `json:"hostPort,omitempty"`
	// HostIP limits HostPort to one of the host's addresses.
	HostIP string `json:"hostIP,omitempty"`
}

// Dependency conditions of dependsOn.
const (
	// ConditionStarted: the process is started (running, its postStart
	// done, its startup probe passed).
	ConditionStarted = "Started"
	// ConditionReady: the process is ready (its readiness probe passes, or
	// it is started when it has none).
	ConditionReady = "Ready"
	// ConditionSucceeded: the process has exited 0.
	ConditionSucceeded = "Succeeded"
)

// Dependency is one entry of dependsOn: the process starts only once the
// named process meets the condition.
type Dependency struct {
	Name      string `json:"name"`
	Condition string `json:"condition,omitempty"`
}

// Restart rule actions.
const (
	// RuleRestart restarts the process (with back-off), whatever its
	// restart policy.
	RuleRestart = "Restart"
	// RuleRestartAllContainers restarts the whole pod in place.
	RuleRestartAllContainers = "RestartAllContainers"
)

// Exit code operators.
const (
	OperatorIn    = "In"
	OperatorNotIn = "NotIn"
)

// RestartRule is one entry of restartPolicyRules: tried in order on each
// exit, the first whose exitCodes match decides.
type RestartRule struct {
	Action    string                `json:"action"`
	ExitCodes *ExitCodesRequirement `json:"exitCodes,omitempty"`
}

// ExitCodesRequirement matches exit codes.
type ExitCodesRequirement struct {
	Operator string  `json:"operator"`
	Values   []int32 `json:"values"`
}

// Matches reports whether code meets the requirement.
func (r *ExitCodesRequirement) Matches(code int) bool {
	if r == nil {
		return true
	}
	in := false
	for _, v := range r.Values {
		if int(v) == code {
			in = true
			break
		}
	}
	if r.Operator == OperatorNotIn {
		return !in
	}
	return in
}

// IntOrString is a port given as a number or as a name.
type IntOrString struct {
	IntVal   int32
	StrVal   string
	IsString bool
}

// String is the number or the name.
func (v IntOrString) String() string {
	if v.IsString {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// UnmarshalText takes a decimal number as a number, anything else as a
// name.
func (v *IntOrString) UnmarshalText(b []byte) error {
	if n, err := strconv.ParseInt(string(b), 10, 32); err == nil {
		*v = IntOrString{IntVal: int32(n)}
		return nil
	}
	*v = IntOrString{StrVal: string(b), IsString: true}
	return nil
}

// MarshalJSON writes a number or a string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return json.Marshal(v.StrVal)
	}
	return json.Marshal(v.IntVal)
}

// IsSidecar reports whether an init process is a sidecar: it has
// restartPolicy Always, starts in its place among the init processes and
// runs beside the app processes.
func (p *Process) IsSidecar() bool { return p.RestartPolicy == RestartAlways }
