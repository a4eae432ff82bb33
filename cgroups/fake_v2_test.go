package cgroups

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	occ "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// These tests run the package against a fake cgroupfs in a temporary
// directory: plain directories and files standing for what the kernel would
// show. occ.TestMode makes the library's ReadFile/WriteFile accept files that
// are not on cgroupfs (and makes WriteFile create and truncate them), so no
// test here needs root or touches /sys/fs/cgroup.

// allV2Controllers is what a pure cgroup v2 root lists in cgroup.controllers.
const allV2Controllers = "cpuset cpu io memory hugetlb pids rdma misc"

// fakeTestMode switches the library to its fake-cgroupfs mode for the
// duration of the test.
func fakeTestMode(t *testing.T) {
	t.Helper()
	old := occ.TestMode
	occ.TestMode = true
	t.Cleanup(func() { occ.TestMode = old })
}

func writeFakeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFakeFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertFakeFile(t *testing.T, path, want string) {
	t.Helper()
	if got := readFakeFile(t, path); got != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}

func assertNoFakeFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: want it absent, stat error is %v", path, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// fakeV2Cgroup fills dir with the interface files the kernel creates in a
// non-root cgroup2 directory, controllers being its cgroup.controllers.
func fakeV2Cgroup(t *testing.T, dir, controllers string) {
	t.Helper()
	files := map[string]string{
		"cgroup.controllers":     controllers + "\n",
		"cgroup.subtree_control": "",
		"cgroup.procs":           "",
		"cgroup.events":          "populated 0\nfrozen 0\n",
		"cgroup.kill":            "",
		"cgroup.freeze":          "0\n",
		"memory.current":         "0\n",
		"memory.events":          "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
	}
	for name, content := range files {
		writeFakeFile(t, filepath.Join(dir, name), content)
	}
}

// fakeV2Root makes a fake pure cgroup v2 root with nothing enabled in its
// subtree, and returns its directory.
func fakeV2Root(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFakeFile(t, filepath.Join(root, "cgroup.controllers"), allV2Controllers+"\n")
	writeFakeFile(t, filepath.Join(root, "cgroup.subtree_control"), "")
	writeFakeFile(t, filepath.Join(root, "cgroup.procs"), "1\n")
	return root
}

func TestFakeV2CreateLimits(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	fakeV2Cgroup(t, filepath.Join(root, "podvisor"), "cpu io memory pids")
	web := filepath.Join(root, "podvisor", "web")
	fakeV2Cgroup(t, web, "cpu memory pids")

	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err := h.Create("/podvisor/web", Limits{CPUMilli: 500, MemoryBytes: 256 << 20, Pids: 100})
	if err != nil {
		t.Fatal(err)
	}
	if g.Path() != "/podvisor/web" {
		t.Errorf("Path() = %q", g.Path())
	}
	if g.UnifiedDir() != web {
		t.Errorf("UnifiedDir() = %q, want %q", g.UnifiedDir(), web)
	}
	if !g.Exists() {
		t.Error("Exists() = false after Create")
	}

	assertFakeFile(t, filepath.Join(web, "cpu.max"), "50000 100000")
	assertFakeFile(t, filepath.Join(web, "memory.max"), "268435456")
	assertFakeFile(t, filepath.Join(web, "pids.max"), "100")
	// fs2 turns memory+swap == memory into "no swap".
	assertFakeFile(t, filepath.Join(web, "memory.swap.max"), "0")
	// Nothing else is limited.
	for _, f := range []string{"cpu.weight", "memory.low", "memory.high", "cpu.max.burst", "io.max", "cpuset.cpus"} {
		assertNoFakeFile(t, filepath.Join(web, f))
	}
	// No process is moved in by Create.
	assertFakeFile(t, filepath.Join(web, "cgroup.procs"), "")

	// Controllers are enabled in every parent, not in the group itself.
	assertFakeFile(t, filepath.Join(root, "cgroup.subtree_control"), "+cpu +memory +pids")
	assertFakeFile(t, filepath.Join(root, "podvisor", "cgroup.subtree_control"), "+cpu +memory +pids")
	assertFakeFile(t, filepath.Join(web, "cgroup.subtree_control"), "")
}

