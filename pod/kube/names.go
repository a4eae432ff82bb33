package kube

import (
	"strings"

	"github.com/podvisor/podvisor/internal/lazyre"
)

var (
	labelRE      = lazyre.New(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	qualifiedRE  = lazyre.New(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValueRE = lazyre.New(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	envNameRE    = lazyre.New(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
)

// isLabel reports whether s is a lowercase RFC 1123 label: at most 63
// lowercase letters, digits and '-', starting and ending with a letter or
// digit.
func isLabel(s string) bool { return len(s) <= 63 && labelRE.MatchString(s) }

// isSubdomain reports whether s is a lowercase RFC 1123 subdomain: labels
// joined by dots, at most 253 characters.
func isSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !labelRE.MatchString(part) {
			return false
		}
	}
	return true
}

// isQualifiedName reports whether s is a Kubernetes qualified name (a
// label or annotation key): an optional DNS subdomain prefix and '/', then
// a name of at most 63 letters, digits, '-', '_' and '.'.
func isQualifiedName(s string) bool {
	prefix, name, hasPrefix := strings.Cut(s, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	} else if !isSubdomain(prefix) {
		return false
	}
	return len(name) <= 63 && qualifiedRE.MatchString(name)
}

// isLabelValue reports whether s is a label value.
func isLabelValue(s string) bool { return len(s) <= 63 && labelValueRE.MatchString(s) }

// isEnvName reports whether s is a name podvisor takes for an environment
// variable (pod.Validate's rule).
func isEnvName(s string) bool { return envNameRE.MatchString(s) }
