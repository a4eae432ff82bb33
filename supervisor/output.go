package supervisor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// Stream names a process's output stream; see pod.Stream.
type Stream = pod.Stream

// The output streams, as in package pod.
const (
	Stdout = pod.Stdout
	Stderr = pod.Stderr
)

// Line is one line a process wrote, as it is logged.
type Line struct {
	Time    time.Time
	Pod     string
	Process string
	Stream  Stream
	// Partial: a piece of a line longer than 16 KiB; the line goes on in
	// the next Line.
	Partial bool
	// Text is the line without its newline. It is only valid during the
	// OutputFunc call.
	Text []byte
}

// OutputFunc receives each line a process writes, after the line was
// logged, in order, from one goroutine of the supervisor's. It may block (a
// terminal not read): the supervisor goes on meanwhile, keeping up to 1 MiB
// of lines for it, and drops from it (not from the logs) what does not fit,
// with a warning in its log. It must not keep Text after it returns.
// Supervisor.Close hands it every line still queued before returning.
type OutputFunc func(Line)

// maxLine is the longest line kept whole; longer ones are split into
// partial records (CRI "P" tag), as kubelet does.
const maxLine = 16 * 1024

// Log rotation defaults, as kubelet's.
const (
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 5
)

// logFile appends a process's output in the CRI log format kubelet uses,
// "<RFC3339Nano> stdout|stderr F|P <line>", and rotates it by size:
// <name>.log, <name>.log.1 (newer) ... <name>.log.<maxFiles-1> (oldest).
//
// Records are written a batch at a time (the lines of one read), formatted
// into a buffer and written with one write(2) per buffer. A write that
// fails (a full disk) never leaves a piece of a record behind: the file is
// truncated back to its last whole record, and the lost records are counted
// in dropped.
type logFile struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	size     int64
	maxSize  int64
	maxFiles int
	closed   bool // by close: do not reopen
	// torn: a write left a piece of a record that could not be cut off;
	// the next write starts with a newline.
	torn bool
	// failing: the last write failed; the next ones reserve their space
	// first, so that a disk that stays full sees no more pieces of records.
	failing bool

	// dropped counts the records lost to failed writes, lastErr is the
	// last failure; reported and the fields after it are the emitter's
	// bookkeeping for reporting them (see Pod.reportLogDrops).
	dropped    int64
	lastErr    error
	reported   int64
	droppingAt time.Time // when the current run of drops began; zero when none
	warnedAt   time.Time
	statusAt   time.Time
}

// record is one line, or one piece of an overlong line, to log.
type record struct {
	partial bool
	text    []byte
}

// logBufSize bounds the buffer a batch is formatted into: a batch bigger
// than this is written in several writes.
const logBufSize = 128 << 10

// logBufs holds format buffers; a pool, so that an idle supervisor holds
// none.
var logBufs = sync.Pool{New: func() any { b := make([]byte, 0, logBufSize); return &b }}

