package supervisor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// outputQueueBytes bounds the lines waiting for the embedder's OutputFunc.
const outputQueueBytes = 1 << 20

// outputQueue hands lines to the embedder's OutputFunc from a goroutine of
// its own, so that an OutputFunc that blocks (`podvisor up | less`, a
// terminal that is not read) never holds up the I/O loop, and with it
// every process's exits and output. Lines that do not fit in
// outputQueueBytes are dropped from the OutputFunc only (the log files
// have them), counted, and reported in the supervisor's log.
type outputQueue struct {
	out OutputFunc
	log zerolog.Logger

	mu      sync.Mutex
	wake    *sync.Cond
	lines   []Line // Text owned by the queue
	bytes   int
	busy    bool  // the goroutine is delivering a batch
	dropped int64 // since the last report
	closed  bool
	idle    chan struct{} // closed when the queue is empty and not busy
	// pushed counts the lines queued, delivered those handed to the
	// OutputFunc (see caughtUp).
	pushed    uint64
	delivered atomic.Uint64
}

func newOutputQueue(out OutputFunc, log zerolog.Logger) *outputQueue {
	q := &outputQueue{out: out, log: log}
	q.wake = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// push queues copies of lines; it never blocks (the I/O loop calls it).
func (q *outputQueue) push(lines []Line) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, l := range lines {
		if q.closed || q.bytes+len(l.Text) > outputQueueBytes {
			q.dropped++
			continue
		}
		l.Text = append([]byte(nil), l.Text...)
		q.lines = append(q.lines, l)
		q.bytes += len(l.Text)
		q.pushed++
	}
	q.wake.Signal()
}

func (q *outputQueue) run() {
	var lastReport time.Time
	for {
		q.mu.Lock()
		for len(q.lines) == 0 && q.dropped == 0 && !q.closed {
			if q.idle != nil {
				close(q.idle)
				q.idle = nil
			}
			q.wake.Wait()
		}
		if len(q.lines) == 0 && q.closed {
			if q.idle != nil {
				close(q.idle)
				q.idle = nil
			}
			q.mu.Unlock()
			return
		}
		batch := q.lines
		q.lines, q.bytes = nil, 0
		dropped := q.dropped
		if dropped > 0 && time.Since(lastReport) >= time.Second {
			q.dropped = 0
			lastReport = time.Now()
		} else {
			dropped = 0
		}
		q.busy = true
		q.mu.Unlock()
		if dropped > 0 {
			q.log.Warn().Int64("lines", dropped).Msg("output lines not shown: the output does not keep up (the log files have them)")
		}
		for _, l := range batch {
			q.out(l)
			q.delivered.Add(1)
		}
		q.mu.Lock()
		q.busy = false
		q.mu.Unlock()
		if len(batch) == 0 {
			// Only drops to report, rate-limited: do not spin.
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// caughtUp waits until the lines queued so far have been handed to the
// OutputFunc, so that an exit reaches the embedder after its process's
// last lines; it gives up when the OutputFunc makes no progress for 100 ms
// (it blocks: `up | less`) or after limit, for an exit must not wait on
// the embedder's output.
func (q *outputQueue) caughtUp(limit time.Duration) {
	q.mu.Lock()
	mark := q.pushed
	q.mu.Unlock()
	deadline := time.Now().Add(limit)
	last, lastMove := q.delivered.Load(), time.Now()
	for delay := 100 * time.Microsecond; ; delay = min(delay*2, 10*time.Millisecond) {
		d := q.delivered.Load()
		if d >= mark {
			return
		}
		now := time.Now()
		if d != last {
			last, lastMove = d, now
		}
		if now.Sub(lastMove) > 100*time.Millisecond || now.After(deadline) {
			return
		}
		time.Sleep(delay)
	}
}

// flush waits until every queued line has been handed to the OutputFunc,
// or ctx ends.
func (q *outputQueue) flush(ctx context.Context) error {
	q.mu.Lock()
	if len(q.lines) == 0 && !q.busy {
		q.mu.Unlock()
		return nil
	}
	if q.idle == nil {
		q.idle = make(chan struct{})
	}
	idle := q.idle
	q.wake.Signal()
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close flushes, then ends the goroutine; later lines are dropped.
func (q *outputQueue) close(ctx context.Context) error {
	err := q.flush(ctx)
	q.mu.Lock()
	q.closed = true
	q.wake.Signal()
	q.mu.Unlock()
	return err
}
