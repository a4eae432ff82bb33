package supervisor

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// RefreshFiles: changed files replaced, files gone removed, the running
// process sees the new ones through its view; nothing changed, nothing
// written; a volume the pod lacks, or another pod's spec, refused.
func TestRefreshFiles(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	doc := func(items string) string {
		return podYAML(name, `
  terminationGracePeriodSeconds: 1
  volumes:
  - {name: cfg, files: {items: [`+items+`]}}
  - {name: scratch, emptyDir: {}}
  processes:
  - name: app
    command: [sleep, "1000"]
    volumeMounts: [{name: cfg, mountPath: /etc/podvisor-refresh-test}]
`)
	}
	p := createAndStart(t, sv, load(t, doc(`{path: a, data: one}, {path: sub/b, data: two}`)))
	st := waitCond(t, p, 10*time.Second, "app running", func(s *pod.Status) bool { return s.Processes[0].State == pod.StateRunning })
	pid := st.Processes[0].PID
	read := func(f string) (string, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/podvisor-refresh-test/%s", pid, f))
		return string(b), err
	}
	if s, err := read("a"); err != nil || s != "one" {
		t.Fatalf("before: a = %q %v", s, err)
	}
	changed, err := p.RefreshFiles(load(t, doc(`{path: a, data: three}, {path: c, data: four}`)))
	if err != nil || !slices.Equal(changed, []string{"cfg"}) {
		t.Fatalf("refresh: %v %v", changed, err)
	}
	if s, err := read("a"); err != nil || s != "three" {
		t.Errorf("after: a = %q %v", s, err)
	}
	if s, err := read("c"); err != nil || s != "four" {
		t.Errorf("after: c = %q %v", s, err)
	}
	if _, err := read("sub/b"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after: sub/b still there (%v)", err)
	}
	if changed, err := p.RefreshFiles(load(t, doc(`{path: a, data: three}, {path: c, data: four}`))); err != nil || len(changed) != 0 {
		t.Errorf("the same again: %v %v, want nothing changed", changed, err)
	}
	other := load(t, podYAML(name, `
  volumes: [{name: nope, files: {items: [{path: x, data: y}]}}]
  processes: [{name: app, command: [sleep, "1"]}]
`))
	if _, err := p.RefreshFiles(other); !errors.Is(err, pod.ErrInvalid) {
		t.Errorf("a volume the pod lacks: %v, want invalid", err)
	}
	wrong := load(t, podYAML(name+"x", `
  volumes: [{name: cfg, files: {items: [{path: a, data: z}]}}]
  processes: [{name: app, command: [sleep, "1"]}]
`))
	if _, err := p.RefreshFiles(wrong); !errors.Is(err, pod.ErrInvalid) {
		t.Errorf("another pod's spec: %v, want invalid", err)
	}
	if s, _ := read("a"); s != "three" {
		t.Errorf("a refused refresh changed a: %q", s)
	}
}