func TestFakeV2CreateEnablesOnlyMissingControllers(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	// Everything podvisor wants is already enabled at the root: the file
	// must not be rewritten.
	writeFakeFile(t, filepath.Join(root, "cgroup.subtree_control"), "cpu memory pids\n")
	// a lacks cpu, has pids enabled already.
	a := filepath.Join(root, "a")
	fakeV2Cgroup(t, a, "io memory pids")
	writeFakeFile(t, filepath.Join(a, "cgroup.subtree_control"), "pids\n")
	// b has none of cpu, memory, pids available: nothing to write.
	b := filepath.Join(a, "b")
	fakeV2Cgroup(t, b, "io rdma")
	writeFakeFile(t, filepath.Join(b, "cgroup.subtree_control"), "io\n")
	// c has cpu only (and "cpuset", which must not be taken for "cpu").
	c := filepath.Join(b, "c")
	fakeV2Cgroup(t, c, "cpuset cpu")

	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err := h.Create("a/b/c/d", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.UnifiedDir(), filepath.Join(c, "d"); got != want {
		t.Errorf("UnifiedDir() = %q, want %q", got, want)
	}
	assertFakeFile(t, filepath.Join(root, "cgroup.subtree_control"), "cpu memory pids\n")
	assertFakeFile(t, filepath.Join(a, "cgroup.subtree_control"), "+memory")
	assertFakeFile(t, filepath.Join(b, "cgroup.subtree_control"), "io\n")
	assertFakeFile(t, filepath.Join(c, "cgroup.subtree_control"), "+cpu")
	if fi, err := os.Stat(filepath.Join(c, "d")); err != nil || !fi.IsDir() {
		t.Errorf("leaf directory not created: %v", err)
	}
}

func TestFakeV2CreateNoLimits(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	fakeV2Cgroup(t, filepath.Join(root, "podvisor"), "cpu memory pids")

	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	// The leaf does not exist yet: Create makes it, and since there are
	// no limits it must not even look for its interface files.
	g, err := h.Create("/podvisor/web", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, g.UnifiedDir()); len(names) != 0 {
		t.Errorf("Limits{} wrote %v in the group", names)
	}
	assertFakeFile(t, filepath.Join(root, "podvisor", "cgroup.subtree_control"), "+cpu +memory +pids")

	// Creating an existing group again is fine (MkdirAll semantics).
	if _, err := h.Create("/podvisor/web", Limits{}); err != nil {
		t.Errorf("second Create: %v", err)
	}
}

func TestFakeV2CreateSingleLimits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		l      Limits
		want   map[string]string
		absent []string
	}{
		{
			name:   "cpu minimum",
			l:      Limits{CPUMilli: 1},
			want:   map[string]string{"cpu.max": "1000 100000"},
			absent: []string{"memory.max", "memory.swap.max", "pids.max"},
		},
		{
			name:   "cpu two and a half cores",
			l:      Limits{CPUMilli: 2500},
			want:   map[string]string{"cpu.max": "250000 100000"},
			absent: []string{"memory.max", "memory.swap.max", "pids.max"},
		},
		{
			name:   "memory only",
			l:      Limits{MemoryBytes: 1 << 30},
			want:   map[string]string{"memory.max": "1073741824", "memory.swap.max": "0"},
			absent: []string{"cpu.max", "pids.max"},
		},
		{
			name:   "pids only",
			l:      Limits{Pids: 1},
			want:   map[string]string{"pids.max": "1"},
			absent: []string{"cpu.max", "memory.max", "memory.swap.max"},
		},
		{
			// A request of 250m: 256 shares, cpu.weight 35 on v2 (the
			// runtimes' conversion; the manager writes only CpuWeight:
			// found on a real v2 kernel).
			name:   "cpu request and memory request",
			l:      Limits{CPUShares: 256, MemoryLow: 64 << 20},
			want:   map[string]string{"cpu.weight": "35", "memory.low": "67108864"},
			absent: []string{"cpu.max", "memory.max", "pids.max"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakeTestMode(t)
			root := fakeV2Root(t)
			web := filepath.Join(root, "web")
			fakeV2Cgroup(t, web, "cpu memory pids")
			h := &Hierarchy{Mode: Unified, UnifiedDir: root}
			if _, err := h.Create("web", tc.l); err != nil {
				t.Fatal(err)
			}
			for f, v := range tc.want {
				assertFakeFile(t, filepath.Join(web, f), v)
			}
			for _, f := range tc.absent {
				assertNoFakeFile(t, filepath.Join(web, f))
			}
		})
	}
}

