package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

// runDaemon runs a daemon in this process on a temporary root, with cfg's
// timeouts, until the test ends.
func runDaemon(t *testing.T, cfg Config) *api.Client {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and cgroups (CI runs as root)")
	}
	cfg.Root = t.TempDir()
	cfg.Socket = filepath.Join(cfg.Root, "api.sock")
	cfg.CgroupParent = fmt.Sprintf("podvisor-daemon-test-%d", os.Getpid())
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	if cfg.Network.Default == "" {
		cfg.Network.Default = pod.NetworkNone // no bridge on the machine
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	cl := api.NewClient(cfg.Socket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cl.Version(context.Background()); err == nil {
			return cl
		}
		select {
		case err := <-done:
			t.Fatalf("daemon ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("daemon not answering")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamsOutliveTimeouts: with read and idle timeouts of 300 ms, logs
// and events streams go on for seconds, an idle connection is closed, and a
// body that does not come is answered 400.
func TestStreamsOutliveTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cl := runDaemon(t, Config{ReadTimeout: timeout, IdleTimeout: timeout})
	name := fmt.Sprintf("ticker%d", os.Getpid()%100000)
	spec := fmt.Sprintf("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: tick, command: [sh, -c, 'while :; do echo tick; sleep 0.1; done']}\n", name)
	if _, err := cl.Create(context.Background(), []byte(spec), true, true); err != nil {
		t.Fatal(err)
	}
	defer cl.Remove(context.Background(), name, true, nil)

	ctx, cancel := context.WithCancel(context.Background())
	var lines, events atomic.Int64
	logsDone, eventsDone := make(chan error, 1), make(chan error, 1)
	go func() {
		logsDone <- cl.Logs(ctx, name, api.LogsOptions{Follow: true}, func(pod.LogEntry) error {
			lines.Add(1)
			return nil
		})
	}()
	go func() {
		eventsDone <- cl.Events(ctx, true, func(pod.Event) error {
			events.Add(1)
			return nil
		})
	}()
	// An event a second, as long as the test follows.
	go func() {
		for ctx.Err() == nil {
			time.Sleep(time.Second)
			cl.Stop(ctx, name, nil)
			cl.Start(ctx, name, true)
		}
	}()
	time.Sleep(10 * timeout)
	l1, e1 := lines.Load(), events.Load()
	time.Sleep(10 * timeout)
	l2, e2 := lines.Load(), events.Load()
	cancel()
	for what, ch := range map[string]chan error{"logs": logsDone, "events": eventsDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Errorf("%s stream: %v", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s stream did not end with its context", what)
		}
	}
	if l2 <= l1 || e2 <= e1 {
		t.Errorf("streams stopped after the timeouts: %d then %d lines, %d then %d events", l1, l2, e1, e2)
	}

	// An idle keep-alive connection is closed after IdleTimeout.
	sock := cl.Socket()
	c := dialRaw(t, sock)
	if code, err := c.get("/v1/version", 5*time.Second); err != nil || code != 200 {
		t.Fatalf("version: %d %v", code, err)
	}
	began := time.Now()
	if !c.closedByServer(5 * time.Second) {
		t.Error("idle connection not closed")
	} else if took := time.Since(began); took < timeout/2 || took > 10*timeout {
		t.Errorf("idle connection closed after %v, IdleTimeout %v", took, timeout)
	}

	// A body slower than ReadTimeout is a 400.
	c = dialRaw(t, sock)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /v1/pods HTTP/1.1\r\nHost: podvisor\r\nContent-Length: 1000\r\n\r\napiVersion")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("slow body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"code":"Invalid"`) {
		t.Errorf("slow body: %d %s", resp.StatusCode, b)
	}
}
