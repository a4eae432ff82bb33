package network

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by the methods of a Host after Close.
var ErrClosed = errors.New("network: host closed")

// Host is the network namespace where bridges live ("the host"); the zero
// path means the calling process's own network namespace (/proc/self/ns/net
// at open time).
//
// A Host holds the namespace file open and two netlink sockets made inside
// it, so its methods work from any goroutine without moving the caller's
// thread. For a namespace other than the process's own, it also keeps one
// OS thread inside the namespace for Do. A Host is safe for concurrent use.
type Host struct {
	path string
	fd   int // the namespace file (O_RDONLY), always open until Close

	// life is held for reading by every operation and for writing by
	// Close: after Close the netlink handle would otherwise fall back to
	// sockets in the caller's namespace.
	life   sync.RWMutex
	closed bool

	nlh *netlink.Handle  // NETLINK_ROUTE socket in the namespace
	raw *nl.SocketHandle // another one, for requests the library cannot build

	doMu sync.Mutex    // serializes Do
	work chan func()   // to the thread inside the namespace; nil for the process's own
	done chan struct{} // closed when that thread has ended

	brMu    sync.Mutex
	brIndex map[string]int // bridge name → ifindex, a cache checked by the kernel
}

// OpenHost opens the network namespace at nsPath (a bind-mounted namespace
// file or /proc/PID/ns/net) as the host of bridges, or the process's own
// network namespace when nsPath is "". Close releases it.
func OpenHost(nsPath string) (*Host, error) {
	open := nsPath
	if open == "" {
		open = "/proc/self/ns/net"
	}
	fd, err := openNetNS(open)
	if err != nil {
		return nil, fmt.Errorf("open host network namespace: %w", err)
	}
	h := &Host{path: nsPath, fd: fd, brIndex: map[string]int{}}
	if nsPath == "" {
		// On a thread that joins the namespace file just opened, to be sure
		// that the sockets are made there whatever the caller's thread.
		err = inNetNS(h.fd, h.openSockets)
	} else {
		err = h.startWorker()
		if err == nil {
			err = h.Do(h.openSockets)
		}
	}
	if err != nil {
		h.shut()
		return nil, fmt.Errorf("open host network namespace %s: %w", open, err)
	}
	return h, nil
}

// openSockets makes the netlink sockets in the calling thread's namespace.
func (h *Host) openSockets() error {
	nlh, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		nlh.Close()
		return fmt.Errorf("netlink socket: %w", err)
	}
	_ = s.SetExtAck(true) // kernel error messages in errors; best effort
	h.nlh, h.raw = nlh, &nl.SocketHandle{Socket: s}
	return nil
}

// startWorker starts the thread that lives in the namespace, for Do.
func (h *Host) startWorker() error {
	h.work = make(chan func())
	h.done = make(chan struct{})
	started := make(chan error, 1)
	goLockedOffMain(func() bool {
		defer close(h.done)
		// Locked for good: the thread leaves the process's namespace and
		// is never put back; Go discards it when this goroutine ends.
		if err := unix.Setns(h.fd, unix.CLONE_NEWNET); err != nil {
			started <- os.NewSyscallError("setns", err)
			return false
		}
		started <- nil
		// Locked twice: an f that unlocks the thread once does not give it
		// back to Go's pool.
		runtime.LockOSThread()
		for f := range h.work {
			f()
		}
		return false
	})
	if err := <-started; err != nil {
		h.work = nil
		return err
	}
	return nil
}

// Close releases the namespace file, the netlink sockets and the thread
// inside the namespace. Later calls fail with ErrClosed. Close is
// idempotent.
func (h *Host) Close() error {
	h.life.Lock()
	defer h.life.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.shut()
	return nil
}

func (h *Host) shut() {
	if h.nlh != nil {
		h.nlh.Close()
	}
	if h.raw != nil {
		h.raw.Close()
	}
	h.doMu.Lock()
	if h.work != nil {
		close(h.work)
		<-h.done
		h.work = nil
	}
	h.doMu.Unlock()
	if h.fd >= 0 {
		unix.Close(h.fd)
		h.fd = -1
	}
}

// Path returns the namespace path given to OpenHost ("" for the process's
// own).
func (h *Host) Path() string { return h.path }

