package pod

import (
	"encoding/json"
	"fmt"
	"time"
)

var sprintf = fmt.Sprintf

// APIVersion is the only apiVersion a pod file may carry.
const APIVersion = "podvisor/v1"

// Kind is the only kind a pod file may carry.
const Kind = "Pod"

// Pod is a pod file: what to run and how.
type Pod struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
	// Kubernetes is the Kubernetes object (a v1 Pod, JSON) the pod was made
	// from, kept to answer in Kubernetes' shape; set by podvisor, never
	// read from a pod file.
	Kubernetes json.RawMessage `json:"kubernetes,omitempty"`
}

// Metadata names a pod.
type Metadata struct {
	// Name is a lowercase RFC 1123 subdomain (labels joined by dots) of at
	// most 253 characters, as Kubernetes names are.
	Name string `json:"name"`
	// Namespace is the Kubernetes namespace of a pod made from a Kubernetes
	// manifest ("default" when the manifest names none); empty for a
	// podvisor/v1 pod. It is kept for the downward API and the status; two
	// pods of one name in different namespaces are still one name here.
	Namespace string `json:"namespace,omitempty"`
	// UID identifies this incarnation of the pod (the downward API's
	// metadata.uid). Given a random value at create when empty.
	UID string `json:"uid,omitempty"`
	// Labels are free-form key/value pairs for people and tools.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are free-form key/value pairs for tools.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RestartPolicy says which exits are followed by a restart.
type RestartPolicy string

// The restart policies, as in Kubernetes.
const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// NetworkMode says which network a pod is on: one of the modes below or
// the name of a network (one made with `podvisor network create`, or a CNI
// network configuration's name).
type NetworkMode string

// The network modes.
const (
	// NetworkDefault (the empty value) is the supervisor's default network:
	// NetworkBridge unless the supervisor is configured otherwise.
	NetworkDefault NetworkMode = ""
	// NetworkBridge gives the pod a network namespace of its own with an
	// address on podvisor's default bridge network: it reaches the world
	// (masquerade), the host and the other pods reach it, it can publish
	// ports (hostPort) and find other pods by name.
	NetworkBridge NetworkMode = "bridge"
	// NetworkNone gives the pod a private network namespace with loopback
	// only.
	NetworkNone NetworkMode = "none"
	// NetworkPod is the former name of NetworkNone, still accepted.
	NetworkPod NetworkMode = "pod"
	// NetworkHost leaves the pod in the host's network namespace.
	NetworkHost NetworkMode = "host"
)

// IsNamed reports whether m names a network (rather than being one of the
// modes).
func (m NetworkMode) IsNamed() bool {
	switch m {
	case NetworkDefault, NetworkBridge, NetworkNone, NetworkPod, NetworkHost:
		return false
	}
	return true
}

// Private reports whether the pod has a network namespace of its own
// (every mode but host).
func (m NetworkMode) Private() bool { return m != NetworkHost }

// Isolated reports whether the pod's network namespace has loopback only
// (none, or its former name pod).
func (m NetworkMode) Isolated() bool { return m == NetworkNone || m == NetworkPod }

// Spec is what a pod runs.
type Spec struct {
	// RestartPolicy applies to every process that does not set its own.
	// Default Always.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// RestartBackoff shapes the delays between restarts.
	RestartBackoff Backoff `json:"restartBackoff"`
	// TerminationGracePeriodSeconds is how long a stop waits after the stop
	// signals before it kills what is left. Default 30.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// Hostname is the pod's host name in its own UTS namespace. Default
	// metadata.name.
	Hostname string `json:"hostname,omitempty"`
	// Subdomain, with the namespace, makes the pod's domain name:
	// <hostname>.<subdomain>.<namespace>.svc.<cluster domain>, as in
	// Kubernetes; /etc/hosts in the pod names it.
	Subdomain string `json:"subdomain,omitempty"`
	// SetHostnameAsFQDN makes the kernel host name the fully qualified name.
	SetHostnameAsFQDN *bool `json:"setHostnameAsFQDN,omitempty"`
	// Network is "bridge", "none", "host" or the name of a network; empty
	// is the supervisor's default network ("bridge" unless configured).
	Network NetworkMode `json:"network,omitempty"`
	// HostIPC leaves the pod in the host's IPC namespace.
	HostIPC bool `json:"hostIPC,omitempty"`
	// HostPID is the default: the pod's processes see the host's processes.
	// It is refused together with ShareProcessNamespace.
	HostPID bool `json:"hostPID,omitempty"`
	// ShareProcessNamespace gives the pod a PID namespace of its own, with a
	// small init as its PID 1 that reaps, and a /proc of that namespace in
	// every process's view.
	ShareProcessNamespace *bool `json:"shareProcessNamespace,omitempty"`
	// Resources limits the whole pod (its cgroup).
	Resources Resources `json:"resources"`
	// Volumes are what processes can mount (volumeMounts).
	Volumes []Volume `json:"volumes,omitempty"`
	// PrivateTmp gives the pod a /tmp of its own, shared by its processes
	// and removed with the pod. Default true.
	PrivateTmp *bool `json:"privateTmp,omitempty"`
	// HostAliases are added to the pod's /etc/hosts.
	HostAliases []HostAlias `json:"hostAliases,omitempty"`
	// DNSPolicy: "None" makes /etc/resolv.conf from DNSConfig alone; any
	// other value (the default, "Default", "ClusterFirst",
	// "ClusterFirstWithHostNet") starts from the host's.
	DNSPolicy string `json:"dnsPolicy,omitempty"`
	// DNSConfig adds to (or, with DNSPolicy None, makes) the pod's
	// /etc/resolv.conf.
	DNSConfig *DNSConfig `json:"dnsConfig,omitempty"`
	// SecurityContext holds the pod-level security settings, defaults for
	// every process.
	SecurityContext *PodSecurityContext `json:"securityContext,omitempty"`
	// ActiveDeadlineSeconds stops the pod this long after it started; it
	// then ends Failed with reason DeadlineExceeded.
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// InitProcesses run one after the other before the app processes; each
	// must exit 0.
	InitProcesses []Process `json:"initProcesses,omitempty"`
	// Processes are the app processes, started together. At least one.
	Processes []Process `json:"processes"`
}

// Backoff shapes the delays between restarts. Zero fields take the defaults
// (10s, 5m, 10m), as kubelet's.
type Backoff struct {
	// InitialDelay is the delay before the second restart in a row (the
	// first is immediate); it doubles at each further restart.
	InitialDelay Duration `json:"initialDelay"`
	// MaxDelay caps the delay.
	MaxDelay Duration `json:"maxDelay"`
	// ResetAfter: a process that ran this long starts the back-off over.
	ResetAfter Duration `json:"resetAfter"`
}

// Default back-off values, as kubelet's.
const (
	DefaultInitialDelay = 10 * time.Second
	DefaultMaxDelay     = 5 * time.Minute
	DefaultResetAfter   = 10 * time.Minute
	DefaultGracePeriod  = 30
)

// Resources holds a cgroup's limits and requests.
type Resources struct {
	Limits Limits `json:"limits"`
	// Requests become the cgroup's CPU weight (cpu.weight, cpu.shares) and
	// memory protection (memory.low, cgroup v2), and set the QoS class.
	Requests Requests `json:"requests,omitzero"`
}

// Requests are what a process or pod is guaranteed, in Kubernetes quantity
// syntax. A nil field means no request.
type Requests struct {
	// CPU in cores; sets the CPU weight as kubelet does.
	CPU *Quantity `json:"cpu,omitempty"`
	// Memory in bytes; sets memory.low on cgroup v2.
	Memory *Quantity `json:"memory,omitempty"`
	// EphemeralStorage is accepted; only limits cap emptyDir volumes.
	EphemeralStorage *Quantity `json:"ephemeral-storage,omitempty"`
}

// Empty reports whether no request is set.
func (r Requests) Empty() bool {
	return r.CPU == nil && r.Memory == nil && r.EphemeralStorage == nil
}

// Limits are cgroup limits in Kubernetes quantity syntax. A nil field means
// no limit.
type Limits struct {
	// CPU in cores ("500m", "1.5", "2").
	CPU *Quantity `json:"cpu,omitempty"`
	// Memory in bytes ("256Mi", "1G", "1048576").
	Memory *Quantity `json:"memory,omitempty"`
	// Pids is the maximum number of tasks.
	Pids *int64 `json:"pids,omitempty"`
	// EphemeralStorage caps each emptyDir volume of the pod (on disk: the
	// sum of its files, checked as kubelet's eviction does; in memory: the
	// tmpfs size).
	EphemeralStorage *Quantity `json:"ephemeral-storage,omitempty"`
}

// Empty reports whether no cgroup limit is set (EphemeralStorage is not a
// cgroup limit).
func (l Limits) Empty() bool { return l.CPU == nil && l.Memory == nil && l.Pids == nil }

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// ValueFrom takes the value from the pod's status when the process
	// starts, as Kubernetes' downward API: fieldRef.fieldPath
	// status.podIP, status.podIPs, status.hostIP or status.hostIPs. Not
	// with Value.
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is where an environment variable's value comes from.
type EnvVarSource struct {
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// FieldRef names a field of the pod's status.
type FieldRef struct {
	FieldPath string `json:"fieldPath"`
}

// RuntimeFieldPaths are the fieldRef paths an environment variable can
// take its value from when its process starts.
var RuntimeFieldPaths = []string{"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs"}

// Process is one process of a pod, init or app.
type Process struct {
	// Name is an RFC 1123 label, unique across the pod's init and app
	// processes.
	Name string `json:"name"`
	// Command is the program and its first arguments. Command[0] is looked
	// up in the process's PATH unless it contains a slash.
	Command []string `json:"command"`
	// Args are appended to Command.
	Args []string `json:"args,omitempty"`
	// Env is added to the default environment (PATH, HOSTNAME, HOME,
	// POD_NAME, PROCESS_NAME); later entries win.
	Env []EnvVar `json:"env,omitempty"`
	// WorkingDir is an absolute path. Default "/".
	WorkingDir string `json:"workingDir,omitempty"`
	// User is "uid[:gid]" or "name[:group]". Default root.
	User string `json:"user,omitempty"`
	// RestartPolicy overrides the pod's for this process.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// StopSignal is sent at stop. Default SIGTERM.
	StopSignal string `json:"stopSignal,omitempty"`
	// Resources limits the process's own cgroup, a child of the pod's.
	Resources Resources `json:"resources"`
	// Ports the process listens on; their names can stand for a port in
	// probes and hooks.
	Ports []ContainerPort `json:"ports,omitempty"`
	// LivenessProbe: its failure stops the process, which the restart
	// policy then restarts.
	LivenessProbe *Probe `json:"livenessProbe,omitempty"`
	// ReadinessProbe sets the process's ready flag.
	ReadinessProbe *Probe `json:"readinessProbe,omitempty"`
	// StartupProbe holds liveness and readiness off until it passes; its
	// failure stops the process.
	StartupProbe *Probe `json:"startupProbe,omitempty"`
	// Lifecycle holds the postStart and preStop hooks.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	// DependsOn delays an app process's start until each named process
	// meets its condition (a podvisor extension).
	DependsOn []Dependency `json:"dependsOn,omitempty"`
	// RestartPolicyRules decide by exit code, before the restart policy.
	RestartPolicyRules []RestartRule `json:"restartPolicyRules,omitempty"`
	// VolumeMounts put the pod's volumes into this process's view of the
	// filesystem.
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
	// SecurityContext overrides the pod's for this process.
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
	// Stdin keeps the process's standard input open (a pipe that podvisor
	// holds) instead of /dev/null.
	Stdin bool `json:"stdin,omitempty"`
	// TTY gives the process a pseudo-terminal as its standard input, output
	// and error.
	TTY bool `json:"tty,omitempty"`
}

// Argv is Command followed by Args.
func (p *Process) Argv() []string {
	argv := make([]string, 0, len(p.Command)+len(p.Args))
	return append(append(argv, p.Command...), p.Args...)
}

// Duration is a time.Duration written as a Go duration string ("10s", "5m").
type Duration struct {
	time.Duration
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %s", quote(string(b)))
	}
	d.Duration = v
	return nil
}
