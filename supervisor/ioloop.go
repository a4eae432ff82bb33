package supervisor

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	// could be registered before the loop has unregistered the old one
	// (the loop checks that the registration is still the handler's before
	// it unregisters, so such a new registration survives, but the closed
	// fd's own events are then lost).
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
	// watchers are the exit watchers whose exit has not been reported: the
	// safety net's list (see sweep). Loop goroutine and add only, under mu.
	watchers map[*exitWatcher]struct{}
	wakefd   int             // an eventfd, for pings
	pongs    []chan struct{} // closed by the loop when it sees a ping
	sweepReq atomic.Bool     // a sweep of the exit watchers is wanted
	// sweepPending: a sweep is scheduled (see requestSweep).
	sweepPending atomic.Bool
	// lostExits counts exits found by the safety net whose watcher had lost
	// its registration: each is a bug, logged when found.
	lostExits atomic.Int64
	// progress counts the handler calls: a loop busy with output makes
	// progress even when a ping waits behind the data (see Healthy).
	progress atomic.Uint64
	// busySince is when the handler running now began (UnixNano), 0
	// between handlers.
	busySince atomic.Int64
	// paused are fds taken out of epoll until a time (see pause); the loop
	// goroutine's alone.
	paused []pausedFd
}

// pausedFd is an fd the loop does not watch until a time.
type pausedFd struct {
	fd    int32
	h     ioHandler
	until time.Time
}

// Two loops: one serves the pidfds (exits and the safety net), the other
// the output pipes (reading, logging, rotating, handing lines out). Output
// is the loop that can stall — a slow or hung disk under the log files —
// and exits must not wait behind it: a restart or a stop never waits for
// a log write.
var (
	exitLoopOnce, outLoopOnce sync.Once
	exitLoop, outLoop         *ioLoop
	exitLoopErr, outLoopErr   error
)

// theLoop starts the exit loop once: pidfds and their safety net.
func theLoop() (*ioLoop, error) {
	exitLoopOnce.Do(func() { exitLoop, exitLoopErr = newLoop() })
	return exitLoop, exitLoopErr
}

// outputLoop starts the output loop once: the processes' stdout and
// stderr.
func outputLoop() (*ioLoop, error) {
	outLoopOnce.Do(func() { outLoop, outLoopErr = newLoop() })
	return outLoop, outLoopErr
}

func newLoop() (*ioLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &ioLoop{epfd: epfd, handlers: map[int32]ioEntry{}, watchers: map[*exitWatcher]struct{}{}}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := l.add(l.wakefd, pingHandler{l}, false); err != nil {
		unix.Close(l.wakefd)
		unix.Close(epfd)
		return nil, err
	}
	go l.run()
	return l, nil
}

// stalled reports whether the loop has been in one handler for longer
// than d (a write to a hung disk).
func (l *ioLoop) stalled(d time.Duration) bool {
	since := l.busySince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) > d
}

// add registers fd, which must be non-blocking, level-triggered. The map
// entry and the epoll registration change together under mu, so that the
// loop's unregistering of an old fd of the same number cannot undo them.
func (l *ioLoop) add(fd int, h ioHandler, closeWhenDone bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	l.handlers[int32(fd)] = ioEntry{h: h, closeWhenDone: closeWhenDone}
	if w, ok := h.(*exitWatcher); ok {
		l.watchers[w] = struct{}{}
	}
	return nil
}

// remove unregisters fd if h is still the handler registered under it, and
// closes it if the registration said so. It reports whether it did.
func (l *ioLoop) remove(fd int32, h ioHandler) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := h.(*exitWatcher); ok {
		delete(l.watchers, w)
	}
	e, ok := l.handlers[fd]
	if !ok || e.h != h {
		return false
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	delete(l.handlers, fd)
	if e.closeWhenDone {
		unix.Close(int(fd))
	}
	return true
}

// pause stops watching fd, registered for h, until the time given; the
// loop watches it again then (if h is still its handler). Called on the
// loop goroutine, from h's ready. A pipe not read fills up, and its writer
// waits: this is how a stream is held to its budget without losing output.
func (l *ioLoop) pause(fd int, h ioHandler, until time.Time) {
	l.mu.Lock()
	e, ok := l.handlers[int32(fd)]
	if ok && e.h == h {
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	l.mu.Unlock()
	if ok && e.h == h {
		l.paused = append(l.paused, pausedFd{fd: int32(fd), h: h, until: until})
	}
}

// resume watches again the paused fds whose time has come, and returns
// the epoll_wait timeout until the next one (-1: none).
func (l *ioLoop) resume(now time.Time) int {
	timeout := -1
	kept := l.paused[:0]
	for _, p := range l.paused {
		if now.Before(p.until) {
			kept = append(kept, p)
			ms := int((p.until.Sub(now) + time.Millisecond - 1) / time.Millisecond)
			if timeout < 0 || ms < timeout {
				timeout = ms
			}
			continue
		}
		l.mu.Lock()
		var err error
		if e, ok := l.handlers[p.fd]; ok && e.h == p.h {
			ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: p.fd}
			if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, int(p.fd), &ev); err == unix.EEXIST {
				err = nil
			}
		}
		l.mu.Unlock()
		if err != nil {
			// Not watched again (ENOMEM): try again shortly rather than
			// lose the stream.
			p.until = now.Add(streamWindow)
			kept = append(kept, p)
			timeout = 1
		}
	}
	clear(l.paused[len(kept):])
	l.paused = kept
	return timeout
}

