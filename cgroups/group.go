package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	occ "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"golang.org/x/sys/unix"
)

// Limits are a group's resource limits; a zero field means no limit.
type Limits struct {
	// CPUMilli is the CPU quota in millicores (1000 = one core).
	CPUMilli int64
	// MemoryBytes is the memory limit; swap beyond it is not allowed.
	MemoryBytes int64
	// Pids is the maximum number of tasks.
	Pids int64
	// CPUShares is the CPU weight in cgroup v1 shares (1024 = one core's
	// request, as kubelet computes it); cgroup v2 gets the equivalent
	// cpu.weight. Zero leaves the kernel's default.
	CPUShares uint64
	// MemoryLow protects this much memory from reclaim (memory.low); cgroup
	// v2 only, as in Kubernetes (cgroup v1 has no equivalent).
	MemoryLow int64
}

// cfsPeriod is the CFS period podvisor uses, in microseconds (the kernel's
// and Kubernetes' default); quotas are expressed against it.
const cfsPeriod = 100000

// CPUQuota converts millicores to a CFS quota in microseconds per 100 ms
// period, at least 1 ms as the kernel requires.
func CPUQuota(milli int64) int64 {
	return max(milli*cfsPeriod/1000, 1000)
}

func (l Limits) resources() *occ.Resources {
	r := &occ.Resources{}
	if l.CPUMilli > 0 {
		r.CpuQuota = CPUQuota(l.CPUMilli)
		r.CpuPeriod = cfsPeriod
	}
	if l.MemoryBytes > 0 {
		r.Memory = l.MemoryBytes
	}
	if l.Pids > 0 {
		r.PidsLimit = &l.Pids
	}
	if l.CPUShares > 0 {
		// v1 reads CpuShares; v2's manager reads only CpuWeight and leaves
		// the conversion to its caller.
		r.CpuShares = l.CPUShares
		r.CpuWeight = WeightOf(l.CPUShares)
	}
	return r
}

// WeightOf is the cgroup v2 cpu.weight of v1 shares, as the OCI runtimes
// convert them (opencontainers/cgroups' ConvertCPUSharesToCgroupV2Value).
func WeightOf(shares uint64) uint64 { return occ.ConvertCPUSharesToCgroupV2Value(shares) }

// SharesOf converts a CPU request in millicores to cgroup v1 shares, as
// kubelet does (at least 2).
func SharesOf(milli int64) uint64 {
	return uint64(max(milli*1024/1000, 2))
}

// Group is one cgroup, in every hierarchy podvisor uses.
type Group struct {
	h    *Hierarchy
	path string
	mgr  occ.Manager
	// tainted: cgroup.kill was written to this group or an ancestor. The
	// kernel then kills any process cloned into it with CLONE_INTO_CGROUP
	// (seen on Linux 6.18), so it must be made anew before the next one.
	tainted atomic.Bool
	// unified is the group's cgroup2 directory ("" on Legacy).
	unified string
	// v1 maps controller to the group's directory (empty on Unified).
	v1 map[string]string
}

// Create makes the cgroup at path (absolute, relative to the cgroup root,
// such as "/podvisor/web") in every hierarchy, creating missing parents, and
// applies the limits. On error the group itself is removed; parents it
// created are left, as on success, for Hierarchy.Prune.
func (h *Hierarchy) Create(path string, l Limits) (*Group, error) {
	g, err := h.Open(path)
	if err != nil {
		return nil, err
	}
	if err := g.create(l); err != nil {
		_ = g.remove()
		return nil, fmt.Errorf("cgroup %s: %w", g.path, err)
	}
	return g, nil
}

// Open returns the group at path without creating it, for a group created
// earlier (by this process or a previous one).
func (h *Hierarchy) Open(path string) (*Group, error) {
	path = filepath.Join("/", path)
	if path == "/" {
		return nil, errors.New("refusing the root cgroup")
	}
	g := &Group{h: h, path: path, v1: map[string]string{}}
	cfg := &occ.Cgroup{Path: path, Resources: &occ.Resources{}}
	if h.UnifiedDir != "" {
		g.unified = filepath.Join(h.UnifiedDir, h.base(""), path)
	}
	if h.Mode == Unified {
		m, err := fs2.NewManager(cfg, g.unified)
		if err != nil {
			return nil, err
		}
		g.mgr = m
		return g, nil
	}
	paths := map[string]string{}
	for c := range h.V1 {
		g.v1[c] = h.v1Dir(c, path)
		paths[c] = g.v1[c]
	}
	if g.unified != "" {
		paths[""] = g.unified
	}
	m, err := fs.NewManager(cfg, paths)
	if err != nil {
		return nil, err
	}
	g.mgr = m
	return g, nil
}

