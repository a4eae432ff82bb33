package supervisor

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/pod"
)

// proc is one process of a pod, across its runs: what the Linux runtime
// keeps of it. Its lifecycle state is the machine's.
type proc struct {
	spec *pod.Process
	init bool
	cg   *cgroups.Group
	log  *logFile

	// The owner goroutine's alone.
	runNo   int      // the machine's number of the current run
	run     *running // the current run, nil when none
	oomBase uint64

	logsDropped int64 // guarded by Pod.mu

	// For the metrics: probe results, and how long starts took (spawn to
	// exec), counted since the supervisor started.
	probes    probeCounts
	startHist histogram
}

// running is one run of a process.
type running struct {
	pid     int
	started time.Time
	// ctx ends when the run does: hooks and probes of the run stop. Nil
	// for a process without probes and hooks.
	ctx    context.Context
	cancel context.CancelFunc
	// drained is closed when both output streams reached EOF.
	drained chan struct{}
	streams atomic.Int32 // open output streams

	// stdin is the write end of an open standard input (spec.stdin), held
	// so that the process does not read EOF; nil otherwise.
	stdin *os.File

	mu    sync.Mutex
	pidfd int // -1 once the process was reaped
}

// closeStdin lets go of the process's standard input, if it has one open.
func (r *running) closeStdin() {
	r.mu.Lock()
	f := r.stdin
	r.stdin = nil
	r.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// end ends the run's context, if it has one.
func (r *running) end() {
	if r.cancel != nil {
		r.cancel()
	}
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

// limitsOf is the cgroup of a process or pod with resources r: limits, and
// requests as kubelet turns them into a CPU weight and memory.low.
func limitsOf(r pod.Resources) cgroups.Limits {
	l := r.Limits
	var c cgroups.Limits
	if q := r.Requests.CPU; q != nil {
		c.CPUShares = cgroups.SharesOf(q.Milli())
	}
	if q := r.Requests.Memory; q != nil {
		c.MemoryLow = q.Value()
	}
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

// podLimitsOf is the pod cgroup's: its own resources, with requests that
// default to the sum of its long-running processes' (apps and sidecars), as
// kubelet sizes a pod's cgroup.
func podLimitsOf(s *pod.Spec) cgroups.Limits {
	c := limitsOf(s.Resources)
	var milli, mem int64
	var anyCPU, anyMem bool
	sum := func(p *pod.Process) {
		if q := p.Resources.Requests.CPU; q != nil {
			milli, anyCPU = milli+q.Milli(), true
		}
		if q := p.Resources.Requests.Memory; q != nil {
			mem, anyMem = mem+q.Value(), true
		}
	}
	for i := range s.Processes {
		sum(&s.Processes[i])
	}
	for i := range s.InitProcesses {
		if s.InitProcesses[i].IsSidecar() {
			sum(&s.InitProcesses[i])
		}
	}
	if s.Resources.Requests.CPU == nil && anyCPU {
		c.CPUShares = cgroups.SharesOf(milli)
	}
	if s.Resources.Requests.Memory == nil && anyMem {
		c.MemoryLow = mem
	}
	return c
}

func isStartError(err error) bool {
	var se *startError
	return errors.As(err, &se)
}
