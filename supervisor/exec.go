package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/security"
)

// ExecRequest is a command to run inside a running pod, from any process
// on the host that runs as root (podvisor exec does it from the CLI).
type ExecRequest struct {
	// Status is the pod's status: its namespace files and cgroup.
	Status pod.Status
	// Spec is the pod's spec, for Process and the hostname.
	Spec *pod.Pod
	// Process, when set, runs the command as that process: in its cgroup,
	// with its user, environment and working directory (kubectl exec -c).
	// Otherwise the command runs as root in the pod's exec cgroup, in /,
	// with the default environment.
	Process string
	// Command is the program and its arguments.
	Command []string
	// TTY allocates a terminal for the command, with Stdin put in raw mode
	// when it is a terminal itself.
	TTY bool
	// Stdin is attached when not nil; else the command reads /dev/null.
	Stdin *os.File
	// Stdout and Stderr receive the output (with TTY, Stdout gets all).
	Stdout, Stderr *os.File
}

// Exec runs req.Command inside the pod's network, IPC and UTS namespaces
// and inside the pod's cgroup, born there like the pod's own processes, and
// returns its exit code (128+n when killed by signal n).
func Exec(ctx context.Context, req ExecRequest) (int, error) {
	if len(req.Command) == 0 {
		return -1, fmt.Errorf("exec: no command: %w", pod.ErrInvalid)
	}
	if req.Status.Phase != pod.PhaseRunning && req.Status.Phase != pod.PhaseInitializing {
		return -1, fmt.Errorf("pod %q is %s, not running: %w", req.Status.Name, req.Status.Phase, pod.ErrConflict)
	}
	// Only the request's stdin, stdout and stderr reach the command: none
	// of the fds this process inherited.
	if err := markInheritedCloexec(); err != nil {
		return -1, fmt.Errorf("mark inherited file descriptors close-on-exec: %w", err)
	}
	h, err := cgroups.Detect()
	if err != nil {
		return -1, err
	}
	spec := &pod.Process{Name: "", WorkingDir: "/"}
	cgPath := req.Status.Cgroup + "/" + execCgroup
	if req.Process != "" {
		spec = nil
		for _, ps := range append(append([]pod.Process{}, req.Spec.Spec.InitProcesses...), req.Spec.Spec.Processes...) {
			if ps.Name == req.Process {
				spec = &ps
			}
		}
		if spec == nil {
			return -1, fmt.Errorf("pod %q has no process %q: %w", req.Status.Name, req.Process, pod.ErrNotFound)
		}
		cgPath = processCgroup(req.Status.Cgroup, req.Process)
	}
	cg, err := h.Open(cgPath)
	if err != nil {
		return -1, err
	}
	if !cg.Exists() {
		return -1, fmt.Errorf("cgroup %s of pod %q is gone: %w", cgPath, req.Status.Name, pod.ErrConflict)
	}
	nsh, err := namespaces.Open(namespaces.Paths{Net: req.Status.Namespaces.Net, IPC: req.Status.Namespaces.IPC, UTS: req.Status.Namespaces.UTS})
	if err != nil {
		return -1, err
	}
	defer nsh.Close()
	// With --process, the command runs as that process does: its user and
	// security context (as kubectl exec into a container).
	id, err := resolveUser(spec.User)
	var sec security.Plan
	if req.Process != "" {
		id, err = identityOf(&req.Spec.Spec, spec)
		sec = securityOf(&req.Spec.Spec, spec)
	}
	if err != nil {
		return -1, err
	}
	env := environ(req.Status.Name, req.Status.Hostname, id.home, spec, fieldValues(req.Status.PodIPs, req.Status.HostIP))
	if req.TTY {
		if t := os.Getenv("TERM"); t != "" {
			env = append(env, "TERM="+t)
		}
	}
	// The command sees the filesystem as the process does (without
	// --process: as the first app process does).
	view := req.Status.Namespaces.Mounts[req.Process]
	if req.Process == "" && len(req.Spec.Spec.Processes) > 0 {
		view = req.Status.Namespaces.Mounts[req.Spec.Spec.Processes[0].Name]
	}
	path := req.Command[0]
	if view == "" {
		if path, err = lookPath(req.Command[0], spec.WorkingDir, env); err != nil {
			return -1, fmt.Errorf("exec: %w", err)
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return -1, err
	}
	defer devnull.Close()
	stdin := devnull
	if req.Stdin != nil {
		stdin = req.Stdin
	}
	l := &launch{path: path, argv: req.Command, env: env, dir: spec.WorkingDir, id: id, ns: nsh, cg: cg, view: view, sec: sec}
	if req.Status.Namespaces.PID != "" {
		// The pod's own PID namespace: join it through its PID 1.
		fd, err := unix.Open(req.Status.Namespaces.PID, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("the pod's PID namespace: %w", err)
		}
		defer unix.Close(fd)
		l.pidns = fd
	}
	var master, slave *os.File
	if req.TTY {
		if master, slave, err = openPTY(); err != nil {
			return -1, err
		}
		defer master.Close()
		l.files = []uintptr{slave.Fd(), slave.Fd(), slave.Fd()}
		l.tty = true
	} else {
		l.files = []uintptr{stdin.Fd(), req.Stdout.Fd(), req.Stderr.Fd()}
	}
	_, pidfd, err := forkInPod(l, func(int) {})
	if slave != nil {
		slave.Close() // the child has its own; the master sees EIO once it is gone
	}
	if err != nil {
		return -1, err
	}
	f, err := pidfdFile(pidfd, "exec")
	if err != nil {
		return -1, err
	}
	output := make(chan struct{})
	if master != nil {
		restore := attachTerminal(master, req)
		defer restore()
		go func() { defer close(output); io.Copy(req.Stdout, master) }()
		if req.Stdin != nil {
			go io.Copy(master, req.Stdin)
		}
	} else {
		close(output)
	}
	// Signals sent to the caller are for the command (without a terminal,
	// Ctrl-C reaches only the caller: the command has its own session).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				_ = signalPidfd(f, unix.SIGKILL)
				return
			case sig := <-sigs:
				_ = signalPidfd(f, sig.(unix.Signal))
			case <-done:
				return
			}
		}
	}()
	st, err := waitPidfd(f)
	close(done)
	// The terminal's output ends when the last holder of its slave side is
	// gone; a background process that escaped may hold it, so the wait for
	// the last output is bounded.
	select {
	case <-output:
	case <-time.After(time.Second):
	}
	if err != nil {
		return -1, err
	}
	return st.code, nil
}

// openPTY opens a new pseudo-terminal pair.
func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, os.NewFile(uintptr(sfd), name), nil
}

// attachTerminal puts the caller's terminal in raw mode and keeps the pty's
// window size in step with it; the returned function undoes it.
func attachTerminal(master *os.File, req ExecRequest) func() {
	if req.Stdin == nil || !term.IsTerminal(int(req.Stdin.Fd())) {
		return func() {}
	}
	in := int(req.Stdin.Fd())
	resize := func() {
		if ws, err := unix.IoctlGetWinsize(in, unix.TIOCGWINSZ); err == nil {
			_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			resize()
		}
	}()
	old, err := term.MakeRaw(in)
	return func() {
		signal.Stop(winch)
		close(winch)
		if err == nil {
			_ = term.Restore(in, old)
		}
	}
}
