package supervisor

// Prometheus metrics: the text exposition format (version 0.0.4), written
// by hand from the pods' status and their cgroups' figures, read at the
// time of the scrape. No metrics library: the figures are a handful of
// families, and the library would cost the daemon megabytes.

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/pod"
)

// MetricsContentType is the Content-Type of WriteMetrics' output.
const MetricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// startBuckets are the upper bounds, in seconds, of the start duration
// histogram (spawn to exec).
var startBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// histogram counts observations in startBuckets; safe for concurrent use.
type histogram struct {
	counts [12]atomic.Uint64 // per bucket, the last for +Inf
	sumNs  atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	i := len(startBuckets)
	for j, b := range startBuckets {
		if s <= b {
			i = j
			break
		}
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(d.Nanoseconds()))
}

// probeCounts counts a process's probe results: kind × (succeeded, failed).
type probeCounts [3][2]atomic.Uint64

// promWriter writes one family after another; the first error sticks.
type promWriter struct {
	w   *bufio.Writer
	err error
	buf []byte
}

func (p *promWriter) family(name, typ, help string) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes name{labels} value; labels are name, value pairs.
func (p *promWriter) sample(name string, v float64, labels ...string) {
	if p.err != nil {
		return
	}
	b := append(p.buf[:0], name...)
	if len(labels) > 0 {
		b = append(b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, labels[i]...)
			b = append(b, '=', '"')
			b = appendEscaped(b, labels[i+1])
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	switch {
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		b = strconv.AppendInt(b, int64(v), 10)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	b = append(b, '\n')
	p.buf = b
	_, p.err = p.w.Write(b)
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

// podFigures is one pod's scrape: status and kernel figures.
type podFigures struct {
	st     pod.Status
	labels []string // pod, and namespace for Kubernetes pods
	pod    cgStats
	procs  []procFigures
	rx, tx uint64
	net    bool
}

type procFigures struct {
	name   string
	labels []string
	stats  cgStats
	ready  bool
	starts int
	ooms   uint64
	probes *probeCounts
	hist   *histogram
}

type cgStats struct {
	ok               bool
	cpu              float64
	mem, limit, pids uint64
}

// WriteMetrics writes every pod's metrics, then the process's own (go_*
// and process_*), in Prometheus' text format. Figures are read from the
// cgroups now (v1 or v2): CPU time, memory in use (page cache included:
// memory.current, v1 memory.usage_in_bytes), memory limit, pids; restarts,
// readiness and the phase from each pod's status; probe results and start
// durations counted since the supervisor started; network bytes from each
// pod's veth.
func (s *Supervisor) WriteMetrics(out io.Writer) error {
	pods := s.List()
	slices.SortFunc(pods, func(a, b *Pod) int { return strings.Compare(a.name, b.name) })
	// The cgroup files are read by a few workers at once: a scrape is
	// mostly system calls, which run in parallel on the cores there are.
	figs := make([]podFigures, len(pods))
	workers := min(runtime.GOMAXPROCS(0), 4, len(pods))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(pods); i = int(next.Add(1)) - 1 {
				figs[i] = pods[i].figures()
			}
		}()
	}
	wg.Wait()
	w := &promWriter{w: newBufWriter(out)}

	w.family("podvisor_pod_phase", "gauge", "The pod's phase: 1 for the current one.")
	for _, f := range figs {
		for _, ph := range []pod.Phase{pod.PhasePending, pod.PhaseInitializing, pod.PhaseRunning, pod.PhaseTerminating, pod.PhaseSucceeded, pod.PhaseFailed, pod.PhaseStopped} {
			v := 0.0
			if f.st.Phase == ph {
				v = 1
			}
			w.sample("podvisor_pod_phase", v, append(f.labels, "phase", string(ph))...)
		}
	}
	w.family("podvisor_pod_cpu_seconds_total", "counter", "CPU time used by the pod's processes, from its cgroup.")
	for _, f := range figs {
		if f.pod.ok {
			w.sample("podvisor_pod_cpu_seconds_total", f.pod.cpu, f.labels...)
		}
	}
	w.family("podvisor_pod_memory_bytes", "gauge", "The pod's memory in use, page cache included (its cgroup's memory.current, or memory.usage_in_bytes on v1).")
	for _, f := range figs {
		if f.pod.ok {
			w.sample("podvisor_pod_memory_bytes", float64(f.pod.mem), f.labels...)
		}
	}
	w.family("podvisor_pod_memory_limit_bytes", "gauge", "The pod's memory limit; 0 when it has none.")
	for _, f := range figs {
		if f.pod.ok {
			w.sample("podvisor_pod_memory_limit_bytes", float64(f.pod.limit), f.labels...)
		}
	}
	w.family("podvisor_network_receive_bytes_total", "counter", "Bytes the pod received on its network interface.")
	for _, f := range figs {
		if f.net {
			w.sample("podvisor_network_receive_bytes_total", float64(f.rx), f.labels...)
		}
	}
	w.family("podvisor_network_transmit_bytes_total", "counter", "Bytes the pod sent on its network interface.")
	for _, f := range figs {
		if f.net {
			w.sample("podvisor_network_transmit_bytes_total", float64(f.tx), f.labels...)
		}
	}
	procFamily := func(name, typ, help string, value func(*procFigures) (float64, bool)) {
		w.family(name, typ, help)
		for i := range figs {
			for j := range figs[i].procs {
				pf := &figs[i].procs[j]
				if v, ok := value(pf); ok {
					w.sample(name, v, pf.labels...)
				}
			}
		}
	}
	boolf := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	procFamily("podvisor_process_ready", "gauge", "1 when the process is ready.", func(pf *procFigures) (float64, bool) { return boolf(pf.ready), true })
	procFamily("podvisor_process_restarts_total", "counter", "Restarts of the process.", func(pf *procFigures) (float64, bool) { return float64(pf.starts), true })
	procFamily("podvisor_process_oom_kills_total", "counter", "Processes the kernel's OOM killer killed in the process's cgroup.", func(pf *procFigures) (float64, bool) { return float64(pf.ooms), true })
	procFamily("podvisor_process_cpu_seconds_total", "counter", "CPU time used by the process (its cgroup).", func(pf *procFigures) (float64, bool) { return pf.stats.cpu, pf.stats.ok })
	procFamily("podvisor_process_memory_bytes", "gauge", "The process's memory in use, page cache included (its cgroup's memory.current, or memory.usage_in_bytes on v1).", func(pf *procFigures) (float64, bool) {
		return float64(pf.stats.mem), pf.stats.ok
	})
	procFamily("podvisor_process_pids", "gauge", "Tasks in the process's cgroup.", func(pf *procFigures) (float64, bool) { return float64(pf.stats.pids), pf.stats.ok })

	w.family("podvisor_probe_total", "counter", "Probe results by probe kind (Startup, Liveness, Readiness) and result (success, failure).")
	for i := range figs {
		for j := range figs[i].procs {
			pf := &figs[i].procs[j]
			for k := range 3 {
				for r, result := range []string{"success", "failure"} {
					if n := pf.probes[k][r].Load(); n > 0 {
						w.sample("podvisor_probe_total", float64(n), append(pf.labels, "probe", pod.ProbeKind(k).String(), "result", result)...)
					}
				}
			}
		}
	}
	w.family("podvisor_process_start_duration_seconds", "histogram", "Time from the spawn of a process to its exec.")
	for i := range figs {
		for j := range figs[i].procs {
			pf := &figs[i].procs[j]
			var cum uint64
			for b, le := range startBuckets {
				cum += pf.hist.counts[b].Load()
				w.sample("podvisor_process_start_duration_seconds_bucket", float64(cum), append(pf.labels, "le", formatLE(le))...)
			}
			cum += pf.hist.counts[len(startBuckets)].Load()
			w.sample("podvisor_process_start_duration_seconds_bucket", float64(cum), append(pf.labels, "le", "+Inf")...)
			w.sample("podvisor_process_start_duration_seconds_sum", float64(pf.hist.sumNs.Load())/1e9, pf.labels...)
			w.sample("podvisor_process_start_duration_seconds_count", float64(cum), pf.labels...)
		}
	}
	writeRuntimeMetrics(w)
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}

// figures gathers one pod's scrape.
func (p *Pod) figures() podFigures {
	f := podFigures{st: p.Status()}
	f.labels = []string{"pod", p.name}
	if ns := p.spec.Metadata.Namespace; ns != "" {
		f.labels = append(f.labels, "namespace", ns)
	}
	if p.cg != nil {
		f.pod = statsOf(p.cg)
	}
	byName := map[string]pod.ProcessStatus{}
	for _, ps := range append(append([]pod.ProcessStatus{}, f.st.Init...), f.st.Processes...) {
		byName[ps.Name] = ps
	}
	for _, pr := range p.procs {
		ps := byName[pr.spec.Name]
		pf := procFigures{name: pr.spec.Name, ready: ps.Ready, starts: ps.RestartCount, probes: &pr.probes, hist: &pr.startHist}
		pf.labels = append(append([]string{}, f.labels...), "process", pr.spec.Name)
		if pr.cg != nil {
			pf.stats = usageOf(pr.cg)
			pf.ooms, _ = pr.cg.OOMKills()
		}
		f.procs = append(f.procs, pf)
	}
	if n := p.net; n != nil && n.HostIf != "" {
		if h, err := p.sv.net.hostNS(); err == nil {
			// The host side's counters, seen from the pod: what the host
			// side sends, the pod receives.
			if rx, tx, err := h.LinkStats(n.HostIf); err == nil {
				f.rx, f.tx, f.net = tx, rx, true
			}
		}
	}
	return f
}

func statsOf(g *cgroups.Group) cgStats {
	s, err := g.Stats()
	if err != nil {
		return cgStats{}
	}
	return cgStats{ok: true, cpu: s.CPUSeconds, mem: s.MemoryBytes, limit: s.MemoryLimitBytes, pids: s.Pids}
}

func usageOf(g *cgroups.Group) cgStats {
	s, err := g.Usage()
	if err != nil {
		return cgStats{}
	}
	return cgStats{ok: true, cpu: s.CPUSeconds, mem: s.MemoryBytes, pids: s.Pids}
}

// runtimeSamples are the runtime/metrics the go_* families come from.
var runtimeSamples = []string{
	"/sched/goroutines:goroutines",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/gc/cycles/total:gc-cycles",
}

// writeRuntimeMetrics writes the process's own go_* and process_*
// families, as the Prometheus client library names them.
func writeRuntimeMetrics(w *promWriter) {
	samples := make([]metrics.Sample, len(runtimeSamples))
	for i, n := range runtimeSamples {
		samples[i].Name = n
	}
	metrics.Read(samples)
	val := func(i int) float64 {
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			return float64(samples[i].Value.Uint64())
		case metrics.KindFloat64:
			return samples[i].Value.Float64()
		}
		return 0
	}
	w.family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	w.sample("go_goroutines", val(0))
	threads, _ := runtime.ThreadCreateProfile(nil)
	w.family("go_threads", "gauge", "Number of OS threads created.")
	w.sample("go_threads", float64(threads))
	w.family("go_memstats_heap_alloc_bytes", "gauge", "Number of heap bytes allocated and still in use.")
	w.sample("go_memstats_heap_alloc_bytes", val(1))
	w.family("go_memstats_sys_bytes", "gauge", "Number of bytes obtained from the system.")
	w.sample("go_memstats_sys_bytes", val(2))
	w.family("go_gc_cycles_total", "counter", "Completed GC cycles.")
	w.sample("go_gc_cycles_total", val(3))
	w.family("go_info", "gauge", "Information about the Go environment.")
	w.sample("go_info", 1, "version", runtime.Version())

	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
		w.sample("process_cpu_seconds_total", cpu)
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			page := float64(os.Getpagesize())
			vsz, _ := strconv.ParseFloat(f[0], 64)
			rss, _ := strconv.ParseFloat(f[1], 64)
			w.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
			w.sample("process_virtual_memory_bytes", vsz*page)
			w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
			w.sample("process_resident_memory_bytes", rss*page)
		}
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		w.family("process_open_fds", "gauge", "Number of open file descriptors.")
		w.sample("process_open_fds", float64(len(ents)))
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.")
		w.sample("process_max_fds", float64(rl.Cur))
	}
	w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
	w.sample("process_start_time_seconds", float64(processStart.UnixNano())/1e9)
}

// processStart is about when this process started (package init).
var processStart = time.Now()

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 32<<10) }

func formatLE(le float64) string { return strconv.FormatFloat(le, 'g', -1, 64) }
