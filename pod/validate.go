package pod

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/podvisor/podvisor/internal/lazyre"
)

// MaxCPUMilli is the largest CPU limit accepted, in millicores.
const MaxCPUMilli = 1 << 30

// DefaultPath is the PATH a process gets unless its env sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// SetDefaults fills every unset field that has a default. It is idempotent.
func (p *Pod) SetDefaults() {
	s := &p.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartAlways
	}
	b := &s.RestartBackoff
	if b.InitialDelay.Duration == 0 {
		b.InitialDelay.Duration = DefaultInitialDelay
	}
	if b.MaxDelay.Duration == 0 {
		b.MaxDelay.Duration = DefaultMaxDelay
	}
	if b.ResetAfter.Duration == 0 {
		b.ResetAfter.Duration = DefaultResetAfter
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := int64(DefaultGracePeriod)
		s.TerminationGracePeriodSeconds = &g
	}
	if s.Hostname == "" {
		s.Hostname = DefaultHostname(p.Metadata.Name)
	}
	if s.PrivateTmp == nil {
		t := true
		s.PrivateTmp = &t
	}
	for _, list := range [][]Process{s.InitProcesses, s.Processes} {
		for i := range list {
			pr := &list[i]
			if pr.WorkingDir == "" {
				pr.WorkingDir = "/"
			}
			// lifecycle.stopSignal is an alias of stopSignal: it must be
			// taken before stopSignal gets its default.
			if pr.StopSignal == "" && pr.Lifecycle != nil && pr.Lifecycle.StopSignal != "" {
				pr.StopSignal = pr.Lifecycle.StopSignal
			}
			if pr.StopSignal == "" {
				pr.StopSignal = "SIGTERM"
			}
			pr.setFeatureDefaults()
		}
	}
}

var (
	labelRE     = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	subdomainRE = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// IsLabel reports whether s is a lowercase RFC 1123 label of at most 63
// characters: the rule for process, volume and port names.
func IsLabel(s string) bool { return len(s) <= 63 && labelRE.MatchString(s) }

// IsName reports whether s is a lowercase RFC 1123 subdomain of at most 253
// characters (labels joined by dots): the rule for pod names, as for
// Kubernetes object names.
func IsName(s string) bool { return len(s) <= 253 && subdomainRE.MatchString(s) }

// DefaultHostname is the host name of a pod that sets none: its name, cut to
// 63 characters without a trailing dot or dash, as kubelet does.
func DefaultHostname(name string) string {
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-.")
	}
	return name
}

// ValidateName checks a pod name; the error names the field "metadata.name".
func ValidateName(name string) error {
	var errs ErrorList
	validateName(&errs, "metadata.name", name)
	return errs.orNil()
}

func validateName(errs *ErrorList, field, s string) {
	switch {
	case s == "":
		errs.add(field, "required")
	case !noNUL(errs, field, s):
	case len(s) > 253:
		errs.add(field, "must be at most 253 characters, got %d", len(s))
	case !IsName(s):
		errs.add(field, "%s is not a lowercase RFC 1123 subdomain", quote(s))
	}
}

func validateLabel(errs *ErrorList, field, s string) {
	switch {
	case s == "":
		errs.add(field, "required")
	case !noNUL(errs, field, s):
	case !IsLabel(s):
		errs.add(field, "%s is not a lowercase RFC 1123 label", quote(s))
	}
}

