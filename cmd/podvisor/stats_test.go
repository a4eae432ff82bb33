package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// podvisor stats: the JSON fields, CPU in cores between two readings,
// memory against the limit, per-process figures; unknown pods refused.
func TestStatsCommand(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "busy")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	c.mustPV(t, "run", specFile(t, "busy", `  terminationGracePeriodSeconds: 1
  resources: {limits: {memory: 128Mi}}
  processes:
  - {name: spin, command: [sh, -c, "while :; do :; done"]}
  - {name: idle, command: [sleep, "1000"]}
`))
	var entries []statsEntry
	out := c.mustPV(t, "stats", "--no-stream", "--processes", "-o", "json", "busy")
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(entries) != 1 || entries[0].Pod != "busy" {
		t.Fatalf("stats: %s", out)
	}
	e := entries[0]
	// Generous bounds: make test runs packages side by side on 2 cores.
	if e.CPU < 0.05 || e.CPU > 2.5 {
		t.Errorf("cpu %.2f cores for a pod spinning on one", e.CPU)
	}
	if e.MemoryLimitBytes != 128<<20 || e.MemoryBytes == 0 || e.Pids < 2 {
		t.Errorf("memory %d / %d, pids %d", e.MemoryBytes, e.MemoryLimitBytes, e.Pids)
	}
	var spin, idle statsProcess
	for _, p := range e.Processes {
		switch p.Name {
		case "spin":
			spin = p
		case "idle":
			idle = p
		}
	}
	if spin.CPU < 0.05 || idle.CPU > 0.1 || idle.Pids != 1 {
		t.Errorf("processes: spin %+v idle %+v", spin, idle)
	}
	table := c.mustPV(t, "stats", "--no-stream")
	if !strings.Contains(table, "MEM USAGE / LIMIT") || !strings.Contains(table, "busy") || !strings.Contains(table, "128.0MiB") {
		t.Errorf("stats table:\n%s", table)
	}
	if _, stderr, code := c.pv(t, "stats", "--no-stream", "nosuch"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("stats nosuch: exit %d %s", code, stderr)
	}
}

func TestStatsEntries(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	prev := []pod.PodStats{{Pod: "a", Time: t0, CPUSeconds: 10, Processes: []pod.ProcessStats{{Name: "x", CPUSeconds: 4}}}}
	cur := []pod.PodStats{
		{Pod: "a", Time: t0.Add(2 * time.Second), CPUSeconds: 13, Processes: []pod.ProcessStats{{Name: "x", CPUSeconds: 5}}},
		{Pod: "new", Time: t0.Add(2 * time.Second), CPUSeconds: 99},
	}
	got := statsEntries(prev, cur)
	if got[0].CPU != 1.5 || got[0].Processes[0].CPU != 0.5 || got[1].CPU != 0 {
		t.Errorf("entries %+v", got)
	}
	if bytesHuman(1536) != "1.5KiB" || bytesHuman(512) != "512B" || bytesHuman(128<<20) != "128.0MiB" {
		t.Errorf("bytesHuman: %s %s %s", bytesHuman(1536), bytesHuman(512), bytesHuman(128<<20))
	}
}
