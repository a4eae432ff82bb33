package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Stream names a process's output stream.
type Stream string

// The output streams.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
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

// OutputFunc receives each line a process writes. It is called from the
// stream's reader goroutine, after the line was logged, and must not block
// long nor keep Text after it returns.
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
type logFile struct {
	mu       sync.Mutex
	f        *os.File
	path     string
	size     int64
	maxSize  int64
	maxFiles int
	buf      []byte
}

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

func (l *logFile) write(t time.Time, stream Stream, partial bool, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	tag := " F "
	if partial {
		tag = " P "
	}
	b := t.UTC().AppendFormat(l.buf[:0], time.RFC3339Nano)
	b = append(append(append(append(b, ' '), stream...), tag...), line...)
	b = append(b, '\n')
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		l.rotate()
		if l.f == nil {
			return
		}
	}
	n, _ := l.f.Write(b)
	l.size += int64(n)
	if cap(b) <= 4096 {
		l.buf = b
	} else {
		l.buf = nil
	}
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
	_ = l.open()
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
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// LogEntry is one logged line, read back from a log file.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Process string    `json:"process"`
	Stream  Stream    `json:"stream"`
	Partial bool      `json:"partial,omitempty"`
	Line    string    `json:"line"`
}

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
		for sc.Scan() {
			if e, ok := parseCRI(process, sc.Text()); ok {
				out = append(out, e)
			}
		}
		fh.Close()
	}
	return out
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
