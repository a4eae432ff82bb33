package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/pod"
)

// proc is one process of a pod, across its runs. Fields without a note are
// the owner goroutine's alone; st is also read by Status under Pod.mu.
type proc struct {
	spec *pod.Process
	init bool
	cg   *cgroups.Group
	log  *logFile

	gen       int      // run generation, to drop stale exit reports
	run       *running // the current run, nil when none
	streak    int      // restarts in the current back-off streak
	restartAt time.Time
	final     bool // ended and will not restart
	oomBase   uint64
	killing   bool   // SIGKILLed by a stop after the grace period
	lastExit  string // reason of the last exit

	st pod.ProcessStatus // guarded by Pod.mu
}

// running is one run of a process.
type running struct {
	pid     int
	started time.Time
	// drained is closed when both output streams reached EOF.
	drained chan struct{}
	streams int // open output streams; the I/O loop's

	mu    sync.Mutex
	pidfd int // -1 once the process was reaped
}

// signal sends sig through the pidfd; a reaped process is not an error.
func (r *running) signal(sig unix.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pidfd < 0 {
		return nil
	}
	if err := unix.PidfdSendSignal(r.pidfd, sig, nil, 0); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}

// forgetPidfd marks the process reaped; the pidfd's owner (the I/O loop)
// closes it.
func (r *running) forgetPidfd() {
	r.mu.Lock()
	r.pidfd = -1
	r.mu.Unlock()
}

func (r *running) closePidfd() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pidfd >= 0 {
		unix.Close(r.pidfd)
		r.pidfd = -1
	}
}

// exitMsg is the I/O loop's report of an exit to the owner goroutine.
type exitMsg struct {
	pr  *proc
	gen int
	st  exitStatus
	err error
}

// spawn starts one run of pr. A *startError means the spec is at fault.
func (p *Pod) spawn(pr *proc) (*running, error) {
	spec := pr.spec
	id, err := resolveUser(spec.User)
	if err != nil {
		return nil, &startError{err}
	}
	env := environ(p.name, p.spec.Spec.Hostname, id.home, spec)
	argv := spec.Argv()
	path, err := lookPath(argv[0], spec.WorkingDir, env)
	if err != nil {
		return nil, &startError{fmt.Errorf("exec: %w", err)}
	}
	if fi, err := os.Stat(spec.WorkingDir); err != nil || !fi.IsDir() {
		return nil, &startError{fmt.Errorf("workingDir %q: not a directory", spec.WorkingDir)}
	}
	loop, err := theLoop()
	if err != nil {
		return nil, err
	}
	devnull, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(devnull)
	var out, errp [2]int
	if err := unix.Pipe2(out[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	if err := unix.Pipe2(errp[:], unix.O_CLOEXEC); err != nil {
		unix.Close(out[0])
		unix.Close(out[1])
		return nil, err
	}
	closeReaders := func() { unix.Close(out[0]); unix.Close(errp[0]) }
	l := &launch{
		path: path, argv: argv, env: env, dir: spec.WorkingDir, id: id,
		files: []uintptr{uintptr(devnull), uintptr(out[1]), uintptr(errp[1])},
		ns:    p.nsh, cg: pr.cg,
	}
	if err := pr.cg.Renew(limitsOf(spec.Resources.Limits)); err != nil {
		unix.Close(out[0])
		unix.Close(out[1])
		unix.Close(errp[0])
		unix.Close(errp[1])
		return nil, err
	}
	if n, err := pr.cg.OOMKills(); err == nil {
		pr.oomBase = n
	}
	pid, pidfd, err := forkInPod(l, own)
	unix.Close(out[1])
	unix.Close(errp[1])
	if err != nil {
		closeReaders()
		return nil, err
	}
	run := &running{pid: pid, pidfd: pidfd, started: time.Now(), drained: make(chan struct{}), streams: 2}
	pr.gen++
	gen := pr.gen
	for _, s := range []struct {
		fd     int
		stream Stream
	}{{out[0], Stdout}, {errp[0], Stderr}} {
		_ = unix.SetNonblock(s.fd, true)
		sr := &streamReader{fd: s.fd, emit: p.emitter(pr, s.stream), eof: func() {
			p.reportLogDrops(pr, 0, true)
			if run.streams--; run.streams == 0 {
				close(run.drained)
			}
		}}
		if err := loop.add(s.fd, sr, true); err != nil {
			unix.Close(s.fd)
			sr.eof()
		}
	}
	w := &exitWatcher{pidfd: pidfd, pid: pid, onExit: func(st exitStatus, err error) {
		// The loop closes the pidfd once it has unregistered it.
		run.forgetPidfd()
		disown(pid)
		go func() {
			select {
			case p.exits <- exitMsg{pr: pr, gen: gen, st: st, err: err}:
			case <-p.done:
			}
		}()
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
		return nil, err
	}
	return run, nil
}

// emitter logs and hands out one stream's lines, a batch (lines of one
// read) at a time: the batch is written to the log file with a write per
// 128 KiB, then the lines go one by one to followers and to the
// OutputFunc. The i-th line's time is t plus i ns. It runs on the I/O loop.
func (p *Pod) emitter(pr *proc, stream Stream) func(time.Time, []record) {
	outq := p.sv.outq
	return func(t time.Time, recs []record) {
		lost := pr.log.writeRecords(t, stream, recs)
		p.reportLogDrops(pr, lost, false)
		p.sv.lines.publish(p.name, pr.spec.Name, stream, t, recs)
		if outq != nil {
			// Through the queue: an OutputFunc that blocks must not hold
			// up the loop.
			lines := make([]Line, len(recs))
			for i, r := range recs {
				lines[i] = Line{Time: t.Add(time.Duration(i)), Pod: p.name, Process: pr.spec.Name, Stream: stream, Partial: r.partial, Text: r.text}
			}
			outq.push(lines)
		}
	}
}

// cgroupName maps a pod or process name to its cgroup directory name. The
// one label that collides with a cgroup v1 interface file, "tasks", gets a
// suffix.
func cgroupName(name string) string {
	if name == "tasks" {
		return "tasks_"
	}
	return name
}

func limitsOf(l pod.Limits) cgroups.Limits {
	var c cgroups.Limits
	if l.CPU != nil {
		c.CPUMilli = l.CPU.Milli()
	}
	if l.Memory != nil {
		c.MemoryBytes = l.Memory.Value()
	}
	if l.Pids != nil {
		c.Pids = *l.Pids
	}
	return c
}

func logPath(dir, process string) string {
	return filepath.Join(dir, "logs", process+".log")
}

func isStartError(err error) bool {
	var se *startError
	return errors.As(err, &se)
}
