package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
)

func TestHostFacts(t *testing.T) {
	f := HostFacts(filepath.Join(t.TempDir(), "not", "made", "yet"))
	host, _ := os.Hostname()
	if f.NodeName != host || f.CPU != runtime.NumCPU() || f.Memory <= 0 || f.EphemeralStorage <= 0 {
		t.Errorf("facts: %+v", f)
	}
	o := f.Options()
	if o.NodeName != f.NodeName || o.HostIP != f.HostIP || o.NodeCPU != f.CPU || o.NodeMemory != f.Memory || o.NodeEphemeralStorage != f.EphemeralStorage {
		t.Errorf("options: %+v", o)
	}
	if f.HostIP != "" && !strings.Contains(f.HostIP, ".") {
		t.Errorf("host IP %q is not IPv4", f.HostIP)
	}
}

// One podvisor/v1 document is read by pod.Load, errors and all; several
// documents, or Kubernetes ones, by kube.Load.
func TestLoad(t *testing.T) {
	o := Options("/")
	for _, data := range []string{
		"",
		"apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  processes:\n  - {name: a, comand: [x]}\n",
		"{\"apiVersion\": \"podvisor/v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"x\"}, \"spec\": {\"processes\": [{\"name\": \"a\", \"command\": [\"x\"]}]}}",
		"key: [unclosed",
	} {
		_, perr := pod.Load([]byte(data))
		res, err := Load([]byte(data), o)
		if (perr == nil) != (err == nil) || perr != nil && perr.Error() != err.Error() {
			t.Errorf("%q: %v, pod.Load says %v", data, err, perr)
		}
		if err == nil && (len(res.Pods) != 1 || res.Pods[0].Metadata.Name != "x") {
			t.Errorf("%q: %+v", data, res)
		}
	}
	two := "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: a}\nspec: {processes: [{name: p, command: [x]}]}\n---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: nginx, command: [x]}]}\n"
	res, err := Load([]byte(two), o)
	if err != nil || len(res.Pods) != 2 || res.Pods[1].Metadata.Namespace != "default" {
		t.Fatalf("two documents: %v %+v", err, res)
	}
	lines := Lines(res)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `notice: pod "b": images are ignored`) {
		t.Errorf("lines: %q", lines)
	}
	res = &kube.Result{Notices: []string{"n"}, Warnings: []string{"w"}}
	if got := Lines(res); len(got) != 2 || got[0] != "notice: n" || got[1] != "warning: w" {
		t.Errorf("lines: %q", got)
	}
	if _, err := Load([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"), o); !errors.Is(err, pod.ErrInvalid) {
		t.Errorf("no pod: %v", err)
	}
}

// LoadOnHost gives a Kubernetes manifest this host's facts (its downward
// API reads spec.nodeName), and reads a podvisor/v1 file as pod.Load does.
func TestLoadOnHost(t *testing.T) {
	host, _ := os.Hostname()
	kubePod := "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n  - name: c\n    command: [x]\n    env:\n    - name: NODE\n      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}\n"
	res, err := LoadOnHost([]byte(kubePod), t.TempDir(), kube.Options{})
	if err != nil || len(res.Pods) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	found := false
	for _, e := range res.Pods[0].Spec.Processes[0].Env {
		if e.Name == "NODE" {
			found = e.Value == host
			if !found {
				t.Errorf("NODE=%q, want the host name %q", e.Value, host)
			}
		}
	}
	if !found {
		t.Errorf("no NODE in %+v", res.Pods[0].Spec.Processes[0].Env)
	}
	file := "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  processes:\n  - {name: a, command: [x]}\n"
	res, err = LoadOnHost([]byte(file), t.TempDir(), kube.Options{})
	want, perr := pod.Load([]byte(file))
	if err != nil || perr != nil || len(res.Pods) != 1 || res.Pods[0].Metadata.Name != want.Metadata.Name {
		t.Fatalf("podvisor/v1: %v %v %+v", err, perr, res)
	}
}
