package daemon

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestMaxConns(t *testing.T) {
	for _, c := range []struct {
		nofile uint64
		want   int
	}{{0, 16}, {64, 16}, {320, 16}, {1024, 192}, {4096, 960}, {20000, 4096}, {1 << 20, 4096}} {
		if got := MaxConns(c.nofile); got != c.want {
			t.Errorf("MaxConns(%d) = %d, want %d", c.nofile, got, c.want)
		}
	}
}

// rawConn is a client connection that speaks HTTP/1.1 by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends a GET and returns the status, or an error by the deadline.
func (c *rawConn) get(path string, timeout time.Duration) (int, error) {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: podvisor\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// closedByServer reports whether the server closed c within timeout.
func (c *rawConn) closedByServer(timeout time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(timeout))
	_, err := c.r.ReadByte()
	return err == io.EOF
}

// TestConnLimit: at the limit, a new connection closes the longest idle
// one; when every connection is busy, new ones wait for a free slot.
func TestConnLimit(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	lim := newConnLimit(ln, 2, zerolog.Nop())
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/block", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-release
	})
	srv := &http.Server{Handler: mux, ConnState: lim.ConnState}
	go srv.Serve(lim)
	defer srv.Close()

	// Three idle keep-alive connections for two slots: the first goes.
	// The server marks a connection idle just after it has written the
	// response, so the client waits for that before the next one: the
	// order of the idle times is then the order of the connections.
	waitIdle := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			lim.mu.Lock()
			got := len(lim.idle)
			lim.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d idle connections, want %d", got, n)
			}
		}
	}
	var idle []*rawConn
	for i := range 3 {
		c := dialRaw(t, sock)
		if code, err := c.get("/ok", 5*time.Second); err != nil || code != 200 {
			t.Fatalf("idle %d: %d %v", i, code, err)
		}
		idle = append(idle, c)
		if i < 2 {
			waitIdle(i + 1)
		}
	}
	if !idle[0].closedByServer(2 * time.Second) {
		t.Error("the longest idle connection was not closed")
	}
	if idle[2].closedByServer(100 * time.Millisecond) {
		t.Error("the newest idle connection was closed")
	}
	// Two busy connections take both slots: the idle ones go.
	for i := range 2 {
		c := dialRaw(t, sock)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /block HTTP/1.1\r\nHost: podvisor\r\n\r\n")
		if resp, err := http.ReadResponse(c.r, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("busy %d: %v", i, err)
		}
	}
	if !idle[1].closedByServer(2*time.Second) || !idle[2].closedByServer(2*time.Second) {
		t.Error("idle connections not closed for busy ones")
	}
	// Every slot busy: a new client waits...
	late := dialRaw(t, sock)
	if _, err := late.get("/ok", 300*time.Millisecond); err == nil {
		t.Fatal("a connection over the limit was served while every slot was busy")
	}
	// ...until a slot is free.
	close(release)
	late.SetDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(late.r, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("waiting client after a slot was freed: %v", err)
	}
	lim.mu.Lock()
	open := lim.open
	lim.mu.Unlock()
	if open > 2 {
		t.Errorf("%d connections open, limit 2", open)
	}
}
