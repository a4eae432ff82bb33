package supervisor

import (
	"bytes"
	"time"

	"golang.org/x/sys/unix"
)

// scratch is the I/O loop's: only the loop goroutine uses it. Its read
// buffer is made at the first read, not at every start of podvisor.
var scratch = &loopScratch{}

// loopScratch holds the buffers and state that the streams share on the
// loop.
type loopScratch struct {
	// read is the loop's one read buffer: a stream reads at most this much
	// per loop turn.
	read []byte
	// join holds a line begun in an earlier read and ended in this one.
	join []byte
	// recs holds the records of one batch.
	recs []record
	// last is the time given to the last record read.
	last time.Time
}

// stamp returns the time for a batch of n records read at now: the i-th
// record's time is the result plus i ns. Records get strictly increasing
// times (the lines of one read, read at once, get the read's time plus 1 ns
// each), so that a record's time places it among all the others: a log
// follower skips what it already had from the files by time. A wall clock
// set back by more than a second is followed at once.
func (sc *loopScratch) stamp(now time.Time, n int) time.Time {
	t := now.UTC()
	if !t.After(sc.last) && sc.last.Sub(t) < time.Second {
		t = sc.last.Add(1)
	}
	sc.last = t.Add(time.Duration(n - 1))
	return t
}

// maxBatch bounds the records handed to emit at once (a 64 KiB read of
// 2-byte lines is 32768 records): the loop's memory stays small.
const maxBatch = 1024

// A stream's budget: in each window of streamWindow, at most
// streamWindowBytes and streamWindowLines are read from one stream (40 MiB
// and 200,000 lines a second). Past it the loop stops reading that pipe
// until the window ends; its writer then waits on the full pipe, as on a
// slow terminal, and nothing is lost. This bounds what one process that
// writes without pause (yes) costs the supervisor.
const (
	streamWindow      = 100 * time.Millisecond
	streamWindowBytes = 4 << 20
	streamWindowLines = 20000
)

// streamReader splits one output pipe into lines.
type streamReader struct {
	fd      int
	pending []byte // the start of a line whose end has not come yet
	// The current budget window: when it began, and what was read in it.
	window      time.Time
	windowBytes int
	windowLines int
	// emit logs and hands out records, the i-th of which was read at t
	// plus i ns. The records' text is only valid during the call.
	emit func(t time.Time, recs []record)
	eof  func()
}

// ready reads once. A stream gets one read of at most 64 KiB per loop turn
// (its fair share: the fd is level-triggered, the loop comes back to it
// after serving the others), so that a process that writes without pause
// does not keep the loop from the other processes' output.
func (s *streamReader) ready() bool {
	sc := scratch
	if sc.read == nil {
		sc.read = make([]byte, 64*1024)
	}
	now := time.Now()
	if now.Sub(s.window) >= streamWindow {
		s.window, s.windowBytes, s.windowLines = now, 0, 0
	} else if s.windowBytes >= streamWindowBytes || s.windowLines >= streamWindowLines {
		if outLoop != nil {
			outLoop.pause(s.fd, s, s.window.Add(streamWindow))
		}
		return false
	}
	for {
		n, err := unix.Read(s.fd, sc.read)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return false
		}
		if n <= 0 { // EOF, or an error that ends the stream
			if len(s.pending) > 0 {
				s.emit(sc.stamp(time.Now(), 1), []record{{text: s.pending}})
				s.pending = nil
			}
			s.eof()
			return true
		}
		s.windowBytes += n
		s.windowLines += bytes.Count(sc.read[:n], []byte{'\n'})
		s.split(sc, now, sc.read[:n])
		return false
	}
}

// split hands out the complete lines of data, read at now, and chunks of
// overlong ones, in batches of at most maxBatch records; an unterminated
// rest waits in pending.
func (s *streamReader) split(sc *loopScratch, now time.Time, data []byte) {
	recs := sc.recs[:0]
	add := func(r record) {
		recs = append(recs, r)
		if len(recs) == maxBatch {
			s.emit(sc.stamp(now, len(recs)), recs)
			recs = recs[:0]
		}
	}
	// line adds a complete line, an overlong one in pieces.
	line := func(l []byte) {
		for len(l) > maxLine {
			add(record{partial: true, text: l[:maxLine]})
			l = l[maxLine:]
		}
		add(record{text: l})
	}
	var rest []byte // an unterminated rest; must not be s.pending
	if len(s.pending) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.pending = append(s.pending, data...)
			if len(s.pending) < maxLine {
				return // nothing to hand out yet
			}
			sc.join = append(sc.join[:0], s.pending...)
			rest, data = sc.join, nil
		} else {
			sc.join = append(append(sc.join[:0], s.pending...), data[:i]...)
			line(sc.join)
			data = data[i+1:]
		}
		if cap(s.pending) > 4096 {
			s.pending = nil // do not keep a big buffer per stream
		} else {
			s.pending = s.pending[:0]
		}
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			rest = data
			break
		}
		line(data[:i])
		data = data[i+1:]
	}
	for len(rest) >= maxLine {
		add(record{partial: true, text: rest[:maxLine]})
		rest = rest[maxLine:]
	}
	s.pending = append(s.pending, rest...)
	if len(recs) > 0 {
		s.emit(sc.stamp(now, len(recs)), recs)
	}
	sc.recs = recs[:0]
	if cap(sc.join) > 128<<10 {
		sc.join = nil
	}
}
