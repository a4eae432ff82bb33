package supervisor

import (
	"fmt"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// ExplainLines is how many of its last output lines Explain shows per
// process (twice as many when one process is asked for).
const ExplainLines = 5

// Explain says in words why each process of the pod (or the named one) is
// or is not running and ready: its state and reason, how its last runs
// ended, its back-off and next start, its failing probe or hook, its OOM
// kills with the limit, what it waits for, and the last lines of its
// output. An unknown process is ErrNotFound.
func (p *Pod) Explain(process string) (pod.Explanation, error) {
	if process != "" && !p.HasProcess(process) {
		return pod.Explanation{}, fmt.Errorf("pod %q has no process %q: %w", p.name, process, pod.ErrNotFound)
	}
	in := pod.ExplainInput{Spec: p.spec, Process: process, Facts: map[string]pod.ProcessFacts{},
		History: &pod.History{}, Output: map[string][]string{}}
	p.mu.Lock()
	st := p.statusLocked()
	in.Now = time.Now()
	for i, pr := range p.procs {
		in.Facts[pr.spec.Name] = p.m.Facts(i)
		if h := p.hist.Process(pr.spec.Name); h != nil {
			in.History.Set(pr.spec.Name, h.Copy())
		}
	}
	p.mu.Unlock()
	in.Status = &st
	n := ExplainLines
	if process != "" {
		n *= 2
	}
	for _, pr := range p.procs {
		if process != "" && pr.spec.Name != process {
			continue
		}
		entries, err := p.Logs(pr.spec.Name, n)
		if err != nil {
			continue
		}
		lines := make([]string, 0, len(entries))
		for _, e := range entries {
			lines = append(lines, e.Line)
		}
		in.Output[pr.spec.Name] = lines
	}
	return pod.Explain(in), nil
}
