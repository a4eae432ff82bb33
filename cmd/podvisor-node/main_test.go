package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseTaints(t *testing.T) {
	if got, err := parseTaints(nil, false); err != nil || got != nil {
		t.Errorf("none given: %v %v, want nil (the default taint)", got, err)
	}
	if got, err := parseTaints([]string{""}, true); err != nil || got == nil || len(got) != 0 {
		t.Errorf(`--taint "": %v %v, want no taint`, got, err)
	}
	got, err := parseTaints([]string{"a=b:NoSchedule", "c:NoExecute"}, true)
	if err != nil || len(got) != 2 || got[0] != (corev1.Taint{Key: "a", Value: "b", Effect: corev1.TaintEffectNoSchedule}) || got[1].Key != "c" || got[1].Effect != corev1.TaintEffectNoExecute {
		t.Errorf("taints %v %v", got, err)
	}
	for _, bad := range []string{"a=b", "a=b:Sometimes", "=b:NoSchedule"} {
		if _, err := parseTaints([]string{bad}, true); err == nil || !strings.Contains(err.Error(), "--taint") {
			t.Errorf("%q: %v, want an error naming --taint", bad, err)
		}
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels("a=1,b=,c=x=y")
	if err != nil || got["a"] != "1" || got["b"] != "" || got["c"] != "x=y" || len(got) != 3 {
		t.Errorf("labels %v %v", got, err)
	}
	if _, err := parseLabels("novalue"); err == nil {
		t.Error("a label without = accepted")
	}
}

// The settings file: its keys set the flags the command line did not; an
// unknown key is an error; a missing file named by --config is one too.
func TestSettingsFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "node.yaml")
	if err := os.WriteFile(cfg, []byte("kubeconfig: /nonexistent/kubeconfig\nnode-name: from-file\ntaint: [\"x=y:NoSchedule\"]\nsocket: /nonexistent/podvisor.sock\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"podvisor-node", "--config", cfg, "--node-name", "from-flag", "--log-level", "error"}, &out, &errb)
	// It gets as far as the daemon, which is not there.
	if code != 1 || !strings.Contains(errb.String(), "/nonexistent/podvisor.sock") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	if err := os.WriteFile(cfg, []byte("kubeconfig: k\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"podvisor-node", "--config", cfg}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `unknown key "bogus"`) {
		t.Errorf("unknown key: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"podvisor-node", "--config", filepath.Join(dir, "missing.yaml")}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "--config") {
		t.Errorf("missing --config file: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"podvisor-node", "--config", filepath.Join(dir, "missing.yaml"), "extra"}, &out, &errb); code != 1 {
		t.Errorf("an argument: exit %d", code)
	}
}