func openLog(path string, maxSize int64, maxFiles int) (*logFile, error) {
	l := &logFile{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// setLimits changes the rotation settings (a daemon's reload).
func (l *logFile) setLimits(maxSize int64, maxFiles int) {
	l.mu.Lock()
	l.maxSize, l.maxFiles = maxSize, maxFiles
	l.mu.Unlock()
}

// writeRecords logs records, the i-th of which was read at t plus i ns,
// rotating between records as needed, and returns how many were lost.
func (l *logFile) writeRecords(t time.Time, stream Stream, recs []record) (lost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil && !l.closed {
		if err := l.open(); err != nil { // a rotation's open failed before
			l.lastErr = err
		}
	}
	if l.f == nil {
		if !l.closed {
			l.dropped += int64(len(recs))
		}
		return len(recs)
	}
	bp := logBufs.Get().(*[]byte)
	defer logBufs.Put(bp)
	var sc stampCache
	b := (*bp)[:0]
	for i, r := range recs {
		// A record: "<time> <stream> F|P <text>\n"; the time is at most 30
		// bytes ("2006-01-02T15:04:05.999999999Z").
		n := 30 + 1 + len(stream) + 3 + len(r.text) + 1
		if l.maxSize > 0 && l.size+int64(len(b)+n) > l.maxSize && l.size+int64(len(b)) > 0 {
			lost += l.flush(b)
			b = b[:0]
			l.rotate()
			if l.f == nil {
				lost += len(recs) - i
				l.dropped += int64(len(recs) - i)
				*bp = b
				return lost
			}
		} else if len(b)+n > logBufSize && len(b) > 0 {
			lost += l.flush(b)
			b = b[:0]
		}
		b = sc.append(b, t.Add(time.Duration(i)))
		b = append(append(b, ' '), stream...)
		if r.partial {
			b = append(b, " P "...)
		} else {
			b = append(b, " F "...)
		}
		b = append(append(b, r.text...), '\n')
	}
	lost += l.flush(b)
	if cap(b) <= 4*logBufSize {
		*bp = b[:0]
	}
	return lost
}

// stampCache formats times as time.RFC3339Nano in UTC does, quickly: the
// date and time of day are formatted once per second, and the fraction of
// a time 1 ns after the last one by incrementing the last one's digits.
type stampCache struct {
	sec  int64
	ns   int
	text []byte   // "2006-01-02T15:04:05" of sec; nil: nothing cached
	frac [10]byte // ".999999999" of ns
	buf  [24]byte
}

func (c *stampCache) append(b []byte, t time.Time) []byte {
	t = t.UTC()
	sec, ns := t.Unix(), t.Nanosecond()
	switch {
	case c.text != nil && sec == c.sec && ns == c.ns+1:
		i := 9 // ns < 1e9: the carry stops before the dot
		for c.frac[i] == '9' {
			c.frac[i] = '0'
			i--
		}
		c.frac[i]++
	default:
		if c.text == nil || sec != c.sec {
			c.text = t.AppendFormat(c.buf[:0], "2006-01-02T15:04:05")
		}
		c.frac[0] = '.'
		for i, n := 9, ns; i >= 1; i-- {
			c.frac[i] = byte('0' + n%10)
			n /= 10
		}
	}
	c.sec, c.ns = sec, ns
	b = append(b, c.text...)
	if ns != 0 {
		end := 10
		for c.frac[end-1] == '0' {
			end--
		}
		b = append(b, c.frac[:end]...)
	}
	return append(b, 'Z')
}

// flush writes b, whole records, with one write(2). When the write fails
// part way, the file is cut back to the last whole record written (or, if
// that fails, the next write begins with a newline); after a failure,
// space is reserved (fallocate) before each write until one succeeds, so
// that a disk that stays full gets no write at all. It returns the number
// of records lost, and counts them in dropped.
func (l *logFile) flush(b []byte) (lost int) {
	if len(b) == 0 {
		return 0
	}
	fail := func(err error, from []byte) int {
		l.lastErr, l.failing = err, true
		lost := bytes.Count(from, []byte{'\n'})
		l.dropped += int64(lost)
		return lost
	}
	if l.failing {
		err := unix.Fallocate(int(l.f.Fd()), unix.FALLOC_FL_KEEP_SIZE, l.size, int64(len(b)+1))
		if err != nil && err != unix.EOPNOTSUPP && err != unix.ENOSYS {
			return fail(&os.PathError{Op: "fallocate", Path: l.path, Err: err}, b)
		}
	}
	if l.torn { // end the piece of a record left behind first
		if _, err := l.f.Write([]byte{'\n'}); err != nil {
			return fail(err, b)
		}
		l.size++
		l.torn = false
	}
	n, err := l.f.Write(b)
	if err == nil && n == len(b) {
		l.size += int64(n)
		l.failing = false
		return 0
	}
	if err == nil {
		err = io.ErrShortWrite
	}
	keep := bytes.LastIndexByte(b[:n], '\n') + 1 // whole records written
	if keep < n {
		// A piece of a record went out: cut it off. With O_APPEND the
		// offset is the end of what was written.
		cut := false
		if end, serr := l.f.Seek(0, io.SeekCurrent); serr == nil {
			cut = l.f.Truncate(end-int64(n-keep)) == nil
		}
		if !cut {
			l.torn, keep = true, n
		}
	}
	l.size += int64(keep)
	return fail(err, b[keep:])
}

// rotate shifts the files by one and starts a new current file.
func (l *logFile) rotate() {
	l.f.Close()
	l.f = nil
	keep := max(l.maxFiles, 1)
	_ = os.Remove(fmt.Sprintf("%s.%d", l.path, keep-1))
	for i := keep - 2; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if keep > 1 {
		_ = os.Rename(l.path, l.path+".1")
	} else {
		_ = os.Remove(l.path)
	}
	if err := l.open(); err != nil {
		l.lastErr = err // writeRecords tries again
	}
}

func (l *logFile) reopen() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	l.f.Close()
	l.f = nil
	_ = l.open()
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// LogEntry is one logged line, read back from a log file; see
// pod.LogEntry.
type LogEntry = pod.LogEntry

// parseCRI parses one CRI log line.
func parseCRI(process, s string) (LogEntry, bool) {
	ts, rest, ok := strings.Cut(s, " ")
	if !ok {
		return LogEntry{}, false
	}
	stream, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return LogEntry{}, false
	}
	tag, text, _ := strings.Cut(rest, " ")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || (stream != string(Stdout) && stream != string(Stderr)) {
		return LogEntry{}, false
	}
	return LogEntry{Time: t, Process: process, Stream: Stream(stream), Partial: tag == "P", Line: text}, true
}

// scanRecords is bufio.ScanLines without the last line when it has no
// newline: every record is written with its newline, so a line without one
// is a write under way (or cut short by a full disk, until it is cut off).
func scanRecords(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return 0, nil, nil
}

// readLogFiles reads a process's log, rotated files first (oldest first).
func readLogFiles(path, process string, maxFiles int) []LogEntry {
	var files []string
	for i := max(maxFiles, 1) + 4; i >= 1; i-- {
		f := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	files = append(files, path)
	var out []LogEntry
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64*1024), 1<<20) // a record is at most 16 KiB plus its prefix
		sc.Split(scanRecords)
		for sc.Scan() {
			if e, ok := parseCRI(process, sc.Text()); ok {
				out = append(out, e)
			}
		}
		fh.Close()
	}
	return out
}

