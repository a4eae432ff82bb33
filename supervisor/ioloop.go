package supervisor

import (
	"sync"

	"golang.org/x/sys/unix"
)

// The I/O loop: one goroutine, blocked in epoll_wait, serves every
// supervised process's output pipes and pidfd. A process costs a few file
// descriptors and a small struct instead of three goroutines and their
// stacks: this is what keeps the supervisor at a few kilobytes per process.
// Handlers run on the loop goroutine, one at a time, and must not block.

type ioHandler interface {
	// ready is called when fd is readable or hung up. It returns true when
	// the fd is done: the loop then unregisters it (and closes it if
	// closeWhenDone), and then calls finish if the handler has one. A
	// handler must not close its fd in ready: a new fd of the same number
	// could be registered before the loop has unregistered the old one.
	ready() (done bool)
}

// finisher is a handler with work to do once its fd is unregistered.
type finisher interface{ finish() }

type ioEntry struct {
	h             ioHandler
	closeWhenDone bool
}

type ioLoop struct {
	epfd     int
	mu       sync.Mutex
	handlers map[int32]ioEntry
	wakefd   int             // an eventfd, for pings
	pongs    []chan struct{} // closed by the loop when it sees a ping
}

var (
	loopOnce sync.Once
	loop     *ioLoop
	loopErr  error
)

// theLoop starts the I/O loop once.
func theLoop() (*ioLoop, error) {
	loopOnce.Do(func() {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			loopErr = err
			return
		}
		loop = &ioLoop{epfd: epfd, handlers: map[int32]ioEntry{}}
		if loop.wakefd, loopErr = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); loopErr != nil {
			return
		}
		if loopErr = loop.add(loop.wakefd, pingHandler{loop}, false); loopErr != nil {
			return
		}
		go loop.run()
	})
	return loop, loopErr
}

// add registers fd, which must be non-blocking, level-triggered.
func (l *ioLoop) add(fd int, h ioHandler, closeWhenDone bool) error {
	l.mu.Lock()
	l.handlers[int32(fd)] = ioEntry{h: h, closeWhenDone: closeWhenDone}
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.mu.Lock()
		delete(l.handlers, int32(fd))
		l.mu.Unlock()
		return err
	}
	return nil
}

func (l *ioLoop) run() {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			l.mu.Lock()
			e, ok := l.handlers[ev.Fd]
			l.mu.Unlock()
			if !ok || !e.h.ready() {
				continue
			}
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, int(ev.Fd), nil)
			l.mu.Lock()
			delete(l.handlers, ev.Fd)
			l.mu.Unlock()
			if e.closeWhenDone {
				unix.Close(int(ev.Fd))
			}
			if f, ok := e.h.(finisher); ok {
				f.finish()
			}
		}
	}
}

// exitWatcher reaps the process behind a pidfd once it has exited.
type exitWatcher struct {
	pidfd  int
	onExit func(exitStatus, error)
}

func (w *exitWatcher) ready() bool {
	st, done, err := reapPidfd(w.pidfd)
	if !done {
		return false
	}
	w.onExit(st, err)
	return true
}

type pingHandler struct{ l *ioLoop }

func (h pingHandler) ready() bool {
	var b [8]byte
	_, _ = unix.Read(h.l.wakefd, b[:])
	h.l.mu.Lock()
	pongs := h.l.pongs
	h.l.pongs = nil
	h.l.mu.Unlock()
	for _, p := range pongs {
		close(p)
	}
	return false
}

// ping returns a channel closed once the loop has gone round.
func (l *ioLoop) ping() <-chan struct{} {
	ch := make(chan struct{})
	l.mu.Lock()
	l.pongs = append(l.pongs, ch)
	l.mu.Unlock()
	one := [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
	return ch
}
