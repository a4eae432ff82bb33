package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/pod"
)

// linuxRuntime is the pod's runtime on Linux: processes forked into the
// pod's namespaces and their cgroups, exits seen through pidfds on the
// I/O loop, output read there too.
type linuxRuntime struct{ p *Pod }

// Bounds of the runtime: how long the output of an exited process may take
// to reach EOF (a writer that escaped its cgroup), and how long the pod's
// cgroup may take to empty after SIGKILL (a pod with many thousands of
// tasks) before the pod is Stopped anyway, with a message.
const (
	drainTimeout = 2 * time.Second
	drainLimit   = time.Minute
	drainPoll    = 100 * time.Millisecond
)

func (r linuxRuntime) prepare() {
	p := r.p
	if err := p.execCg.Renew(cgroups.Limits{}); err != nil {
		p.log.Warn().Err(err).Msg("renew the exec cgroup")
	}
	if s := p.spec.Spec.ShareProcessNamespace; s != nil && *s {
		// A new run: the last run's PID 1 died with the pod's cgroup.
		p.pidns.Swap(nil).close()
		n, err := p.startPause()
		if err != nil {
			p.log.Error().Err(err).Msg("the pod's PID namespace")
			p.pidnsErr.Store(&err)
			return
		}
		p.pidnsErr.Store(nil)
		p.pidns.Store(n)
	}
}

// pidnsFD is the PID namespace processes of the pod are born in: 0 for the
// host's, else a descriptor the caller closes; an error when the pod shares
// one that is not running.
func (p *Pod) pidnsFD() (int, error) {
	if s := p.spec.Spec.ShareProcessNamespace; s == nil || !*s {
		return 0, nil
	}
	if n := p.pidns.Load(); n != nil {
		return n.dup()
	}
	err := errors.New("the pod's PID namespace is not running")
	if e := p.pidnsErr.Load(); e != nil {
		err = fmt.Errorf("the pod's PID namespace: %w", *e)
	}
	return 0, err
}

func (r linuxRuntime) start(i, runNo int) (int, time.Time, error) {
	p := r.p
	pr := p.procs[i]
	run, err := p.spawn(i, pr, runNo)
	if err != nil {
		return 0, time.Time{}, err
	}
	pr.runNo, pr.run = runNo, run
	return run.pid, run.started, nil
}

func (r linuxRuntime) signal(i, runNo, sig int) {
	pr := r.p.procs[i]
	if pr.run == nil || pr.runNo != runNo {
		return
	}
	if err := pr.run.signal(unix.Signal(sig)); err != nil {
		r.p.log.Warn().Err(err).Str("process", pr.spec.Name).Msg("stop signal")
	}
}

func (r linuxRuntime) killProcess(i int) {
	pr := r.p.procs[i]
	if err := pr.cg.Kill(); err != nil {
		r.p.log.Error().Err(err).Str("process", pr.spec.Name).Msg("kill the process's cgroup")
	}
	pr.cg.Taint()
}

func (r linuxRuntime) killPod() {
	p := r.p
	if err := p.cg.Kill(); err != nil {
		p.log.Error().Err(err).Msg("kill pod cgroup")
	}
	p.taintChildren()
}

// taintChildren records that the pod's cgroup was killed, so that every
// child cgroup is renewed before its next use (see cgroups.Group.Renew).
func (p *Pod) taintChildren() {
	for _, pr := range p.procs {
		pr.cg.Taint()
	}
	p.execCg.Taint()
}

// abandon gives up the watch of a process whose exit was never reported
// after SIGKILL (reaping it if it has exited); if it lives on, the orphan
// reaper takes it when it exits.
func (r linuxRuntime) abandon(i, runNo int) {
	pr := r.p.procs[i]
	run := pr.run
	if run == nil || pr.runNo != runNo {
		return
	}
	run.mu.Lock()
	fd := run.pidfd
	run.pidfd = -1
	run.mu.Unlock()
	if l, err := theLoop(); err == nil && fd >= 0 {
		l.abandon(fd)
	}
	disown(run.pid)
	run.end()
	pr.run = nil
}

