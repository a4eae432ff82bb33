package supervisor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
)

// Benchmarks for `make bench`; their figures go to docs/benchmarks.md.
// Targets on a 2-core VM: up ≤ 10 ms, crash → running ≤ 2 ms, kill within
// 5 ms of the grace period, ≤ 30 kB per supervised process.

func benchSupervisor(b *testing.B) *Supervisor {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates namespaces and cgroups")
	}
	sv, err := New(Options{Root: b.TempDir(), CgroupParent: fmt.Sprintf("podvisor-bench-%d-%d", os.Getpid(), testSeq.Add(1)), Logger: zerolog.Nop(), Network: NetworkOptions{Default: pod.NetworkNone}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sv.Close(context.Background()) })
	return sv
}

func benchLoad(b *testing.B, doc string) *pod.Pod {
	b.Helper()
	p, err := pod.Load([]byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func allRunning(n int) func(*pod.Status) bool {
	return func(s *pod.Status) bool {
		running := 0
		for _, p := range s.Processes {
			if p.State == pod.StateRunning {
				running++
			}
		}
		return running == n
	}
}

// BenchmarkPodUpDown: create a 3-process pod (network, IPC and UTS
// namespaces, pod and process cgroups) and start it until every process has
// exec'd; then stop and remove it.
func BenchmarkPodUpDown(b *testing.B) {
	benchUpDown(b, `
  terminationGracePeriodSeconds: 5
  resources: {limits: {cpu: 500m, memory: 64Mi, pids: 50}}
  processes:
  - {name: a, command: [sleep, "100"]}
  - {name: b, command: [sleep, "100"]}
  - {name: c, command: [sleep, "100"]}
`)
}

// BenchmarkPodUpDownVolumes is BenchmarkPodUpDown with three volumes (an
// emptyDir, a files volume and a hostPath) mounted by every process, one of
// them at a path the host does not have.
func BenchmarkPodUpDownVolumes(b *testing.B) {
	host := b.TempDir()
	benchUpDown(b, fmt.Sprintf(`
  terminationGracePeriodSeconds: 5
  resources: {limits: {cpu: 500m, memory: 64Mi, pids: 50}}
  volumes:
  - {name: data, emptyDir: {}}
  - {name: conf, files: {items: [{path: app.conf, data: "key: value"}]}}
  - {name: host, hostPath: {path: %q, type: Directory}}
  processes:
  - {name: a, command: [sleep, "100"], volumeMounts: &m [{name: data, mountPath: /data}, {name: conf, mountPath: /etc/app}, {name: host, mountPath: /var/lib/app}]}
  - {name: b, command: [sleep, "100"], volumeMounts: *m}
  - {name: c, command: [sleep, "100"], volumeMounts: *m}
`, host))
}

// BenchmarkPodUpDownVolumesExisting: the same volumes mounted where the
// host has directories already (no mirror needed).
func BenchmarkPodUpDownVolumesExisting(b *testing.B) {
	host := b.TempDir()
	benchUpDown(b, fmt.Sprintf(`
  terminationGracePeriodSeconds: 5
  resources: {limits: {cpu: 500m, memory: 64Mi, pids: 50}}
  volumes:
  - {name: data, emptyDir: {}}
  - {name: conf, files: {items: [{path: app.conf, data: "key: value"}]}}
  - {name: host, hostPath: {path: %q, type: Directory}}
  processes:
  - {name: a, command: [sleep, "100"], volumeMounts: &m [{name: data, mountPath: /mnt}, {name: conf, mountPath: /srv}, {name: host, mountPath: /opt}]}
  - {name: b, command: [sleep, "100"], volumeMounts: *m}
  - {name: c, command: [sleep, "100"], volumeMounts: *m}
`, host))
}

func benchUpDown(b *testing.B, specText string) {
	sv := benchSupervisor(b)
	var up, down []time.Duration
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-up-%d", i)
		spec := benchLoad(b, podYAML(name, specText))
		t0 := time.Now()
		p, err := sv.Create(spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		if _, err := p.WaitFor(context.Background(), allRunning(3)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := sv.Remove(context.Background(), name, RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		up, down = append(up, t1.Sub(t0)), append(down, t2.Sub(t1))
	}
	b.ReportMetric(ms(median(up)), "ms/up")
	b.ReportMetric(ms(median(down)), "ms/down")
}

// BenchmarkCrashToRunning: a process that exits at once, restarted
// immediately (resetAfter 1ns makes every restart a first one); the figure
// is the time from the supervisor seeing the exit to the new process having
// exec'd, and the whole cycle.
func BenchmarkCrashToRunning(b *testing.B) {
	sv := benchSupervisor(b)
	events, cancel := sv.Subscribe(1 << 16)
	defer cancel()
	spec := benchLoad(b, podYAML("bench-crash", `
  restartPolicy: Always
  restartBackoff: {initialDelay: 1h, maxDelay: 1h, resetAfter: 1ns}
  processes:
  - {name: crash, command: [/bin/true]}
`))
	b.ResetTimer()
	p, err := sv.Create(spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	var lastExit, first time.Time
	for len(lat) < b.N {
		e := <-events
		switch e.Type {
		case EventExited:
			lastExit = e.Time
		case EventStarted:
			if first.IsZero() {
				first = e.Time
			}
			if !lastExit.IsZero() {
				lat = append(lat, e.Time.Sub(lastExit))
			}
		}
	}
	cycle := time.Since(first) / time.Duration(b.N)
	b.StopTimer()
	_ = p.Stop(context.Background(), nil)
	b.ReportMetric(ms(median(lat)), "ms/crash-to-running")
	b.ReportMetric(ms(percentile(lat, 0.99)), "ms/crash-to-running-p99")
	b.ReportMetric(ms(cycle), "ms/cycle")
}

// BenchmarkStopGracePrecision: a TERM-ignoring process and a 100 ms grace
// period; the figure is how long past the grace period Stop returned.
func BenchmarkStopGracePrecision(b *testing.B) {
	sv := benchSupervisor(b)
	grace := 100 * time.Millisecond
	var late []time.Duration
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-stop-%d", i)
		p, err := sv.Create(benchLoad(b, podYAML(name, `
  processes:
  - {name: stubborn, command: [sh, -c, "trap '' TERM; echo ready; while :; do sleep 1; done"]}
`)))
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		// Wait until the trap is set (the line is logged after it is).
		deadline := time.Now().Add(10 * time.Second)
		for {
			data, _ := os.ReadFile(logPath(p.dir, "stubborn"))
			if strings.Contains(string(data), "ready") {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("not ready")
			}
			time.Sleep(time.Millisecond)
		}
		t0 := time.Now()
		if err := p.Stop(context.Background(), &grace); err != nil {
			b.Fatal(err)
		}
		late = append(late, time.Since(t0)-grace)
		if err := sv.Remove(context.Background(), name, RemoveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ms(median(late)), "ms-past-grace")
	b.ReportMetric(ms(slices.Max(late)), "ms-past-grace-max")
}

// BenchmarkMemoryPerProcess: what the supervisor holds for each extra
// supervised process, measured over a pod of 100 (Go heap and stacks, and
// the process's resident set).
func BenchmarkMemoryPerProcess(b *testing.B) {
	sv := benchSupervisor(b)
	const n = 100
	var procs strings.Builder
	for i := range n {
		fmt.Fprintf(&procs, "  - {name: p%d, command: [sleep, \"1000\"]}\n", i)
	}
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-mem-%d", i)
		spec := benchLoad(b, podYAML(name, "  terminationGracePeriodSeconds: 5\n  processes:\n"+procs.String()))
		heap0, rss0 := memNow()
		p, err := sv.Create(spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		if _, err := p.WaitFor(context.Background(), allRunning(n)); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		heap1, rss1 := memNow()
		b.ReportMetric(float64(heap1-heap0)/n/1024, "heap-kB/process")
		b.ReportMetric(float64(rss1-rss0)/n/1024, "rss-kB/process")
		b.ReportMetric(float64(threads()), "threads")
		if err := sv.Remove(context.Background(), name, RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func memNow() (heap, rss int64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse), statusKB("VmRSS") * 1024
}

func statusKB(key string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func threads() int64 { return statusKB("Threads") }

func median(d []time.Duration) time.Duration { return percentile(d, 0.5) }

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkLogLatencyBesideYes: a pod printing the time every 0.2 s beside
// a pod of 1 or 6 `yes` processes, for 5 s; how late its lines reach a
// follower of its logs (after being logged), and the supervisor's CPU use
// meanwhile, in percent of one core. Run it with -benchtime=1x.
func BenchmarkLogLatencyBesideYes(b *testing.B) {
	for _, n := range []int{1, 6} {
		b.Run(fmt.Sprintf("yes=%d", n), func(b *testing.B) {
			sv := benchSupervisor(b)
			var all []time.Duration
			var cpu, wall time.Duration
			for i := 0; i < b.N; i++ {
				late, c, w := tickLateness(b, sv, n, 5*time.Second)
				all, cpu, wall = append(all, late...), cpu+c, wall+w
			}
			b.ReportMetric(ms(median(all)), "ms-late-median")
			b.ReportMetric(ms(slices.Max(all)), "ms-late-max")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
		})
	}
}

// BenchmarkScrape100Pods: WriteMetrics with 100 pods of 3 processes, every
// figure read from the cgroups (target: under 20 ms, little allocation).
func BenchmarkScrape100Pods(b *testing.B) {
	sv := benchSupervisor(b)
	for i := 0; i < 100; i++ {
		spec := benchLoad(b, podYAML(fmt.Sprintf("scrape-%d", i), `
  terminationGracePeriodSeconds: 1
  resources: {limits: {memory: 64Mi}}
  processes:
  - {name: a, command: [sleep, "1000"]}
  - {name: b, command: [sleep, "1000"]}
  - {name: c, command: [sleep, "1000"]}
`))
		p, err := sv.Create(spec)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
	}
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var w countWriter
		if err := sv.WriteMetrics(&w); err != nil {
			b.Fatal(err)
		}
		size = int(w)
	}
	b.ReportMetric(float64(size)/1024, "kB/scrape")
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
