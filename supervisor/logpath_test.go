package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// Tests of the log path under load: a noisy neighbour, a full disk, a long
// log read with --tail, a follower that does not read.

// tickLateness runs nYes `yes` processes (one pod) beside a pod that prints
// the time every 0.2 s, for d, and returns how late each of the ticking
// pod's lines reached a follower of its logs (after being logged), and the
// CPU time this process (the supervisor) used meanwhile, and over what time.
func tickLateness(tb testing.TB, sv *Supervisor, nYes int, d time.Duration) (late []time.Duration, cpu, wall time.Duration) {
	tb.Helper()
	var procs strings.Builder
	for i := range nYes {
		fmt.Fprintf(&procs, "  - {name: y%d, command: [yes]}\n", i)
	}
	noisy := fmt.Sprintf("noisy-%d-%d", nYes, testSeq.Add(1))
	tick := fmt.Sprintf("tick-%d-%d", nYes, testSeq.Add(1))
	mustLoad := func(doc string) *pod.Pod {
		p, err := pod.Load([]byte(doc))
		if err != nil {
			tb.Fatal(err)
		}
		return p
	}
	start := func(spec *pod.Pod) *Pod {
		p, err := sv.Create(spec)
		if err != nil {
			tb.Fatal(err)
		}
		if err := p.Start(); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	np := start(mustLoad(podYAML(noisy, "  terminationGracePeriodSeconds: 5\n  processes:\n"+procs.String())))
	defer func() { _ = sv.Remove(context.Background(), noisy, RemoveOptions{Force: true}) }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := np.WaitFor(ctx, allRunning(nYes)); err != nil {
		tb.Fatal(err)
	}
	live, stop := sv.FollowLogs(tick)
	defer stop()
	start(mustLoad(podYAML(tick, `
  terminationGracePeriodSeconds: 5
  processes:
  - {name: tick, command: [sh, -c, "while :; do date +%s.%N; sleep 0.2; done"]}
`)))
	defer func() { _ = sv.Remove(context.Background(), tick, RemoveOptions{Force: true}) }()
	time.Sleep(300 * time.Millisecond) // let the noise settle
	cpu0, begin := selfCPU(), time.Now()
	end := begin.Add(d)
	timeout := time.After(d + 5*time.Second)
	for {
		select {
		case e, ok := <-live:
			if !ok {
				tb.Fatal("the follower was dropped")
			}
			got := time.Now()
			printed, err := parseUnixNano(e.Line)
			if err != nil {
				tb.Fatalf("tick line %q: %v", e.Line, err)
			}
			if printed.After(end) {
				return late, selfCPU() - cpu0, time.Since(begin)
			}
			if printed.Before(begin) {
				continue // printed while this goroutine was not listening
			}
			late = append(late, got.Sub(printed))
		case <-timeout:
			tb.Fatalf("the ticking pod's lines stopped coming; got %d", len(late))
		}
	}
}

// parseUnixNano parses date +%s.%N.
func parseUnixNano(s string) (time.Time, error) {
	sec, nsec, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return time.Time{}, fmt.Errorf("not seconds.nanoseconds")
	}
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	b, err := strconv.ParseInt(nsec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(a, b), nil
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestNoisyNeighbour: a process writing without pause (yes) must not hold
// up another pod's lines. The bound is generous; the benchmark
// BenchmarkLogLatencyBesideYes measures.
func TestNoisyNeighbour(t *testing.T) {
	sv := newTestSupervisor(t)
	late, cpu, wall := tickLateness(t, sv, 1, 3*time.Second)
	if len(late) < 8 {
		t.Fatalf("only %d ticks in 3 s", len(late))
	}
	t.Logf("beside one yes: %d lines, lateness median %v, max %v; supervisor CPU %v in %v", len(late), median(late), slices.Max(late), cpu, wall)
	if m := slices.Max(late); m > time.Second || median(late) > 100*time.Millisecond {
		t.Errorf("lines reached the log %v late at most, %v median, beside one yes (want 1 s, 100 ms)", m, median(late))
	}
	// The stream budget bounds what a yes costs the supervisor: about 3 %
	// of a core here (benchmarks.md); without it, a whole core. The bound is
	// generous: a busy machine must not fail it.
	if share := cpu.Seconds() / wall.Seconds(); share > 0.5 {
		t.Errorf("the supervisor used %.0f%% of a core beside one yes", 100*share)
	}
	// Beside six, every line within a second.
	late, cpu, wall = tickLateness(t, sv, 6, 3*time.Second)
	t.Logf("beside six yes: %d lines, lateness median %v, max %v; supervisor CPU %v in %v", len(late), median(late), slices.Max(late), cpu, wall)
	if len(late) < 8 {
		t.Fatalf("only %d ticks in 3 s", len(late))
	}
	if m := slices.Max(late); m > time.Second {
		t.Errorf("a line reached the log %v late beside six yes", m)
	}
}

// TestStreamSplit: lines cut anywhere across reads come out whole, overlong
// ones in maxLine pieces, in order, in batches of at most maxBatch.
func TestStreamSplit(t *testing.T) {
	var want []string
	var in []byte
	for i := range 5000 {
		var l string
		switch i % 500 {
		case 7:
			l = strings.Repeat("x", maxLine) // exactly the limit: one record
		case 8:
			l = strings.Repeat("y", 3*maxLine+5) // four records
		case 9:
			l = ""
		default:
			l = fmt.Sprintf("line %d", i)
		}
		want = append(want, l)
		in = append(append(in, l...), '\n')
	}
	in = append(in, "no newline at the end"...)
	want = append(want, "no newline at the end")
	for _, chunk := range []int{1, 7, 4096, 64 * 1024} {
		sc := &loopScratch{} // not the loop's
		var got []string
		var cur []byte
		s := &streamReader{emit: func(_ time.Time, recs []record) {
			if len(recs) > maxBatch {
				t.Fatalf("a batch of %d records", len(recs))
			}
			for _, r := range recs {
				if len(r.text) > maxLine || r.partial && len(r.text) != maxLine {
					t.Fatalf("record of %d bytes, partial %v", len(r.text), r.partial)
				}
				cur = append(cur, r.text...)
				if !r.partial {
					got = append(got, string(cur))
					cur = cur[:0]
				}
			}
		}}
		for data := in; len(data) > 0; {
			n := min(chunk, len(data))
			buf := append([]byte(nil), data[:n]...) // as the read buffer would
			s.split(sc, time.Now(), buf)
			clear(buf) // the records must not be kept past emit
			data = data[n:]
		}
		if len(s.pending) > 0 { // what ready does at EOF
			s.emit(time.Now(), []record{{text: s.pending}})
		}
		if !slices.Equal(got, want) {
			t.Errorf("chunks of %d: %d lines, want %d; first difference at %d", chunk, len(got), len(want), firstDifference(got, want))
		}
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestLogRotationBetweenRecords: a batch is written a buffer at a time and
// rotation falls between records: every file holds whole records, within
// the size limit.
func TestLogRotationBetweenRecords(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/p.log"
	l, err := openLog(path, 10000, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	var recs []record
	for i := range 3000 {
		recs = append(recs, record{text: fmt.Appendf(nil, "record %d %s", i, strings.Repeat("z", i%50))})
	}
	if lost := l.writeRecords(time.Now(), Stdout, recs); lost != 0 {
		t.Fatalf("lost %d", lost)
	}
	got := readLogFiles(path, "p", 3)
	for _, f := range []string{path, path + ".1", path + ".2"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 10000 || len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s: %d bytes, ends with %q", f, len(b), b[len(b)-1:])
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if _, ok := parseCRI("p", line); !ok {
				t.Errorf("%s: not a record: %q", f, line)
			}
		}
	}
	// The last files hold the last records, in order.
	if len(got) == 0 || got[len(got)-1].Line != string(recs[len(recs)-1].text) {
		t.Fatalf("last line %v", got[len(got)-1:])
	}
	for i := 1; i < len(got); i++ {
		var a, b int
		fmt.Sscanf(got[i-1].Line, "record %d", &a)
		fmt.Sscanf(got[i].Line, "record %d", &b)
		if b != a+1 {
			t.Fatalf("record %d follows %d", b, a)
		}
	}
}

// logCapture collects a logger's output.
type logCapture struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newSupervisorOnRoot is newTestSupervisor with a root of the test's
// choosing, and its logs also in logs.
func newSupervisorOnRoot(t *testing.T, root string, logs io.Writer) *Supervisor {
	t.Helper()
	requireRoot(t)
	parent := fmt.Sprintf("podvisor-test-%d-%d", os.Getpid(), testSeq.Add(1))
	logger := zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs)).Level(zerolog.DebugLevel)
	sv, err := New(Options{Root: root, CgroupParent: parent, Logger: logger, Network: NetworkOptions{Default: pod.NetworkNone}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		assertNoCgroup(t, sv.h, "/"+parent)
		assertNoMountUnder(t, root+"/")
	})
	return sv
}

var fullDiskLine = regexp.MustCompile(`^line [0-9]+ \.{60}$`)

// checkWholeRecords checks that every line of a log file is a whole record
// of the writer below, and returns how many there are and the highest line
// number seen. A last piece without a newline is a write under way (the
// reader skips it); a piece of a record followed by more is a fault.
func checkWholeRecords(t *testing.T, p *Pod, path string) (records, last int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		e, ok := parseCRI("w", line)
		if !ok || e.Partial || !fullDiskLine.MatchString(e.Line) {
			t.Errorf("not a whole record: %q", line)
			continue
		}
		records++
		n, _ := strconv.Atoi(strings.Fields(e.Line)[1])
		last = max(last, n)
	}
	// And as the reader gives them.
	for _, tail := range []int{-1, 3} {
		entries, err := p.Logs("w", tail)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !fullDiskLine.MatchString(e.Line) {
				t.Errorf("Logs(w, %d) gave a line cut short: %q", tail, e.Line)
			}
		}
	}
	return records, last
}

