package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// newPersistSupervisor is newTestSupervisor with persistence.
func newPersistSupervisor(t *testing.T) *Supervisor {
	t.Helper()
	return newSupervisorWith(t, Options{Persist: true, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
}

// starve leaves this process exactly free unused file descriptors (under a
// lowered soft RLIMIT_NOFILE) and returns the function that gives them all
// back.
func starve(t *testing.T, free int) func() {
	t.Helper()
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 512, Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	var fds []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fds = append(fds, fd)
	}
	for range min(free, len(fds)) {
		unix.Close(fds[len(fds)-1])
		fds = fds[:len(fds)-1]
	}
	return func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		unix.Setrlimit(unix.RLIMIT_NOFILE, &orig)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestCreateFailureLeavesNothing makes a create fail at each of its steps
// for want of file descriptors (as when the daemon's connections took them
// all): each failed create leaves no directory, cgroup, namespace, mount
// or open descriptor behind, and the name can be created afterwards.
func TestCreateFailureLeavesNothing(t *testing.T) {
	sv := newPersistSupervisor(t)
	spec := func(name string) string {
		return fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: %s}
spec:
  initProcesses:
  - {name: init, command: ["true"]}
  processes:
  - {name: a, command: [sleep, "1000"]}
  - {name: b, command: [sleep, "1000"]}
`, name)
	}
	// A first pod opens what is opened once (host namespaces, epoll...).
	warm := podName(t)
	if _, err := sv.Create(load(t, spec(warm))); err != nil {
		t.Fatal(err)
	}
	if err := sv.Remove(context.Background(), warm, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	name := podName(t)
	cgPath := "/" + sv.opts.CgroupParent + "/" + name
	failures := 0
	for free := 0; ; free++ {
		if free > 100 {
			t.Fatal("create still fails with 100 free descriptors")
		}
		before := countFDs(t)
		release := starve(t, free)
		p, err := sv.Create(load(t, spec(name)))
		release()
		if err == nil {
			t.Logf("create fails with up to %d free descriptors (%d failures checked)", free-1, failures)
			if st := p.Status(); st.Phase != "Pending" {
				t.Errorf("created pod: %s", st.Phase)
			}
			if err := sv.Remove(context.Background(), name, RemoveOptions{}); err != nil {
				t.Fatal(err)
			}
			break
		}
		failures++
		t.Logf("%d free descriptors: %v", free, err)
		for _, left := range []string{filepath.Join(sv.Root(), "pods", name), filepath.Join(sv.Root(), "ns", name)} {
			if _, serr := os.Lstat(left); serr == nil {
				t.Errorf("%d free fds, create failed (%v): %s left behind", free, err, left)
				os.RemoveAll(left)
			}
		}
		assertNoCgroup(t, sv.h, cgPath)
		if _, gerr := sv.Get(name); gerr == nil {
			t.Errorf("%d free fds: failed pod listed", free)
		}
		// A descriptor the supervisor's own goroutines hold for an instant
		// (the orphan reaper's look at /proc, the safety net's) is not a
		// leak: a leak stays.
		after := countFDs(t)
		for deadline := time.Now().Add(2 * time.Second); after != before && time.Now().Before(deadline); after = countFDs(t) {
			time.Sleep(20 * time.Millisecond)
		}
		if after != before {
			t.Errorf("%d free fds, create failed (%v): %d descriptors open before, %d after", free, err, before, after)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if failures == 0 {
		t.Error("no create failed")
	}
}

// TestCreateFailureKeepsWhatWasThere: a create that fails late (its spec
// cannot be saved) in a pod directory that existed before removes what it
// made in it (logs, lock, cgroups, namespaces) and keeps the rest.
func TestCreateFailureKeepsWhatWasThere(t *testing.T) {
	sv := newPersistSupervisor(t)
	name := podName(t)
	dir := filepath.Join(sv.Root(), "pods", name)
	// A directory where spec.json goes makes the last step fail.
	if err := os.MkdirAll(filepath.Join(dir, specFile), 0o700); err != nil {
		t.Fatal(err)
	}
	// A pod made and removed first: what the libraries open once for good
	// (the cgroup root's descriptor) is not counted as the failure's.
	warm := podName(t)
	if _, err := sv.Create(load(t, fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n", warm))); err != nil {
		t.Fatal(err)
	}
	if err := sv.Remove(t.Context(), warm, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	before := countFDs(t)
	_, err := sv.Create(load(t, fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n", name)))
	if err == nil {
		t.Fatal("create succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != specFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("pod directory holds %v after a failed create (%v)", names, err)
	}
	if _, err := os.Lstat(filepath.Join(sv.Root(), "ns", name)); err == nil {
		t.Error("namespaces left behind")
	}
	assertNoCgroup(t, sv.h, "/"+sv.opts.CgroupParent+"/"+name)
	if after := countFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after", before, after)
	}
	os.RemoveAll(dir)
}