func TestFakeCPUQuota(t *testing.T) {
	for milli, want := range map[int64]int64{
		-5:   1000,
		0:    1000,
		1:    1000,
		10:   1000,
		11:   1100,
		250:  25000,
		500:  50000,
		1000: 100000,
		2500: 250000,
	} {
		if got := CPUQuota(milli); got != want {
			t.Errorf("CPUQuota(%d) = %d, want %d", milli, got, want)
		}
	}
}

func TestFakeLimitsResources(t *testing.T) {
	r := Limits{}.resources()
	if r.CpuQuota != 0 || r.CpuPeriod != 0 || r.Memory != 0 || r.MemorySwap != 0 || r.PidsLimit != nil {
		t.Errorf("Limits{}.resources() = %+v, want no limit", r)
	}
	r = Limits{CPUMilli: 1, MemoryBytes: 4096, Pids: 7}.resources()
	if r.CpuQuota != 1000 || r.CpuPeriod != cfsPeriod || r.Memory != 4096 || r.PidsLimit == nil || *r.PidsLimit != 7 {
		t.Errorf("resources() = %+v", r)
	}
}

func TestFakeV2CreateFailureRemovesGroup(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	fakeV2Cgroup(t, filepath.Join(root, "podvisor"), "cpu memory pids")

	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	// The leaf is made by a plain mkdir, so it has no cgroup.controllers:
	// fs2's Set fails reading it, and Create must remove the leaf.
	_, err := h.Create("/podvisor/web", Limits{Pids: 10})
	if err == nil {
		t.Fatal("Create succeeded without the group's cgroup.controllers")
	}
	if !strings.Contains(err.Error(), "/podvisor/web") {
		t.Errorf("error %q does not name the group", err)
	}
	assertNoFakeFile(t, filepath.Join(root, "podvisor", "web"))
	// The pre-existing parent is left alone.
	if _, err := os.Stat(filepath.Join(root, "podvisor", "cgroup.controllers")); err != nil {
		t.Errorf("parent damaged: %v", err)
	}
}

func TestFakeV2Kill(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	web := filepath.Join(root, "podvisor", "web")
	fakeV2Cgroup(t, web, "cpu memory pids")
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}

	g, err := h.Open("/podvisor/web")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	assertFakeFile(t, filepath.Join(web, "cgroup.kill"), "1")
	// Kill does not go through the freezer when cgroup.kill works.
	assertFakeFile(t, filepath.Join(web, "cgroup.freeze"), "0\n")

	// A group that is gone is nothing to kill, and is not made again.
	gone, err := h.Open("/podvisor/gone")
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Kill(); err != nil {
		t.Errorf("Kill of a missing group: %v", err)
	}
	assertNoFakeFile(t, filepath.Join(root, "podvisor", "gone"))
}

func TestFakeV2Populated(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	web := filepath.Join(root, "web")
	fakeV2Cgroup(t, web, "cpu memory pids")
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err := h.Open("/web")
	if err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(web, "cgroup.events")

	// cgroup.events is believed even where cgroup.procs disagrees (it
	// counts descendants, and it is what the kernel notifies on).
	writeFakeFile(t, filepath.Join(web, "cgroup.procs"), "4242\n")
	writeFakeFile(t, events, "populated 0\nfrozen 0\n")
	if g.Populated() {
		t.Error(`Populated() = true with "populated 0"`)
	}
	if !g.WaitEmpty(time.Second) {
		t.Error(`WaitEmpty() = false with "populated 0"`)
	}

	writeFakeFile(t, filepath.Join(web, "cgroup.procs"), "")
	writeFakeFile(t, events, "populated 1\nfrozen 0\n")
	if !g.Populated() {
		t.Error(`Populated() = false with "populated 1"`)
	}
	start := time.Now()
	if g.WaitEmpty(30 * time.Millisecond) {
		t.Error(`WaitEmpty() = true with "populated 1"`)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("WaitEmpty returned after %v, before its timeout", d)
	}

	// Without cgroup.events (unreadable), the process lists below decide.
	if err := os.Remove(events); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(web, "sub")
	fakeV2Cgroup(t, sub, "")
	if g.Populated() {
		t.Error("Populated() = true with empty cgroup.procs and no cgroup.events")
	}
	writeFakeFile(t, filepath.Join(sub, "cgroup.procs"), "4242\n")
	if !g.Populated() {
		t.Error("Populated() = false with a pid in a descendant's cgroup.procs")
	}
	pids, err := g.Pids()
	if err != nil || !slices.Equal(pids, []int{4242}) {
		t.Errorf("Pids() = %v, %v; want [4242]", pids, err)
	}

	// A missing group is empty, without error.
	gone, _ := h.Open("/gone")
	if gone.Populated() {
		t.Error("Populated() = true for a missing group")
	}
	if pids, err := gone.Pids(); err != nil || len(pids) != 0 {
		t.Errorf("Pids() of a missing group = %v, %v", pids, err)
	}
}

