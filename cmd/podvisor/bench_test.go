package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/supervisor/api"
)

// Daemon benchmarks for `make bench`; figures go to docs/benchmarks.md.
// They use the real binary, bin/podvisor, which `make bench` builds.

type benchDaemon struct {
	bin, root, socket string
	cmd               *exec.Cmd
	cl                *api.Client
}

func startBenchDaemon(b *testing.B) *benchDaemon {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates namespaces and cgroups")
	}
	bin, _ := filepath.Abs("../../bin/podvisor")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("%s: build it first (make build)", bin)
	}
	root := b.TempDir()
	d := &benchDaemon{bin: bin, root: root, socket: filepath.Join(root, "api.sock")}
	d.cmd = exec.Command(bin, "daemon", "--root", root, "--socket", d.socket, "--cgroup-parent", fmt.Sprintf("podvisor-bench-%d", os.Getpid()), "--log-level", "warn")
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	d.cl = api.NewClient(d.socket)
	for i := 0; ; i++ {
		if _, err := d.cl.Version(context.Background()); err == nil {
			break
		}
		if i > 500 {
			b.Fatal("daemon not answering")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Cleanup(func() {
		pods, _ := d.cl.List(context.Background())
		for _, p := range pods {
			_ = d.cl.Remove(context.Background(), p.Name, true, nil)
		}
		d.cmd.Process.Signal(os.Interrupt)
		d.cmd.Wait()
	})
	return d
}

func (d *benchDaemon) cli(b *testing.B, args ...string) {
	b.Helper()
	cmd := exec.Command(d.bin, append([]string{"--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), "PODVISOR_SOCKET="+d.socket)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("podvisor %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func podSpec(name string) string {
	return fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  terminationGracePeriodSeconds: 5\n  processes:\n  - {name: a, command: [sleep, \"100000\"]}\n  - {name: b, command: [sleep, \"100000\"]}\n  - {name: c, command: [sleep, \"100000\"]}\n", name)
}

// BenchmarkCLIRun: `podvisor run` of a 3-process pod, CLI process start
// included, until it returns (every process started).
func BenchmarkCLIRun(b *testing.B) {
	d := startBenchDaemon(b)
	dir := b.TempDir()
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("run%d", i)
		f := filepath.Join(dir, name+".yaml")
		os.WriteFile(f, []byte(podSpec(name)), 0o644)
		t0 := time.Now()
		d.cli(b, "run", f)
		took = append(took, time.Since(t0))
		b.StopTimer()
		if err := d.cl.Remove(context.Background(), name, true, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(msOf(medianOf(took)), "ms/run")
}

func fill(b *testing.B, d *benchDaemon, n int) { fillRange(b, d, 0, n) }

func fillRange(b *testing.B, d *benchDaemon, from, to int) {
	b.Helper()
	for i := from; i < to; i++ {
		if _, err := d.cl.Create(context.Background(), []byte(podSpec(fmt.Sprintf("p%d", i))), true, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPsJSON100: `podvisor ps -o json` with 100 running pods.
func BenchmarkPsJSON100(b *testing.B) {
	d := startBenchDaemon(b)
	fill(b, d, 100)
	b.ResetTimer()
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		d.cli(b, "ps", "-o", "json")
		took = append(took, time.Since(t0))
	}
	b.ReportMetric(msOf(medianOf(took)), "ms/ps")
}

// BenchmarkDaemonFootprint: the daemon's RSS and PSS with no pod and with
// 100 pods of 3 processes, and its CPU use over an idle period
// (PODVISOR_BENCH_IDLE, default 60s) with those pods.
func BenchmarkDaemonFootprint(b *testing.B) {
	for i := 0; i < b.N; i++ {
		d := startBenchDaemon(b)
		pid := d.cmd.Process.Pid
		// At rest: the daemon trims start-up's memory daemon.TrimSettle
		// after ready.
		time.Sleep(time.Second)
		rss0, pss0 := smaps(pid)
		fillRange(b, d, 0, 50)
		time.Sleep(500 * time.Millisecond)
		rss50, pss50 := smaps(pid)
		fillRange(b, d, 50, 100)
		time.Sleep(500 * time.Millisecond)
		rss1, pss1 := smaps(pid)
		b.ReportMetric(float64(rss0)/1024, "base-rss-MB")
		b.ReportMetric(float64(pss0)/1024, "base-pss-MB")
		b.ReportMetric(float64(rss1)/1024, "rss-MB-300-processes")
		// The marginal cost: from 150 to 300 processes, once the code
		// paths of creating a pod have been paged in.
		b.ReportMetric(float64(rss1-rss50)/150, "rss-kB/process")
		b.ReportMetric(float64(pss1-pss50)/150, "pss-kB/process")
		idle := 60 * time.Second
		if v, err := time.ParseDuration(os.Getenv("PODVISOR_BENCH_IDLE")); err == nil {
			idle = v
		}
		c0 := cpuTicks(pid)
		time.Sleep(idle)
		c1 := cpuTicks(pid)
		b.ReportMetric(float64(c1-c0)/100/idle.Seconds()*100, "idle-cpu-%")
	}
}

func smaps(pid int) (rss, pss int64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			rss = n
		case "Pss:":
			pss = n
		}
	}
	return rss, pss
}

// cpuTicks is utime+stime in clock ticks (100 per second).
func cpuTicks(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

func medianOf(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkDaemonProbes: the cost of probes to the daemon: 100 pods of 3
// processes, each with an exec readiness probe (`true`) every second, 300
// probe commands a second. It reports the daemon's CPU (of one core, the
// probe commands' own run excluded: they are children in the pods'
// cgroups), its RSS, and the probes that ran.
func BenchmarkDaemonProbes(b *testing.B) {
	for i := 0; i < b.N; i++ {
		d := startBenchDaemon(b)
		pid := d.cmd.Process.Pid
		time.Sleep(200 * time.Millisecond)
		rss0, _ := smaps(pid)
		for j := 0; j < 100; j++ {
			spec := fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: pr%d}
spec:
  terminationGracePeriodSeconds: 1
  processes:
  - {name: a, command: [sleep, "100000"], readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}}
  - {name: b, command: [sleep, "100000"], readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}}
  - {name: c, command: [sleep, "100000"], readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}}
`, j)
			if _, err := d.cl.Create(context.Background(), []byte(spec), true, true); err != nil {
				b.Fatal(err)
			}
		}
		// Every process ready: every probe has run at least once.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			pods, err := d.cl.List(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			ready := 0
			for _, st := range pods {
				r, _ := st.Ready()
				ready += r
			}
			if ready == 300 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of 300 processes ready after 2 minutes", ready)
			}
			time.Sleep(200 * time.Millisecond)
		}
		window := 20 * time.Second
		c0 := cpuTicks(pid)
		time.Sleep(window)
		c1 := cpuTicks(pid)
		rss1, _ := smaps(pid)
		b.ReportMetric(float64(c1-c0)/100/window.Seconds()*100, "daemon-cpu-%")
		b.ReportMetric(float64(rss1)/1024, "rss-MB")
		b.ReportMetric(float64(rss1-rss0)/1024, "rss-MB-over-base")
		b.ReportMetric(float64(threads(pid)), "threads")
	}
}

// threads is the number of OS threads of process pid.
func threads(pid int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
