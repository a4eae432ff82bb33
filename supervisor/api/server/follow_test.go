package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
	"github.com/podvisor/podvisor/supervisor/api"
)

// TestLogFollowerDropped: a `logs -f` client that stops reading beside a
// pod writing without pause is dropped, and its stream ends with a line
// that says so (an entry with an error field) instead of losing lines
// silently.
func TestLogFollowerDropped(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and cgroups")
	}
	dir := t.TempDir()
	sv, err := supervisor.New(supervisor.Options{Root: filepath.Join(dir, "root"), CgroupParent: fmt.Sprintf("podvisor-apitest-%d", os.Getpid()), Logger: zerolog.Nop(), Network: supervisor.NetworkOptions{Default: pod.NetworkNone}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	srv := &Server{Supervisor: sv, Log: zerolog.Nop()}
	defer srv.Close()
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ConnContext: ConnContext}
	go hs.Serve(ln)
	defer hs.Close()

	name := fmt.Sprintf("follow-%d", os.Getpid())
	spec, err := pod.Load([]byte("apiVersion: podvisor/v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n  terminationGracePeriodSeconds: 2\n  processes:\n  - {name: noisy, command: [yes]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sv.Create(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	var last pod.LogEntry
	err = api.NewClient(sock).Logs(ctx, name, api.LogsOptions{Tail: -1, Follow: true}, func(e pod.LogEntry) error {
		if n == 0 {
			time.Sleep(2 * time.Second) // a client that does not keep up
		}
		n++
		last = e
		return nil
	})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the follow of a client that fell behind did not end (%d lines)", n)
	}
	if !strings.Contains(last.Line, "fell more than 1 MiB") || last.Stream != pod.Stderr {
		t.Errorf("the last line of a dropped follow: %+v", last)
	}
	t.Logf("%d lines, then %q", n-1, last.Line)
}
