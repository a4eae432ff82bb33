package pod

// PodSecurityContext is the pod-level security settings: defaults for its
// processes (each field of SecurityContext wins over the same one here).
type PodSecurityContext struct {
	RunAsUser          *int64  `json:"runAsUser,omitempty"`
	RunAsGroup         *int64  `json:"runAsGroup,omitempty"`
	RunAsNonRoot       *bool   `json:"runAsNonRoot,omitempty"`
	SupplementalGroups []int64 `json:"supplementalGroups,omitempty"`
	// FSGroup owns the pod's emptyDir and files volumes (group, setgid
	// directories) and joins every process's supplementary groups.
	FSGroup *int64 `json:"fsGroup,omitempty"`
	// Sysctls are set in the pod's namespaces: only namespaced ones (net.*
	// with a network of the pod's own, kernel.shm*, kernel.msg*,
	// kernel.sem with an IPC namespace of its own).
	Sysctls        []Sysctl        `json:"sysctls,omitempty"`
	SeccompProfile *SeccompProfile `json:"seccompProfile,omitempty"`
}

// Sysctl is one kernel parameter ("net.ipv4.ip_unprivileged_port_start").
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SecurityContext is one process's security settings. A process with a
// SecurityContext (every process of a Kubernetes manifest has one) starts
// with the container runtimes' default capabilities, adjusted by
// Capabilities; one without keeps the capabilities of its user.
type SecurityContext struct {
	RunAsUser    *int64 `json:"runAsUser,omitempty"`
	RunAsGroup   *int64 `json:"runAsGroup,omitempty"`
	RunAsNonRoot *bool  `json:"runAsNonRoot,omitempty"`
	// Capabilities adds to and drops from the default set.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// Privileged gives every capability.
	Privileged *bool `json:"privileged,omitempty"`
	// AllowPrivilegeEscalation false sets no_new_privs.
	AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation,omitempty"`
	// ReadOnlyRootFilesystem makes the host's tree read-only in this
	// process's view; its volumes and /tmp stay writable.
	ReadOnlyRootFilesystem *bool `json:"readOnlyRootFilesystem,omitempty"`
	// ProcMount is "Default" (the only value honoured) or "".
	ProcMount      string          `json:"procMount,omitempty"`
	SeccompProfile *SeccompProfile `json:"seccompProfile,omitempty"`
}

// Capabilities are capability names, with or without "CAP_" ("NET_ADMIN",
// "CAP_NET_ADMIN", "ALL").
type Capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// SeccompProfile picks a syscall filter.
type SeccompProfile struct {
	// Type is Unconfined, RuntimeDefault or Localhost.
	Type string `json:"type"`
	// LocalhostProfile names a profile file for type Localhost, which
	// podvisor refuses (see docs/kubernetes.md).
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// The seccomp profile types.
const (
	SeccompUnconfined     = "Unconfined"
	SeccompRuntimeDefault = "RuntimeDefault"
	SeccompLocalhost      = "Localhost"
)

// DefaultCapabilities is the set a process with a SecurityContext starts
// with: the container runtimes' default (containerd, CRI-O, podman).
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}
