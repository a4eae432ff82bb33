package daemon

import (
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Bounds of the API connection limit (see MaxConns).
const (
	// fdReserve is kept out of the connection budget for the daemon's own
	// files: its listener, epoll, locks, state files being written,
	// recovery's reads, a process being started...
	fdReserve = 256
	// minConns and maxConns bound the limit whatever RLIMIT_NOFILE is.
	minConns = 16
	maxConns = 4096
)

// MaxConns is how many API connections the daemon keeps open at once for
// a file descriptor limit of nofile (RLIMIT_NOFILE): a quarter of what is
// left after a reserve of 256, between 16 and 4096. The other three
// quarters are for the pods: each holds a lock file and three namespace
// files, and each of its processes a log file, a pidfd and two pipes.
// With 1024 that is 192 connections; with 20000 and more, 4096.
func MaxConns(nofile uint64) int {
	if nofile <= fdReserve+4*minConns {
		return minConns
	}
	return int(min(max((nofile-fdReserve)/4, minConns), maxConns))
}

// nofile is this process's soft RLIMIT_NOFILE (which Go raised to the hard
// limit when it started).
func nofile() uint64 {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Cur == unix.RLIM_INFINITY {
		return 1 << 20
	}
	return l.Cur
}

// connLimit is a listener that keeps at most max connections open. When a
// connection comes at the limit, the connection that has waited longest
// for a request (a new one that sent nothing yet, or an idle keep-alive
// one) is closed to make room; when every connection is busy with a
// request (a stream, a stop), Accept waits until one ends, and new clients
// wait in the socket's backlog, holding no descriptor of the daemon.
//
// It learns which connections wait for a request from the HTTP server:
// set its ConnState as http.Server.ConnState.
type connLimit struct {
	net.Listener
	max int
	log zerolog.Logger

	mu      sync.Mutex
	changed *sync.Cond // a connection closed or went idle, or the listener closed
	open    int
	idle    map[*limitedConn]time.Time // waiting for a request, since
	closed  bool
	warned  time.Time
}

func newConnLimit(ln net.Listener, max int, log zerolog.Logger) *connLimit {
	l := &connLimit{Listener: ln, max: max, log: log, idle: map[*limitedConn]time.Time{}}
	l.changed = sync.NewCond(&l.mu)
	return l
}

// Accept accepts a connection, then makes room for it if the limit is
// reached.
func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l}
	l.mu.Lock()
	for l.open >= l.max && !l.closed {
		victim := l.oldestIdle()
		if victim == nil {
			if now := time.Now(); now.Sub(l.warned) > time.Minute {
				l.warned = now
				l.log.Warn().Int("limit", l.max).Msg("API connection limit reached, every connection busy: new clients wait")
			}
			l.changed.Wait()
			continue
		}
		delete(l.idle, victim)
		l.mu.Unlock()
		l.log.Debug().Int("limit", l.max).Msg("API connection limit reached: closing the longest idle connection")
		victim.Close()
		l.mu.Lock()
	}
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return nil, net.ErrClosed
	}
	l.open++
	l.idle[lc] = time.Now()
	l.mu.Unlock()
	return lc, nil
}

// oldestIdle is the connection that has waited longest for a request.
func (l *connLimit) oldestIdle() *limitedConn {
	var oldest *limitedConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	return oldest
}

// ConnState follows the HTTP server's view of each connection.
func (l *connLimit) ConnState(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateIdle:
		if !lc.closed {
			l.idle[lc] = time.Now()
			l.changed.Broadcast() // a waiting Accept may close it
		}
	default: // StateActive, StateHijacked, StateClosed; StateNew is set by Accept
		if s != http.StateNew {
			delete(l.idle, lc)
		}
	}
}

// Close closes the listener and lets a waiting Accept return.
func (l *connLimit) Close() error {
	l.mu.Lock()
	l.closed = true
	l.changed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

func (l *connLimit) release(c *limitedConn) {
	l.mu.Lock()
	c.closed = true
	delete(l.idle, c)
	l.open--
	l.changed.Broadcast()
	l.mu.Unlock()
}

// limitedConn gives its slot back once closed.
type limitedConn struct {
	net.Conn
	l      *connLimit
	once   sync.Once
	closed bool // under l.mu
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// SyscallConn gives the peer credential check (server.ConnContext) the
// underlying socket.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, syscall.EINVAL
}
