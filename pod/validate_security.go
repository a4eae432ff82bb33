package pod

import (
	"fmt"
	"strings"

	"github.com/podvisor/podvisor/internal/lazyre"
)

// capabilityNames are the Linux capabilities, by number.
var capabilityNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// CapabilityNumber turns "NET_ADMIN" or "CAP_NET_ADMIN" (any case) into the
// capability's number.
func CapabilityNumber(name string) (int, bool) {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	for i, c := range capabilityNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// CapabilityName is the "CAP_"-prefixed name of capability n.
func CapabilityName(n int) string {
	if n >= 0 && n < len(capabilityNames) {
		return "CAP_" + capabilityNames[n]
	}
	return fmt.Sprintf("CAP_%d", n)
}

// LastCapability is the highest capability number podvisor knows.
var LastCapability = len(capabilityNames) - 1

// maxID is the largest uid or gid accepted (Linux's are 32-bit, and
// 4294967295 means "none").
const maxID = 1<<32 - 2

// namespacedSysctl says whether a sysctl is set per network or IPC
// namespace, and which.
func namespacedSysctl(name string) (ns string, ok bool) {
	n := strings.ReplaceAll(name, "/", ".")
	switch {
	case strings.HasPrefix(n, "net."):
		return "network", true
	case strings.HasPrefix(n, "kernel.shm"), strings.HasPrefix(n, "kernel.msg"),
		n == "kernel.sem", strings.HasPrefix(n, "fs.mqueue."):
		return "IPC", true
	}
	return "", false
}

var sysctlNameRE = lazyre.New(`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?([./][a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$`)

func validatePodSecurity(errs *ErrorList, field string, s *Spec) {
	c := s.SecurityContext
	if c == nil {
		return
	}
	validateIDs(errs, field, c.RunAsUser, c.RunAsGroup)
	for i, g := range c.SupplementalGroups {
		if g < 0 || g > maxID {
			errs.add(fmt.Sprintf("%s.supplementalGroups[%d]", field, i), "must be between 0 and %d, got %d", maxID, g)
		}
	}
	if g := c.FSGroup; g != nil && (*g < 0 || *g > maxID) {
		errs.add(field+".fsGroup", "must be between 0 and %d, got %d", maxID, *g)
	}
	seen := map[string]bool{}
	for i, sc := range c.Sysctls {
		f := fmt.Sprintf("%s.sysctls[%d]", field, i)
		ns, ok := namespacedSysctl(sc.Name)
		switch {
		case sc.Name == "":
			errs.add(f+".name", "required")
		case !sysctlNameRE.MatchString(sc.Name):
			errs.add(f+".name", "invalid sysctl name %s", quote(sc.Name))
		case !ok:
			errs.add(f+".name", "%s is not a namespaced sysctl: only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set for one pod", quote(sc.Name))
		case ns == "network" && s.Network == NetworkHost:
			errs.add(f+".name", "%s needs a network namespace of the pod's own (not hostNetwork)", quote(sc.Name))
		case ns == "IPC" && s.HostIPC:
			errs.add(f+".name", "%s needs an IPC namespace of the pod's own (not hostIPC)", quote(sc.Name))
		case seen[sc.Name]:
			errs.add(f+".name", "duplicate sysctl %s", quote(sc.Name))
		}
		seen[sc.Name] = true
		if strings.ContainsAny(sc.Value, "\x00\n") {
			errs.add(f+".value", "must be one line")
		}
	}
	validateSeccomp(errs, field+".seccompProfile", c.SeccompProfile)
}

func validateIDs(errs *ErrorList, field string, uid, gid *int64) {
	if uid != nil && (*uid < 0 || *uid > maxID) {
		errs.add(field+".runAsUser", "must be between 0 and %d, got %d", maxID, *uid)
	}
	if gid != nil && (*gid < 0 || *gid > maxID) {
		errs.add(field+".runAsGroup", "must be between 0 and %d, got %d", maxID, *gid)
	}
}

func validateSeccomp(errs *ErrorList, field string, p *SeccompProfile) {
	if p == nil {
		return
	}
	switch p.Type {
	case SeccompUnconfined, SeccompRuntimeDefault:
		if p.LocalhostProfile != nil {
			errs.add(field+".localhostProfile", "may only be set with type Localhost")
		}
	case SeccompLocalhost:
		errs.add(field+".type", "Localhost is not supported: podvisor applies RuntimeDefault (the container runtimes' default filter) or Unconfined")
	case "":
		errs.add(field+".type", "required: Unconfined, RuntimeDefault or Localhost")
	default:
		errs.add(field+".type", "unsupported value %s: must be Unconfined, RuntimeDefault or Localhost", quote(p.Type))
	}
}

func validateSecurityContext(errs *ErrorList, field string, c *SecurityContext) {
	if c == nil {
		return
	}
	validateIDs(errs, field, c.RunAsUser, c.RunAsGroup)
	if caps := c.Capabilities; caps != nil {
		for _, l := range []struct {
			name  string
			names []string
		}{{"add", caps.Add}, {"drop", caps.Drop}} {
			for i, n := range l.names {
				if strings.EqualFold(n, "ALL") {
					continue
				}
				if _, ok := CapabilityNumber(n); !ok {
					errs.add(fmt.Sprintf("%s.capabilities.%s[%d]", field, l.name, i), "unknown capability %s", quote(n))
				}
			}
		}
	}
	if c.Privileged != nil && *c.Privileged && c.AllowPrivilegeEscalation != nil && !*c.AllowPrivilegeEscalation {
		errs.add(field+".allowPrivilegeEscalation", "may not be false with privileged")
	}
	switch c.ProcMount {
	case "", "Default":
	case "Unmasked":
		errs.add(field+".procMount", "Unmasked is not supported: a process sees the /proc of its PID namespace as it is")
	default:
		errs.add(field+".procMount", "unsupported value %s: must be Default", quote(c.ProcMount))
	}
	validateSeccomp(errs, field+".seccompProfile", c.SeccompProfile)
}
