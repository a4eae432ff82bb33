package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// fakeDaemon answers each connection's first request with answer, raw, and
// closes the connection: a daemon that dies mid-request.
func fakeDaemon(t *testing.T, answer string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			http.ReadRequest(bufio.NewReader(c))
			io.WriteString(c, answer)
			c.Close()
		}
	}()
	return sock
}

// TestClientDaemonClosedConnection: a daemon that closes the connection
// before its answer is complete gives an error that says so, and that
// matches ErrDaemonClosed and its cause.
func TestClientDaemonClosedConnection(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		what, answer string
		call         func(*Client) error
		cause        error
	}{
		{"no answer", "", func(cl *Client) error { _, err := cl.Version(ctx); return err }, io.EOF},
		{"half a header", "HTTP/1.1 200 OK\r\nContent-Type: appli", func(cl *Client) error { _, err := cl.List(ctx); return err }, io.ErrUnexpectedEOF},
		{"half a body", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"version\":", func(cl *Client) error { _, err := cl.Version(ctx); return err }, io.ErrUnexpectedEOF},
		{"a cut stream", "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\nd\r\n{\"type\":\"x\"}\n\r\n", func(cl *Client) error {
			return cl.Events(ctx, true, func(pod.Event) error { return nil })
		}, io.ErrUnexpectedEOF},
		{"a create", "", func(cl *Client) error { _, err := cl.Create(ctx, []byte("x"), true, true); return err }, io.EOF},
	} {
		cl := NewClient(fakeDaemon(t, c.answer))
		err := c.call(cl)
		if !errors.Is(err, ErrDaemonClosed) || !errors.Is(err, c.cause) || !strings.Contains(err.Error(), "closed the connection") || strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("%s: %v (cause %v)", c.what, err, c.cause)
		}
	}
	// A daemon that is not there cannot be reached: not a closed connection.
	_, err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Version(ctx)
	if errors.Is(err, ErrDaemonClosed) || !strings.Contains(err.Error(), "cannot reach the podvisor daemon") {
		t.Errorf("no daemon: %v", err)
	}
}
