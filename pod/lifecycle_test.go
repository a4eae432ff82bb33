package pod_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

func backoff(initial, maxDelay, reset time.Duration) pod.Backoff {
	return pod.Backoff{
		InitialDelay: pod.Duration{Duration: initial},
		MaxDelay:     pod.Duration{Duration: maxDelay},
		ResetAfter:   pod.Duration{Duration: reset},
	}
}

func TestBackoffDelay(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		b    pod.Backoff
		want []time.Duration // want[n] is Delay(n)
	}{
		{
			name: "defaults",
			b:    pod.Backoff{},
			want: []time.Duration{0, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s},
		},
		{
			name: "explicit defaults",
			b:    backoff(10*s, 5*time.Minute, 10*time.Minute),
			want: []time.Duration{0, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s},
		},
		{
			name: "custom",
			b:    backoff(s, 5*s, time.Minute),
			want: []time.Duration{0, s, 2 * s, 4 * s, 5 * s, 5 * s},
		},
		{
			name: "max not a power-of-two multiple",
			b:    backoff(3*s, 10*s, time.Minute),
			want: []time.Duration{0, 3 * s, 6 * s, 10 * s, 10 * s},
		},
		{
			name: "max exactly reached",
			b:    backoff(s, 8*s, time.Minute),
			want: []time.Duration{0, s, 2 * s, 4 * s, 8 * s, 8 * s},
		},
		{
			name: "initial equals max",
			b:    backoff(7*s, 7*s, time.Minute),
			want: []time.Duration{0, 7 * s, 7 * s, 7 * s},
		},
		{
			name: "initial above max is capped",
			b:    backoff(time.Minute, 10*s, time.Minute),
			want: []time.Duration{0, 10 * s, 10 * s},
		},
		{
			name: "zero initial takes the default",
			b:    backoff(0, time.Minute, 0),
			want: []time.Duration{0, 10 * s, 20 * s, 40 * s, 60 * s, 60 * s},
		},
		{
			name: "zero max takes the default",
			b:    backoff(time.Minute, 0, 0),
			want: []time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute},
		},
		{
			name: "negative values take the defaults",
			b:    backoff(-s, -s, -s),
			want: []time.Duration{0, 10 * s, 20 * s},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for n, want := range tt.want {
				if got := tt.b.Delay(n); got != want {
					t.Errorf("Delay(%d) = %v, want %v", n, got, want)
				}
			}
		})
	}
	b := pod.Backoff{}
	for _, n := range []int{-1, -100} {
		if got := b.Delay(n); got != 0 {
			t.Errorf("Delay(%d) = %v, want 0", n, got)
		}
	}
	// No overflow for long streaks, even with huge limits.
	for _, n := range []int{64, 1000, 1 << 30} {
		if got := b.Delay(n); got != pod.DefaultMaxDelay {
			t.Errorf("Delay(%d) = %v, want %v", n, got, pod.DefaultMaxDelay)
		}
	}
	huge := backoff(time.Nanosecond, time.Duration(1<<63-1), time.Hour)
	prev := time.Duration(0)
	for n := 1; n < 200; n++ {
		got := huge.Delay(n)
		if got < prev {
			t.Fatalf("Delay(%d) = %v < Delay(%d) = %v", n, got, n-1, prev)
		}
		prev = got
	}
}

func TestBackoffStreak(t *testing.T) {
	b := backoff(10*time.Second, 5*time.Minute, 10*time.Minute)
	tests := []struct {
		prev int
		ran  time.Duration
		want int
	}{
		{0, 0, 0},
		{3, 0, 3},
		{3, time.Second, 3},
		{3, 10*time.Minute - 1, 3},
		{3, 10 * time.Minute, 0},
		{3, time.Hour, 0},
		{0, time.Hour, 0},
	}
	for _, tt := range tests {
		if got := b.Streak(tt.prev, tt.ran); got != tt.want {
			t.Errorf("Streak(%d, %v) = %d, want %d", tt.prev, tt.ran, got, tt.want)
		}
	}
	// A zero ResetAfter takes the default.
	var d pod.Backoff
	if got := d.Streak(5, pod.DefaultResetAfter-1); got != 5 {
		t.Errorf("default Streak just before reset = %d", got)
	}
	if got := d.Streak(5, pod.DefaultResetAfter); got != 0 {
		t.Errorf("default Streak at reset = %d", got)
	}
	// A custom ResetAfter.
	c := backoff(time.Second, time.Minute, 30*time.Second)
	if got := c.Streak(2, 29*time.Second); got != 2 {
		t.Errorf("custom Streak before reset = %d", got)
	}
	if got := c.Streak(2, 30*time.Second); got != 0 {
		t.Errorf("custom Streak at reset = %d", got)
	}
}

