package daemon

import (
	"bufio"
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
// over sees those pages come straight back (1.5–2 MB of them in `up`,
// more in the daemon).
const TrimSettle = 100 * time.Millisecond

// TrimSoon, once start-up has settled (TrimSettle from now, without
// waiting for it), hands back to the kernel what start-up alone needed:
// the binary's pages (TrimText) and, if the garbage collector has run
// already, the heap start-up's garbage filled (debug.FreeOSMemory: a
// collection, then the free pages released; starting 100 processes leaves
// about 2.5 MB). A process that has not collected yet is left alone: its
// garbage is under the collector's first goal (4 MB), and a first
// collection would arm the runtime's forced one every two minutes, whose
// stack scans page 2–3 MB of the binary's tables back in. The timer it
// returns may be stopped.
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
// Writable mappings are left alone. It saves a few megabytes of resident
// set; errors are ignored, as it changes nothing but memory accounting.
// The daemon and `podvisor up` call it through TrimSoon once ready.
func TrimText() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		_ = madvise(uintptr(lo), uintptr(hi-lo), unix.MADV_RANDOM)
		_ = madvise(uintptr(lo), uintptr(hi-lo), unix.MADV_DONTNEED)
	}
}

func madvise(addr, length uintptr, advice int) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, length, uintptr(advice))
	if errno != 0 {
		return errno
	}
	return nil
}
