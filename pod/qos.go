package pod

import "math/big"

// The QoS classes, as Kubernetes names them.
const (
	QOSGuaranteed = "Guaranteed"
	QOSBurstable  = "Burstable"
	QOSBestEffort = "BestEffort"
)

// QOSClass is the quality of service class Kubernetes gives a pod with
// this spec: BestEffort without any request or limit of CPU or memory,
// Guaranteed when every process's CPU and memory requests equal its limits
// (a request left out is its limit), Burstable otherwise. Pod-level
// resources, when the pod sets any, decide alone. Init processes count, as
// in Kubernetes.
func QOSClass(s *Spec) string {
	type rl struct{ req, lim *Quantity }
	eff := func(r Resources) (cpu, mem rl) {
		cpu = rl{r.Requests.CPU, r.Limits.CPU}
		mem = rl{r.Requests.Memory, r.Limits.Memory}
		if cpu.req == nil {
			cpu.req = cpu.lim
		}
		if mem.req == nil {
			mem.req = mem.lim
		}
		return cpu, mem
	}
	positive := func(q *Quantity) bool { return q != nil && q.Sign() > 0 }
	equal := func(a, b *Quantity) bool { return a != nil && b != nil && a.Cmp(*b) == 0 }
	if pr := s.Resources; pr.Limits.CPU != nil || pr.Limits.Memory != nil || pr.Requests.CPU != nil || pr.Requests.Memory != nil {
		cpu, mem := eff(pr)
		switch {
		case !positive(cpu.req) && !positive(cpu.lim) && !positive(mem.req) && !positive(mem.lim):
			return QOSBestEffort
		case positive(cpu.lim) && positive(mem.lim) && equal(cpu.req, cpu.lim) && equal(mem.req, mem.lim):
			return QOSGuaranteed
		}
		return QOSBurstable
	}
	// Kubernetes sums the requests and the limits of every container and
	// compares the sums.
	requests, limits := map[string]*big.Rat{}, map[string]*big.Rat{}
	sum := func(m map[string]*big.Rat, name string, q *Quantity) bool {
		if !positive(q) {
			return false
		}
		if m[name] == nil {
			m[name] = new(big.Rat)
		}
		m[name].Add(m[name], q.rat())
		return true
	}
	guaranteed := true
	for _, list := range [][]Process{s.InitProcesses, s.Processes} {
		for _, p := range list {
			cpu, mem := eff(p.Resources)
			sum(requests, "cpu", cpu.req)
			sum(requests, "memory", mem.req)
			hasCPU, hasMem := sum(limits, "cpu", cpu.lim), sum(limits, "memory", mem.lim)
			if !hasCPU || !hasMem {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return QOSBestEffort
	}
	for name, req := range requests {
		if lim := limits[name]; lim == nil || lim.Cmp(req) != 0 {
			guaranteed = false
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return QOSGuaranteed
	}
	return QOSBurstable
}