func (g *Group) create(l Limits) error {
	if g.h.Mode == Unified {
		if err := g.createUnified(); err != nil {
			return err
		}
	} else if err := g.mgr.Apply(-1); err != nil {
		return err
	}
	if l == (Limits{}) {
		return nil
	}
	r := l.resources()
	if l.MemoryBytes > 0 && g.h.Mode != Unified {
		// v1 takes a memory+swap limit; equal to the memory limit means
		// no swap, as in Kubernetes. Without swap accounting there is no
		// memsw file and the memory limit alone applies.
		if _, err := os.Stat(filepath.Join(g.v1["memory"], "memory.memsw.limit_in_bytes")); err == nil {
			r.MemorySwap = l.MemoryBytes
		}
	} else if l.MemoryBytes > 0 {
		r.MemorySwap = l.MemoryBytes
	}
	if l.MemoryLow > 0 && g.h.Mode == Unified {
		r.MemoryReservation = l.MemoryLow
	}
	return g.mgr.Set(r)
}

// createUnified makes the cgroup2 directories and enables the cpu, memory and
// pids controllers down to the group's parent (the no-internal-process rule
// keeps processes out of those parents).
func (g *Group) createUnified() error {
	rel := strings.TrimPrefix(g.path, "/")
	dir := filepath.Join(g.h.UnifiedDir, g.h.base(""))
	for _, part := range strings.Split(rel, "/") {
		if err := enableControllers(dir); err != nil {
			return err
		}
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
	}
	return nil
}

// Controllers podvisor enables in cgroup2 parents.
var unifiedControllers = []string{"cpu", "memory", "pids"}

func enableControllers(dir string) error {
	avail, err := occ.ReadFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	enabled, _ := occ.ReadFile(dir, "cgroup.subtree_control")
	var want []string
	for _, c := range unifiedControllers {
		if hasWord(avail, c) && !hasWord(enabled, c) {
			want = append(want, "+"+c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	return occ.WriteFile(dir, "cgroup.subtree_control", strings.Join(want, " "))
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// Path is the group's path relative to the cgroup root ("/podvisor/web"),
// base included, in the main hierarchy (see Hierarchy.MainBase).
func (g *Group) Path() string { return filepath.Join(g.h.MainBase(), g.path) }

// RelPath is the group's path under the hierarchy's base.
func (g *Group) RelPath() string { return g.path }

// UnifiedDir is the group's cgroup2 directory, for CLONE_INTO_CGROUP; ""
// on a Legacy host.
func (g *Group) UnifiedDir() string { return g.unified }

// V1Dirs maps each v1 controller to the group's directory; empty on a
// Unified host.
func (g *Group) V1Dirs() map[string]string { return g.v1 }

// Exists reports whether the group's directory exists.
func (g *Group) Exists() bool {
	if g.unified != "" {
		_, err := os.Stat(g.unified)
		return err == nil
	}
	for _, dir := range g.v1 {
		_, err := os.Stat(dir)
		return err == nil
	}
	return false
}

func (g *Group) procDir() string {
	if g.unified != "" {
		return g.unified
	}
	for _, c := range V1Controllers {
		if dir, ok := g.v1[c]; ok {
			return dir
		}
	}
	return ""
}

// Pids lists every process in the group and its descendants.
func (g *Group) Pids() ([]int, error) {
	pids, err := occ.GetAllPids(g.procDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return pids, err
}

// Populated reports whether any process is in the group or below.
func (g *Group) Populated() bool {
	if g.unified != "" {
		if ev, err := occ.ReadFile(g.unified, "cgroup.events"); err == nil {
			return !strings.Contains(ev, "populated 0")
		}
	}
	pids, _ := g.Pids()
	return len(pids) > 0
}

// Kill SIGKILLs every process in the group and its descendants, escaped
// grandchildren included: cgroup.kill where the cgroup2 tree has it, else
// freeze, SIGKILL each process, thaw. It does not wait for them to die.
func (g *Group) Kill() error {
	if g.unified != "" {
		err := occ.WriteFile(g.unified, "cgroup.kill", "1")
		if err == nil {
			g.tainted.Store(true)
		}
		if err == nil || errors.Is(err, os.ErrNotExist) && !g.Exists() {
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup.kill: %w", err)
		}
		// No cgroup.kill (kernel < 5.14): freeze and kill below.
	}
	if !g.Exists() {
		return nil
	}
	if err := g.mgr.Freeze(occ.Frozen); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	pids, err := g.Pids()
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	if terr := g.mgr.Freeze(occ.Thawed); terr != nil && err == nil {
		err = fmt.Errorf("thaw: %w", terr)
	}
	return err
}

// Taint records that an ancestor of the group was killed with cgroup.kill;
// see Renew.
func (g *Group) Taint() {
	if g.unified != "" {
		g.tainted.Store(true)
	}
}

// Renew makes the group's cgroup2 directory anew if it was killed with
// cgroup.kill (by Kill, or an ancestor's, see Taint): the kernel would
// otherwise kill every process cloned into it. It waits for the group to
// be empty first and applies l again on a Unified host. It does nothing to
// a group that was not killed.
func (g *Group) Renew(l Limits) error {
	if !g.tainted.Load() {
		return nil
	}
	if !g.WaitEmpty(2 * time.Second) {
		return fmt.Errorf("cgroup %s: processes still present after SIGKILL", g.path)
	}
	if err := os.Remove(g.unified); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("renew cgroup %s: %w", g.path, err)
	}
	if err := os.Mkdir(g.unified, 0o755); err != nil {
		return fmt.Errorf("renew cgroup %s: %w", g.path, err)
	}
	if g.h.Mode == Unified && l != (Limits{}) {
		r := l.resources()
		if l.MemoryBytes > 0 {
			r.MemorySwap = l.MemoryBytes
		}
		if err := g.mgr.Set(r); err != nil {
			return fmt.Errorf("renew cgroup %s: %w", g.path, err)
		}
	}
	g.tainted.Store(false)
	return nil
}

// WaitEmpty waits until no process is left in the group, up to timeout.
func (g *Group) WaitEmpty(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for delay := 100 * time.Microsecond; g.Populated(); delay = min(delay*2, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
	}
	return true
}

// OOMKills returns how many processes the kernel's OOM killer has killed in
// this group (v1 memory.oom_control, v2 memory.events).
func (g *Group) OOMKills() (uint64, error) {
	if dir, ok := g.v1["memory"]; ok {
		return readKey(filepath.Join(dir, "memory.oom_control"), "oom_kill")
	}
	if g.h.Mode != Unified {
		return 0, errors.New("no memory controller")
	}
	return readKey(filepath.Join(g.unified, "memory.events"), "oom_kill")
}

func readKey(file, key string) (uint64, error) {
	// A raw read into a stack buffer: no *os.File, no scanner; the files
	// read this way (memory.events, memory.oom_control, cpu.stat) are a few
	// short lines, and a metrics scrape reads hundreds of them.
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: file, Err: err}
	}
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: file, Err: err}
	}
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}

