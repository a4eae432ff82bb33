package supervisor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/mounts"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/security"
)

func init() {
	// Keep the main goroutine on the main thread, so no other goroutine ever
	// runs there: a goroutine that joined a pod's namespaces and could not
	// leave them ends locked, and Go discards its thread — but it cannot
	// discard the main thread. See the package documentation.
	runtime.LockOSThread()
}

// forkSlots bounds the forks into pods under way at once.
var forkSlots = make(chan struct{}, 2)

// launch is everything needed to fork one process.
type launch struct {
	path  string
	argv  []string
	env   []string
	dir   string
	id    identity
	files []uintptr // stdin, stdout, stderr
	ns    *namespaces.Handle
	cg    *cgroups.Group
	tty   bool // make fd 0 the controlling terminal
	// view is the pinned mount namespace the process is born in ("" for
	// the host's). With a view, path is looked up (in the view) on the
	// forking thread, and dir checked there.
	view string
	// sec is applied to the forking thread last, irreversibly: the thread
	// is then discarded.
	sec security.Plan
	// pidns, when > 0, is the PID namespace the process is born in (a
	// namespace file or pidfd of its PID 1; 0 or -1: the host's);
	// cloneFlags are added to the fork's (CLONE_NEWPID for a pod's PID 1).
	pidns      int
	cloneFlags uintptr
}

// errStart wraps errors that mean the process could not be started (its
// spec is at fault: missing binary, bad directory, bad user), as opposed to
// a failure of the supervisor itself. Both end the process with StartError.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// forkInPod forks and execs l from a locked thread that has joined the pod's
// namespaces and, on cgroup v1, the process's cgroups; on cgroup v2 the
// child is cloned straight into its cgroup. The child is therefore in place
// from its first instruction. It returns the pid and a pidfd.
func forkInPod(l *launch, register func(pid int)) (pid, pidfd int, err error) {
	cgfd, err := l.cg.OpenUnified()
	if err != nil {
		return 0, -1, err
	}
	if cgfd >= 0 {
		defer unix.Close(cgfd)
	}
	pidfd = -1
	attr := &syscall.ProcAttr{
		Dir:   l.dir,
		Env:   l.env,
		Files: l.files,
		Sys: &syscall.SysProcAttr{
			Setsid:  true,
			Setctty: l.tty,
			PidFD:   &pidfd,
		},
	}
	// Always set: a root process gets exactly its groups, not the
	// supervisor's supplementary groups.
	attr.Sys.Credential = &syscall.Credential{Uid: l.id.uid, Gid: l.id.gid, Groups: l.id.groups}
	if attr.Sys.Credential.Groups == nil {
		attr.Sys.Credential.Groups = []uint32{}
	}
	if cgfd >= 0 {
		attr.Sys.UseCgroupFD = true
		attr.Sys.CgroupFD = cgfd
	}
	attr.Sys.Cloneflags = l.cloneFlags
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	// Forks are serialized by the Go runtime (syscall.ForkLock, and a
	// vfork holds its parent until the child execs): a fork that waits
	// for its turn on a thread locked in a pod's namespaces holds that
	// thread idle, and the runtime makes another for everything else.
	// Bounding the forks under way bounds those threads (exec probes of
	// hundreds of processes made hundreds of threads).
	forkSlots <- struct{}{}
	defer func() { <-forkSlots }()
	go func() {
		runtime.LockOSThread()
		pid, err, clean := forkOnThread(l, attr, register)
		if clean {
			runtime.UnlockOSThread()
		}
		done <- result{pid, err}
	}()
	r := <-done
	if r.err != nil {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
		return 0, -1, r.err
	}
	return r.pid, pidfd, nil
}

