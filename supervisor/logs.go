package supervisor

import (
	"fmt"
	"sync"

	"github.com/podvisor/podvisor/pod"
)

// Logs returns the pod's logged lines, of one process or of all merged in
// time, the last tail of them (tail < 0: all), rotated files included.
func (p *Pod) Logs(process string, tail int) ([]LogEntry, error) {
	_, files := p.sv.logLimits()
	var logs [][]LogEntry
	found := false
	for _, pr := range p.procs {
		if process != "" && pr.spec.Name != process {
			continue
		}
		found = true
		logs = append(logs, readLogFiles(logPath(p.dir, pr.spec.Name), pr.spec.Name, files))
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

// lineBus fans live output lines out to followers of a pod's logs.
type lineBus struct {
	mu   sync.Mutex
	subs map[string]map[chan LogEntry]struct{} // by pod
}

func (b *lineBus) publish(l Line) {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := b.subs[l.Pod]
	if len(subs) == 0 {
		return
	}
	e := LogEntry{Time: l.Time, Process: l.Process, Stream: l.Stream, Partial: l.Partial, Line: string(l.Text)}
	for ch := range subs {
		select {
		case ch <- e:
		default: // a follower that does not keep up loses lines
		}
	}
}

// FollowLogs returns the lines the pod's processes write from now on, and
// a function that ends the subscription. A follower more than 4096 lines
// behind loses lines.
func (s *Supervisor) FollowLogs(podName string) (<-chan LogEntry, func()) {
	ch := make(chan LogEntry, 4096)
	b := &s.lines
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[string]map[chan LogEntry]struct{}{}
	}
	if b.subs[podName] == nil {
		b.subs[podName] = map[chan LogEntry]struct{}{}
	}
	b.subs[podName][ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[podName], ch)
			if len(b.subs[podName]) == 0 {
				delete(b.subs, podName)
			}
			b.mu.Unlock()
		})
	}
}
