package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Stats on the machine's real cgroups (v1 and hybrid here, pure v2 in the
// v2 VM): CPU after work, memory after an allocation, pids while running.
func TestStatsOnTheKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a cgroup")
	}
	h, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("podvisor-test-stats-%d", os.Getpid())
	g, err := h.Create(path, Limits{MemoryBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Destroy(); err != nil {
			t.Error(err)
		}
		h.Prune(path)
	})
	// Burns CPU, then holds 32 MiB in a shell variable; sleep keeps it
	// alive for the pids figure.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; x=$(head -c 33554432 /dev/zero | tr '\0' a); echo ready; sleep 30`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Moved after its start (a test reading figures, not the engine, which
	// places a process before it execs).
	for _, dir := range append(func() []string {
		var ds []string
		for _, d := range g.V1Dirs() {
			ds = append(ds, d)
		}
		return ds
	}(), g.UnifiedDir()) {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil && h.Mode == Unified {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 6)
	done := make(chan struct{})
	go func() { _, _ = out.Read(buf); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the worker did not get ready")
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: %+v", s)
	if s.CPUSeconds <= 0 || s.Pids < 1 || s.MemoryLimitBytes != 256<<20 {
		t.Errorf("Stats() = %+v: want CPU time, at least one pid and the 256 MiB limit", s)
	}
	if s.MemoryBytes < 1<<20 {
		t.Errorf("Stats() memory %d bytes after the worker allocated 32 MiB", s.MemoryBytes)
	}
}
