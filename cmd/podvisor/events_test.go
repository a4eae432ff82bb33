package main

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// Events carry sequence numbers, --since filters them, and inspect shows
// the desired state the daemon keeps.
func TestEventsSinceAndDesired(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		c.pv(t, "rm", "-f", "ev")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	c.mustPV(t, "create", specFile(t, "ev", "  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	if st := c.status(t, "ev"); st.Desired != "stopped" {
		t.Errorf("created pod: desired %q, want stopped", st.Desired)
	}
	c.mustPV(t, "start", "ev")
	if st := c.status(t, "ev"); st.Desired != "running" {
		t.Errorf("started pod: desired %q, want running", st.Desired)
	}
	read := func(args ...string) []pod.Event {
		t.Helper()
		var out []pod.Event
		sc := bufio.NewScanner(strings.NewReader(c.mustPV(t, append([]string{"events", "-o", "json"}, args...)...)))
		for sc.Scan() {
			var e pod.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	all := read()
	if len(all) < 3 {
		t.Fatalf("events: %v", all)
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Errorf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
	}
	if got := read("--since", "1h"); len(got) != len(all) {
		t.Errorf("--since 1h: %d events, want %d", len(got), len(all))
	}
	if got := read("--since", "2099-01-01T00:00:00Z"); len(got) != 0 {
		t.Errorf("--since a future time: %v", got)
	}
	if out := c.mustPV(t, "events"); !strings.Contains(out, "seq="+strconv.Itoa(len(all))) {
		t.Errorf("events table without seq:\n%s", out)
	}
	if _, stderr, code := c.pv(t, "events", "--since", "yesterday"); code == 0 || !strings.Contains(stderr, "--since") {
		t.Errorf("--since yesterday: exit %d %s", code, stderr)
	}
	c.mustPV(t, "stop", "ev")
	if st := c.status(t, "ev"); st.Desired != "stopped" {
		t.Errorf("stopped pod: desired %q, want stopped", st.Desired)
	}
}