var (
	labelKeyRE   = lazyre.New(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	labelValueRE = lazyre.New(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
	envNameRE    = lazyre.New(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	userPartRE   = lazyre.New(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$`)
)

// Validate checks a pod whose defaults are set and returns an ErrorList (it
// matches ErrInvalid) naming every bad field, or nil.
func (p *Pod) Validate() error {
	var errs ErrorList
	switch {
	case p.APIVersion == "":
		errs.add("apiVersion", "required (must be %q)", APIVersion)
	case p.APIVersion != APIVersion:
		errs.add("apiVersion", "unsupported value %s: must be %q", quote(p.APIVersion), APIVersion)
	}
	switch {
	case p.Kind == "":
		errs.add("kind", "required (must be %q)", Kind)
	case p.Kind != Kind:
		errs.add("kind", "unsupported value %s: must be %q", quote(p.Kind), Kind)
	}
	validateName(&errs, "metadata.name", p.Metadata.Name)
	if p.Metadata.Namespace != "" {
		validateLabel(&errs, "metadata.namespace", p.Metadata.Namespace)
	}
	if u := p.Metadata.UID; u != "" && noNUL(&errs, "metadata.uid", u) && len(u) > 128 {
		errs.add("metadata.uid", "must be at most 128 characters, got %d", len(u))
	}
	validateAnnotations(&errs, p.Metadata.Annotations)
	for _, k := range slices.Sorted(maps.Keys(p.Metadata.Labels)) {
		v := p.Metadata.Labels[k]
		field := fmt.Sprintf("metadata.labels[%q]", k)
		if name := k[strings.LastIndex(k, "/")+1:]; !labelKeyRE.MatchString(k) || len(name) > 63 {
			errs.add(field, "invalid label key %s", quote(k))
		}
		if len(v) > 63 || !labelValueRE.MatchString(v) {
			errs.add(field, "invalid label value %s", quote(v))
		}
	}
	s := &p.Spec
	validatePolicy(&errs, "spec.restartPolicy", s.RestartPolicy, true)
	b := s.RestartBackoff
	if b.InitialDelay.Duration <= 0 {
		errs.add("spec.restartBackoff.initialDelay", "must be positive, got %s", b.InitialDelay)
	}
	if b.MaxDelay.Duration <= 0 {
		errs.add("spec.restartBackoff.maxDelay", "must be positive, got %s", b.MaxDelay)
	} else if b.MaxDelay.Duration < b.InitialDelay.Duration {
		errs.add("spec.restartBackoff.maxDelay", "must not be less than initialDelay (%s), got %s", b.InitialDelay, b.MaxDelay)
	}
	if b.ResetAfter.Duration <= 0 {
		errs.add("spec.restartBackoff.resetAfter", "must be positive, got %s", b.ResetAfter)
	}
	if g := s.TerminationGracePeriodSeconds; g == nil {
		errs.add("spec.terminationGracePeriodSeconds", "must be an integer >= 0")
	} else if _, err := GracePeriod(*g); err != nil {
		errs.add("spec.terminationGracePeriodSeconds", "%s", err.(*FieldError).Detail)
	}
	if s.Hostname != "" && noNUL(&errs, "spec.hostname", s.Hostname) {
		if len(s.Hostname) > 63 || !IsName(s.Hostname) {
			errs.add("spec.hostname", "%s is not a host name: lowercase RFC 1123 labels joined by dots, at most 63 characters", quote(s.Hostname))
		}
	}
	if s.Network.IsNamed() && !IsNetworkName(string(s.Network)) {
		errs.add("spec.network", "unsupported value %s: must be bridge, none, host or the name of a network (letters, digits, '_', '.', '-', starting with a letter or digit, at most 64 characters)", quote(string(s.Network)))
	}
	validatePublished(&errs, s)
	validateResources(&errs, "spec.resources", s.Resources)
	x := newSpecIndex(s)
	x.validatePodExtras(&errs)
	if len(s.Processes) == 0 {
		errs.add("spec.processes", "required: at least one process")
	}
	names := map[string]bool{}
	for i := range s.InitProcesses {
		field := fmt.Sprintf("spec.initProcesses[%d]", i)
		validateProcess(&errs, field, &s.InitProcesses[i], names)
		x.validateFeatures(&errs, field, &s.InitProcesses[i], true)
	}
	for i := range s.Processes {
		field := fmt.Sprintf("spec.processes[%d]", i)
		validateProcess(&errs, field, &s.Processes[i], names)
		x.validateFeatures(&errs, field, &s.Processes[i], false)
	}
	x.validateDependencyCycles(&errs)
	return errs.orNil()
}

func validatePolicy(errs *ErrorList, field string, p RestartPolicy, required bool) {
	switch p {
	case RestartAlways, RestartOnFailure, RestartNever:
	case "":
		if required {
			errs.add(field, "required")
		}
	default:
		errs.add(field, "unsupported value %s: must be Always, OnFailure or Never", quote(string(p)))
	}
}

func validateLimits(errs *ErrorList, field string, l Limits) {
	if l.CPU != nil && l.CPU.Sign() <= 0 {
		errs.add(field+".cpu", "must be positive, got %q", l.CPU)
	} else if l.CPU != nil && l.CPU.Milli() > MaxCPUMilli {
		errs.add(field+".cpu", "must be at most %d cores, got %q", MaxCPUMilli/1000, l.CPU)
	}
	if l.Memory != nil {
		if l.Memory.Sign() <= 0 {
			errs.add(field+".memory", "must be positive, got %q", l.Memory)
		} else if l.Memory.Value() < 1<<20 {
			errs.add(field+".memory", "must be at least 1Mi, got %q", l.Memory)
		}
	}
	if l.Pids != nil && *l.Pids < 1 {
		errs.add(field+".pids", "must be at least 1, got %d", *l.Pids)
	}
}

func validateProcess(errs *ErrorList, field string, p *Process, names map[string]bool) {
	validateLabel(errs, field+".name", p.Name)
	if p.Name != "" {
		if names[p.Name] {
			errs.add(field+".name", "duplicate name %s", quote(p.Name))
		}
		names[p.Name] = true
	}
	if len(p.Command) == 0 {
		errs.add(field+".command", "required: at least the program")
	} else if p.Command[0] == "" {
		errs.add(field+".command[0]", "must not be empty")
	}
	for i, a := range p.Command {
		if strings.IndexByte(a, 0) >= 0 {
			noNUL(errs, fmt.Sprintf("%s.command[%d]", field, i), a)
		}
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			noNUL(errs, fmt.Sprintf("%s.args[%d]", field, i), a)
		}
	}
	for i, e := range p.Env {
		f := fmt.Sprintf("%s.env[%d]", field, i)
		switch {
		case e.Name == "":
			errs.add(f+".name", "required")
		case !noNUL(errs, f+".name", e.Name):
		case !envNameRE.MatchString(e.Name):
			errs.add(f+".name", "invalid environment variable name %s", quote(e.Name))
		}
		noNUL(errs, f+".value", e.Value)
		if vf := e.ValueFrom; vf != nil {
			switch {
			case e.Value != "":
				errs.add(f+".valueFrom", "not with value")
			case vf.FieldRef == nil:
				errs.add(f+".valueFrom.fieldRef", "required")
			case !slices.Contains(RuntimeFieldPaths, vf.FieldRef.FieldPath):
				errs.add(f+".valueFrom.fieldRef.fieldPath", "unsupported value %s: must be one of %s", quote(vf.FieldRef.FieldPath), strings.Join(RuntimeFieldPaths, ", "))
			}
		}
	}
	if p.WorkingDir != "" && noNUL(errs, field+".workingDir", p.WorkingDir) && !path.IsAbs(p.WorkingDir) {
		errs.add(field+".workingDir", "must be an absolute path, got %s", quote(p.WorkingDir))
	}
	if p.User != "" && noNUL(errs, field+".user", p.User) {
		u, g, hasGroup := strings.Cut(p.User, ":")
		if !userPartRE.MatchString(u) || (hasGroup && !userPartRE.MatchString(g)) {
			errs.add(field+".user", "invalid user %s: must be uid[:gid] or name[:group]", quote(p.User))
		} else {
			validateID(errs, field+".user", p.User, u, "uid")
			if hasGroup {
				validateID(errs, field+".user", p.User, g, "gid")
			}
		}
	}
	validatePolicy(errs, field+".restartPolicy", p.RestartPolicy, false)
	// A stopSignal taken from lifecycle.stopSignal (see SetDefaults) is
	// checked there, so that a bad one is reported once.
	if p.StopSignal != "" && (p.Lifecycle == nil || p.Lifecycle.StopSignal != p.StopSignal) {
		if _, ok := ParseSignal(p.StopSignal); !ok {
			errs.add(field+".stopSignal", "unknown signal %s", quote(p.StopSignal))
		}
	}
	validateResources(errs, field+".resources", p.Resources)
	validateSecurityContext(errs, field+".securityContext", p.SecurityContext)
}

var signals = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGILL": 4, "SIGTRAP": 5, "SIGABRT": 6,
	"SIGBUS": 7, "SIGFPE": 8, "SIGKILL": 9, "SIGUSR1": 10, "SIGSEGV": 11, "SIGUSR2": 12,
	"SIGPIPE": 13, "SIGALRM": 14, "SIGTERM": 15, "SIGSTKFLT": 16, "SIGCHLD": 17,
	"SIGCONT": 18, "SIGSTOP": 19, "SIGTSTP": 20, "SIGTTIN": 21, "SIGTTOU": 22,
	"SIGURG": 23, "SIGXCPU": 24, "SIGXFSZ": 25, "SIGVTALRM": 26, "SIGPROF": 27,
	"SIGWINCH": 28, "SIGIO": 29, "SIGPWR": 30, "SIGSYS": 31,
}

// ParseSignal turns "SIGTERM", "TERM" or "15" into a Linux signal number.
func ParseSignal(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 1 && n <= 64
	}
	up := strings.ToUpper(s)
	if !strings.HasPrefix(up, "SIG") {
		up = "SIG" + up
	}
	if strings.HasPrefix(up, "SIGRTMIN+") {
		n, err := strconv.Atoi(up[len("SIGRTMIN+"):])
		return 34 + n, err == nil && n >= 0 && 34+n <= 64
	}
	n, ok := signals[up]
	return n, ok
}

// SignalName turns a Linux signal number into its name ("SIGKILL"), or
// "SIG<n>" for one without a name.
func SignalName(n int) string {
	for name, v := range signals {
		if v == n {
			return name
		}
	}
	if n >= 34 && n <= 64 {
		return fmt.Sprintf("SIGRTMIN+%d", n-34)
	}
	return fmt.Sprintf("SIG%d", n)
}