// Destroy kills whatever is left in the group, waits for it to go and
// removes the group's directories. Parents are left (see Hierarchy.Prune).
func (g *Group) Destroy() error {
	if g.Populated() {
		if err := g.Kill(); err != nil {
			return err
		}
		if !g.WaitEmpty(5 * time.Second) {
			return fmt.Errorf("cgroup %s: processes still present after SIGKILL", g.path)
		}
	}
	return g.remove()
}

func (g *Group) remove() error {
	if g.h.Mode == Unified {
		err := occ.RemovePath(g.unified)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return g.mgr.Destroy()
}

// EnterThread moves the thread tid into the group's v1 cgroups, so that a
// process it forks is born there, and returns a function that moves it
// back where it was. It does nothing on a Unified host, where
// CLONE_INTO_CGROUP places the child instead. The caller must have locked
// the thread and must not let it run Go code of others until restored.
func (g *Group) EnterThread(tid int) (restore func() error, err error) {
	if len(g.v1) == 0 {
		return func() error { return nil }, nil
	}
	orig, err := ThreadPaths()
	if err != nil {
		return nil, err
	}
	var moved []string
	restore = func() error {
		var first error
		for _, c := range moved {
			dir := g.h.v1DirAbs(c, orig[c])
			if err := writeTid(dir, tid); err != nil && first == nil {
				first = fmt.Errorf("return thread to %s: %w", dir, err)
			}
		}
		return first
	}
	for _, c := range V1Controllers {
		dir, ok := g.v1[c]
		if !ok {
			continue
		}
		if err := writeTid(dir, tid); err != nil {
			if rerr := restore(); rerr != nil {
				return nil, errors.Join(err, rerr)
			}
			return nil, fmt.Errorf("cgroup %s (%s): %w", g.path, c, err)
		}
		moved = append(moved, c)
	}
	return restore, nil
}

func writeTid(dir string, tid int) error {
	fd, err := unix.Open(filepath.Join(dir, "tasks"), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, strconv.AppendInt(nil, int64(tid), 10))
	if err != nil {
		return &os.PathError{Op: "write", Path: filepath.Join(dir, "tasks"), Err: err}
	}
	return nil
}

// OpenUnified opens the group's cgroup2 directory for SysProcAttr.CgroupFD;
// it returns -1 and no error on a Legacy host. The caller closes it.
func (g *Group) OpenUnified() (int, error) {
	if g.unified == "" {
		return -1, nil
	}
	fd, err := unix.Open(g.unified, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: g.unified, Err: err}
	}
	return fd, nil
}