// drain kills what is left in the pod's cgroup and, unless it is empty
// at once, waits for it to empty on a goroutine of its own, looking at
// growing intervals, for up to drainLimit.
func (r linuxRuntime) drain() (int, bool) {
	p := r.p
	if !p.cg.Populated() {
		return 0, true
	}
	if err := p.cg.Kill(); err != nil {
		p.log.Warn().Err(err).Msg("kill leftovers")
	}
	p.taintChildren()
	cg := p.cg
	go func() {
		began := time.Now()
		for cg.Populated() {
			waited := time.Since(began)
			if waited >= drainLimit {
				n := 0
				if pids, err := cg.Pids(); err == nil {
					n = len(pids)
				}
				p.log.Error().Int("tasks", n).Msg("stopped with tasks still exiting")
				p.post(pod.Input{Kind: pod.InCgroupEmpty, Tasks: max(n, 1)})
				return
			}
			time.Sleep(min(max(waited/4, time.Millisecond), drainPoll))
		}
		p.post(pod.Input{Kind: pod.InCgroupEmpty})
	}()
	return 0, false
}

// hasChecks reports whether a process has probes or hooks, which run
// under a context of its run.
func hasChecks(p *pod.Process) bool {
	return p.StartupProbe != nil || p.LivenessProbe != nil || p.ReadinessProbe != nil ||
		p.Lifecycle != nil && (p.Lifecycle.PostStart != nil || p.Lifecycle.PreStop != nil)
}

// waitDrained waits for an exited process's output to reach EOF, for up
// to drainTimeout, and not at all while the output loop is stalled (in a
// write to a hung disk, say): an exit is never held up by the logs.
func waitDrained(drained <-chan struct{}) {
	deadline := time.NewTimer(drainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-drained:
			return
		case <-deadline.C:
			return
		case <-tick.C:
			if l, err := outputLoop(); err == nil && l.stalled(50*time.Millisecond) {
				return
			}
		}
	}
}

// spawn starts run runNo of process i. A *startError means the spec is at
// fault.
func (p *Pod) spawn(i int, pr *proc, runNo int) (*running, error) {
	spec := pr.spec
	id, err := identityOf(&p.spec.Spec, spec)
	if err != nil {
		return nil, &startError{err}
	}
	env := environ(p.name, p.spec.Spec.Hostname, id.home, spec, p.fields())
	argv := expandRuntime(spec.Argv(), spec, env)
	view := p.view(spec.Name)
	path := argv[0]
	if view == "" {
		if path, err = lookPath(argv[0], spec.WorkingDir, env); err != nil {
			return nil, &startError{fmt.Errorf("exec: %w", err)}
		}
		if fi, err := os.Stat(spec.WorkingDir); err != nil || !fi.IsDir() {
			return nil, &startError{fmt.Errorf("workingDir %q: not a directory", spec.WorkingDir)}
		}
	}
	loop, err := theLoop()
	if err != nil {
		return nil, err
	}
	outl, err := outputLoop()
	if err != nil {
		return nil, err
	}
	pidns, err := p.pidnsFD()
	if err != nil {
		return nil, &startError{err}
	}
	if pidns > 0 {
		defer unix.Close(pidns)
	}
	io, err := openStdio(spec)
	if err != nil {
		return nil, err
	}
	l := &launch{
		path: path, argv: argv, env: env, dir: spec.WorkingDir, id: id,
		files: io.child, tty: spec.TTY,
		ns: p.nsh, cg: pr.cg, view: view, sec: securityOf(&p.spec.Spec, spec), pidns: pidns,
	}
	if err := pr.cg.Renew(limitsOf(spec.Resources)); err != nil {
		io.closeChild()
		io.closeOurs()
		return nil, err
	}
	if n, err := pr.cg.OOMKills(); err == nil {
		pr.oomBase = n
	}
	oomBase := pr.oomBase
	pid, pidfd, err := forkInPod(l, own)
	io.closeChild()
	if err != nil {
		io.closeOurs()
		return nil, err
	}
	run := &running{pid: pid, pidfd: pidfd, started: time.Now(), drained: make(chan struct{}), stdin: io.stdin}
	if hasChecks(spec) {
		run.ctx, run.cancel = context.WithCancel(context.Background())
	}
	run.streams.Store(int32(len(io.readers)))
	streamDone := func() {
		if run.streams.Add(-1) == 0 {
			close(run.drained)
		}
	}
	for _, s := range io.readers {
		_ = unix.SetNonblock(s.fd, true)
		sr := &streamReader{fd: s.fd, emit: p.emitter(pr, s.stream), eof: func() {
			p.reportLogDrops(pr, 0, true)
			streamDone()
		}}
		if err := outl.add(s.fd, sr, true); err != nil {
			// Not eof: that reports log drops, which takes the status
			// lock this goroutine (the owner) holds.
			unix.Close(s.fd)
			streamDone()
		}
	}
	w := &exitWatcher{pidfd: pidfd, pid: pid, onExit: func(st exitStatus, err error) {
		// The loop closes the pidfd once it has unregistered it.
		run.forgetPidfd()
		disown(pid)
		go p.exited(i, pr, runNo, run, oomBase, st, err)
	}}
	w.lost = func() {
		p.log.Error().Str("process", pr.spec.Name).Int("pid", pid).Msg("exit found by the safety net, not by its pidfd watch")
	}
	if err := loop.add(pidfd, w, true); err != nil {
		// Without a watch the process cannot be supervised: kill it, and
		// leave it to the orphan reaper.
		_ = pr.cg.Kill()
		run.closePidfd()
		disown(pid)
		run.end()
		return nil, err
	}
	return run, nil
}

