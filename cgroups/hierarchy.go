package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	occ "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
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

// String names the layout: "v1", "hybrid" or "v2".
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
	// V1 maps a v1 controller to its mount (empty on Unified). A
	// controller whose hierarchy is mounted read-only (as inside a
	// container) is left out: its limits cannot be applied.
	V1 map[string]Mount
	// Base maps a hierarchy ("" for cgroup2, else the v1 controller) to
	// the cgroup under which this Hierarchy's paths live; missing means
	// the root. Delegate sets it.
	Base map[string]string
	// ReadOnly lists the v1 controllers left out because they are read-only.
	ReadOnly []string
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
		if unix.Access(dir, unix.W_OK) == unix.EROFS {
			h.ReadOnly = append(h.ReadOnly, c)
			continue
		}
		h.V1[c] = Mount{Dir: dir, Root: root}
	}
	if occ.IsCgroup2HybridMode() {
		h.Mode = Hybrid
		h.UnifiedDir = "/sys/fs/cgroup/unified"
	}
	return h, nil
}

// base is the cgroup under which hierarchy c's paths live.
func (h *Hierarchy) base(c string) string {
	if b, ok := h.Base[c]; ok && b != "" {
		return b
	}
	return "/"
}

// v1Dir is the directory of cgroup path p (under the base) in controller
// c's hierarchy.
func (h *Hierarchy) v1Dir(c, p string) string {
	return h.v1DirAbs(c, filepath.Join(h.base(c), p))
}

// v1DirAbs is the directory of cgroup path p (from the hierarchy's root).
func (h *Hierarchy) v1DirAbs(c, p string) string {
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
		_ = os.Remove(filepath.Join(h.UnifiedDir, h.base(""), p))
	}
	for c := range h.V1 {
		_ = os.Remove(h.v1Dir(c, p))
	}
}

// OwnPaths parses /proc/self/cgroup-style content: v1 controller name to
// path, and "" to the cgroup2 path.
func OwnPaths(content []byte) map[string]string {
	// Line by line without a bufio.Scanner: its 4 kB buffer was most of
	// what a process start allocated on a v1 host (EnterThread reads the
	// thread's cgroups at every start).
	paths := map[string]string{}
	for line := range strings.Lines(string(content)) {
		line = strings.TrimRight(line, "\r\n")
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			continue
		}
		if id == "0" && ctrls == "" {
			paths[""] = path
			continue
		}
		for c := range strings.SplitSeq(ctrls, ",") {
			paths[c] = path
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

// Delegate makes the cgroups this process was given (systemd's Delegate=yes)
// the base of every path this Hierarchy makes: the process's own cgroup in
// each hierarchy, read from /proc/self/cgroup (they differ per v1
// controller). In a v1 hierarchy where the process sits at the root
// (systemd did not give the unit a cgroup there, as for freezer), the same
// path as in the main hierarchy is used, so that one path names a pod's
// cgroup in every hierarchy. On cgroup v2 the process
// first moves itself into the leaf <own>/<leaf>, so that its own cgroup has
// no process and may enable controllers for the pods (the no-internal-
// processes rule). It returns the base in the main hierarchy.
func (h *Hierarchy) Delegate(leaf string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	own := OwnPaths(b)
	unit := own[""]
	if h.Mode != Unified && own["memory"] != "" && own["memory"] != "/" {
		unit = own["memory"]
	}
	unitName := filepath.Base(unit)
	if unitName == "/" || unitName == "." {
		return "", errors.New("delegation: this process is in the root cgroup")
	}
	h.Base = map[string]string{}
	if h.UnifiedDir != "" {
		h.Base[""] = own[""]
		if own[""] == "" || own[""] == "/" {
			h.Base[""] = unit
		}
	}
	for c := range h.V1 {
		h.Base[c] = own[c]
		if own[c] == "" || own[c] == "/" {
			h.Base[c] = unit
		}
	}
	if h.Mode == Unified {
		dir := filepath.Join(h.UnifiedDir, h.Base[""], leaf)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := occ.WriteCgroupProc(dir, os.Getpid()); err != nil {
			return "", fmt.Errorf("move into %s: %w", dir, err)
		}
	}
	return h.MainBase(), nil
}

// MainBase is the base in the hierarchy that status reports (cgroup2 on a
// Unified or Hybrid host, memory on Legacy).
func (h *Hierarchy) MainBase() string {
	if h.UnifiedDir != "" {
		return h.base("")
	}
	return h.base("memory")
}
