package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

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
	pidfd   *os.File
	started time.Time
	// drained is closed when both output streams reached EOF.
	drained chan struct{}
}

// exitMsg is a waiter's report to the owner goroutine.
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
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	l := &launch{
		path: path, argv: argv, env: env, dir: spec.WorkingDir, id: id,
		files: []uintptr{devnull.Fd(), outW.Fd(), errW.Fd()},
		ns:    p.nsh, cg: pr.cg,
	}
	if n, err := pr.cg.OOMKills(); err == nil {
		pr.oomBase = n
	}
	pid, pidfd, err := forkInPod(l, own)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	f, err := pidfdFile(pidfd, fmt.Sprintf("pidfd:%d", pid))
	if err != nil {
		// Without a pidfd the process cannot be watched: kill its cgroup.
		_ = pr.cg.Kill()
		outR.Close()
		errR.Close()
		return nil, err
	}
	drained := make(chan struct{})
	var pumps sync.WaitGroup
	pumps.Add(2)
	go p.pump(pr, Stdout, outR, &pumps)
	go p.pump(pr, Stderr, errR, &pumps)
	go func() { pumps.Wait(); close(drained) }()
	pr.gen++
	gen := pr.gen
	go func() {
		st, err := waitPidfd(f)
		disown(pid)
		select {
		case p.exits <- exitMsg{pr: pr, gen: gen, st: st, err: err}:
		case <-p.done:
		}
	}()
	return &running{pid: pid, pidfd: f, started: time.Now(), drained: drained}, nil
}

// pump copies one output stream to the log file and the output function.
func (p *Pod) pump(pr *proc, stream Stream, r *os.File, wg *sync.WaitGroup) {
	defer wg.Done()
	defer r.Close()
	out := p.sv.opts.Output
	copyLines(r, func(partial bool, text []byte) {
		now := time.Now()
		pr.log.write(now, stream, partial, text)
		l := Line{Time: now, Pod: p.name, Process: pr.spec.Name, Stream: stream, Partial: partial, Text: text}
		p.sv.lines.publish(l)
		if out != nil {
			out(l)
		}
	})
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
