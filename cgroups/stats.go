package cgroups

import (
	"errors"

	"fmt"
	"golang.org/x/sys/unix"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats are a group's resource figures, read from its files at the time of
// the call: the kernel keeps them, podvisor only reads.
type Stats struct {
	// CPUSeconds is the CPU time its processes used, user and system, in
	// seconds (v2 cpu.stat usage_usec; v1 cpuacct.usage).
	CPUSeconds float64
	// MemoryBytes is its memory in use, page cache included: v2
	// memory.current, v1 memory.usage_in_bytes (one file each: reading
	// memory.stat as well, for the working set, would double a scrape's
	// cost).
	MemoryBytes uint64
	// MemoryLimitBytes is its memory limit, 0 when there is none (v2
	// memory.max; v1 memory.limit_in_bytes, whose "no limit" is a huge
	// number).
	MemoryLimitBytes uint64
	// Pids is how many tasks are in it (pids.current).
	Pids uint64
}

// noLimitV1 is above any real memory limit: v1 says "no limit" with a
// page-rounded maximum of int64.
const noLimitV1 = math.MaxInt64 / 2

// Stats reads the group's CPU, memory, memory limit and pids figures. A
// figure whose controller the group lacks is left zero; it fails only when
// none could be read.
func (g *Group) Stats() (Stats, error) { return g.stats(true) }

// Usage is Stats without the memory limit (one file less to read).
func (g *Group) Usage() (Stats, error) { return g.stats(false) }

func (g *Group) stats(withLimit bool) (Stats, error) {
	var s Stats
	var errs []error
	ok := 0
	try := func(err error) {
		if err == nil {
			ok++
		} else {
			errs = append(errs, err)
		}
	}
	if g.h.Mode == Unified || g.unified != "" && len(g.v1) == 0 {
		try(g.statsV2(&s, withLimit))
	} else {
		try(g.statsV1(&s, withLimit))
	}
	if ok == 0 {
		return s, errors.Join(errs...)
	}
	return s, nil
}

func (g *Group) statsV2(s *Stats, withLimit bool) error {
	dir := g.unified
	var errs []error
	n := 0
	if usec, err := readKey(filepath.Join(dir, "cpu.stat"), "usage_usec"); err == nil {
		s.CPUSeconds = float64(usec) / 1e6
		n++
	} else {
		errs = append(errs, err)
	}
	if cur, err := readUint(filepath.Join(dir, "memory.current")); err == nil {
		s.MemoryBytes = cur
		n++
	} else {
		errs = append(errs, err)
	}
	if withLimit {
		if max, err := readUint(filepath.Join(dir, "memory.max")); err == nil {
			s.MemoryLimitBytes = max
		}
	}
	if p, err := readUint(filepath.Join(dir, "pids.current")); err == nil {
		s.Pids = p
		n++
	} else {
		errs = append(errs, err)
	}
	if n == 0 {
		return fmt.Errorf("cgroup %s: no statistics: %w", g.path, errors.Join(errs...))
	}
	return nil
}

func (g *Group) statsV1(s *Stats, withLimit bool) error {
	var errs []error
	n := 0
	if dir, ok := g.v1["cpuacct"]; ok {
		if ns, err := readUint(filepath.Join(dir, "cpuacct.usage")); err == nil {
			s.CPUSeconds = float64(ns) / 1e9
			n++
		} else {
			errs = append(errs, err)
		}
	}
	if dir, ok := g.v1["memory"]; ok {
		if cur, err := readUint(filepath.Join(dir, "memory.usage_in_bytes")); err == nil {
			s.MemoryBytes = cur
			n++
		} else {
			errs = append(errs, err)
		}
		if withLimit {
			if max, err := readUint(filepath.Join(dir, "memory.limit_in_bytes")); err == nil && max < noLimitV1 {
				s.MemoryLimitBytes = max
			}
		}
	}
	if dir, ok := g.v1["pids"]; ok {
		if p, err := readUint(filepath.Join(dir, "pids.current")); err == nil {
			s.Pids = p
			n++
		} else {
			errs = append(errs, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("cgroup %s: no statistics: %w", g.path, errors.Join(errs...))
	}
	return nil
}

// readUint reads a file holding one number; "max" reads as 0 (no limit).
// Three system calls (open, read, close) and no allocation: a scrape reads
// thousands of these.
func readUint(file string) (uint64, error) {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: file, Err: err}
	}
	var buf [64]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: file, Err: err}
	}
	v := strings.TrimSpace(string(buf[:n]))
	if v == "max" {
		return 0, nil
	}
	u, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return u, nil
}