func (l *ioLoop) run() {
	events := make([]unix.EpollEvent, 64)
	timeout := -1
	for {
		n, err := unix.EpollWait(l.epfd, events, timeout)
		if len(l.paused) > 0 {
			timeout = l.resume(time.Now())
		}
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:n] {
			l.mu.Lock()
			e, ok := l.handlers[ev.Fd]
			l.mu.Unlock()
			l.progress.Add(1)
			if !ok {
				continue
			}
			l.busySince.Store(time.Now().UnixNano())
			done := e.h.ready()
			l.busySince.Store(0)
			if !done {
				continue
			}
			l.remove(ev.Fd, e.h)
			if f, ok := e.h.(finisher); ok {
				f.finish()
			}
		}
		if l.sweepReq.Swap(false) {
			l.sweep()
		}
		if len(l.paused) > 0 {
			timeout = l.resume(time.Now())
		}
	}
}

// sweepDelay is how long after a SIGCHLD the safety net looks at the
// processes still believed running: long enough that the pidfd path has
// reported every exit that it saw.
const sweepDelay = time.Second

// requestSweep asks for a sweep of the exit watchers sweepDelay from now,
// unless one is already scheduled: a burst of SIGCHLDs costs one sweep.
func (l *ioLoop) requestSweep() {
	if l.sweepPending.Swap(true) {
		return
	}
	time.AfterFunc(sweepDelay, func() {
		l.sweepPending.Store(false)
		l.sweepReq.Store(true)
		one := [8]byte{1}
		_, _ = unix.Write(l.wakefd, one[:])
	})
}

// sweep is the safety net under the pidfd path. It runs on the loop
// goroutine and asks every process whose exit has not been reported
// whether it has exited (waitid P_PIDFD, WNOHANG|WNOWAIT). An exited
// process whose pidfd is still registered is left to the pidfd path once:
// its event may be in the loop's current batch. If a later sweep (asked
// for at once) still finds it unreported, or if its registration is gone,
// its exit was lost: the sweep reaps and reports it, counts it in
// lostExits and logs it.
func (l *ioLoop) sweep() {
	l.mu.Lock()
	ws := make([]*exitWatcher, 0, len(l.watchers))
	for w := range l.watchers {
		ws = append(ws, w)
	}
	l.mu.Unlock()
	again := false
	for _, w := range ws {
		l.mu.Lock()
		e, registered := l.handlers[int32(w.pidfd)]
		registered = registered && e.h == w
		l.mu.Unlock()
		if !registered && !isPidfdOf(w.pidfd, w.pid) {
			// The fd number is not this process's pidfd any more: it must
			// not be read, reaped through or closed. Forget the watcher.
			l.mu.Lock()
			delete(l.watchers, w)
			l.mu.Unlock()
			if w.lost != nil {
				w.lost()
			}
			continue
		}
		if !exited(w.pidfd) {
			w.suspect = false
			continue
		}
		if registered && !w.suspect {
			w.suspect = true
			again = true
			continue
		}
		if !w.ready() {
			continue
		}
		l.lostExits.Add(1)
		if w.lost != nil {
			w.lost()
		}
		if !l.remove(int32(w.pidfd), w) && !registered {
			unix.Close(w.pidfd)
		}
	}
	if again {
		l.requestSweep()
	}
}

// abandon gives up the exit watch of the process behind pidfd (a stop that
// took it for dead): if it has exited it is reaped, and the watch is
// unregistered and its pidfd closed. It reports whether the process was
// reaped. Safe from any goroutine.
func (l *ioLoop) abandon(pidfd int) (reaped bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.handlers[int32(pidfd)]
	w, isW := e.h.(*exitWatcher)
	if !ok || !isW {
		return false
	}
	_, reaped, _ = reapPidfd(pidfd)
	w.done = true
	delete(l.watchers, w)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, pidfd, nil)
	delete(l.handlers, int32(pidfd))
	unix.Close(pidfd)
	return reaped
}

// exited reports whether the process behind pidfd has exited (and is not
// reaped yet), without reaping it.
func exited(pidfd int) bool {
	var info siginfoChild
	err := unix.Waitid(unix.P_PIDFD, pidfd, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && info.Pid != 0
}

// isPidfdOf reports whether fd is a pidfd of process pid, from
// /proc/self/fdinfo ("Pid:" line; a pidfd of an exited, unreaped child
// still names it).
func isPidfdOf(fd, pid int) bool {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			return strings.TrimSpace(v) == strconv.Itoa(pid)
		}
	}
	return false
}

// exitWatcher reaps the process behind a pidfd once it has exited. The
// pidfd is the loop's to close (registered with closeWhenDone).
type exitWatcher struct {
	pidfd  int
	pid    int
	onExit func(exitStatus, error)
	lost   func() // called when the safety net found the exit
	done   bool
	// suspect: a sweep found the process exited but not yet reported.
	suspect bool
}

func (w *exitWatcher) ready() bool {
	if w.done {
		return true
	}
	st, done, err := reapPidfd(w.pidfd)
	if !done {
		return false
	}
	w.done = true
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
