package supervisor

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// reuser is a handler that, like the exit watcher once did, lets its own
// fd go while handling it; the number is taken at once by a new pipe (here
// with dup3, which closes the old file and puts the new one under the same
// number in one step), registered before the loop has unregistered the old
// fd.
type reuser struct {
	t      *testing.T
	l      *ioLoop
	fd     int
	second *secondHandler
}

func (r *reuser) ready() bool {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		r.t.Error(err)
		return true
	}
	if err := unix.Dup3(p[0], r.fd, unix.O_CLOEXEC); err != nil {
		r.t.Error(err)
	}
	unix.Close(p[0])
	_ = unix.SetNonblock(r.fd, true)
	r.second.fd = r.fd
	if err := r.l.add(r.fd, r.second, true); err != nil {
		r.t.Error(err)
	}
	_, _ = unix.Write(p[1], []byte{1})
	unix.Close(p[1])
	return true
}

type secondHandler struct {
	fd   int
	seen chan struct{}
}

func (s *secondHandler) ready() bool {
	var b [16]byte
	n, _ := unix.Read(s.fd, b[:])
	if n > 0 {
		select {
		case s.seen <- struct{}{}:
		default:
		}
		return false
	}
	return n == 0 // EOF: done
}

// A registration made under an fd number that a handler freed while it ran
// must survive the loop's unregistering of the old fd: otherwise the new
// fd (a process's pidfd) is never watched again and its exit is lost.
func TestLoopKeepsRegistrationOfReusedFd(t *testing.T) {
	l, err := theLoop()
	if err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	r := &reuser{t: t, l: l, fd: p[0], second: &secondHandler{seen: make(chan struct{}, 1)}}
	if err := l.add(p[0], r, false); err != nil {
		t.Fatal(err)
	}
	_, _ = unix.Write(p[1], []byte{1})
	unix.Close(p[1])
	select {
	case <-r.second.seen:
	case <-time.After(5 * time.Second):
		t.Fatalf("the handler registered under reused fd %d was never called", p[0])
	}
	// EOF of the second pipe unregisters and closes it.
	<-l.ping()
}

// slowHandler takes its time on every call, as the loop does when it
// serves a flood of output; its pipe always has data.
type slowHandler struct {
	fd   int
	stop chan struct{}
}

func (h *slowHandler) ready() bool {
	select {
	case <-h.stop:
		return true
	default:
	}
	time.Sleep(200 * time.Millisecond)
	return false
}

// The health check does not fail a loop that is busy but turning: here a
// turn of the loop takes 2 s (ten busy fds), longer than the check's
// window, and the loop is still healthy.
func TestHealthyWhileLoopBusy(t *testing.T) {
	l, err := theLoop()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var hs []*slowHandler
	for range 10 {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		_, _ = unix.Write(p[1], []byte{1})
		defer unix.Close(p[1])
		h := &slowHandler{fd: p[0], stop: stop}
		hs = append(hs, h)
		if err := l.add(p[0], h, true); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		close(stop)
		<-l.ping()
		<-l.ping()
	}()
	time.Sleep(100 * time.Millisecond)
	sv := &Supervisor{pods: map[string]*Pod{}}
	if err := sv.Healthy(500 * time.Millisecond); err != nil {
		t.Errorf("busy loop reported unhealthy: %v", err)
	}
}

// blockingHandler stands for a log write stuck on a hung disk: its ready
// does not return until released.
type blockingHandler struct{ release chan struct{} }

func (h blockingHandler) ready() bool { <-h.release; return true }

// Exits, restarts and stops do not wait behind output: with the output
// loop stuck in a write, a crash-looping process goes on being restarted
// and its pod stops.
func TestExitsNotHeldByStalledOutput(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  restartBackoff: {initialDelay: 10ms, maxDelay: 10ms}
  terminationGracePeriodSeconds: 5
  processes:
  - name: crash
    command: [sh, -c, "echo out; exit 1"]
`)))
	waitCond(t, p, 10*time.Second, "a restart", func(s *pod.Status) bool { return s.Processes[0].RestartCount >= 1 })
	ol, err := outputLoop()
	if err != nil {
		t.Fatal(err)
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	if err := ol.add(fds[0], blockingHandler{release}, true); err != nil {
		t.Fatal(err)
	}
	_, _ = unix.Write(fds[1], []byte{1})
	for deadline := time.Now().Add(5 * time.Second); !ol.stalled(10 * time.Millisecond); {
		if time.Now().After(deadline) {
			t.Fatal("the output loop did not take the blocking handler")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n0 := p.Status().Processes[0].RestartCount
	waitCond(t, p, 10*time.Second, "three restarts while the output is stuck", func(s *pod.Status) bool {
		return s.Processes[0].RestartCount >= n0+3
	})
	if !ol.stalled(10 * time.Millisecond) {
		t.Fatal("the output loop was released before the end of the check")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx, nil); err != nil {
		t.Fatalf("stop while the output is stuck: %v", err)
	}
	close(release)
	released = true
}

// An embedder's OutputFunc gets a process's last lines before the exit
// is seen: a pod that has ended has had all of its output delivered, even
// through a slow OutputFunc (one that takes its time, not one that blocks).
func TestOutputBeforeExit(t *testing.T) {
	var mu sync.Mutex
	var got []string
	sv := newSupervisorWith(t, Options{Output: func(l Line) {
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		got = append(got, string(l.Text))
		mu.Unlock()
	}})
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: app
    command: [sh, -c, "echo one; echo two; echo three; echo four"]
`)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 4 {
		t.Errorf("the pod ended with %d of its 4 lines delivered (%v)", n, got)
	}
}