// exited reports an exit to the owner goroutine, off the I/O loop and off
// the owner: whatever the process left in its cgroup dies with it, and its
// last lines are logged before its exit is (the writers are dead, so the
// pipes reach EOF at once; the bound is for a writer that escaped the
// cgroup).
func (p *Pod) exited(i int, pr *proc, runNo int, run *running, oomBase uint64, st exitStatus, err error) {
	run.end()
	run.closeStdin()
	ex := pod.Exit{Code: st.code, Signal: st.signal}
	msg := ""
	if err != nil {
		ex = pod.Exit{Code: 255}
		msg = "wait: " + err.Error()
	}
	if n, err := pr.cg.OOMKills(); err == nil && n > oomBase {
		ex.OOMKilled = !ex.Succeeded()
	}
	if pr.cg.Populated() {
		if err := pr.cg.Kill(); err != nil {
			p.log.Warn().Err(err).Str("process", pr.spec.Name).Msg("kill leftovers")
		}
		// Here, not on the owner goroutine: the restart renews the cgroup
		// and would otherwise wait there for the leftovers to be gone.
		pr.cg.WaitEmpty(drainTimeout)
	}
	waitDrained(run.drained)
	if q := p.sv.outq; q != nil {
		q.caughtUp(drainTimeout)
	}
	p.post(pod.Input{Kind: pod.InExited, Proc: i, Run: runNo, Exit: ex, At: st.at, Message: msg})
}

// view is the pinned view of the filesystem process name is born in, ""
// for the host's.
func (p *Pod) view(name string) string {
	if p.files == nil {
		return ""
	}
	return p.files.byProc[name]
}

// stdio is a process's standard input, output and error: the child's ends
// and ours.
type stdio struct {
	child   []uintptr // fds 0, 1, 2 of the child
	closers []int     // the child's ends, closed once it is forked
	readers []struct {
		fd     int
		stream Stream
	}
	stdin *os.File // our end of an open stdin (pipe or pty master)
}

func (s *stdio) closeChild() {
	for _, fd := range s.closers {
		unix.Close(fd)
	}
	s.closers = nil
}

func (s *stdio) closeOurs() {
	for _, r := range s.readers {
		unix.Close(r.fd)
	}
	if s.stdin != nil {
		s.stdin.Close()
	}
}

// openStdio makes a process's standard streams: /dev/null as input, a
// pipe for each output stream; with stdin, an input pipe that podvisor
// holds open; with tty, one pseudo-terminal for all three (its output is
// logged as stdout, as Kubernetes logs a tty's).
func openStdio(spec *pod.Process) (*stdio, error) {
	s := &stdio{}
	if spec.TTY {
		master, slave, err := openPTY()
		if err != nil {
			return nil, err
		}
		// The reader gets a descriptor of its own; the master stays open
		// as stdin for as long as the run lasts.
		rfd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			master.Close()
			slave.Close()
			return nil, err
		}
		sfd, err := unix.FcntlInt(slave.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		slave.Close()
		if err != nil {
			master.Close()
			unix.Close(rfd)
			return nil, err
		}
		s.child = []uintptr{uintptr(sfd), uintptr(sfd), uintptr(sfd)}
		s.closers = []int{sfd}
		s.readers = append(s.readers, struct {
			fd     int
			stream Stream
		}{rfd, Stdout})
		s.stdin = master
		return s, nil
	}
	var in int
	if spec.Stdin {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return nil, err
		}
		in, s.stdin = fds[0], os.NewFile(uintptr(fds[1]), "stdin")
	} else {
		var err error
		if in, err = unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return nil, err
		}
	}
	s.child = append(s.child, uintptr(in))
	s.closers = append(s.closers, in)
	for _, stream := range []Stream{Stdout, Stderr} {
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			s.closeChild()
			s.closeOurs()
			return nil, err
		}
		s.child = append(s.child, uintptr(fds[1]))
		s.closers = append(s.closers, fds[1])
		s.readers = append(s.readers, struct {
			fd     int
			stream Stream
		}{fds[0], stream})
	}
	return s, nil
}
