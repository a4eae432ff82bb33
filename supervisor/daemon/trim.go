package daemon

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TrimSettle is how long TrimSoon waits: the tail of start-up (the
// goroutines that log the start, answer the first events, begin watching)
// runs in the first milliseconds after "ready", and a trim before it is
// over sees those pages come straight back (2 MB of them in `up`, 5 MB
// and more in the daemon). 200 ms leaves room for a loaded machine.
const TrimSettle = 200 * time.Millisecond

// TrimSoon, once start-up has settled (TrimSettle from now, without
// waiting for it), hands back to the kernel what start-up alone needed:
// the binary's pages (TrimText) and, if the garbage collector has run
// already, the heap that start-up's garbage filled (debug.FreeOSMemory: a
// collection, then the free pages released; starting 100 processes
// leaves about 3 MB of garbage). A process that has not collected yet is
// left alone: its garbage is under the collector's first goal, and a
// first collection would arm the runtime's forced one every two minutes,
// whose stack scans page 2–3 MB of the binary's tables back in. Stop the
// timer it returns when the process is about to end.
func TrimSoon() *time.Timer {
	return time.AfterFunc(TrimSettle, func() {
		if collected() {
			debug.FreeOSMemory()
		}
		TrimText()
	})
}

// collected says whether the garbage collector has completed a cycle.
func collected() bool {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() > 0
}

// TrimText drops the pages of podvisor's own binary that start-up mapped
// in but that the daemon does not use, and keeps them from coming back in
// bulk. The kernel maps a file's pages 64 kB at a time around each fault
// ("fault-around"), so a Go binary's sparse start-up touches fill most of
// its resident set with code and tables that a long-running daemon never
// reads again. MADV_RANDOM turns fault-around off for the read-only
// mappings of the executable; MADV_DONTNEED then unmaps their pages, which
// the page cache still holds: a page in use comes back at its next touch.
// Writable mappings are left alone, and so are read-only ones holding
// pages of their own (a dynamically linked or position-independent
// build's relocated, then write-protected, data: dropped, they would turn
// back into the file's unrelocated bytes). It saves a few megabytes of
// resident set; errors are ignored, as it changes nothing but memory
// accounting. The daemon and `podvisor up` call it through TrimSoon once
// ready.
func TrimText() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	for _, r := range trimRanges(smaps, exe) {
		_ = madvise(r[0], r[1]-r[0], unix.MADV_RANDOM)
		_ = madvise(r[0], r[1]-r[0], unix.MADV_DONTNEED)
	}
}

// trimRanges picks, from the text of /proc/<pid>/smaps, the mappings
// TrimText may drop: those of the file exe, not writable, without
// anonymous (private, copied-on-write) pages.
func trimRanges(smaps []byte, exe string) [][2]uintptr {
	var out [][2]uintptr
	var cur [2]uintptr
	candidate := false
	for line := range strings.Lines(string(smaps)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if start, end, ok := strings.Cut(fields[0], "-"); ok && len(fields) >= 5 {
			// A mapping's header: address range, perms, offset, device,
			// inode, path.
			lo, err1 := strconv.ParseUint(start, 16, 64)
			hi, err2 := strconv.ParseUint(end, 16, 64)
			candidate = err1 == nil && err2 == nil && hi > lo && len(fields) >= 6 &&
				fields[5] == exe && !strings.Contains(fields[1], "w")
			cur = [2]uintptr{uintptr(lo), uintptr(hi)}
			continue
		}
		if candidate && fields[0] == "Anonymous:" && len(fields) >= 2 {
			if fields[1] == "0" {
				out = append(out, cur)
			}
			candidate = false
		}
	}
	return out
}

func madvise(addr, length uintptr, advice int) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, length, uintptr(advice))
	if errno != 0 {
		return errno
	}
	return nil
}
