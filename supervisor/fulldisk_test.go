package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// smallRoot mounts a tmpfs of size bytes on a temporary directory, for a
// supervisor root that can fill up; it is unmounted at the end.
func smallRoot(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the filesystem is full and returns its path.
// A state save under way may free blocks as it replaces the old state
// file: the file is topped up once the saves have settled.
func fill(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for round := 0; round < 2; round++ {
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Smaller writes take the last partial blocks.
	for _, n := range []int{1024, 256, 64, 16, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return f.Name()
}

// A change of desired state that cannot be saved fails with the reason
// and changes nothing: a stop on a full disk leaves the pod running (and
// recorded as desired running), and works once there is room again.
func TestDesiredStateNotSavedFails(t *testing.T) {
	requireRoot(t)
	root := smallRoot(t, 1<<20)
	logs := &lockedBuffer{}
	sv := newSupervisorWith(t, Options{Root: filepath.Join(root, "pv"), Persist: true, Logger: zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs)).Level(zerolog.InfoLevel)})
	p := createAndStart(t, sv, load(t, podYAML(podName(t), `
  restartPolicy: Always
  processes:
  - name: a
    command: [sleep, "1000"]
`)))
	waitPhase(t, p, 10*time.Second, pod.PhaseRunning)
	filler := fill(t, root)

	err := p.Stop(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("stop on a full disk: %v, want the state save's failure", err)
	}
	for _, class := range []error{pod.ErrInvalid, pod.ErrNotFound, pod.ErrConflict, pod.ErrAlreadyExists} {
		if errors.Is(err, class) {
			t.Errorf("error %v is of class %v, want none (internal)", err, class)
		}
	}
	if ph := p.Status().Phase; ph != pod.PhaseRunning {
		t.Errorf("phase %s after the failed stop, want Running", ph)
	}
	if d := p.Desired(); d != DesiredRunning {
		t.Errorf("desired %s after the failed stop, want running", d)
	}
	var saved savedState
	b, _ := os.ReadFile(filepath.Join(p.dir, stateFile))
	if err := json.Unmarshal(b, &saved); err != nil || saved.Desired != DesiredRunning {
		t.Errorf("state.json says %s (%v), want desired running", b, err)
	}

	// Saves that go on failing are logged once, not each time.
	for range 5 {
		if err := p.saveState(); err == nil {
			t.Fatal("a save on a full disk succeeded")
		}
	}
	if n := strings.Count(logs.String(), `"message":"save state"`); n != 1 {
		t.Errorf("%d failed saves logged, want 1 (rate-limited)", n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatalf("stop with room again: %v", err)
	}
	if !strings.Contains(logs.String(), `"message":"state saved again"`) {
		t.Errorf("no log of the saves working again")
	}
	if d := p.Desired(); d != DesiredStopped {
		t.Errorf("desired %s", d)
	}
	// A start on a full disk fails the same way and starts nothing.
	filler = fill(t, root)
	if err := p.Start(); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("start on a full disk: %v", err)
	}
	if ph := p.Status().Phase; ph != pod.PhaseStopped {
		t.Errorf("phase %s after the failed start, want Stopped", ph)
	}

	// A create on a full disk fails the same way and leaves nothing.
	name := podName(t)
	if _, err := sv.Create(load(t, podYAML(name, "  processes:\n  - {name: a, command: [sleep, \"1\"]}\n"))); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("create on a full disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sv.opts.Root, "pods", name)); !os.IsNotExist(err) {
		t.Errorf("a failed create left its directory: %v", err)
	}
	if _, err := sv.Get(name); !errors.Is(err, pod.ErrNotFound) {
		t.Errorf("a failed create left the pod: %v", err)
	}
	_ = os.Remove(filler)

	// rm -f of a running pod works on a full disk: it needs no space.
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, p, 10*time.Second, pod.PhaseRunning)
	filler = fill(t, root)
	if err := sv.Remove(context.Background(), p.Name(), RemoveOptions{Force: true}); err != nil {
		t.Errorf("rm -f on a full disk: %v", err)
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Errorf("rm -f left the pod's directory: %v", err)
	}
	_ = os.Remove(filler)
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
