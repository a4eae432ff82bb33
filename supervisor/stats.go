package supervisor

import (
	"github.com/podvisor/podvisor/pod"
	"slices"
	"strings"
	"time"
)

// Stats reads the figures of the pods named, or of every pod when none is;
// an unknown name is an error (pod.ErrNotFound).
func (s *Supervisor) Stats(names ...string) ([]pod.PodStats, error) {
	var pods []*Pod
	if len(names) == 0 {
		pods = s.List()
	} else {
		for _, n := range names {
			p, err := s.Get(n)
			if err != nil {
				return nil, err
			}
			pods = append(pods, p)
		}
	}
	slices.SortFunc(pods, func(a, b *Pod) int { return strings.Compare(a.name, b.name) })
	out := make([]pod.PodStats, 0, len(pods))
	for _, p := range pods {
		f := p.figures()
		ps := pod.PodStats{Pod: p.name, Namespace: p.spec.Metadata.Namespace, Time: time.Now().UTC(),
			CPUSeconds: f.pod.cpu, MemoryBytes: f.pod.mem, MemoryLimitBytes: f.pod.limit, Pids: f.pod.pids,
			RxBytes: f.rx, TxBytes: f.tx, Processes: []pod.ProcessStats{}}
		for _, pf := range f.procs {
			ps.Processes = append(ps.Processes, pod.ProcessStats{Name: pf.name, CPUSeconds: pf.stats.cpu, MemoryBytes: pf.stats.mem, Pids: pf.stats.pids})
		}
		out = append(out, ps)
	}
	return out, nil
}