// forkOnThread runs on a locked thread. clean reports whether the thread is
// back in the supervisor's own namespaces and cgroups.
func forkOnThread(l *launch, attr *syscall.ProcAttr, register func(int)) (pid int, err error, clean bool) {
	leaveNS, err := l.ns.Enter()
	if err != nil {
		return 0, fmt.Errorf("join pod namespaces: %w", err), false
	}
	leaveCG, err := l.cg.EnterThread(unix.Gettid())
	if err != nil {
		if lerr := leaveNS(); lerr != nil {
			return 0, errors.Join(err, lerr), false
		}
		return 0, fmt.Errorf("join cgroup: %w", err), true
	}
	if l.pidns > 0 {
		leavePID, perr := enterPIDNamespace(l.pidns)
		if perr != nil {
			err = fmt.Errorf("join the pod's PID namespace: %w", perr)
			if cerr := leaveCG(); cerr != nil {
				return 0, errors.Join(err, cerr), false
			}
			if nerr := leaveNS(); nerr != nil {
				return 0, errors.Join(err, nerr), false
			}
			return 0, err, true
		}
		// Last out: left after the view, the cgroup and the namespaces.
		prevNS := leaveNS
		leaveNS = func() error { return errors.Join(leavePID(), prevNS()) }
	}
	leaveView := func() error { return nil }
	if l.view != "" {
		if leaveView, err = mounts.Enter(l.view); err != nil {
			err = fmt.Errorf("enter the process's view: %w", err)
			if cerr := leaveCG(); cerr != nil {
				return 0, errors.Join(err, cerr), false
			}
			if nerr := leaveNS(); nerr != nil {
				return 0, errors.Join(err, nerr), false
			}
			return 0, err, true
		}
		if err = l.resolveInView(); err != nil {
			err = &startError{err}
		}
	}
	if err == nil && !l.sec.Empty() {
		// From here the thread cannot be put back (it has dropped its
		// capabilities and may have a seccomp filter): it forks, then Go
		// discards it.
		if err = security.Apply(l.sec); err != nil {
			return 0, fmt.Errorf("apply the security context: %w", err), false
		}
		reapMu.RLock()
		pid, err = syscall.ForkExec(l.path, l.argv, attr)
		if err == nil {
			register(pid)
		}
		reapMu.RUnlock()
		if err != nil {
			return 0, &startError{fmt.Errorf("exec %s: %w", l.path, err)}, false
		}
		return pid, nil, false
	}
	if err == nil {
		reapMu.RLock()
		pid, err = syscall.ForkExec(l.path, l.argv, attr)
		if err == nil {
			register(pid)
		}
		reapMu.RUnlock()
		if err != nil {
			err = &startError{fmt.Errorf("exec %s: %w", l.path, err)}
		}
	}
	clean = true
	if verr := leaveView(); verr != nil {
		err, clean = errors.Join(err, verr), false
	}
	if cerr := leaveCG(); cerr != nil {
		err, clean = errors.Join(err, cerr), false
	}
	if nerr := leaveNS(); nerr != nil {
		err, clean = errors.Join(err, nerr), false
	}
	if err != nil && pid > 0 && !clean {
		// The child runs; only the thread is dirty. Keep the child.
		return pid, nil, false
	}
	return pid, err, clean
}

// resolveInView looks the program up and checks the working directory,
// from the forking thread inside the process's view: a program or
// directory in a volume is seen there only.
func (l *launch) resolveInView() error {
	path, err := lookPath(l.argv[0], l.dir, l.env)
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	l.path = path
	if fi, err := os.Stat(l.dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("workingDir %q: not a directory", l.dir)
	}
	return nil
}

// siginfoChild is the part of siginfo_t that waitid fills for a child.
type siginfoChild struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      int32
	Pid    int32
	UID    uint32
	Status int32
	_      [100]byte
}

// exitStatus is how a process ended, as waitid reported it.
type exitStatus struct {
	code   int // exit status, or 128+signal
	signal int // 0 when it exited by itself
	at     time.Time
}

// reapPidfd reaps the process behind pidfd if it has exited; done is false
// while it runs.
func reapPidfd(pidfd int) (st exitStatus, done bool, err error) {
	var info siginfoChild
	for {
		err = unix.Waitid(unix.P_PIDFD, pidfd, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOHANG, nil)
		if err != unix.EINTR {
			break
		}
	}
	at := time.Now()
	if err == unix.EAGAIN || err == nil && info.Pid == 0 {
		return exitStatus{}, false, nil
	}
	if err != nil {
		return exitStatus{at: at}, true, err
	}
	switch info.Code {
	case 1: // CLD_EXITED
		return exitStatus{code: int(info.Status), at: at}, true, nil
	default: // CLD_KILLED, CLD_DUMPED
		return exitStatus{code: 128 + int(info.Status), signal: int(info.Status), at: at}, true, nil
	}
}

// waitPidfd waits, without holding an OS thread, for the process behind
// pidfd to exit, reaps it and closes the pidfd. The pidfd is set
// non-blocking and handed to Go's poller, which wakes this goroutine when the
// process exits.
func waitPidfd(f *os.File) (exitStatus, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return exitStatus{}, err
	}
	var st exitStatus
	var werr error
	err = rc.Read(func(fd uintptr) bool {
		var done bool
		st, done, werr = reapPidfd(int(fd))
		return done
	})
	if err == nil {
		err = werr
	}
	return st, err
}

// pidfdFile wraps a pidfd for the poller.
func pidfdFile(pidfd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(pidfd, true); err != nil {
		unix.Close(pidfd)
		return nil, err
	}
	return os.NewFile(uintptr(pidfd), name), nil
}

// signalPidfd sends sig through the pidfd; a process that is gone is not an
// error.
func signalPidfd(f *os.File, sig unix.Signal) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.PidfdSendSignal(int(fd), sig, nil, 0)
	}); err != nil {
		return err
	}
	if serr == unix.ESRCH {
		return nil
	}
	return serr
}
