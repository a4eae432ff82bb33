package supervisor

// Size limits of emptyDir volumes on disk, measured as kubelet's eviction
// manager measures them.

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// cappedDir is an emptyDir on disk and the most it may hold.
type cappedDir struct {
	name, dir string
	limit     int64
	text      string // the limit as written
}

// emptyDirLimit is the most an emptyDir may hold: its sizeLimit, else the
// pod's ephemeral-storage limit, else the sum of its processes' (when one
// sets it); 0 when none.
func emptyDirLimit(sp *pod.Spec, v *pod.EmptyDirVolume) (int64, string) {
	if l := v.SizeLimit; l != nil {
		return l.Value(), l.String()
	}
	if l := sp.Resources.Limits.EphemeralStorage; l != nil {
		return l.Value(), l.String()
	}
	var sum int64
	for _, list := range [][]pod.Process{sp.InitProcesses, sp.Processes} {
		for i := range list {
			if l := list[i].Resources.Limits.EphemeralStorage; l != nil {
				sum += l.Value()
			}
		}
	}
	if sum > 0 {
		return sum, strconv.FormatInt(sum, 10)
	}
	return 0, ""
}

// watchStorage measures the pod's capped emptyDirs until the pod goes, and
// reports the first over its limit as an eviction (the machine ignores it
// unless the pod runs).
func (p *Pod) watchStorage() {
	t := time.NewTicker(storageCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			if msg := p.files.overLimit(); msg != "" {
				p.log.Warn().Str("reason", pod.ReasonEvicted).Msg(msg)
				p.post(pod.Input{Kind: pod.InEvict, Message: msg})
			}
		}
	}
}

// storageCheckEvery is how often the emptyDirs with a limit are measured,
// as kubelet's eviction manager does (every 10 s).
var storageCheckEvery = 10 * time.Second

// overLimit is the first emptyDir over its limit, as kubelet's eviction
// message says it, or "".
func (f *podFiles) overLimit() string {
	for _, c := range f.capped {
		if used := diskUsage(c.dir); used > c.limit {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", c.name, c.text)
		}
	}
	return ""
}

// diskUsage is the space the files under dir take (their blocks), not
// crossing into other filesystems.
func diskUsage(dir string) int64 {
	var root unix.Stat_t
	if unix.Lstat(dir, &root) != nil {
		return 0
	}
	var total int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		if st.Dev != root.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}
