package pod_test

import (
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// The cases of Kubernetes' expansion tests (third_party/forked/golang/expansion).
func TestExpand(t *testing.T) {
	vars := map[string]string{
		"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)",
		"VAR_EMPTY": "", "BLOCK": "$$(VAR_A)",
	}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"$(VAR_A)":                    "A",
		"___$(VAR_B)___":              "___B___",
		"$(VAR_A)-$(VAR_A)":           "A-A",
		"$(VAR_A)-1":                  "A-1",
		"$(VAR_A)_$(VAR_B)_$(VAR_C)":  "A_B_C",
		"f000-$$VAR_A":                "f000-$VAR_A",
		"foo\\$(VAR_C)bar":            "foo\\Cbar",
		"foo\\\\$(VAR_C)bar":          "foo\\\\Cbar",
		"foo\\\\\\\\$(VAR_A)bar":      "foo\\\\\\\\Abar",
		"$(VAR_A$(VAR_B))":            "$(VAR_A$(VAR_B))",
		"$(VAR_A$(VAR_B)":             "$(VAR_A$(VAR_B)",
		"$(VAR_REF)":                  "$(VAR_A)",
		"$(VAR_EMPTY)":                "",
		"$(UNKNOWN)":                  "$(UNKNOWN)",
		"$$(VAR_A)":                   "$(VAR_A)",
		"$$$(VAR_A)":                  "$A",
		"$$$$(VAR_A)":                 "$$(VAR_A)",
		"$(VAR_A)$$(VAR_B)":           "A$(VAR_B)",
		"$(":                          "$(",
		"$()":                         "$()",
		"$":                           "$",
		"$x":                          "$x",
		"$(VAR_A":                     "$(VAR_A",
		"inv$$alid":                   "inv$alid",
		"$$":                          "$",
		"$(VAR_A) $(VAR_B) $(VAR_C)$": "A B C$",
		"no references":               "no references",
	} {
		if got := pod.Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}
