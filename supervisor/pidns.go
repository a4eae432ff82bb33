package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A pod with shareProcessNamespace has a PID namespace of its own. Its PID 1
// is this program run again in the pause role (pauseEnv set): it mounts a
// /proc of the new namespace in each of the pod's views, says "ready", then
// reaps whatever the namespace orphans until it is killed. It is started
// at the start of each run of the pod (ActPrepare) in the pod's exec
// cgroup, so the pod's end (which kills the pod's cgroup) ends it too, and
// every process of the run is born in its namespace.

// pauseEnv, set to "1", makes a podvisor program the PID 1 of a pod.
const pauseEnv = "_PODVISOR_PAUSE"

func init() {
	if os.Getenv(pauseEnv) == "1" {
		os.Exit(pauseMain(os.Args[1:]))
	}
}

// pauseMain is the pause role: pins are the views to give a /proc.
func pauseMain(pins []string) int {
	runtime.LockOSThread()
	fail := func(err error) int {
		fmt.Fprintln(os.Stdout, "error:", err)
		return 1
	}
	host, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fail(err)
	}
	for _, pin := range pins {
		if err := mountProcIn(pin, host); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintln(os.Stdout, "ready")
	os.Stdout.Close()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			return 0
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	return 0
}

// mountProcIn replaces the /proc of the view pinned at pin with one of the
// calling process's PID namespace, then goes back to the mount namespace
// host.
func mountProcIn(pin string, host int) error {
	fd, err := unix.Open(pin, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("enter view %s: %w", pin, err)
	}
	// The view's copy of the host's /proc goes (with its submounts).
	_ = unix.Unmount("/proc", unix.MNT_DETACH)
	err = unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	if serr := unix.Setns(host, unix.CLONE_NEWNS); serr != nil {
		return errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("mount /proc in view %s: %w", pin, err)
	}
	return nil
}

// pidNamespace is a pod's PID namespace while its PID 1 runs.
type pidNamespace struct {
	pid  int
	path string

	mu    sync.Mutex
	pidfd int // the PID 1's, to join its namespace and to kill it; -1 once closed
}

func (n *pidNamespace) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pidfd >= 0 {
		_ = unix.PidfdSendSignal(n.pidfd, unix.SIGKILL, nil, 0)
		unix.Close(n.pidfd)
		n.pidfd = -1
	}
}

// dup is a descriptor of the PID 1 of the caller's own, to join its
// namespace even if the run ends (and closes n) meanwhile.
func (n *pidNamespace) dup() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pidfd < 0 {
		return -1, errors.New("the pod's PID namespace has ended")
	}
	return unix.FcntlInt(uintptr(n.pidfd), unix.F_DUPFD_CLOEXEC, 0)
}

// pauseTimeout bounds the wait for a pod's PID 1 to be ready.
const pauseTimeout = 5 * time.Second

// startPause starts the PID 1 of the pod's PID namespace for a new run
// (the last run's died with its cgroup) and waits until it has given the
// views their /proc.
func (p *Pod) startPause() (*pidNamespace, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var out [2]int
	if err := unix.Pipe2(out[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	devnull, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(out[0])
		unix.Close(out[1])
		return nil, err
	}
	argv := []string{"podvisor-pause"}
	if p.files != nil {
		argv = append(argv, p.files.views...)
	}
	l := &launch{
		path: exe, argv: argv, env: []string{pauseEnv + "=1", "PATH=" + "/usr/sbin:/usr/bin:/sbin:/bin"}, dir: "/",
		files: []uintptr{uintptr(devnull), uintptr(out[1]), uintptr(out[1])},
		ns:    p.nsh, cg: p.execCg, pidns: -1, cloneFlags: unix.CLONE_NEWPID,
	}
	pid, pidfd, err := forkInPod(l, func(int) {})
	unix.Close(out[1])
	unix.Close(devnull)
	if err != nil {
		unix.Close(out[0])
		return nil, fmt.Errorf("start the pod's PID 1: %w", err)
	}
	n := &pidNamespace{pid: pid, pidfd: pidfd, path: fmt.Sprintf("/proc/%d/ns/pid", pid)}
	r := os.NewFile(uintptr(out[0]), "pause")
	defer r.Close()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s != "ready" {
			n.close()
			if s == "" {
				s = "it exited"
			}
			return nil, fmt.Errorf("the pod's PID 1: %s", s)
		}
	case <-time.After(pauseTimeout):
		n.close()
		return nil, fmt.Errorf("the pod's PID 1 was not ready after %s", pauseTimeout)
	}
	return n, nil
}

var (
	hostPIDOnce sync.Once
	hostPIDFD   = -1
	hostPIDErr  error
)

// enterPIDNamespace makes the calling (locked) thread's children be born in
// the PID namespace of fd; leave restores the host's.
func enterPIDNamespace(fd int) (leave func() error, err error) {
	hostPIDOnce.Do(func() {
		hostPIDFD, hostPIDErr = unix.Open("/proc/self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	})
	if hostPIDErr != nil {
		return nil, hostPIDErr
	}
	if err := unix.Setns(fd, unix.CLONE_NEWPID); err != nil {
		return nil, err
	}
	return func() error { return unix.Setns(hostPIDFD, unix.CLONE_NEWPID) }, nil
}
