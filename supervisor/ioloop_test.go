package supervisor

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// reuser is a handler that, like the exit watcher once did, closes its own
// fd while handling it; a pipe opened right after gets the same number and
// is registered before the loop has unregistered the old fd.
type reuser struct {
	t      *testing.T
	l      *ioLoop
	fd     int
	newFd  chan int
	second *secondHandler
}

func (r *reuser) ready() bool {
	var b [1]byte
	_, _ = unix.Read(r.fd, b[:])
	unix.Close(r.fd)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		r.t.Error(err)
		r.newFd <- -1
		return true
	}
	r.second.fd = p[0]
	if err := r.l.add(p[0], r.second, true); err != nil {
		r.t.Error(err)
	}
	r.newFd <- p[0]
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
	for i := range 20 {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
			t.Fatal(err)
		}
		r := &reuser{t: t, l: l, fd: p[0], newFd: make(chan int, 1), second: &secondHandler{seen: make(chan struct{}, 1)}}
		if err := l.add(p[0], r, false); err != nil {
			t.Fatal(err)
		}
		_, _ = unix.Write(p[1], []byte{1})
		unix.Close(p[1])
		nfd := <-r.newFd
		if nfd != p[0] {
			continue // another fd took the number: not this case
		}
		select {
		case <-r.second.seen:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the handler registered under reused fd %d was never called", i, nfd)
		}
		// EOF of the second pipe unregisters and closes it.
		<-l.ping()
		return
	}
	t.Skip("the freed fd number was never reused")
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
