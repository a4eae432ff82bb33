package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	occ "github.com/opencontainers/cgroups"
)

// Mode is a host's cgroup layout.
type Mode int

// The cgroup layouts.
const (
	// Legacy: cgroup v1 controllers only.
	Legacy Mode = iota
	// Hybrid: cgroup v1 controllers, plus a cgroup2 tree without
	// controllers (usually at /sys/fs/cgroup/unified).
	Hybrid
	// Unified: pure cgroup v2, one tree at /sys/fs/cgroup.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "v1"
	case Hybrid:
		return "hybrid"
	default:
		return "v2"
	}
}

// V1Controllers are the v1 hierarchies podvisor places processes in: the
// ones that limit (cpu, memory, pids), account (cpuacct) and freeze.
var V1Controllers = []string{"memory", "cpu", "cpuacct", "pids", "freezer"}

// Mount is one v1 hierarchy: where it is mounted and which cgroup path the
// mount's root stands for.
type Mount struct {
	Dir  string
	Root string
}

// Hierarchy describes where a host's cgroups live. The zero value is not
// usable; call Detect, or fill it by hand for tests on a fake cgroupfs.
type Hierarchy struct {
	Mode Mode
	// UnifiedDir is the cgroup2 mount point ("" on Legacy).
	UnifiedDir string
	// V1 maps a v1 controller to its mount (empty on Unified).
	V1 map[string]Mount
}

// Detect reads the host's cgroup layout.
func Detect() (*Hierarchy, error) {
	if occ.IsCgroup2UnifiedMode() {
		return &Hierarchy{Mode: Unified, UnifiedDir: "/sys/fs/cgroup"}, nil
	}
	h := &Hierarchy{Mode: Legacy, V1: map[string]Mount{}}
	for _, c := range V1Controllers {
		dir, root, err := occ.FindCgroupMountpointAndRoot("", c)
		if err != nil {
			return nil, fmt.Errorf("cgroup v1 controller %s: %w", c, err)
		}
		h.V1[c] = Mount{Dir: dir, Root: root}
	}
	if occ.IsCgroup2HybridMode() {
		h.Mode = Hybrid
		h.UnifiedDir = "/sys/fs/cgroup/unified"
	}
	return h, nil
}

// v1Dir is the directory of cgroup path p in controller c's hierarchy.
func (h *Hierarchy) v1Dir(c, p string) string {
	m := h.V1[c]
	rel := p
	if m.Root != "/" && m.Root != "" && (p == m.Root || strings.HasPrefix(p, m.Root+"/")) {
		rel = strings.TrimPrefix(p, m.Root)
	}
	return filepath.Join(m.Dir, rel)
}

// Prune removes the directory of cgroup path p in every hierarchy if it is
// empty; a non-empty or missing one is left as it is. Use it for parents
// created by Create (such as the default "podvisor"), which Destroy leaves.
func (h *Hierarchy) Prune(p string) {
	p = filepath.Join("/", p)
	if p == "/" {
		return
	}
	if h.UnifiedDir != "" {
		_ = os.Remove(filepath.Join(h.UnifiedDir, p))
	}
	for c := range h.V1 {
		_ = os.Remove(h.v1Dir(c, p))
	}
}

// OwnPaths parses /proc/self/cgroup-style content: v1 controller name to
// path, and "" to the cgroup2 path.
func OwnPaths(content []byte) map[string]string {
	paths := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			paths[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	return paths
}

// ThreadPaths reads the calling thread's cgroups.
func ThreadPaths() (map[string]string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, err
	}
	return OwnPaths(b), nil
}
