package supervisor

import (
	"bytes"
	"io"
	"os"
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

// OutputFunc receives each line a process writes, without its newline.
// It is called from the stream's reader goroutine and must not block long
// nor keep line after it returns.
type OutputFunc func(podName, process string, stream Stream, line []byte)

// maxLine is the longest line kept whole; longer ones are split into
// partial records (CRI "P" tag), as kubelet does.
const maxLine = 16 * 1024

// logFile appends a process's output in the CRI log format kubelet uses:
// "<RFC3339Nano> stdout|stderr F|P <line>".
type logFile struct {
	mu   sync.Mutex
	f    *os.File
	path string
	buf  []byte
}

func openLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f, path: path}, nil
}

func (l *logFile) write(stream Stream, partial bool, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	tag := " F "
	if partial {
		tag = " P "
	}
	b := time.Now().UTC().AppendFormat(l.buf[:0], time.RFC3339Nano)
	b = append(append(append(append(b, ' '), stream...), tag...), line...)
	b = append(b, '\n')
	_, _ = l.f.Write(b)
	if cap(b) <= 4096 {
		l.buf = b
	} else {
		l.buf = nil
	}
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// copyLines reads r until EOF, handing out complete lines (and partial
// chunks of overlong ones) to emit.
func copyLines(r io.Reader, emit func(partial bool, line []byte)) {
	buf := make([]byte, 4096)
	var pending []byte
	for {
		n, err := r.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				pending = append(pending, data...)
				for len(pending) >= maxLine {
					emit(true, pending[:maxLine])
					pending = append(pending[:0], pending[maxLine:]...)
				}
				break
			}
			if len(pending) > 0 {
				pending = append(pending, data[:i]...)
				emit(false, pending)
				pending = pending[:0]
			} else {
				emit(false, data[:i])
			}
			data = data[i+1:]
		}
		if err != nil {
			if len(pending) > 0 {
				emit(false, pending)
			}
			return
		}
	}
}
