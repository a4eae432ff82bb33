package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// loseWatch unregisters the exit watch of pod p's process name from the I/O
// loop, as the lost-exit bug once did; keepNet keeps it on the safety net's
// list. It returns the process's pidfd, which the caller reaps and closes.
func loseWatch(t *testing.T, p *Pod, name string, keepNet bool) int {
	t.Helper()
	fd := -1
	p.do(func() {
		for _, pr := range p.procs {
			if pr.spec.Name == name && pr.run != nil {
				pr.run.mu.Lock()
				fd = pr.run.pidfd
				pr.run.mu.Unlock()
			}
		}
	})
	if fd < 0 {
		t.Fatalf("%s: no running process", name)
	}
	l, _ := theLoop()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.handlers[int32(fd)]
	w, isW := e.h.(*exitWatcher)
	if !ok || !isW {
		t.Fatalf("pidfd %d: no exit watcher registered", fd)
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	delete(l.handlers, int32(fd))
	if !keepNet {
		delete(l.watchers, w)
	}
	return fd
}

// The safety net finds an exit whose pidfd watch was lost: the process is
// reaped and restarted, and the loss is counted.
func TestSafetyNetFindsLostExit(t *testing.T) {
	sv := newTestSupervisor(t)
	l, _ := theLoop()
	lost := l.lostExits.Load()
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  processes:
  - name: a
    command: [sleep, "1000"]
`)))
	st := waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool { return s.Processes[0].State == pod.StateRunning })
	pid := st.Processes[0].PID
	loseWatch(t, p, "a", true)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = waitCond(t, p, 15*time.Second, "restarted after the lost exit", func(s *pod.Status) bool {
		return s.Processes[0].RestartCount == 1 && s.Processes[0].State == pod.StateRunning
	})
	if got := l.lostExits.Load() - lost; got != 1 {
		t.Errorf("lostExits grew by %d, want 1", got)
	}
	if !gone(pid) {
		t.Errorf("pid %d not reaped", pid)
	}
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// A stop cannot wait forever for an exit that is never reported: after the
// grace period and the kill, the process is taken for dead and the pod is
// Stopped.
func TestStopEndsWithoutExitReport(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  processes:
  - name: a
    command: [sleep, "1000"]
`)))
	st := waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool { return s.Processes[0].State == pod.StateRunning })
	pid := st.Processes[0].PID
	fd := loseWatch(t, p, "a", false)
	defer func() {
		var info siginfoChild
		_ = unix.Waitid(unix.P_PIDFD, fd, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED, nil)
		unix.Close(fd)
		disown(pid)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	grace := time.Second
	if err := p.Stop(ctx, &grace); err != nil {
		t.Fatalf("stop: %v", err)
	}
	st = p.Status()
	if st.Phase != pod.PhaseStopped {
		t.Fatalf("phase %s, want Stopped", st.Phase)
	}
	if ps := st.Processes[0]; ps.State != pod.StateTerminated || ps.PID != 0 {
		t.Errorf("process state %s pid %d, want Terminated and no pid", ps.State, ps.PID)
	}
}

// Stop returns once the pod's cgroup is empty, not while its tasks are
// still exiting: here the process's two background children are held in a
// v1 freezer cgroup of the test's own, so that the kill takes effect only
// when they are thawed, 5 s later (past the 2 s an earlier version waited
// before calling the pod Stopped), while the process itself exits at once.
func TestStopWaitsForCgroupEmpty(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  processes:
  - name: a
    command: [sh, -c, "sleep 1000 & sleep 1000 & echo forked; exec sleep 1000"]
`)))
	st := waitCond(t, p, 10*time.Second, "running", func(s *pod.Status) bool { return s.Processes[0].State == pod.StateRunning })
	waitLog(t, sv, name, "a", "forked", 10*time.Second)
	dir, ok := p.procs[0].cg.V1Dirs()["freezer"]
	if !ok {
		t.Skip("needs the cgroup v1 freezer (holds the tasks): not on a pure cgroup v2 host")
	}
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", st.Processes[0].PID, st.Processes[0].PID))
	if err != nil || len(strings.Fields(string(kids))) != 2 {
		t.Fatalf("children of the process: %q, %v", kids, err)
	}
	ice := filepath.Join(dir, "ice")
	if err := os.Mkdir(ice, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, pid := range strings.Fields(string(kids)) {
		if err := os.WriteFile(filepath.Join(ice, "cgroup.procs"), []byte(pid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(ice, "freezer.state"), []byte("FROZEN"), 0o644); err != nil {
		t.Fatal(err)
	}
	thawed := make(chan time.Time, 1)
	go func() {
		time.Sleep(5 * time.Second)
		_ = os.WriteFile(filepath.Join(ice, "freezer.state"), []byte("THAWED"), 0o644)
		thawed <- time.Now()
	}()
	defer func() {
		<-thawed
		for range 100 {
			if err := os.Remove(ice); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("cannot remove the test's freezer cgroup %s", ice)
	}()
	grace := time.Duration(0)
	if err := p.Stop(context.Background(), &grace); err != nil {
		t.Fatal(err)
	}
	if !p.cg.Populated() {
		select {
		case <-thawed:
			thawed <- time.Now() // for the deferred cleanup
		default:
			t.Errorf("the pod's cgroup emptied before its tasks were thawed")
		}
	} else {
		t.Errorf("Stop returned with tasks left in the pod's cgroup")
	}
	if ph := p.Status().Phase; ph != pod.PhaseStopped {
		t.Errorf("phase %s", ph)
	}
}