// Do runs f on a locked OS thread that is inside the host's network
// namespace (for things that need the calling thread there: sysctl files
// under /proc/sys/net, sockets made with the net package, fork/exec of
// helper programs which then inherit it). Calls are serialized; f must not
// call Do. With the process's own namespace f may run on any thread but
// still serialized.
//
// Goroutines that f starts do not run in the namespace. f must not change
// the thread's network namespace for good (setns away without coming
// back). Balanced runtime.LockOSThread/UnlockOSThread calls in f are
// harmless: the thread stays dedicated to Do.
func (h *Host) Do(f func() error) error {
	h.life.RLock()
	defer h.life.RUnlock()
	if h.closed {
		return ErrClosed
	}
	return h.do(f)
}

// do is Do for callers that hold life already.
func (h *Host) do(f func() error) error {
	h.doMu.Lock()
	defer h.doMu.Unlock()
	if h.work == nil {
		return f()
	}
	errc := make(chan error, 1)
	h.work <- func() {
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("panic in Host.Do: %v", r)
			}
		}()
		errc <- f()
	}
	return <-errc
}

// use takes the Host for one operation: it fails after Close.
func (h *Host) use() (release func(), err error) {
	h.life.RLock()
	if h.closed {
		h.life.RUnlock()
		return nil, ErrClosed
	}
	return h.life.RUnlock, nil
}

// openNetNS opens a network namespace file and checks its type.
func openNetNS(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil || t != unix.CLONE_NEWNET {
		unix.Close(fd)
		if err == nil || err == unix.ENOTTY {
			err = errors.New("not a network namespace")
		}
		return -1, &os.PathError{Op: "open network namespace", Path: path, Err: err}
	}
	return fd, nil
}

// inNetNS runs f on a locked thread that has joined the network namespace
// nsfd, then puts the thread back where it was. A thread that cannot be
// put back is left locked, and Go discards it.
func inNetNS(nsfd int, f func() error) error {
	errc := make(chan error, 1)
	goLockedOffMain(func() bool {
		err, restored := inNetNSOnThread(nsfd, f)
		errc <- err
		return restored
	})
	return <-errc
}

// goLockedOffMain runs f in a new goroutine locked to an OS thread that is
// not the process's main thread, and unlocks the thread after f if f
// returns true (a thread that f could not put back stays locked, and Go
// discards it when the goroutine ends).
//
// The main thread is avoided because its namespaces are those that
// /proc/self shows, which other code reads as "the process's own"; and Go
// does not discard it but wedges it, in whatever namespace it is in.
func goLockedOffMain(f func() (unlock bool)) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			if f() {
				runtime.UnlockOSThread()
			}
			return
		}
		// On the main thread: hold it while another goroutine, which
		// cannot run here meanwhile, locks a thread of its own.
		locked := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(locked)
			if f() {
				runtime.UnlockOSThread()
			}
		}()
		<-locked
		runtime.UnlockOSThread()
	}()
}

func inNetNSOnThread(nsfd int, f func() error) (err error, restored bool) {
	back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/proc/thread-self/ns/net", Err: err}, true
	}
	defer unix.Close(back)
	var cur, want unix.Stat_t
	if unix.Fstat(back, &cur) == nil && unix.Fstat(nsfd, &want) == nil && cur.Dev == want.Dev && cur.Ino == want.Ino {
		return f(), true // there already (and setns would need privilege)
	}
	if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
		return os.NewSyscallError("setns", err), true
	}
	ferr := f()
	if err := unix.Setns(back, unix.CLONE_NEWNET); err != nil {
		return errors.Join(ferr, fmt.Errorf("back to the original network namespace: %w", os.NewSyscallError("setns", err))), false
	}
	return ferr, true
}

// handleIn returns a netlink handle whose socket lives in the network
// namespace nsfd (the socket keeps it; no thread stays there).
func handleIn(nsfd int) (*netlink.Handle, error) {
	var nlh *netlink.Handle
	err := inNetNS(nsfd, func() error {
		var err error
		nlh, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	return nlh, nil
}

// dumpRetries is how many times a listing interrupted by a concurrent
// change (netlink.ErrDumpInterrupted) is tried again.
const dumpRetries = 8

// retryDump runs a netlink listing until it is not interrupted, a few
// times at most.
func retryDump[T any](f func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for i := 0; i < dumpRetries; i++ {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
		if i > 2 {
			time.Sleep(time.Duration(i) * 100 * time.Microsecond)
		}
	}
	return v, err
}

// isNotFound reports whether err says that a link does not exist.
func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV)
}
