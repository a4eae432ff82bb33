package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

// generate systemd printed TimeoutStopSec=-9223372036854775794 for a grace
// period of 9223372036854775807 seconds.
func TestGenerateSystemdGraceBounds(t *testing.T) {
	c := newCLI(t, false)
	for _, g := range []string{"9223372037", "9223372036854775807"} {
		f := specFile(t, "web", "  terminationGracePeriodSeconds: "+g+"\n  processes: [{name: a, command: [x]}]\n")
		out, stderr, code := c.run(t, "generate", "systemd", f)
		if want := "spec.terminationGracePeriodSeconds: must be at most 9223372036 (about 292 years), got " + g; code != 1 || !strings.Contains(stderr, want) || strings.Contains(out, "TimeoutStopSec") {
			t.Errorf("grace %s: exit %d\nstdout: %s\nstderr: %s", g, code, out, stderr)
		}
	}
	f := specFile(t, "web", "  terminationGracePeriodSeconds: 9223372036\n  processes: [{name: a, command: [x]}]\n")
	out, stderr, code := c.run(t, "generate", "systemd", f)
	if code != 0 || !strings.Contains(out, "\nTimeoutStopSec=9223372051\n") || !strings.Contains(out, "terminationGracePeriodSeconds (9223372036)") {
		t.Errorf("largest grace: exit %d\n%s%s", code, out, stderr)
	}
}

// stop --timeout 9223372036854775807, or the API's ?timeout=18446744073,
// wrapped to a grace period of 0 and SIGKILLed the pod at once.
func TestTimeoutBounds(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer d.stop(t)
	// The process ignores SIGTERM: only the SIGKILL at the end of the grace
	// period (30 s) can end it.
	c.mustPV(t, "run", specFile(t, "stubborn", "  processes:\n  - {name: a, command: [sh, -c, \"trap '' TERM; exec sleep 1000\"]}\n"))
	pid := c.status(t, "stubborn").Processes[0].PID
	stillRunning := func(what string) {
		t.Helper()
		if st := c.status(t, "stubborn"); st.Phase != pod.PhaseRunning || st.Processes[0].PID != pid {
			t.Fatalf("after %s: %s, pid %d (was %d)", what, st.Phase, st.Processes[0].PID, pid)
		}
	}
	for _, args := range [][]string{
		{"stop", "stubborn", "--timeout", "9223372036854775807"},
		{"stop", "stubborn", "--timeout", "18446744073"},
		{"stop", "stubborn", "--timeout", "9223372037"},
		{"restart", "stubborn", "--timeout", "9223372037"},
		{"rm", "-f", "stubborn", "--timeout", "9223372037"},
		{"stop", "stubborn", "--timeout", "-1"},
	} {
		_, stderr, code := c.pv(t, args...)
		if code != 1 || !strings.Contains(stderr, "podvisor: --timeout: must be ") {
			t.Errorf("%s: exit %d, %q", strings.Join(args, " "), code, stderr)
		}
		stillRunning(strings.Join(args, " "))
	}
	// The API refuses them too, whatever the client.
	cl := api.NewClient(c.socket())
	ctx := context.Background()
	for _, n := range []int{18446744073, 9223372037, 1<<63 - 1, -1} {
		check := func(what string, err error) {
			t.Helper()
			var apiErr *api.Error
			if !errors.Is(err, pod.ErrInvalid) || !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(err.Error(), "timeout: must be a whole number of seconds from 0 to 9223372036, got ") {
				t.Errorf("%s with timeout %d: %v", what, n, err)
			}
			stillRunning(what)
		}
		_, err := cl.Stop(ctx, "stubborn", &n)
		check("Stop", err)
		_, err = cl.Restart(ctx, "stubborn", &n)
		check("Restart", err)
		check("Remove", cl.Remove(ctx, "stubborn", true, &n))
	}
	// The largest timeout is a grace period of about 292 years, not 0: the
	// pod waits, Terminating, until a stop with 0 kills it.
	largest := int(pod.MaxGracePeriodSeconds)
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := cl.Stop(short, "stubborn", &largest); err == nil {
		t.Errorf("Stop with the largest timeout returned at once")
	}
	if st := c.status(t, "stubborn"); st.Phase != pod.PhaseTerminating || st.Processes[0].PID != pid {
		t.Errorf("after Stop with the largest timeout: %s, pid %d", st.Phase, st.Processes[0].PID)
	}
	c.mustPV(t, "rm", "-f", "stubborn", "--timeout", "0")
}

// --log-max-files (and logMaxFiles) past the bound are refused at start:
// rotation renames each file, so 2^63 of them would never end.
func TestLogMaxFilesBound(t *testing.T) {
	c := newCLI(t, true)
	cmd := c.cmd("daemon", "--log-max-files", "9223372036854775807")
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--log-max-files: must be at most 1000") {
		t.Errorf("daemon --log-max-files 2^63-1: %v\n%s", err, out)
	}
	cfg := writeFile(t, "logMaxFiles: 100000\n")
	cmd = c.cmd("daemon", "--config", cfg)
	cmd.Env = append(cmd.Env, "PODVISOR_SOCKET="+c.socket())
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "logMaxFiles: must be at most 1000") {
		t.Errorf("daemon with logMaxFiles 100000: %v\n%s", err, out)
	}
}