func TestFakeV2OOMKills(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	web := filepath.Join(root, "web")
	fakeV2Cgroup(t, web, "memory")
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err := h.Open("web")
	if err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(web, "memory.events")

	// oom_group_kill must not be taken for oom_kill.
	writeFakeFile(t, events, "low 0\nhigh 0\nmax 9\noom 4\noom_group_kill 7\noom_kill 3\n")
	if n, err := g.OOMKills(); err != nil || n != 3 {
		t.Errorf("OOMKills() = %d, %v; want 3", n, err)
	}
	// Older kernels have no oom_kill line.
	writeFakeFile(t, events, "low 0\nhigh 0\nmax 0\noom 0\n")
	if n, err := g.OOMKills(); err != nil || n != 0 {
		t.Errorf("OOMKills() without oom_kill = %d, %v; want 0", n, err)
	}
	writeFakeFile(t, events, "oom_kill many\n")
	if _, err := g.OOMKills(); err == nil {
		t.Error("OOMKills() accepted a non-numeric count")
	}
	if err := os.Remove(events); err != nil {
		t.Fatal(err)
	}
	if _, err := g.OOMKills(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OOMKills() without memory.events: err = %v, want not-exist", err)
	}
}

// fakeV1Hierarchy makes one fake v1 hierarchy per controller of
// V1Controllers under base, with the given mount root.
func fakeV1Hierarchy(t *testing.T, base string, mode Mode, mountRoot string) *Hierarchy {
	t.Helper()
	h := &Hierarchy{Mode: mode, V1: map[string]Mount{}}
	for _, c := range V1Controllers {
		dir := filepath.Join(base, c)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		h.V1[c] = Mount{Dir: dir, Root: mountRoot}
	}
	if mode == Hybrid {
		h.UnifiedDir = filepath.Join(base, "unified")
		if err := os.MkdirAll(h.UnifiedDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestFakeV1OOMKills(t *testing.T) {
	for _, mode := range []Mode{Legacy, Hybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			fakeTestMode(t)
			base := t.TempDir()
			h := fakeV1Hierarchy(t, base, mode, "/")
			g, err := h.Open("/podvisor/web")
			if err != nil {
				t.Fatal(err)
			}
			oom := filepath.Join(base, "memory", "podvisor", "web", "memory.oom_control")
			writeFakeFile(t, oom, "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
			if mode == Hybrid {
				// The hybrid cgroup2 tree has no memory controller;
				// a memory.events there must not be read.
				writeFakeFile(t, filepath.Join(base, "unified", "podvisor", "web", "memory.events"), "oom_kill 99\n")
			}
			if n, err := g.OOMKills(); err != nil || n != 5 {
				t.Errorf("OOMKills() = %d, %v; want 5", n, err)
			}
			writeFakeFile(t, oom, "oom_kill_disable 0\nunder_oom 0\n")
			if n, err := g.OOMKills(); err != nil || n != 0 {
				t.Errorf("OOMKills() without oom_kill = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestFakeV1CreateSwap(t *testing.T) {
	for _, memsw := range []bool{true, false} {
		name := "no swap accounting"
		if memsw {
			name = "swap accounting"
		}
		t.Run(name, func(t *testing.T) {
			fakeTestMode(t)
			base := t.TempDir()
			h := fakeV1Hierarchy(t, base, Legacy, "/")
			mem := filepath.Join(base, "memory", "podvisor", "web")
			writeFakeFile(t, filepath.Join(mem, "memory.limit_in_bytes"), "9223372036854771712\n")
			if memsw {
				writeFakeFile(t, filepath.Join(mem, "memory.memsw.limit_in_bytes"), "9223372036854771712\n")
			}
			g, err := h.Create("/podvisor/web", Limits{CPUMilli: 250, MemoryBytes: 64 << 20, Pids: 20})
			if err != nil {
				t.Fatal(err)
			}
			if g.UnifiedDir() != "" {
				t.Errorf("Legacy UnifiedDir() = %q", g.UnifiedDir())
			}
			assertFakeFile(t, filepath.Join(mem, "memory.limit_in_bytes"), "67108864")
			if memsw {
				assertFakeFile(t, filepath.Join(mem, "memory.memsw.limit_in_bytes"), "67108864")
			} else {
				assertNoFakeFile(t, filepath.Join(mem, "memory.memsw.limit_in_bytes"))
			}
			cpu := filepath.Join(base, "cpu", "podvisor", "web")
			assertFakeFile(t, filepath.Join(cpu, "cpu.cfs_quota_us"), "25000")
			assertFakeFile(t, filepath.Join(cpu, "cpu.cfs_period_us"), "100000")
			assertFakeFile(t, filepath.Join(base, "pids", "podvisor", "web", "pids.max"), "20")
			for _, c := range []string{"cpuacct", "freezer"} {
				if fi, err := os.Stat(filepath.Join(base, c, "podvisor", "web")); err != nil || !fi.IsDir() {
					t.Errorf("%s directory not created: %v", c, err)
				}
			}
		})
	}
}

func TestOwnPaths(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    map[string]string
	}{
		{
			name:    "brief sample",
			content: "4:memory:/a\n2:cpu,cpuacct:/b\n0::/c\n",
			want:    map[string]string{"memory": "/a", "cpu": "/b", "cpuacct": "/b", "": "/c"},
		},
		{
			name: "v1",
			content: "12:pids:/user.slice/user-0.slice/session-1.scope\n" +
				"11:freezer:/\n" +
				"7:memory:/user.slice/user-0.slice/session-1.scope\n" +
				"3:cpu,cpuacct:/user.slice\n" +
				"1:name=systemd:/user.slice/user-0.slice/session-1.scope\n",
			want: map[string]string{
				"pids":         "/user.slice/user-0.slice/session-1.scope",
				"freezer":      "/",
				"memory":       "/user.slice/user-0.slice/session-1.scope",
				"cpu":          "/user.slice",
				"cpuacct":      "/user.slice",
				"name=systemd": "/user.slice/user-0.slice/session-1.scope",
			},
		},
		{
			name: "hybrid",
			content: "5:memory:/podvisor/web\n" +
				"4:cpu,cpuacct:/podvisor/web\n" +
				"1:name=systemd:/system.slice/podvisor.service\n" +
				"0::/podvisor/web\n",
			want: map[string]string{
				"memory":       "/podvisor/web",
				"cpu":          "/podvisor/web",
				"cpuacct":      "/podvisor/web",
				"name=systemd": "/system.slice/podvisor.service",
				"":             "/podvisor/web",
			},
		},
		{
			name:    "v2",
			content: "0::/system.slice/podvisor.service\n",
			want:    map[string]string{"": "/system.slice/podvisor.service"},
		},
		{
			name:    "v2 without trailing newline",
			content: "0::/",
			want:    map[string]string{"": "/"},
		},
		{
			name:    "malformed lines skipped, colons kept in paths",
			content: "\ngarbage\n3:memory\n6:net_cls,net_prio:/a:b\n0::/x:y\n",
			want:    map[string]string{"net_cls": "/a:b", "net_prio": "/a:b", "": "/x:y"},
		},
		{
			name:    "CRLF line ends",
			content: "4:memory:/a\r\n0::/c\r\n",
			want:    map[string]string{"memory": "/a", "": "/c"},
		},
		{
			name:    "empty",
			content: "",
			want:    map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := OwnPaths([]byte(tc.content))
			if !maps.Equal(got, tc.want) {
				t.Errorf("OwnPaths(%q) = %v, want %v", tc.content, got, tc.want)
			}
		})
	}
}

func TestOpenRefusesRoot(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	hs := map[string]*Hierarchy{
		"v2":     {Mode: Unified, UnifiedDir: root},
		"v1":     fakeV1Hierarchy(t, t.TempDir(), Legacy, "/"),
		"hybrid": fakeV1Hierarchy(t, t.TempDir(), Hybrid, "/"),
	}
	for name, h := range hs {
		for _, p := range []string{"/", "", ".", "..", "//", "/a/..", "../.."} {
			if g, err := h.Open(p); err == nil {
				t.Errorf("%s: Open(%q) = %q, want an error", name, p, g.Path())
			}
			if _, err := h.Create(p, Limits{}); err == nil {
				t.Errorf("%s: Create(%q) succeeded", name, p)
			}
		}
	}
	// Nothing was written at the fake v2 root.
	assertFakeFile(t, filepath.Join(root, "cgroup.subtree_control"), "")
}

func TestOpenCleansPath(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	for in, want := range map[string]string{
		"podvisor/web":          "/podvisor/web",
		"/podvisor/web":         "/podvisor/web",
		"/podvisor//web/":       "/podvisor/web",
		"./podvisor/./web":      "/podvisor/web",
		"/podvisor/x/../web":    "/podvisor/web",
		"../../podvisor/web":    "/podvisor/web",
		"/../../../etc/passwd/": "/etc/passwd",
	} {
		g, err := h.Open(in)
		if err != nil {
			t.Errorf("Open(%q): %v", in, err)
			continue
		}
		if g.Path() != want {
			t.Errorf("Open(%q).Path() = %q, want %q", in, g.Path(), want)
		}
		if got := g.UnifiedDir(); got != root+want {
			t.Errorf("Open(%q).UnifiedDir() = %q, want %q", in, got, root+want)
		}
	}
}

func TestOpenDirsPerMode(t *testing.T) {
	fakeTestMode(t)

	t.Run("v2", func(t *testing.T) {
		root := fakeV2Root(t)
		h := &Hierarchy{Mode: Unified, UnifiedDir: root}
		g, err := h.Open("podvisor/web")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := g.UnifiedDir(), filepath.Join(root, "podvisor", "web"); got != want {
			t.Errorf("UnifiedDir() = %q, want %q", got, want)
		}
		if len(g.V1Dirs()) != 0 {
			t.Errorf("V1Dirs() = %v, want none", g.V1Dirs())
		}
		// Open creates nothing.
		if g.Exists() {
			t.Error("Exists() = true after Open alone")
		}
		assertNoFakeFile(t, filepath.Join(root, "podvisor"))
		// EnterThread is a no-op: CLONE_INTO_CGROUP places children.
		restore, err := g.EnterThread(unix.Gettid())
		if err != nil {
			t.Fatal(err)
		}
		if err := restore(); err != nil {
			t.Errorf("restore: %v", err)
		}
	})

	for _, mode := range []Mode{Legacy, Hybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			base := t.TempDir()
			h := fakeV1Hierarchy(t, base, mode, "/")
			g, err := h.Open("podvisor/web")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for _, c := range V1Controllers {
				want[c] = filepath.Join(base, c, "podvisor", "web")
			}
			if !maps.Equal(g.V1Dirs(), want) {
				t.Errorf("V1Dirs() = %v, want %v", g.V1Dirs(), want)
			}
			wantUnified := ""
			if mode == Hybrid {
				wantUnified = filepath.Join(base, "unified", "podvisor", "web")
			}
			if g.UnifiedDir() != wantUnified {
				t.Errorf("UnifiedDir() = %q, want %q", g.UnifiedDir(), wantUnified)
			}
			if g.Exists() {
				t.Error("Exists() = true after Open alone")
			}
			for _, c := range V1Controllers {
				assertNoFakeFile(t, filepath.Join(base, c, "podvisor"))
			}
		})
	}
}

func TestOpenUnifiedFD(t *testing.T) {
	fakeTestMode(t)

	legacy := fakeV1Hierarchy(t, t.TempDir(), Legacy, "/")
	g, err := legacy.Open("/web")
	if err != nil {
		t.Fatal(err)
	}
	if fd, err := g.OpenUnified(); fd != -1 || err != nil {
		t.Errorf("Legacy OpenUnified() = %d, %v; want -1, nil", fd, err)
	}

	root := fakeV2Root(t)
	fakeV2Cgroup(t, filepath.Join(root, "web"), "cpu memory pids")
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err = h.Open("/web")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := g.OpenUnified()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st, want unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(root, "web"), &want); err != nil {
		t.Fatal(err)
	}
	if st.Ino != want.Ino || st.Dev != want.Dev {
		t.Error("OpenUnified() opened another directory than UnifiedDir()")
	}

	gone, _ := h.Open("/gone")
	if fd, err := gone.OpenUnified(); fd != -1 || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenUnified() of a missing group = %d, %v", fd, err)
	}
}

func TestV1Dir(t *testing.T) {
	for _, tc := range []struct {
		root, p, want string
	}{
		{"/", "/podvisor/web", "/mnt/memory/podvisor/web"},
		{"", "/podvisor/web", "/mnt/memory/podvisor/web"},
		{"/", "/", "/mnt/memory"},
		// Mounted from inside a container: the mount's root stands for
		// /docker/abc, and /proc/self/cgroup paths carry that prefix.
		{"/docker/abc", "/docker/abc/podvisor/web", "/mnt/memory/podvisor/web"},
		{"/docker/abc", "/docker/abc", "/mnt/memory"},
		{"/docker/abc", "/docker/abc/", "/mnt/memory"},
	} {
		h := &Hierarchy{Mode: Legacy, V1: map[string]Mount{"memory": {Dir: "/mnt/memory", Root: tc.root}}}
		if got := h.v1Dir("memory", tc.p); got != tc.want {
			t.Errorf("v1Dir(root %q, %q) = %q, want %q", tc.root, tc.p, got, tc.want)
		}
	}
}

func TestV1DirMountRootInOpen(t *testing.T) {
	fakeTestMode(t)
	base := t.TempDir()
	h := fakeV1Hierarchy(t, base, Hybrid, "/docker/abc")
	g, err := h.Open("/docker/abc/podvisor/web")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range V1Controllers {
		if got, want := g.V1Dirs()[c], filepath.Join(base, c, "podvisor", "web"); got != want {
			t.Errorf("V1Dirs()[%s] = %q, want %q", c, got, want)
		}
	}
	// The cgroup2 tree is not remapped: its mount root is its own.
	if got, want := g.UnifiedDir(), filepath.Join(base, "unified", "docker", "abc", "podvisor", "web"); got != want {
		t.Errorf("UnifiedDir() = %q, want %q", got, want)
	}

	// Prune follows the same mapping.
	for _, c := range V1Controllers {
		if err := os.MkdirAll(filepath.Join(base, c, "podvisor"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.Prune("/docker/abc/podvisor")
	for _, c := range V1Controllers {
		assertNoFakeFile(t, filepath.Join(base, c, "podvisor"))
	}
}

func TestPruneV2(t *testing.T) {
	fakeTestMode(t)
	root := t.TempDir()
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("empty")
	mk("cleaned")
	mk("busy/web")
	mk("deep/a/b")

	h.Prune("empty")
	assertNoFakeFile(t, filepath.Join(root, "empty"))

	h.Prune("/x/../cleaned/")
	assertNoFakeFile(t, filepath.Join(root, "cleaned"))

	h.Prune("/busy")
	if _, err := os.Stat(filepath.Join(root, "busy", "web")); err != nil {
		t.Errorf("Prune removed a non-empty group: %v", err)
	}

	// Only the named directory, not its parents.
	h.Prune("/deep/a/b")
	assertNoFakeFile(t, filepath.Join(root, "deep", "a", "b"))
	if _, err := os.Stat(filepath.Join(root, "deep", "a")); err != nil {
		t.Errorf("Prune removed a parent: %v", err)
	}

	// Missing: nothing happens, no panic.
	h.Prune("/missing")

	// The root itself is never removed, however named (emptied here, so
	// that a plain rmdir would succeed).
	for _, d := range []string{"busy", "deep"} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	if names := dirNames(t, root); len(names) != 0 {
		t.Fatalf("root not empty: %v", names)
	}
	for _, p := range []string{"/", "", "..", "/a/.."} {
		h.Prune(p)
		if _, err := os.Stat(root); err != nil {
			t.Fatalf("Prune(%q) removed the root: %v", p, err)
		}
	}
}

func TestPruneV1(t *testing.T) {
	fakeTestMode(t)
	for _, mode := range []Mode{Legacy, Hybrid} {
		t.Run(mode.String(), func(t *testing.T) {
			base := t.TempDir()
			h := fakeV1Hierarchy(t, base, mode, "/")
			dirs := []string{}
			for _, c := range V1Controllers {
				dirs = append(dirs, filepath.Join(base, c))
			}
			if mode == Hybrid {
				dirs = append(dirs, filepath.Join(base, "unified"))
			}
			for _, d := range dirs {
				if err := os.MkdirAll(filepath.Join(d, "podvisor"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// One hierarchy still has a child: only that one stays.
			busy := filepath.Join(base, "memory", "podvisor", "web")
			if err := os.Mkdir(busy, 0o755); err != nil {
				t.Fatal(err)
			}
			h.Prune("podvisor")
			for _, d := range dirs {
				p := filepath.Join(d, "podvisor")
				if d == filepath.Join(base, "memory") {
					if _, err := os.Stat(busy); err != nil {
						t.Errorf("Prune removed a non-empty %s: %v", p, err)
					}
					continue
				}
				assertNoFakeFile(t, p)
			}
		})
	}
}

func TestPruneAfterCreateAndDestroy(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	// The parent as left once its interface files are gone (a real rmdir
	// ignores them; the fake cannot).
	if err := os.Mkdir(filepath.Join(root, "podvisor"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFakeFile(t, filepath.Join(root, "podvisor", "cgroup.controllers"), "cpu memory pids\n")
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err := h.Create("/podvisor/web", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(g.UnifiedDir(), "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// No cgroup.events, no cgroup.procs: not populated, so Destroy only
	// removes, sub-cgroups first.
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if g.Exists() {
		t.Error("Exists() = true after Destroy")
	}
	if _, err := os.Stat(filepath.Join(root, "podvisor")); err != nil {
		t.Errorf("Destroy removed the parent: %v", err)
	}
	// Destroy of a group already gone is not an error.
	if err := g.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}

	// With its interface files, the parent is not empty to a plain rmdir.
	h.Prune("/podvisor")
	if _, err := os.Stat(filepath.Join(root, "podvisor")); err != nil {
		t.Fatalf("Prune removed a non-empty fake directory: %v", err)
	}
	if err := os.Remove(filepath.Join(root, "podvisor", "cgroup.controllers")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "podvisor", "cgroup.subtree_control")); err != nil {
		t.Fatal(err)
	}
	h.Prune("/podvisor")
	assertNoFakeFile(t, filepath.Join(root, "podvisor"))
}

func TestFakeV2Stats(t *testing.T) {
	fakeTestMode(t)
	root := fakeV2Root(t)
	web := filepath.Join(root, "web")
	fakeV2Cgroup(t, web, "cpu memory pids")
	writeFakeFile(t, filepath.Join(web, "cpu.stat"), "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
	writeFakeFile(t, filepath.Join(web, "memory.current"), "104857600\n")
	writeFakeFile(t, filepath.Join(web, "memory.stat"), "anon 50000000\nfile 54857600\nactive_file 10\ninactive_file 4857600\n")
	writeFakeFile(t, filepath.Join(web, "memory.max"), "268435456\n")
	writeFakeFile(t, filepath.Join(web, "pids.current"), "7\n")
	h := &Hierarchy{Mode: Unified, UnifiedDir: root}
	g, err := h.Open("web")
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{CPUSeconds: 2.5, MemoryBytes: 104857600, MemoryLimitBytes: 256 << 20, Pids: 7}
	if s != want {
		t.Errorf("Stats() = %+v, want %+v", s, want)
	}
	// Usage leaves the limit out; "max" is no limit.
	if s, err := g.Usage(); err != nil || s.MemoryLimitBytes != 0 || s.Pids != 7 {
		t.Errorf("Usage() = %+v, %v", s, err)
	}
	writeFakeFile(t, filepath.Join(web, "memory.max"), "max\n")
	if s, err := g.Stats(); err != nil || s.MemoryLimitBytes != 0 {
		t.Errorf("Stats() = %+v, %v; want no limit", s, err)
	}
	// Nothing readable: an error.
	for _, f := range []string{"cpu.stat", "memory.current", "pids.current"} {
		if err := os.Remove(filepath.Join(web, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Stats(); err == nil {
		t.Error("Stats() of a group with no statistics succeeded")
	}
}

// TestOwnPathsAllocatesLittle: EnterThread reads the thread's cgroups at
// every process start on a v1 host. A bufio.Scanner allocated a 4 kB buffer
// each time, most of what a start left for the garbage collector.
func TestOwnPathsAllocatesLittle(t *testing.T) {
	content := []byte("13:misc:/\n12:hugetlb:/\n11:pids:/podvisor/web\n10:freezer:/podvisor/web\n" +
		"9:devices:/podvisor/web\n8:perf_event:/\n7:memory:/podvisor/web\n6:cpuset:/podvisor/web\n" +
		"5:net_cls,net_prio:/\n4:blkio:/podvisor/web\n3:rdma:/\n2:cpu,cpuacct:/podvisor/web\n" +
		"1:name=systemd:/podvisor/web\n0::/podvisor/web\n")
	const runs = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if len(OwnPaths(content)) != 16 {
			t.Fatal("OwnPaths lost controllers")
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d bytes a call", per)
	if per > 5000 {
		t.Errorf("OwnPaths allocates %d bytes a call, want at most 5000", per)
	}
}