var (
	success = pod.Exit{}
	failure = pod.Exit{Code: 1}
)

func TestShouldRestart(t *testing.T) {
	exits := map[string]pod.Exit{
		"exit 0":        success,
		"exit 1":        failure,
		"signal":        {Code: 128 + 9, Signal: 9},
		"signal only":   {Signal: 15},
		"start failure": {StartFailed: true},
		"oom":           {Code: 137, Signal: 9, OOMKilled: true},
	}
	for name, e := range exits {
		ok := e.Succeeded()
		for _, tt := range []struct {
			policy pod.RestartPolicy
			init   bool
			want   bool
		}{
			{pod.RestartAlways, false, true},
			{pod.RestartAlways, true, !ok},
			{pod.RestartOnFailure, false, !ok},
			{pod.RestartOnFailure, true, !ok},
			{pod.RestartNever, false, false},
			{pod.RestartNever, true, false},
		} {
			if got := pod.ShouldRestart(tt.policy, tt.init, e); got != tt.want {
				t.Errorf("ShouldRestart(%s, init=%v, %s) = %v, want %v", tt.policy, tt.init, name, got, tt.want)
			}
		}
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		policy pod.RestartPolicy
		init   bool
		exit   pod.Exit
		want   bool
	}{
		{pod.RestartAlways, false, success, true},
		{pod.RestartAlways, false, failure, true},
		{pod.RestartAlways, true, success, false},
		{pod.RestartAlways, true, failure, true},
		{pod.RestartOnFailure, false, success, false},
		{pod.RestartOnFailure, false, failure, true},
		{pod.RestartOnFailure, true, success, false},
		{pod.RestartOnFailure, true, failure, true},
		{pod.RestartNever, false, success, false},
		{pod.RestartNever, false, failure, false},
		{pod.RestartNever, true, success, false},
		{pod.RestartNever, true, failure, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/init=%v/succeeded=%v", tt.policy, tt.init, tt.exit.Succeeded())
		t.Run(name, func(t *testing.T) {
			// The policy set on the pod...
			s := &pod.Spec{RestartPolicy: tt.policy}
			p := &pod.Process{Name: "a"}
			d := s.Decide(p, tt.init, tt.exit, time.Second, 0)
			if d.Restart != tt.want {
				t.Errorf("pod policy: Decide = %+v, want restart %v", d, tt.want)
			}
			if tt.want && (d.Delay != 0 || d.Streak != 1) {
				t.Errorf("first restart: Decide = %+v, want immediate with streak 1", d)
			}
			if !tt.want && d != (pod.Decision{}) {
				t.Errorf("no restart: Decide = %+v, want the zero Decision", d)
			}
			// ...or on the process, overriding the pod's.
			for _, podPolicy := range []pod.RestartPolicy{pod.RestartAlways, pod.RestartOnFailure, pod.RestartNever, ""} {
				s := &pod.Spec{RestartPolicy: podPolicy}
				p := &pod.Process{Name: "a", RestartPolicy: tt.policy}
				if got := s.Decide(p, tt.init, tt.exit, time.Second, 0); got.Restart != tt.want {
					t.Errorf("process policy under pod %q: Decide = %+v, want restart %v", podPolicy, got, tt.want)
				}
			}
		})
	}
}

func TestDecideBackoff(t *testing.T) {
	s := &pod.Spec{RestartPolicy: pod.RestartAlways, RestartBackoff: backoff(10*time.Second, 5*time.Minute, 10*time.Minute)}
	p := &pod.Process{Name: "a"}
	// A crash loop: each run lasts a second.
	streak := 0
	want := []time.Duration{0, 10, 20, 40, 80, 160, 300, 300}
	for i, w := range want {
		d := s.Decide(p, false, failure, time.Second, streak)
		if !d.Restart || d.Delay != w*time.Second || d.Streak != i+1 {
			t.Fatalf("restart %d: Decide = %+v, want delay %v streak %d", i, d, w*time.Second, i+1)
		}
		streak = d.Streak
	}
	// A long run starts the back-off over.
	d := s.Decide(p, false, failure, 10*time.Minute, streak)
	if !d.Restart || d.Delay != 0 || d.Streak != 1 {
		t.Errorf("after a long run: Decide = %+v, want immediate with streak 1", d)
	}
	d = s.Decide(p, false, failure, 10*time.Minute-time.Nanosecond, 3)
	if d.Delay != 40*time.Second || d.Streak != 4 {
		t.Errorf("just short of resetAfter: Decide = %+v", d)
	}
	// The zero Spec uses the defaults.
	var zero pod.Spec
	if d := zero.Decide(p, false, success, 0, 2); !d.Restart || d.Delay != 20*time.Second || d.Streak != 3 {
		t.Errorf("zero spec: Decide = %+v", d)
	}
}

func TestPolicyFor(t *testing.T) {
	tests := []struct {
		pod, proc, want pod.RestartPolicy
	}{
		{"", "", pod.RestartAlways},
		{pod.RestartNever, "", pod.RestartNever},
		{pod.RestartOnFailure, "", pod.RestartOnFailure},
		{pod.RestartAlways, "", pod.RestartAlways},
		{pod.RestartAlways, pod.RestartNever, pod.RestartNever},
		{pod.RestartNever, pod.RestartAlways, pod.RestartAlways},
		{pod.RestartNever, pod.RestartOnFailure, pod.RestartOnFailure},
		{"", pod.RestartOnFailure, pod.RestartOnFailure},
	}
	for _, tt := range tests {
		s := &pod.Spec{RestartPolicy: tt.pod}
		if got := s.PolicyFor(&pod.Process{RestartPolicy: tt.proc}); got != tt.want {
			t.Errorf("PolicyFor(pod %q, process %q) = %q, want %q", tt.pod, tt.proc, got, tt.want)
		}
	}
}

func TestExit(t *testing.T) {
	tests := []struct {
		name      string
		exit      pod.Exit
		succeeded bool
		reason    string
	}{
		{"exit 0", pod.Exit{}, true, pod.ReasonCompleted},
		{"exit 1", pod.Exit{Code: 1}, false, pod.ReasonError},
		{"exit 255", pod.Exit{Code: 255}, false, pod.ReasonError},
		{"negative code", pod.Exit{Code: -1}, false, pod.ReasonError},
		{"killed by a signal", pod.Exit{Code: 143, Signal: 15}, false, pod.ReasonError},
		{"signal without code", pod.Exit{Signal: 9}, false, pod.ReasonError},
		{"start failure", pod.Exit{StartFailed: true}, false, pod.ReasonStartError},
		{"start failure with code", pod.Exit{Code: 127, StartFailed: true}, false, pod.ReasonStartError},
		{"oom", pod.Exit{Code: 137, Signal: 9, OOMKilled: true}, false, pod.ReasonOOMKilled},
		{"killed at stop", pod.Exit{Code: 137, Signal: 9, Killed: true}, false, pod.ReasonKilled},
		{"start failure wins", pod.Exit{StartFailed: true, OOMKilled: true, Killed: true}, false, pod.ReasonStartError},
		{"oom wins over killed", pod.Exit{Code: 137, Signal: 9, OOMKilled: true, Killed: true}, false, pod.ReasonOOMKilled},
	}
	for _, tt := range tests {
		if got := tt.exit.Succeeded(); got != tt.succeeded {
			t.Errorf("%s: Succeeded() = %v, want %v", tt.name, got, tt.succeeded)
		}
		if got := tt.exit.Reason(); got != tt.reason {
			t.Errorf("%s: Reason() = %q, want %q", tt.name, got, tt.reason)
		}
	}
	// The reason strings are part of the API.
	for got, want := range map[string]string{
		pod.ReasonCompleted: "Completed", pod.ReasonError: "Error", pod.ReasonOOMKilled: "OOMKilled",
		pod.ReasonStartError: "StartError", pod.ReasonKilled: "Killed",
		pod.ReasonPodInitializing: "PodInitializing", pod.ReasonCrashLoopBackOff: "CrashLoopBackOff",
	} {
		if got != want {
			t.Errorf("reason %q, want %q", got, want)
		}
	}
}

func TestAppPhase(t *testing.T) {
	A, D, F := pod.Active, pod.Done, pod.DoneFailed
	tests := []struct {
		outcomes []pod.Outcome
		want     pod.Phase
	}{
		{nil, pod.PhaseSucceeded},
		{[]pod.Outcome{A}, pod.PhaseRunning},
		{[]pod.Outcome{D}, pod.PhaseSucceeded},
		{[]pod.Outcome{F}, pod.PhaseFailed},
		{[]pod.Outcome{D, D, D}, pod.PhaseSucceeded},
		{[]pod.Outcome{D, F}, pod.PhaseFailed},
		{[]pod.Outcome{F, D}, pod.PhaseFailed},
		{[]pod.Outcome{A, F}, pod.PhaseRunning},
		{[]pod.Outcome{F, A}, pod.PhaseRunning},
		{[]pod.Outcome{D, A, D}, pod.PhaseRunning},
		{[]pod.Outcome{F, F}, pod.PhaseFailed},
		{[]pod.Outcome{A, A}, pod.PhaseRunning},
	}
	for _, tt := range tests {
		if got := pod.AppPhase(tt.outcomes); got != tt.want {
			t.Errorf("AppPhase(%v) = %q, want %q", tt.outcomes, got, tt.want)
		}
	}
}

func TestPhaseEnded(t *testing.T) {
	for phase, ended := range map[pod.Phase]bool{
		pod.PhasePending:      false,
		pod.PhaseInitializing: false,
		pod.PhaseRunning:      false,
		pod.PhaseTerminating:  false,
		pod.PhaseStopped:      true,
		pod.PhaseSucceeded:    true,
		pod.PhaseFailed:       true,
		"":                    false,
	} {
		if got := phase.Ended(); got != ended {
			t.Errorf("%q.Ended() = %v, want %v", phase, got, ended)
		}
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"TERM", 15, true},
		{"SIGTERM", 15, true},
		{"15", 15, true},
		{"term", 15, true},
		{"SigTerm", 15, true},
		{"KILL", 9, true},
		{"SIGKILL", 9, true},
		{"9", 9, true},
		{"SIGHUP", 1, true},
		{"INT", 2, true},
		{"QUIT", 3, true},
		{"USR1", 10, true},
		{"SIGUSR2", 12, true},
		{"SIGCHLD", 17, true},
		{"SIGWINCH", 28, true},
		{"SIGSYS", 31, true},
		{"1", 1, true},
		{"64", 64, true},
		{"SIGRTMIN+0", 34, true},
		{"RTMIN+2", 36, true},
		{"sigrtmin+30", 64, true},
		{"SIGFOO", 0, false},
		{"FOO", 0, false},
		{"", 0, false},
		{"SIG", 0, false},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"SIGRTMIN+31", 0, false},
		{"SIGRTMIN+-1", 0, false},
		{"SIGRTMIN+x", 0, false},
		{"SIGSIGTERM", 0, false},
		{" TERM", 0, false},
	}
	for _, tt := range tests {
		got, ok := pod.ParseSignal(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSignalName(t *testing.T) {
	for n, want := range map[int]string{
		1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 15: "SIGTERM", 17: "SIGCHLD",
		19: "SIGSTOP", 31: "SIGSYS", 32: "SIG32", 33: "SIG33", 34: "SIGRTMIN+0", 40: "SIGRTMIN+6",
		64: "SIGRTMIN+30", 0: "SIG0", 65: "SIG65",
	} {
		if got := pod.SignalName(n); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", n, got, want)
		}
	}
	// Every named signal parses back to its number.
	for n := 1; n <= 64; n++ {
		if n == 32 || n == 33 {
			continue
		}
		name := pod.SignalName(n)
		if got, ok := pod.ParseSignal(name); !ok || got != n {
			t.Errorf("ParseSignal(SignalName(%d) = %q) = %d, %v", n, name, got, ok)
		}
	}
}

func TestStatus(t *testing.T) {
	var empty pod.Status
	if r, n := empty.Ready(); r != 0 || n != 0 {
		t.Errorf("empty Ready() = %d/%d", r, n)
	}
	if got := empty.Restarts(); got != 0 {
		t.Errorf("empty Restarts() = %d", got)
	}
	s := pod.Status{
		Init: []pod.ProcessStatus{
			{Name: "i1", RestartCount: 2, Ready: true},
			{Name: "i2", RestartCount: 1},
		},
		Processes: []pod.ProcessStatus{
			{Name: "a", Ready: true, RestartCount: 3},
			{Name: "b", Ready: false, RestartCount: 0},
			{Name: "c", Ready: true, RestartCount: 4},
		},
	}
	// Init processes never count towards readiness.
	if r, n := s.Ready(); r != 2 || n != 3 {
		t.Errorf("Ready() = %d/%d, want 2/3", r, n)
	}
	if got := s.Restarts(); got != 10 {
		t.Errorf("Restarts() = %d, want 10", got)
	}
}
