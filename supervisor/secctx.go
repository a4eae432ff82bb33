package supervisor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/security"
)

// configError is a start that the process's configuration forbids
// (runAsNonRoot with a root user): reported as CreateContainerConfigError.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// identityOf is who process pr of a pod with spec sp runs as: its user,
// then the security context's runAsUser and runAsGroup (the process's over
// the pod's), with the pod's supplementalGroups and fsGroup added, as a
// container runtime sets them.
func identityOf(sp *pod.Spec, pr *pod.Process) (identity, error) {
	id, err := resolveUser(pr.User)
	if err != nil {
		return id, err
	}
	psc, csc := sp.SecurityContext, pr.SecurityContext
	if psc == nil && csc == nil {
		return id, nil
	}
	var uid, gid *int64
	if psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
	}
	if csc != nil {
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			gid = csc.RunAsGroup
		}
	}
	if uid != nil {
		// The user database gives the primary group and home of a known
		// uid; an unknown one gets gid 0, as in a container.
		byID, err := resolveUser(strconv.FormatInt(*uid, 10))
		if err != nil {
			return id, err
		}
		id = byID
	}
	if gid != nil {
		id.gid = uint32(*gid)
	}
	if psc != nil {
		for _, g := range psc.SupplementalGroups {
			id.groups = append(id.groups, uint32(g))
		}
		if psc.FSGroup != nil {
			id.groups = append(id.groups, uint32(*psc.FSGroup))
		}
	}
	slices.Sort(id.groups)
	id.groups = slices.Compact(id.groups)
	nonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if csc != nil && csc.RunAsNonRoot != nil {
		nonRoot = *csc.RunAsNonRoot
	}
	if nonRoot && id.uid == 0 {
		return id, &configError{fmt.Sprintf("process %q has runAsNonRoot and would run as root (uid 0): set runAsUser or user", pr.Name)}
	}
	return id, nil
}

// securityOf is what the forking thread applies for process pr: nothing for
// a process of a pod without any security context (it keeps every
// capability of its user, as before podvisor knew security contexts);
// otherwise the container runtimes' default capabilities with the adds and
// drops, no_new_privs for allowPrivilegeEscalation false, the
// RuntimeDefault seccomp filter when asked.
func securityOf(sp *pod.Spec, pr *pod.Process) security.Plan {
	psc, csc := sp.SecurityContext, pr.SecurityContext
	if psc == nil && csc == nil {
		return security.Plan{}
	}
	var plan security.Plan
	var seccomp *pod.SeccompProfile
	if psc != nil {
		seccomp = psc.SeccompProfile
	}
	privileged := false
	if csc != nil {
		if csc.SeccompProfile != nil {
			seccomp = csc.SeccompProfile
		}
		privileged = csc.Privileged != nil && *csc.Privileged
		if csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation {
			plan.NoNewPrivs = true
		}
	}
	if !privileged {
		plan.SetCapabilities = true
		plan.Capabilities = capabilitySet(csc)
		plan.Seccomp = seccomp != nil && seccomp.Type == pod.SeccompRuntimeDefault
	}
	return plan
}

// capabilitySet is the default set, plus adds, minus drops ("ALL" in
// either stands for every capability), by number.
func capabilitySet(csc *pod.SecurityContext) []int {
	set := map[int]bool{}
	for _, n := range pod.DefaultCapabilities {
		c, _ := pod.CapabilityNumber(n)
		set[c] = true
	}
	if csc != nil && csc.Capabilities != nil {
		for _, n := range csc.Capabilities.Drop {
			if strings.EqualFold(n, "ALL") {
				clear(set)
			} else if c, ok := pod.CapabilityNumber(n); ok {
				delete(set, c)
			}
		}
		for _, n := range csc.Capabilities.Add {
			if strings.EqualFold(n, "ALL") {
				for c := 0; c <= pod.LastCapability; c++ {
					set[c] = true
				}
			} else if c, ok := pod.CapabilityNumber(n); ok {
				set[c] = true
			}
		}
	}
	caps := make([]int, 0, len(set))
	for c := range set {
		caps = append(caps, c)
	}
	slices.Sort(caps)
	return caps
}
