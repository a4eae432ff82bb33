package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// podvisor explain: the text screen, -o json, one process, and the errors
// for an unknown pod or process.
func TestExplainCommand(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "why")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	c.mustPV(t, "run", specFile(t, "why", `  terminationGracePeriodSeconds: 1
  processes:
  - {name: crash, command: [sh, -c, 'echo "fatal: bad flag --x" >&2; exit 4']}
  - {name: ok, command: [sleep, "1000"]}
`))
	var ex pod.Explanation
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := c.mustPV(t, "explain", "why", "crash", "-o", "json")
		if err := json.Unmarshal([]byte(out), &ex); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(ex.Processes) == 1 && ex.Processes[0].Cause == pod.CauseCrashLoop && len(ex.Processes[0].RecentExits) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no crash loop explained: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if x := ex.Processes[0]; x.Name != "crash" || x.NextStartAt == nil || x.RecentExits[0].ExitCode != 4 {
		t.Errorf("json: %+v", x)
	}
	text := c.mustPV(t, "explain", "why")
	t.Logf("explain why:\n%s", text)
	for _, s := range []string{"Pod why is Running, 1 of 2 processes ready", "crash (app): Waiting (CrashLoopBackOff), not ready",
		"exit code 4 (Error)", "Back-off", "Last output:", "| fatal: bad flag --x", "ok (app): Running, ready", "and ready."} {
		if !strings.Contains(text, s) {
			t.Errorf("%q is not in:\n%s", s, text)
		}
	}
	if _, stderr, code := c.pv(t, "explain", "nosuch"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("explain nosuch: exit %d %s", code, stderr)
	}
	if _, stderr, code := c.pv(t, "explain", "why", "nosuch"); code == 0 || !strings.Contains(stderr, `no process "nosuch"`) {
		t.Errorf("explain why nosuch: exit %d %s", code, stderr)
	}
	if _, _, code := c.pv(t, "explain"); code == 0 {
		t.Error("explain with no name: exit 0")
	}
}
