package supervisor

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
)

// churnDuration is how long TestNoLostExits runs its crash loops:
// PODVISOR_CHURN (a Go duration), 20s by default; `make soak` runs it for
// 30 minutes.
func churnDuration(t *testing.T) time.Duration {
	if s := os.Getenv("PODVISOR_CHURN"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("PODVISOR_CHURN: %v", err)
		}
		return d
	}
	return 20 * time.Second
}

// TestNoLostExits runs 20 pods × 5 processes that exit after 0.1 s and are
// restarted at once or after a short back-off (about 100 restarts a second),
// and checks that no exit is lost: no process is shown running with a pid
// that is a zombie or gone, no exit had to be found by the safety net
// (sweep), and every pod stops. It samples the resident set and the open
// fds of this process (the supervisor) as it goes.
func TestNoLostExits(t *testing.T) {
	requireRoot(t)
	dur := churnDuration(t)
	sv := newSupervisorWith(t, Options{Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	l, err := theLoop()
	if err != nil {
		t.Fatal(err)
	}
	lostBefore := l.lostExits.Load()

	var procs strings.Builder
	for i := range 5 {
		fmt.Fprintf(&procs, "  - name: p%d\n    command: [sleep, \"0.1\"]\n", i)
	}
	var pods []*Pod
	for range 20 {
		spec := load(t, podYAML(podName(t), `
  restartPolicy: Always
  restartBackoff: {initialDelay: 200ms, maxDelay: 1s}
  terminationGracePeriodSeconds: 5
  processes:
`+procs.String()))
		pods = append(pods, createAndStart(t, sv, spec))
	}

	// A process shown Running whose pid is a zombie or gone at two looks a
	// few seconds apart, with the same pid and restart count, has had its
	// exit missed.
	type key struct{ pod, proc string }
	type seen struct {
		pid, restarts int
	}
	suspects := map[key]seen{}
	start := time.Now()
	sampleEvery := max(dur/30, 2*time.Second)
	nextSample := start
	var samples []string
	for time.Since(start) < dur {
		if time.Now().After(nextSample) {
			samples = append(samples, fmt.Sprintf("%v rss=%dkB fds=%d", time.Since(start).Round(time.Second), selfRSSkB(), selfFDs()))
			nextSample = nextSample.Add(sampleEvery)
		}
		time.Sleep(2 * time.Second)
		for _, p := range pods {
			st := p.Status()
			for _, ps := range st.Processes {
				k := key{st.Name, ps.Name}
				if ps.State != pod.StateRunning || ps.PID == 0 || alive(ps.PID) && !isZombie(ps.PID) {
					delete(suspects, k)
					continue
				}
				if s, ok := suspects[k]; ok && s.pid == ps.PID && s.restarts == ps.RestartCount {
					t.Fatalf("%s/%s: shown Running with pid %d (restart %d), which has exited: its exit was lost", k.pod, k.proc, ps.PID, ps.RestartCount)
				}
				suspects[k] = seen{ps.PID, ps.RestartCount}
			}
		}
	}
	elapsed := time.Since(start)

	total := 0
	minRestarts := -1
	var counts []int
	for _, p := range pods {
		for _, ps := range p.Status().Processes {
			total += ps.RestartCount
			counts = append(counts, ps.RestartCount)
			if minRestarts < 0 || ps.RestartCount < minRestarts {
				minRestarts = ps.RestartCount
			}
		}
	}
	slices.Sort(counts)
	median := counts[len(counts)/2]
	rate := float64(total) / elapsed.Seconds()
	t.Logf("%d restarts in %v (%.1f/s); fewest restarts of one process: %d", total, elapsed.Round(time.Second), rate, minRestarts)
	for _, s := range samples {
		t.Log(s)
	}
	if lost := l.lostExits.Load() - lostBefore; lost != 0 {
		t.Errorf("%d exits were found by the safety net only", lost)
	}
	// Every process keeps crash-looping: none is stuck far behind the
	// others (a lost exit freezes a process's restart count). Relative to
	// the median, as a slow machine (an emulated VM) restarts them all
	// less often.
	if want := max(2, median/4); minRestarts < want {
		t.Errorf("a process restarted only %d times in %v (want at least %d, a quarter of the median %d)", minRestarts, elapsed.Round(time.Second), want, median)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range pods {
		if err := p.Stop(ctx, nil); err != nil {
			t.Fatalf("stop %s: %v", p.Name(), err)
		}
		if ph := p.Status().Phase; ph != pod.PhaseStopped {
			t.Errorf("%s: phase %s after stop", p.Name(), ph)
		}
	}
}

func selfRSSkB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func selfFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}
