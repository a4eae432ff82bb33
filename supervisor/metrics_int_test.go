package supervisor

import (
	"bytes"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
)

// Metrics parsed back from a real pod: figures that move (restarts after
// crashes, memory after an allocation, CPU after work, probes, starts).
func TestMetricsOfARealPod(t *testing.T) {
	sv := newSupervisorWith(t, Options{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	name := podName(t)
	p := createAndStart(t, sv, load(t, `apiVersion: podvisor/v1
kind: Pod
metadata: {name: `+name+`}
spec:
  terminationGracePeriodSeconds: 1
  resources: {limits: {memory: 256Mi}}
  restartBackoff: {initialDelay: 100ms, maxDelay: 200ms}
  processes:
  - name: worker
    command: [sh, -c, 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; x=$(head -c 33554432 /dev/zero | tr "\0" a); echo ready; sleep 1000; echo ${#x}']
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
  - name: crasher
    command: [sh, -c, "exit 3"]
`))
	waitCond(t, p, 30*time.Second, "two restarts and a ready worker", func(s *pod.Status) bool {
		return len(s.Processes) == 2 && s.Processes[1].RestartCount >= 2 && s.Processes[0].Ready
	})
	waitLog(t, sv, name, "worker", "ready", 30*time.Second)
	var b bytes.Buffer
	if err := sv.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, b.Bytes())
	check := func(fam string, ok func(float64) bool, labels ...string) {
		t.Helper()
		v, found := sampleOf(fams[fam], append([]string{"pod", name}, labels...)...)
		if !found || !ok(v) {
			t.Errorf("%s%v = %v (found %v)", fam, labels, v, found)
		}
	}
	positive := func(v float64) bool { return v > 0 }
	check("podvisor_pod_phase", func(v float64) bool { return v == 1 }, "phase", "Running")
	check("podvisor_pod_phase", func(v float64) bool { return v == 0 }, "phase", "Failed")
	check("podvisor_process_restarts_total", func(v float64) bool { return v >= 2 }, "process", "crasher")
	check("podvisor_process_restarts_total", func(v float64) bool { return v == 0 }, "process", "worker")
	check("podvisor_process_ready", func(v float64) bool { return v == 1 }, "process", "worker")
	// (The crasher is ready, without a probe, whenever a run of it is
	// caught running: its readiness is not asserted.)
	check("podvisor_process_cpu_seconds_total", positive, "process", "worker")
	check("podvisor_process_memory_bytes", func(v float64) bool { return v >= 16<<20 }, "process", "worker")
	check("podvisor_process_pids", positive, "process", "worker")
	check("podvisor_process_oom_kills_total", func(v float64) bool { return v == 0 }, "process", "worker")
	check("podvisor_pod_cpu_seconds_total", positive)
	check("podvisor_pod_memory_bytes", func(v float64) bool { return v >= 16<<20 })
	check("podvisor_pod_memory_limit_bytes", func(v float64) bool { return v == 256<<20 })
	check("podvisor_probe_total", positive, "process", "worker", "probe", "Readiness", "result", "success")
	check("podvisor_process_start_duration_seconds", func(v float64) bool { return v >= 3 }, "process", "crasher")
	for _, f := range []string{"go_goroutines", "go_threads", "process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total"} {
		if fams[f] == nil {
			t.Errorf("no %s", f)
		}
	}
}
