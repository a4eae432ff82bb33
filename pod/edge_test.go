package pod_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

func TestLoadEdgeCases(t *testing.T) {
	base := "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  processes: [{name: a, command: [x]}]\n"
	bomb := "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nx0: &a0 [1,1,1,1,1,1,1,1,1,1]\n"
	for i := 1; i < 8; i++ {
		bomb += "x" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat("*a"+string(rune('0'+i-1))+",", 9) + "*a" + string(rune('0'+i-1)) + "]\n"
	}
	cases := []struct{ name, doc, want string }{
		{"second document", base + "---\n" + base, "exactly one YAML document"},
		{"exponent with suffix", strings.Replace(base, "[x]}]", "[x], resources: {limits: {memory: 1e3Mi}}}]", 1), `spec.processes[0].resources.limits.memory: invalid quantity "1e3Mi"`},
		{"huge cpu", strings.Replace(base, "[x]}]", "[x], resources: {limits: {cpu: 1E}}}]", 1), "spec.processes[0].resources.limits.cpu: must be at most"},
		{"alias bomb", bomb, "too complex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pod.Load([]byte(c.doc))
			if err == nil || !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestBadNameReportedOnce(t *testing.T) {
	_, err := pod.Load([]byte("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: Web_Server}\nspec:\n  processes: [{name: a, command: [x]}]\n"))
	if err == nil || err.Error() != `metadata.name: "Web_Server" is not a lowercase RFC 1123 subdomain` {
		t.Fatalf("got %v", err)
	}
	// An explicit bad hostname is its own problem.
	_, err = pod.Load([]byte("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostname: Bad_Host\n  processes: [{name: a, command: [x]}]\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "spec.hostname: ") {
		t.Fatalf("got %v", err)
	}
}

func TestOctalLooking(t *testing.T) {
	p, err := pod.Load([]byte("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  terminationGracePeriodSeconds: 010\n  processes: [{name: a, command: [x]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Integers follow the YAML library, as kubectl's YAML does: 010 is octal.
	if g := *p.Spec.TerminationGracePeriodSeconds; g != 8 {
		t.Errorf("010 decoded as %d", g)
	}
}