// TestLogsFullDisk: on a full disk, lost lines are counted (status and a
// warning), no record is left cut short and glued to the next, and logging
// resumes once there is room again.
func TestLogsFullDisk(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=512k,mode=0755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	var logs logCapture
	sv := newSupervisorOnRoot(t, root, &logs)
	name := podName(t)
	p, err := sv.Create(load(t, podYAML(name, `
  terminationGracePeriodSeconds: 2
  processes:
  - name: w
    command: [sh, -c, "i=0; while :; do i=$((i+1)); echo \"line $i ............................................................\"; done"]
`)))
	if err != nil {
		t.Fatal(err)
	}
	// Leave about 64 KiB free.
	var fs unix.Statfs_t
	if err := unix.Statfs(root, &fs); err != nil {
		t.Fatal(err)
	}
	filler := root + "/filler"
	if free := int64(fs.Bavail) * fs.Bsize; free > 64<<10 {
		if err := os.WriteFile(filler, make([]byte, free-64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	st := waitCond(t, p, 20*time.Second, "lines dropped", func(s *pod.Status) bool { return procStatus(*s, "w").LogsDropped > 0 })
	time.Sleep(300 * time.Millisecond) // more failed writes
	path := logPath(p.dir, "w")
	n, last := checkWholeRecords(t, p, path)
	t.Logf("disk full: %d whole records logged, up to line %d; %d dropped", n, last, procStatus(st, "w").LogsDropped)
	if n == 0 {
		t.Fatal("nothing logged")
	}
	if !strings.Contains(logs.String(), "log lines dropped") {
		t.Error("no warning of dropped log lines in the supervisor's log")
	}
	// Room again: logging resumes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, l := checkWholeRecords(t, p, path); l > last+1000 {
			break
		}
		if time.Now().After(deadline) || t.Failed() {
			t.Fatalf("no new lines logged after the disk got room again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := sv.Remove(context.Background(), name, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "logging again after dropping lines") {
		t.Error("no note of logging again in the supervisor's log")
	}
}

// writeCRIRecords writes n records to path, the i-th at base+step*i, with text
// "<tag> <i> <padding>", and returns the bytes written.
func writeCRIRecords(t testing.TB, path, tag string, base time.Time, step time.Duration, from, n, pad int) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	padding := strings.Repeat("p", pad)
	var b []byte
	var size int64
	for i := from; i < from+n; i++ {
		b = base.Add(time.Duration(i)*step).UTC().AppendFormat(b[:0], time.RFC3339Nano)
		b = fmt.Appendf(b, " stdout F %s %d %s\n", tag, i, padding)
		w.Write(b)
		size += int64(len(b))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return size
}

// TestLogsTailLarge: --tail reads a log backwards, as far as needed: the
// last line of 40 MB of logs costs little memory; and tails across rotated
// files and across processes are the ends of the whole logs.
func TestLogsTailLarge(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p, err := sv.Create(load(t, podYAML(name, `
  processes:
  - {name: big, command: [sleep, "1"]}
  - {name: small, command: [sleep, "1"]}
`)))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	big := logPath(p.dir, "big")
	// 40 MB: 20 in the rotated file, 20 in the current one.
	const half = 200_000
	size := writeCRIRecords(t, big+".1", "big", base, time.Millisecond, 0, half, 60)
	size += writeCRIRecords(t, big, "big", base, time.Millisecond, half, half, 60)

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	got, err := p.Logs("big", 1)
	took := time.Since(t0)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	alloc := m1.TotalAlloc - m0.TotalAlloc
	t.Logf("tail 1 of %d MB: %v, %d bytes allocated", size>>20, took, alloc)
	if len(got) != 1 || !strings.HasPrefix(got[0].Line, fmt.Sprintf("big %d ", 2*half-1)) {
		t.Fatalf("tail 1: %+v", got)
	}
	if alloc > 2<<20 {
		t.Errorf("tail 1 of 40 MB allocated %d kB", alloc>>10)
	}

	// Small logs, to compare with the whole: a current file of 3 lines
	// after a rotated one, and another process interleaved in time.
	writeCRIRecords(t, big+".2", "big", base, time.Millisecond, 0, 50, 10)
	writeCRIRecords(t, big+".1", "big", base, time.Millisecond, 50, 40, 10)
	writeCRIRecords(t, big, "big", base, time.Millisecond, 90, 3, 10)
	writeCRIRecords(t, logPath(p.dir, "small"), "small", base.Add(500*time.Microsecond), 7*time.Millisecond, 0, 14, 10)
	for _, process := range []string{"big", "small", ""} {
		all, err := p.Logs(process, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 2, 3, 4, 10, 43, 93, 106, 107, 500} {
			tail, err := p.Logs(process, n)
			if err != nil {
				t.Fatal(err)
			}
			want := all[max(0, len(all)-n):]
			if !slices.EqualFunc(tail, want, func(a, b LogEntry) bool { return a == b }) {
				t.Errorf("process %q tail %d: %d entries, want the last %d of %d", process, n, len(tail), len(want), len(all))
			}
		}
	}
}

// TestStampFormat: the fast time format is time.RFC3339Nano's, and stamps
// strictly increase.
func TestStampFormat(t *testing.T) {
	var c stampCache
	base := time.Date(2026, 11, 30, 11, 53, 23, 0, time.UTC)
	check := func(tm time.Time) {
		t.Helper()
		if got, want := string(c.append(nil, tm)), tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("%s, want %s", got, want)
		}
	}
	for _, d := range []time.Duration{0, 1, 10, 100_000, 120_000_000, 999_999_999, time.Second, time.Second + 5, 59*time.Minute + 999_999_990} {
		check(base.Add(d))
	}
	// Runs of times 1 ns apart, as a batch's records, across carries and
	// seconds.
	for _, from := range []time.Duration{0, 89, 999_999, time.Second - 12, 3*time.Second + 999_999_990} {
		for i := range time.Duration(30) {
			check(base.Add(from + i))
		}
	}
	check(time.Now())
	var sc loopScratch
	a := sc.stamp(time.Now(), 5)
	b := sc.stamp(a, 1) // the same reading again
	if !b.After(a.Add(4)) {
		t.Errorf("stamps do not increase: %v then %v", a, b)
	}
}

// TestFollowerDroppedWhenBehind: a log follower that does not read holds at
// most about 1 MiB, and is dropped: its channel closes after the lines
// before the drop. One that reads is never dropped.
func TestFollowerDroppedWhenBehind(t *testing.T) {
	sv := &Supervisor{}
	line := bytes.Repeat([]byte("s"), 16<<10)
	recs := []record{{text: line}, {text: line}, {text: line}, {text: line}}

	stalled, cancel := sv.FollowLogs("p")
	defer cancel()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range 1000 { // 64 MiB of lines
		sv.lines.publish("p", "x", Stdout, time.Now(), recs)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if held := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); held > 3<<20 {
		t.Errorf("a stalled follower holds %d kB", held>>10)
	}
	got := 0
	timeout := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case e, ok := <-stalled:
			if !ok {
				done = true
				break
			}
			got += len(e.Line)
		case <-timeout:
			t.Fatalf("the stalled follower was not dropped; %d bytes received", got)
		}
	}
	if got == 0 || got > followerMaxBytes {
		t.Errorf("the dropped follower received %d bytes before its end", got)
	}

	// A follower that reads gets everything.
	reader, cancel2 := sv.FollowLogs("p")
	defer cancel2()
	var count atomic.Int64
	closed := make(chan struct{})
	go func() {
		for range reader {
			count.Add(1)
		}
		close(closed)
	}()
	for range 1000 {
		sv.lines.publish("p", "x", Stdout, time.Now(), recs)
		time.Sleep(50 * time.Microsecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for count.Load() < 4000 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-closed:
		t.Errorf("a follower that reads was dropped after %d lines", count.Load())
	default:
		if c := count.Load(); c != 4000 {
			t.Errorf("the reading follower got %d lines, want 4000", c)
		}
	}
}

// TestStreamBudgetLosesNothing: a process that prints far past its
// stream's budget is slowed down (its pipe is not read until the next
// window), not cut: every line is logged, in order, and the pod completes.
func TestStreamBudgetLosesNothing(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	const n = 100000 // five windows' worth of lines
	p := createAndStart(t, sv, load(t, podYAML(name, fmt.Sprintf(`
  restartPolicy: Never
  processes:
  - name: seq
    command: [seq, "1", "%d"]
`, n))))
	begin := time.Now()
	waitPhase(t, p, 60*time.Second, pod.PhaseSucceeded)
	took := time.Since(begin)
	logs, err := p.Logs("seq", -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != n {
		t.Fatalf("%d lines logged, want %d", len(logs), n)
	}
	for i, e := range logs {
		if e.Line != strconv.Itoa(i+1) {
			t.Fatalf("line %d is %q", i+1, e.Line)
		}
	}
	// At 20,000 lines a window, 100,000 lines take at least four windows
	// after the first: the budget was applied.
	if min := 4 * streamWindow; took < min {
		t.Errorf("%d lines logged in %v: the stream budget (%d lines per %v) was not applied", n, took, streamWindowLines, streamWindow)
	}
}
