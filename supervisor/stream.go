package supervisor

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// readBuf is the loop's one read buffer.
var readBuf = make([]byte, 64*1024)

// streamReader splits one output pipe into lines.
type streamReader struct {
	fd      int
	pending []byte
	emit    func(partial bool, line []byte)
	eof     func()
}

func (s *streamReader) ready() bool {
	// At most a few reads per turn, so that a process that writes without
	// pause does not keep the loop from the others (the fd is level-
	// triggered: the loop comes back to it).
	for range 16 {
		n, err := unix.Read(s.fd, readBuf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return false
		}
		if n <= 0 { // EOF, or an error that ends the stream
			if len(s.pending) > 0 {
				s.emit(false, s.pending)
				s.pending = nil
			}
			s.eof()
			return true
		}
		s.split(readBuf[:n])
	}
	return false
}

// split hands out complete lines, and chunks of overlong ones.
func (s *streamReader) split(data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.pending = append(s.pending, data...)
			for len(s.pending) >= maxLine {
				s.emit(true, s.pending[:maxLine])
				s.pending = append(s.pending[:0], s.pending[maxLine:]...)
			}
			break
		}
		if len(s.pending) > 0 {
			s.pending = append(s.pending, data[:i]...)
			for len(s.pending) > maxLine {
				s.emit(true, s.pending[:maxLine])
				s.pending = append(s.pending[:0], s.pending[maxLine:]...)
			}
			s.emit(false, s.pending)
			if cap(s.pending) > 4096 {
				s.pending = nil // do not keep a big buffer per stream
			} else {
				s.pending = s.pending[:0]
			}
		} else {
			line := data[:i]
			for len(line) > maxLine {
				s.emit(true, line[:maxLine])
				line = line[maxLine:]
			}
			s.emit(false, line)
		}
		data = data[i+1:]
	}
}