// tailChunk is how much readLogTail reads at a time, and maxRecord the
// longest record it keeps (longer lines are skipped, as by readLogFiles).
const (
	tailChunk = 64 << 10
	maxRecord = 1 << 20
)

// readLogTail returns the last n records of a process's log, oldest first.
// It reads backwards from the end of the current file, and then of the
// rotated ones, newest first, only as far as needed: its memory is in
// proportion to n, not to the log's size.
func readLogTail(path, process string, maxFiles, n int) []LogEntry {
	if n <= 0 {
		return nil
	}
	var out []LogEntry // newest first
	win := make([]byte, 0, tailChunk)
	for i := 0; i <= max(maxFiles, 1)+4 && len(out) < n; i++ {
		f := path
		if i > 0 {
			f = fmt.Sprintf("%s.%d", path, i)
		}
		out, win = tailFile(f, process, n, out, win)
	}
	slices.Reverse(out)
	return out
}

// tailFile appends to out, newest first, the records of file f from its
// end, until out holds n. win is a buffer to use, and is returned.
func tailFile(f, process string, n int, out []LogEntry, win []byte) ([]LogEntry, []byte) {
	fh, err := os.Open(f)
	if err != nil {
		return out, win
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return out, win
	}
	off := fi.Size()
	rest := 0     // win[:rest] is the end part of a line whose start is before off
	first := true // the window holds the file's end
	skip := false // the line at the end of the window is not a record: skip it
	add := func(line []byte) {
		if skip {
			skip = false
			return
		}
		if e, ok := parseCRI(process, string(line)); ok {
			out = append(out, e)
		}
	}
	for off > 0 && len(out) < n {
		k := min(off, tailChunk)
		off -= k
		// The window becomes [chunk | rest].
		if need := int(k) + rest; cap(win) < need {
			nw := make([]byte, need, need+tailChunk)
			copy(nw[k:], win[:rest])
			win = nw
		} else {
			win = win[:need]
			copy(win[k:], win[:rest])
		}
		if _, err := fh.ReadAt(win[:k], off); err != nil {
			return out, win
		}
		if first {
			// A last line without its newline is a write under way, or cut
			// short by a full disk (see scanRecords): skip it.
			skip = win[len(win)-1] != '\n'
			first = false
		}
		end := len(win)
		for len(out) < n {
			i := bytes.LastIndexByte(win[:end], '\n')
			if i < 0 {
				break
			}
			add(win[i+1 : end])
			end = i
		}
		rest = end
		if off == 0 && rest > 0 && len(out) < n {
			add(win[:rest]) // the file's first line
		}
		if rest > maxRecord {
			rest, skip = 0, true
		}
	}
	return out, win
}

// mergeLogs merges per-process logs by time, keeping at most tail entries
// (tail < 0: all).
func mergeLogs(logs [][]LogEntry, tail int) []LogEntry {
	var all []LogEntry
	for _, l := range logs {
		all = append(all, l...)
	}
	slices.SortStableFunc(all, func(a, b LogEntry) int { return a.Time.Compare(b.Time) })
	if tail >= 0 && len(all) > tail {
		all = all[len(all)-tail:]
	}
	return all
}
