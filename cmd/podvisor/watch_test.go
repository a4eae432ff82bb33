package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

// GET /v1/pods?watch=true: every status, then each change, including a
// change no event announces (a readiness probe that passes), and a
// removal.
func TestWatchPods(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "watched")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	var mu sync.Mutex
	var changes []api.PodChange
	seen := func(cond func(api.PodChange) bool) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, ch := range changes {
			if cond(ch) {
				return true
			}
		}
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- api.NewClient(c.socket()).WatchPods(ctx, func(ch api.PodChange) error {
			mu.Lock()
			changes = append(changes, ch)
			mu.Unlock()
			return nil
		})
	}()
	c.mustPV(t, "run", specFile(t, "watched", `  terminationGracePeriodSeconds: 1
  processes:
  - name: app
    command: [sleep, "1000"]
    readinessProbe:
      exec: {command: [test, -e, /tmp/ready]}
      periodSeconds: 1
`))
	wait := func(what string, cond func(api.PodChange) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !seen(cond) {
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("no change seen: %s; changes %+v", what, changes)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("running, not ready", func(ch api.PodChange) bool {
		return ch.Type == api.PodChanged && ch.Status.Name == "watched" && ch.Status.Phase == pod.PhaseRunning && len(ch.Status.Processes) == 1 && !ch.Status.Processes[0].Ready
	})
	c.mustPV(t, "exec", "--process", "app", "watched", "--", "touch", "/tmp/ready")
	wait("ready", func(ch api.PodChange) bool {
		return ch.Type == api.PodChanged && ch.Status.Name == "watched" && len(ch.Status.Processes) == 1 && ch.Status.Processes[0].Ready
	})
	c.mustPV(t, "rm", "-f", "watched")
	wait("removed", func(ch api.PodChange) bool { return ch.Type == api.PodRemoved && ch.Status.Name == "watched" })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch: %v", err)
	}
}

// A watch of a daemon with no pod answers at once (its headers), rather
// than at the first change, which may never come.
func TestWatchEmptyDaemonAnswersAtOnce(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", c.socket())
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://podvisor/v1/pods?watch=true", nil)
	got := make(chan error, 1)
	go func() {
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer in 10 s from a watch of a daemon with no pod")
	}
	cancel()
}
