package kube

import (
	"fmt"
	"strings"
)

// podvisorHints answer a podvisor/v1 name used in a Kubernetes manifest,
// by a field that marks the struct it is found in.
var podvisorHints = map[string]map[string]string{
	"containers": { // PodSpec
		"processes":      `: podvisor/v1's "processes" are "containers" in a Kubernetes manifest`,
		"initProcesses":  `: podvisor/v1's "initProcesses" are "initContainers" in a Kubernetes manifest`,
		"network":        `: a Kubernetes manifest says "hostNetwork: true" for podvisor/v1's "network: host"`,
		"restartBackoff": `: "restartBackoff" exists in podvisor/v1 pod files only`,
		"privateTmp":     `: "privateTmp" exists in podvisor/v1 pod files only`,
	},
	"livenessProbe": { // Container
		"dependsOn":  `: "dependsOn" exists in podvisor/v1 pod files only`,
		"user":       `: a Kubernetes manifest says securityContext.runAsUser`,
		"stopSignal": `: a Kubernetes manifest says lifecycle.stopSignal`,
	},
}

// suggest returns `, did you mean "x"?` for an unknown key close to one
// of the struct's field names (the same letters in another case, or at
// most two edits away, one for a short name), or a hint for a podvisor/v1
// name, or "".
func suggest(key string, si *structInfo) string {
	for marker, hints := range podvisorHints {
		if hint, ok := hints[key]; ok && si.byName[marker] != nil {
			return hint
		}
	}
	best, bestD := "", 1<<30
	for _, f := range si.list {
		if strings.EqualFold(f.name, key) {
			return fmt.Sprintf(", did you mean %q?", f.name)
		}
		d := editDistance(strings.ToLower(key), strings.ToLower(f.name))
		if d < bestD {
			best, bestD = f.name, d
		}
	}
	limit := 2
	if len(key) <= 4 {
		limit = 1
	}
	if best != "" && bestD <= limit {
		return fmt.Sprintf(", did you mean %q?", best)
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, with a swap of two
// neighbouring letters counted as one edit.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
