package supervisor

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// Logs returns the pod's logged lines, of one process or of all merged in
// time, the last tail of them (tail < 0: all), rotated files included.
// With tail >= 0 each process's log is read backwards from its end, as far
// as needed: the cost is in proportion to tail, not to the log's size.
func (p *Pod) Logs(process string, tail int) ([]LogEntry, error) {
	_, files := p.sv.logLimits()
	var logs [][]LogEntry
	found := false
	for _, pr := range p.procs {
		if process != "" && pr.spec.Name != process {
			continue
		}
		found = true
		path := logPath(p.dir, pr.spec.Name)
		if tail >= 0 {
			logs = append(logs, readLogTail(path, pr.spec.Name, files, tail))
		} else {
			logs = append(logs, readLogFiles(path, pr.spec.Name, files))
		}
	}
	if !found {
		return nil, fmt.Errorf("pod %q has no process %q: %w", p.name, process, pod.ErrNotFound)
	}
	return mergeLogs(logs, tail), nil
}

// HasProcess reports whether the pod has an init or app process called name.
func (p *Pod) HasProcess(name string) bool {
	for _, pr := range p.procs {
		if pr.spec.Name == name {
			return true
		}
	}
	return false
}

// How often lost log lines are reported while a log file cannot be
// written (a full disk): a warning in the supervisor's log, and the count
// in the process's status (ProcessStatus.LogsDropped).
const (
	logDropWarnEvery   = 10 * time.Second
	logDropStatusEvery = time.Second
)

// reportLogDrops reports log lines lost to failed writes, after each batch
// (lost is the batch's count) and at the end of a stream (final): a warning
// when drops begin and at most every logDropWarnEvery while they go on, a
// line when logging works again, and the count in the process's status, at
// most every logDropStatusEvery while drops go on and at once when they end.
// It runs on the I/O loop.
func (p *Pod) reportLogDrops(pr *proc, lost int, final bool) {
	l := pr.log
	l.mu.Lock()
	if lost == 0 && l.droppingAt.IsZero() && l.dropped == l.reported {
		l.mu.Unlock()
		return
	}
	now := time.Now()
	dropped, err, began := l.dropped, l.lastErr, l.droppingAt
	var warn, resumed, status bool
	switch {
	case lost > 0:
		if began.IsZero() {
			l.droppingAt, began = now, now
			warn = true
		} else {
			warn = now.Sub(l.warnedAt) >= logDropWarnEvery
		}
		if warn {
			l.warnedAt = now
		}
		status = now.Sub(l.statusAt) >= logDropStatusEvery
	case !final: // a batch was logged whole after drops
		resumed = !began.IsZero()
		l.droppingAt = time.Time{}
		status = true
	default:
		status = true
	}
	delta := dropped - l.reported
	status = status && delta != 0
	if status {
		l.statusAt, l.reported = now, dropped
	}
	path := l.path
	l.mu.Unlock()
	if warn {
		p.log.Warn().Err(err).Str("process", pr.spec.Name).Str("file", path).Int64("dropped", dropped).
			Time("since", began).Msg("log lines dropped: the log file cannot be written")
	}
	if resumed {
		p.log.Info().Str("process", pr.spec.Name).Str("file", path).Int64("dropped", dropped).
			Stringer("for", now.Sub(began).Round(time.Millisecond)).Msg("logging again after dropping lines")
	}
	if status {
		// Added: the status may hold a count from before a restart of
		// the supervisor.
		p.update(func() { pr.logsDropped += delta })
	}
}

// followerMaxBytes bounds what a log follower may have waiting: a follower
// further behind is dropped.
const followerMaxBytes = 1 << 20

// entryOverhead is what an entry costs besides its text, for the bound.
const entryOverhead = 128

// ErrFollowerBehind is why a log follower was dropped: it fell more than
// 1 MiB of lines behind.
var ErrFollowerBehind = errors.New("the follower fell more than 1 MiB of log lines behind and was dropped")

// lineBus fans live output lines out to followers of a pod's logs.
type lineBus struct {
	mu   sync.Mutex
	subs map[string]map[*follower]struct{} // by pod
}

// follower is one subscription: a queue bounded in bytes, and a goroutine
// that hands the queue out on a channel.
type follower struct {
	out  chan LogEntry
	wake chan struct{} // cap 1: the queue has entries, or the follower was dropped
	stop chan struct{} // closed by the subscriber's cancel

	mu      sync.Mutex
	queue   []LogEntry
	bytes   int  // of entries queued or being handed out
	dropped bool // fell behind: no more entries; out closes once the queue is out
}

// publish hands one batch of a stream's lines to the pod's followers; the
// i-th line was read at t plus i ns.
func (b *lineBus) publish(podName, process string, stream Stream, t time.Time, recs []record) {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := b.subs[podName]
	if len(subs) == 0 {
		return
	}
	entries := make([]LogEntry, len(recs)) // shared by the followers
	for i, r := range recs {
		entries[i] = LogEntry{Time: t.Add(time.Duration(i)), Process: process, Stream: stream, Partial: r.partial, Line: string(r.text)}
	}
	for f := range subs {
		f.mu.Lock()
		for _, e := range entries {
			size := len(e.Line) + entryOverhead
			if f.bytes+size > followerMaxBytes {
				f.dropped = true
				break
			}
			f.bytes += size
			f.queue = append(f.queue, e)
		}
		dropped := f.dropped
		f.mu.Unlock()
		if dropped {
			delete(subs, f)
		}
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	if len(subs) == 0 {
		delete(b.subs, podName)
	}
}

// pump hands the queue out on out, and closes out when the follower was
// dropped (once everything before the drop is out) or cancelled.
func (f *follower) pump() {
	defer close(f.out)
	for {
		select {
		case <-f.wake:
		case <-f.stop:
			return
		}
		for {
			f.mu.Lock()
			batch, dropped := f.queue, f.dropped
			f.queue = nil
			f.mu.Unlock()
			if len(batch) == 0 {
				if dropped {
					return
				}
				break
			}
			for i, e := range batch {
				select {
				case f.out <- e:
				case <-f.stop:
					return
				}
				batch[i] = LogEntry{}
				f.mu.Lock()
				f.bytes -= len(e.Line) + entryOverhead
				f.mu.Unlock()
			}
		}
	}
}

// FollowLogs returns the lines the pod's processes write from now on, and
// a function that ends the subscription. A follower may fall behind by up
// to 1 MiB of lines: one further behind is dropped, and its channel is
// closed once the lines before the drop have been received (see
// ErrFollowerBehind). The channel is also closed by the cancel function.
func (s *Supervisor) FollowLogs(podName string) (<-chan LogEntry, func()) {
	f := &follower{out: make(chan LogEntry), wake: make(chan struct{}, 1), stop: make(chan struct{})}
	b := &s.lines
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[string]map[*follower]struct{}{}
	}
	if b.subs[podName] == nil {
		b.subs[podName] = map[*follower]struct{}{}
	}
	b.subs[podName][f] = struct{}{}
	b.mu.Unlock()
	go f.pump()
	var once sync.Once
	return f.out, func() {
		once.Do(func() {
			b.mu.Lock()
			if subs := b.subs[podName]; subs != nil {
				delete(subs, f)
				if len(subs) == 0 {
					delete(b.subs, podName)
				}
			}
			b.mu.Unlock()
			close(f.stop)
		})
	}
}
