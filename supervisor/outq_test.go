package supervisor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
)

// An OutputFunc that blocks (`podvisor up | less` with less not reading)
// does not hold up the supervisor: a crash-looping process keeps being
// restarted and the pod stops; once the output reads again, Close hands it
// the queued lines, in order.
func TestBlockedOutputDoesNotStallExits(t *testing.T) {
	requireRoot(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	out := func(l Line) {
		<-release
		mu.Lock()
		got = append(got, string(l.Text))
		mu.Unlock()
	}
	sv := newSupervisorWith(t, Options{Output: out, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	// Cleanups run last first: the output is released before the
	// supervisor's Close, which flushes it.
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	p := createAndStart(t, sv, load(t, podYAML(podName(t), `
  restartPolicy: Always
  restartBackoff: {initialDelay: 50ms, maxDelay: 50ms}
  processes:
  - name: a
    command: [sh, -c, "echo run; exit 1"]
`)))
	waitCond(t, p, 20*time.Second, "5 restarts while the output is blocked", func(s *pod.Status) bool {
		return s.Processes[0].RestartCount >= 5
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx, nil); err != nil {
		t.Fatalf("stop while the output is blocked: %v", err)
	}
	logged, err := p.Logs("a", -1)
	if err != nil {
		t.Fatal(err)
	}
	unblock()
	if err := sv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(logged) || len(got) < 5 {
		t.Errorf("the output got %d lines after Close, want the %d logged", len(got), len(logged))
	}
	for i, l := range got {
		if l != "run" {
			t.Errorf("line %d: %q", i, l)
		}
	}
}
