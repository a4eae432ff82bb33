package pod_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// Tests of the pod lifecycle machine, driven by sim (machine_helpers_test.go).

// ---- Init processes ----

func TestMachineInitSequence(t *testing.T) {
	s := newSim(t, pod.Spec{
		RestartPolicy: pod.RestartNever,
		InitProcesses: []pod.Process{prc("setup"), prc("migrate")},
		Processes:     []pod.Process{prc("web"), prc("worker")},
	})
	s.wantPhase(pod.PhasePending, "")
	s.wantNoWake()

	acts := s.start()
	if got := s.started(acts); !slices.Equal(got, []string{"setup"}) {
		t.Fatalf("start: started %v, want [setup]", got)
	}
	s.wantPhase(pod.PhaseInitializing, "")
	s.wantState("setup", pod.StateRunning, "")
	s.wantState("web", pod.StateWaiting, pod.ReasonPodInitializing)
	if p := s.ps("setup"); p.PID != 1000 || p.Ready || p.Sidecar {
		t.Errorf("setup: pid %d ready %v sidecar %v, want 1000 false false", p.PID, p.Ready, p.Sidecar)
	}
	if c := s.cond(pod.ConditionInitialized); c.Status != pod.ConditionFalse || c.Reason != "ContainersNotInitialized" {
		t.Errorf("Initialized = %+v, want False ContainersNotInitialized", c)
	}

	acts = s.exit("setup", 0)
	if got := s.started(acts); !slices.Equal(got, []string{"migrate"}) {
		t.Fatalf("setup exit 0: started %v, want [migrate]", got)
	}
	s.wantPhase(pod.PhaseInitializing, "")
	s.wantState("setup", pod.StateTerminated, pod.ReasonCompleted)

	acts = s.exit("migrate", 0)
	if got := s.started(acts); !slices.Equal(got, []string{"web", "worker"}) {
		t.Fatalf("migrate exit 0: started %v, want [web worker]", got)
	}
	s.wantPhase(pod.PhaseRunning, "")
	if ev := events(acts, pod.EventPhase); len(ev) != 1 || ev[0].Phase != pod.PhaseRunning {
		t.Errorf("phase events %+v, want one Running", ev)
	}
	for _, n := range []string{"web", "worker"} {
		s.wantState(n, pod.StateRunning, "")
		if p := s.ps(n); !p.Started || !p.Ready {
			t.Errorf("%s: started %v ready %v, want both true", n, p.Started, p.Ready)
		}
	}
	for _, c := range []string{pod.ConditionInitialized, pod.ConditionContainersReady, pod.ConditionReadyPod} {
		if got := s.cond(c); got.Status != pod.ConditionTrue {
			t.Errorf("%s = %+v, want True", c, got)
		}
	}
	if got := events(s.allActions(), pod.EventRestarting); len(got) != 0 {
		t.Errorf("restarting events %+v, want none", got)
	}
}

func TestMachineInitFailureFailsPod(t *testing.T) {
	tests := []struct {
		name       string
		podPolicy  pod.RestartPolicy
		initPolicy pod.RestartPolicy
		fail       func(s *sim) []pod.Action
		want       string
	}{
		{"pod Never, exit 2", pod.RestartNever, "", func(s *sim) []pod.Action { return s.exit("migrate", 2) },
			`init process "migrate" failed (Error)`},
		{"init Never under pod OnFailure", pod.RestartOnFailure, pod.RestartNever, func(s *sim) []pod.Action { return s.signalled("migrate", 11) },
			`init process "migrate" failed (Error)`},
		{"OOM kill", pod.RestartNever, "", func(s *sim) []pod.Action {
			return s.exitWith("migrate", pod.Exit{Code: 137, Signal: 9, OOMKilled: true})
		}, `init process "migrate" failed (OOMKilled)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mig := prc("migrate")
			mig.RestartPolicy = tt.initPolicy
			s := newSimStarted(t, pod.Spec{
				RestartPolicy: tt.podPolicy,
				InitProcesses: []pod.Process{prc("setup"), mig},
				Processes:     []pod.Process{prc("web")},
			})
			s.exit("setup", 0)
			acts := tt.fail(s)
			s.wantCount(acts, pod.ActStart, "", 0)
			s.wantCount(acts, pod.ActDrain, "", 1)
			if ev := events(acts, pod.EventRestarting); len(ev) != 0 {
				t.Errorf("restarting events %+v, want none", ev)
			}
			// The phase is final only once the pod's cgroup is drained.
			s.wantPhase(pod.PhaseInitializing, "")
			acts = s.drain(0)
			s.wantPhase(pod.PhaseFailed, tt.want)
			if ev := events(acts, pod.EventPhase); len(ev) != 1 || ev[0].Phase != pod.PhaseFailed || ev[0].Message != tt.want {
				t.Errorf("phase events %+v, want Failed %q", ev, tt.want)
			}
			s.wantCount(s.allActions(), pod.ActStart, "web", 0)
			s.wantNoWake()
			if c := s.cond(pod.ConditionInitialized); c.Status != pod.ConditionFalse {
				t.Errorf("Initialized = %+v, want False", c)
			}
		})
	}
}

func TestMachineInitStartErrorFailsPod(t *testing.T) {
	s := newSim(t, pod.Spec{
		RestartPolicy: pod.RestartNever,
		InitProcesses: []pod.Process{prc("setup")},
		Processes:     []pod.Process{prc("web")},
	})
	s.manualSpawn = true
	s.start()
	acts := s.step(pod.Input{Kind: pod.InSpawnFailed, Proc: s.idx("setup"), Run: s.run("setup"), Message: "exec: no such file"})
	if ev := procEvents(acts, pod.EventStartFailed, "setup"); len(ev) != 1 || ev[0].Reason != pod.ReasonStartError {
		t.Errorf("StartFailed events %+v", ev)
	}
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	s.wantPhase(pod.PhaseFailed, `init process "setup" failed (StartError)`)
	p := s.ps("setup")
	if p.State != pod.StateTerminated || p.Reason != pod.ReasonStartError || p.Message != "exec: no such file" || p.ExitCode == nil || *p.ExitCode != 128 {
		t.Errorf("setup status %+v", p)
	}
}

func TestMachineInitRestartsWithBackoff(t *testing.T) {
	tests := []struct {
		name       string
		podPolicy  pod.RestartPolicy
		initPolicy pod.RestartPolicy
	}{
		{"pod OnFailure", pod.RestartOnFailure, ""},
		{"pod Always", pod.RestartAlways, ""},
		{"init OnFailure under pod Never", pod.RestartNever, pod.RestartOnFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setup := prc("setup")
			setup.RestartPolicy = tt.initPolicy
			s := newSimStarted(t, pod.Spec{
				RestartPolicy: tt.podPolicy,
				InitProcesses: []pod.Process{setup},
				Processes:     []pod.Process{prc("web")},
			})
			for n, want := range []string{"0s", "10s", "20s", "40s"} {
				s.advance(time.Second)
				acts := s.exit("setup", 1)
				ev := procEvents(acts, pod.EventRestarting, "setup")
				if len(ev) != 1 || ev[0].Delay != want {
					t.Fatalf("failure %d: restarting events %+v, want one with delay %s", n+1, ev, want)
				}
				s.wantPhase(pod.PhaseInitializing, "")
				s.wantCount(acts, pod.ActDrain, "", 0)
				if want == "0s" {
					// The first restart is immediate.
					s.wantCount(acts, pod.ActStart, "setup", 1)
				} else {
					s.wantCount(acts, pod.ActStart, "setup", 0)
					s.wantState("setup", pod.StateWaiting, pod.ReasonCrashLoopBackOff)
					d, _ := time.ParseDuration(want)
					s.wantWake(s.now.Add(d))
					acts = s.wake()
					s.wantCount(acts, pod.ActStart, "setup", 1)
				}
				if p := s.ps("setup"); p.RestartCount != n+1 || p.State != pod.StateRunning {
					t.Fatalf("failure %d: setup %s restartCount %d, want Running %d", n+1, p.State, p.RestartCount, n+1)
				}
			}
			acts := s.exit("setup", 0)
			if got := s.started(acts); !slices.Equal(got, []string{"web"}) {
				t.Fatalf("setup exit 0: started %v, want [web]", got)
			}
			s.wantPhase(pod.PhaseRunning, "")
			if ev := events(acts, pod.EventRestarting); len(ev) != 0 {
				t.Errorf("an init process that exits 0 is not restarted: %+v", ev)
			}
		})
	}
}

// ---- Restart policies and the pod's end ----

func TestMachineRestartPolicies(t *testing.T) {
	tests := []struct {
		podPolicy, procPolicy pod.RestartPolicy
		exit                  pod.Exit
		restart               bool
		phase                 pod.Phase
		msg                   string
	}{
		{pod.RestartAlways, "", pod.Exit{Code: 0}, true, "", ""},
		{pod.RestartAlways, "", pod.Exit{Code: 1}, true, "", ""},
		{pod.RestartAlways, "", pod.Exit{Code: 143, Signal: 15}, true, "", ""},
		{pod.RestartOnFailure, "", pod.Exit{Code: 0}, false, pod.PhaseSucceeded, ""},
		{pod.RestartOnFailure, "", pod.Exit{Code: 1}, true, "", ""},
		{pod.RestartOnFailure, "", pod.Exit{Code: 137, Signal: 9, OOMKilled: true}, true, "", ""},
		{pod.RestartNever, "", pod.Exit{Code: 0}, false, pod.PhaseSucceeded, ""},
		{pod.RestartNever, "", pod.Exit{Code: 1}, false, pod.PhaseFailed, `process "app" failed`},
		{pod.RestartNever, "", pod.Exit{Code: 139, Signal: 11}, false, pod.PhaseFailed, `process "app" failed`},
		{pod.RestartAlways, pod.RestartNever, pod.Exit{Code: 0}, false, pod.PhaseSucceeded, ""},
		{pod.RestartNever, pod.RestartAlways, pod.Exit{Code: 0}, true, "", ""},
		{pod.RestartNever, pod.RestartOnFailure, pod.Exit{Code: 2}, true, "", ""},
	}
	for _, tt := range tests {
		name := string(tt.podPolicy) + "/" + string(tt.procPolicy) + "/" + pod.Exit.Reason(tt.exit)
		t.Run(name, func(t *testing.T) {
			app := prc("app")
			app.RestartPolicy = tt.procPolicy
			s := newSimStarted(t, pod.Spec{RestartPolicy: tt.podPolicy, Processes: []pod.Process{app}})
			s.advance(time.Second)
			acts := s.exitWith("app", tt.exit)
			if ev := procEvents(acts, pod.EventExited, "app"); len(ev) != 1 || *ev[0].ExitCode != tt.exit.Code {
				t.Errorf("exited events %+v", ev)
			}
			if tt.restart {
				ev := procEvents(acts, pod.EventRestarting, "app")
				if len(ev) != 1 || ev[0].Delay != "0s" {
					t.Errorf("restarting events %+v, want one with delay 0s", ev)
				}
				s.wantCount(acts, pod.ActStart, "app", 1)
				s.wantCount(acts, pod.ActDrain, "", 0)
				s.wantPhase(pod.PhaseRunning, "")
				if p := s.ps("app"); p.RestartCount != 1 || p.State != pod.StateRunning {
					t.Errorf("app %s restartCount %d, want Running 1", p.State, p.RestartCount)
				}
				return
			}
			s.wantCount(acts, pod.ActStart, "", 0)
			s.wantCount(acts, pod.ActDrain, "", 1)
			s.wantPhase(pod.PhaseRunning, "") // final only after the drain
			s.drain(0)
			s.wantPhase(tt.phase, tt.msg)
			s.wantNoWake()
			for _, c := range []string{pod.ConditionContainersReady, pod.ConditionReadyPod} {
				if got := s.cond(c); got.Status != pod.ConditionFalse || got.Reason != "PodCompleted" {
					t.Errorf("%s = %+v, want False PodCompleted", c, got)
				}
			}
		})
	}
}

func TestMachineAppPhase(t *testing.T) {
	t.Run("one failure fails the pod once all ended", func(t *testing.T) {
		s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{prc("a"), prc("b"), prc("c")}})
		acts := s.exit("c", 1)
		s.wantCount(acts, pod.ActDrain, "", 0)
		acts = s.exit("b", 0)
		s.wantCount(acts, pod.ActDrain, "", 0)
		s.wantPhase(pod.PhaseRunning, "")
		acts = s.exit("a", 3)
		s.wantCount(acts, pod.ActDrain, "", 1)
		s.wantPhase(pod.PhaseRunning, "")
		s.drain(0)
		// The first failed one in list order.
		s.wantPhase(pod.PhaseFailed, `process "a" failed`)
	})
	t.Run("every exit 0 succeeds", func(t *testing.T) {
		s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartOnFailure, Processes: []pod.Process{prc("a"), prc("b")}})
		s.exit("a", 0)
		s.advance(time.Second)
		acts := s.exit("b", 1) // restarted: the pod runs on
		s.wantCount(acts, pod.ActStart, "b", 1)
		s.wantCount(acts, pod.ActDrain, "", 0)
		acts = s.exit("b", 0)
		s.wantCount(acts, pod.ActDrain, "", 1)
		s.drain(0)
		s.wantPhase(pod.PhaseSucceeded, "")
		s.wantState("a", pod.StateTerminated, pod.ReasonCompleted)
		if p := s.ps("b"); p.State != pod.StateTerminated || p.RestartCount != 1 || p.LastState.Terminated == nil || p.LastState.Terminated.ExitCode != 1 {
			t.Errorf("b status %+v", p)
		}
	})
	t.Run("a pending restart keeps the pod running", func(t *testing.T) {
		s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartOnFailure, Processes: []pod.Process{prc("a"), prc("b")}})
		s.exit("a", 0)
		s.advance(time.Second)
		s.exit("b", 1)
		s.advance(time.Second)
		acts := s.exit("b", 1) // back-off 10s
		s.wantCount(acts, pod.ActDrain, "", 0)
		s.wantPhase(pod.PhaseRunning, "")
		s.wantState("b", pod.StateWaiting, pod.ReasonCrashLoopBackOff)
	})
}

func TestMachineStartFailureBacksOff(t *testing.T) {
	s := newSim(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("a")}})
	s.manualSpawn = true
	s.start()
	spawnFailed := func() []pod.Action {
		return s.step(pod.Input{Kind: pod.InSpawnFailed, Proc: s.idx("a"), Run: s.run("a"), Message: "exec: not found"})
	}
	var delays []string
	for range 4 {
		acts := spawnFailed()
		ev := procEvents(acts, pod.EventRestarting, "a")
		if len(ev) != 1 {
			t.Fatalf("restarting events %+v", ev)
		}
		delays = append(delays, ev[0].Delay)
		if len(s.of(acts, pod.ActStart, "a")) == 0 {
			s.wake()
		}
	}
	if want := []string{"0s", "10s", "20s", "40s"}; !slices.Equal(delays, want) {
		t.Errorf("delays after failed starts %v, want %v", delays, want)
	}

	// A long run starts the back-off over; the failed start after it
	// continues the new streak instead of restarting it again and again.
	s.spawnName("a")
	s.advance(20 * time.Minute)
	delays = nil
	ev := procEvents(s.exit("a", 1), pod.EventRestarting, "a")
	delays = append(delays, ev[0].Delay)
	for range 2 {
		acts := spawnFailed()
		delays = append(delays, procEvents(acts, pod.EventRestarting, "a")[0].Delay)
		if len(s.of(acts, pod.ActStart, "a")) == 0 {
			s.wake()
		}
	}
	if want := []string{"0s", "10s", "20s"}; !slices.Equal(delays, want) {
		t.Errorf("delays after a long run then failed starts %v, want %v", delays, want)
	}
	if p := s.ps("a"); p.LastState.Terminated == nil || p.LastState.Terminated.Reason != pod.ReasonStartError {
		t.Errorf("a lastState %+v, want StartError", p.LastState.Terminated)
	}
}

// A start its configuration forbids (runAsNonRoot with a root user) waits
// with CreateContainerConfigError, as kubelet shows it, and is retried with
// the back-off.
func TestMachineConfigErrorWaits(t *testing.T) {
	s := newSim(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("a")}})
	s.manualSpawn = true
	s.start()
	s.step(pod.Input{Kind: pod.InSpawnFailed, Proc: s.idx("a"), Run: s.run("a"), Exit: pod.Exit{ConfigError: true}, Message: "runAsNonRoot: the process would run as root (uid 0)"})
	acts := s.step(pod.Input{Kind: pod.InSpawnFailed, Proc: s.idx("a"), Run: s.run("a"), Exit: pod.Exit{ConfigError: true}, Message: "runAsNonRoot: the process would run as root (uid 0)"})
	if ev := procEvents(acts, pod.EventStartFailed, "a"); len(ev) != 1 || ev[0].Reason != pod.ReasonCreateContainerConfigError {
		t.Errorf("start failed events %+v", ev)
	}
	p := s.ps("a")
	if p.State != pod.StateWaiting || p.Reason != pod.ReasonCreateContainerConfigError {
		t.Errorf("a is %s (%s), want waiting with CreateContainerConfigError", p.State, p.Reason)
	}
	if p.LastState.Terminated == nil || p.LastState.Terminated.Reason != pod.ReasonCreateContainerConfigError || p.LastState.Terminated.Message == "" {
		t.Errorf("a lastState %+v", p.LastState.Terminated)
	}
}

// ---- Sidecars ----

func TestMachineSidecarStartsInPlace(t *testing.T) {
	t.Run("postStart", func(t *testing.T) {
		proxy := sidecar("proxy")
		proxy.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
		s := newSim(t, pod.Spec{
			RestartPolicy: pod.RestartNever,
			InitProcesses: []pod.Process{proxy, prc("setup")},
			Processes:     []pod.Process{prc("job")},
		})
		acts := s.start()
		if got := s.started(acts); !slices.Equal(got, []string{"proxy"}) {
			t.Fatalf("started %v, want [proxy]", got)
		}
		s.wantCount(acts, pod.ActRunHook, "proxy", 1)
		if p := s.ps("proxy"); p.State != pod.StateRunning || p.Started || p.Ready || !p.Sidecar {
			t.Errorf("proxy before its postStart: %+v", p)
		}
		acts = s.hook("proxy", pod.HookPostStart, true, "")
		if got := s.started(acts); !slices.Equal(got, []string{"setup"}) {
			t.Fatalf("after proxy's postStart: started %v, want [setup]", got)
		}
		s.wantPhase(pod.PhaseInitializing, "")
		if p := s.ps("proxy"); !p.Started || !p.Ready {
			t.Errorf("proxy after its postStart: %+v", p)
		}
		acts = s.exit("setup", 0)
		if got := s.started(acts); !slices.Equal(got, []string{"job"}) {
			t.Fatalf("after setup: started %v, want [job]", got)
		}
		s.wantPhase(pod.PhaseRunning, "")
		s.wantState("proxy", pod.StateRunning, "")
		if c := s.cond(pod.ConditionContainersReady); c.Status != pod.ConditionTrue {
			t.Errorf("ContainersReady %+v", c)
		}
		st := s.status()
		if r, n := st.Ready(); r != 2 || n != 2 {
			t.Errorf("Ready() = %d/%d, want 2/2", r, n)
		}
	})
	t.Run("startupProbe", func(t *testing.T) {
		proxy := sidecar("proxy")
		proxy.StartupProbe = execProbe(0, 1, 1, 5)
		s := newSim(t, pod.Spec{
			RestartPolicy: pod.RestartNever,
			InitProcesses: []pod.Process{proxy, prc("setup")},
			Processes:     []pod.Process{prc("job")},
		})
		acts := s.start()
		if got := s.started(acts); !slices.Equal(got, []string{"proxy"}) {
			t.Fatalf("started %v, want [proxy]", got)
		}
		acts = s.wake()
		s.wantCount(acts, pod.ActRunProbe, "proxy", 1)
		s.wantCount(acts, pod.ActStart, "", 0)
		acts = s.probe("proxy", pod.ProbeStartup, false)
		s.wantCount(acts, pod.ActStart, "", 0)
		s.wake()
		acts = s.probe("proxy", pod.ProbeStartup, true)
		if got := s.started(acts); !slices.Equal(got, []string{"setup"}) {
			t.Fatalf("after the startup probe passed: started %v, want [setup]", got)
		}
	})
}

func TestMachineSidecarRestartsUnderNever(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartNever,
		InitProcesses: []pod.Process{sidecar("proxy")},
		Processes:     []pod.Process{prc("job")},
	})
	s.wantPhase(pod.PhaseRunning, "")
	for n, tc := range []struct {
		code  int
		delay string
	}{{1, "0s"}, {0, "10s"}, {0, "20s"}} {
		s.advance(time.Second)
		acts := s.exit("proxy", tc.code)
		ev := procEvents(acts, pod.EventRestarting, "proxy")
		if len(ev) != 1 || ev[0].Delay != tc.delay {
			t.Fatalf("exit %d: restarting events %+v, want delay %s", n+1, ev, tc.delay)
		}
		if len(s.of(acts, pod.ActStart, "proxy")) == 0 {
			s.wake()
		}
		if p := s.ps("proxy"); p.State != pod.StateRunning || p.RestartCount != n+1 {
			t.Fatalf("exit %d: proxy %s restartCount %d", n+1, p.State, p.RestartCount)
		}
	}
	s.wantState("job", pod.StateRunning, "")
	s.wantPhase(pod.PhaseRunning, "")
}

func TestMachineSidecarsStopInReverseOrder(t *testing.T) {
	tests := []struct {
		code  int
		phase pod.Phase
		msg   string
	}{
		{0, pod.PhaseSucceeded, ""},
		{4, pod.PhaseFailed, `process "job" failed`},
	}
	for _, tt := range tests {
		t.Run(string(tt.phase), func(t *testing.T) {
			s1, s2 := sidecar("s1"), sidecar("s2")
			s2.StopSignal = "SIGQUIT"
			s := newSimStarted(t, pod.Spec{
				RestartPolicy: pod.RestartNever,
				InitProcesses: []pod.Process{s1, prc("setup"), s2},
				Processes:     []pod.Process{prc("job")},
			})
			acts := s.exit("setup", 0)
			if got := s.started(acts); !slices.Equal(got, []string{"s2", "job"}) {
				t.Fatalf("started %v, want [s2 job]", got)
			}
			acts = s.exit("job", tt.code)
			if got := s.signalledNames(acts); !slices.Equal(got, []string{"s2"}) {
				t.Fatalf("job ended: signalled %v, want [s2]%s", got, s.dump(acts))
			}
			if a := s.of(acts, pod.ActSignal, "s2"); a[0].Signal != 3 {
				t.Errorf("s2 stop signal %d, want 3", a[0].Signal)
			}
			s.wantCount(acts, pod.ActDrain, "", 0)
			s.wantPhase(pod.PhaseRunning, "")

			s.advance(time.Second)
			acts = s.signalled("s2", 3)
			if got := s.signalledNames(acts); !slices.Equal(got, []string{"s1"}) {
				t.Fatalf("s2 exited: signalled %v, want [s1]", got)
			}
			if ev := events(acts, pod.EventRestarting); len(ev) != 0 {
				t.Errorf("a sidecar stopped at the end is not restarted: %+v", ev)
			}
			s.wantCount(acts, pod.ActDrain, "", 0)

			acts = s.signalled("s1", 15)
			s.wantCount(acts, pod.ActDrain, "", 1)
			s.wantCount(acts, pod.ActStart, "", 0)
			s.wantPhase(pod.PhaseRunning, "")
			s.drain(0)
			s.wantPhase(tt.phase, tt.msg)
			s.wantState("s1", pod.StateTerminated, pod.ReasonError)
			s.wantNoWake()
			s.wantCount(s.allActions(), pod.ActKillPod, "", 0)
		})
	}
}

func TestMachineSidecarBackOffCancelledAtEnd(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartNever,
		InitProcesses: []pod.Process{sidecar("s1"), sidecar("s2")},
		Processes:     []pod.Process{prc("job")},
	})
	s.exit("s1", 1)
	s.advance(time.Second)
	s.exit("s1", 1) // waits 10s
	s.wantState("s1", pod.StateWaiting, pod.ReasonCrashLoopBackOff)
	acts := s.exit("job", 0)
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"s2"}) {
		t.Fatalf("signalled %v, want [s2]", got)
	}
	acts = s.exit("s2", 0)
	s.wantCount(acts, pod.ActSignal, "", 0)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	s.wantPhase(pod.PhaseSucceeded, "")
	s.wantState("s1", pod.StateTerminated, pod.ReasonError)
	s.until(s.now.Add(time.Hour))
	s.wantCount(s.logSince(s.now.Add(-time.Hour)), pod.ActStart, "", 0)
}

// ---- Stop ----

func TestMachineStop(t *testing.T) {
	a, b := prc("a"), prc("b")
	a.Lifecycle = &pod.Lifecycle{PreStop: execHook()}
	b.StopSignal = "SIGINT"
	c := prc("c")
	c.Lifecycle = &pod.Lifecycle{PreStop: execHook()}
	s := newSimStarted(t, pod.Spec{
		RestartPolicy:                 pod.RestartAlways,
		TerminationGracePeriodSeconds: i64(30),
		InitProcesses:                 []pod.Process{sidecar("proxy")},
		Processes:                     []pod.Process{a, b, c},
	})
	s.advance(time.Minute)
	acts := s.stop(30 * time.Second)
	s.wantPhase(pod.PhaseTerminating, "")
	if ev := events(acts, pod.EventPhase); len(ev) != 1 || ev[0].Phase != pod.PhaseTerminating {
		t.Errorf("phase events %+v", ev)
	}
	hooks := s.of(acts, pod.ActRunHook, "")
	if len(hooks) != 2 || hooks[0].Proc != s.idx("a") || hooks[0].Hook != pod.HookPreStop || hooks[0].Timeout != 30*time.Second || hooks[0].Run != s.run("a") {
		t.Errorf("preStop hooks: %s", s.dump(hooks))
	}
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"b"}) {
		t.Errorf("signalled %v, want [b]", got)
	} else if sig := s.of(acts, pod.ActSignal, "b")[0].Signal; sig != 2 {
		t.Errorf("b got signal %d, want 2 (SIGINT)", sig)
	}
	s.wantWake(s.now.Add(30 * time.Second))

	s.advance(5 * time.Second)
	acts = s.hook("a", pod.HookPreStop, true, "")
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"a"}) || s.of(acts, pod.ActSignal, "a")[0].Signal != 15 {
		t.Errorf("after a's preStop: %s", s.dump(acts))
	}
	acts = s.hook("c", pod.HookPreStop, false, "exit 1")
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"c"}) {
		t.Errorf("after c's failed preStop: signalled %v", got)
	}
	if ev := procEvents(acts, pod.EventFailedPreStopHook, "c"); len(ev) != 1 || ev[0].Message != "exit 1" {
		t.Errorf("FailedPreStopHook events %+v", ev)
	}

	acts = s.signalled("b", 2)
	acts = append(acts, s.exit("a", 0)...)
	s.wantCount(acts, pod.ActSignal, "", 0) // the sidecar waits for every app process
	acts = s.exit("c", 0)
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"proxy"}) {
		t.Errorf("apps down: signalled %v, want [proxy]", got)
	}
	acts = s.exit("proxy", 0)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.wantPhase(pod.PhaseTerminating, "")
	acts = s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
	if ev := events(acts, pod.EventPhase); len(ev) != 1 || ev[0].Phase != pod.PhaseStopped {
		t.Errorf("phase events %+v", ev)
	}
	s.wantState("b", pod.StateTerminated, pod.ReasonError)
	if p := s.ps("b"); p.Signal != "SIGINT" || *p.ExitCode != 130 {
		t.Errorf("b: signal %q exit code %d", p.Signal, *p.ExitCode)
	}
	s.wantState("a", pod.StateTerminated, pod.ReasonCompleted)
	all := s.allActions()
	if ev := events(all, pod.EventRestarting); len(ev) != 0 {
		t.Errorf("no restart during a stop: %+v", ev)
	}
	s.wantCount(all, pod.ActKillPod, "", 0)
	s.wantNoWake()
	for _, c := range []string{pod.ConditionContainersReady, pod.ConditionReadyPod} {
		if got := s.cond(c); got.Status != pod.ConditionFalse {
			t.Errorf("%s = %+v, want False", c, got)
		}
	}
}

func TestMachineStopDeadlineKills(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		TerminationGracePeriodSeconds: i64(10),
		Processes:                     []pod.Process{prc("a"), prc("b"), prc("c")},
	})
	s.stop(10 * time.Second)
	s.advance(time.Second)
	s.signalled("c", 15) // c obeys
	s.wantWake(t0.Add(10 * time.Second))
	acts := s.wake()
	s.wantCount(acts, pod.ActKillPod, "", 1)
	s.wantCount(acts, pod.ActDrain, "", 0)

	s.advance(time.Second)
	acts = s.signalled("a", 9)
	if ev := procEvents(acts, pod.EventExited, "a"); len(ev) != 1 || ev[0].Reason != pod.ReasonKilled || ev[0].Signal != "SIGKILL" {
		t.Errorf("a exited events %+v", ev)
	}
	s.wantState("a", pod.StateTerminated, pod.ReasonKilled)
	s.wantState("c", pod.StateTerminated, pod.ReasonError)

	// b's exit is never reported: it is taken for dead KilledExitWait after
	// the kill.
	s.wantWake(t0.Add(10*time.Second + pod.KilledExitWait))
	acts = s.wake()
	if ab := s.of(acts, pod.ActAbandon, ""); len(ab) != 1 || ab[0].Proc != s.idx("b") || ab[0].Run != s.run("b") {
		t.Errorf("abandon: %s", s.dump(acts))
	}
	s.wantCount(acts, pod.ActDrain, "", 1)
	p := s.ps("b")
	if p.State != pod.StateTerminated || p.Reason != pod.ReasonKilled || p.Signal != "SIGKILL" || *p.ExitCode != 137 || p.Message == "" {
		t.Errorf("b status %+v", p)
	}
	// A late report about the abandoned run changes nothing.
	if acts := s.signalled("b", 9); len(acts) != 0 {
		t.Errorf("late exit: %s", s.dump(acts))
	}
	s.drain(2)
	if st := s.status(); st.Phase != pod.PhaseStopped || !strings.Contains(st.Message, "2 tasks") {
		t.Errorf("phase %s message %q, want Stopped with a message about 2 tasks", st.Phase, st.Message)
	}
	s.wantNoWake()
}

func TestMachineStopCancelsBackOff(t *testing.T) {
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("a"), prc("b")}})
	s.exit("a", 1)
	s.advance(time.Second)
	s.exit("a", 1)
	s.wantState("a", pod.StateWaiting, pod.ReasonCrashLoopBackOff)
	acts := s.stop(30 * time.Second)
	s.wantCount(acts, pod.ActSignal, "a", 0)
	s.wantState("a", pod.StateTerminated, pod.ReasonError)
	acts = s.exit("b", 0)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
	s.until(s.now.Add(time.Hour))
	s.wantCount(s.logSince(t0.Add(time.Second)), pod.ActStart, "", 0)
	if p := s.ps("a"); p.RestartCount != 1 {
		t.Errorf("a restartCount %d, want 1", p.RestartCount)
	}
}

func TestMachineStopDuringInit(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartAlways,
		InitProcesses: []pod.Process{sidecar("proxy"), prc("setup")},
		Processes:     []pod.Process{prc("web")},
	})
	s.wantPhase(pod.PhaseInitializing, "")
	acts := s.stop(30 * time.Second)
	s.wantPhase(pod.PhaseTerminating, "")
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"setup"}) {
		t.Fatalf("signalled %v, want [setup]", got)
	}
	acts = s.signalled("setup", 15)
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"proxy"}) {
		t.Fatalf("signalled %v, want [proxy]", got)
	}
	s.wantCount(acts, pod.ActStart, "", 0)
	acts = s.exit("proxy", 0)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
	s.wantCount(s.allActions(), pod.ActStart, "web", 0)
}

func TestMachineSecondStopHastens(t *testing.T) {
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{prc("a")}})
	s.stop(30 * time.Second)
	s.wantWake(t0.Add(30 * time.Second))
	s.advance(time.Second)
	acts := s.stop(5 * time.Second)
	s.wantCount(acts, pod.ActSignal, "", 0) // signalled once
	if ev := events(acts, pod.EventPhase); len(ev) != 0 {
		t.Errorf("phase events %+v, want none", ev)
	}
	s.wantWake(t0.Add(6 * time.Second))
	s.stop(time.Minute) // a longer grace does not put the deadline off
	s.wantWake(t0.Add(6 * time.Second))
	acts = s.wake()
	s.wantCount(acts, pod.ActKillPod, "", 1)
	s.signalled("a", 9)
	s.wantState("a", pod.StateTerminated, pod.ReasonKilled)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
	s.wantCount(s.allActions(), pod.ActSignal, "a", 1)
}

func TestMachineStopGraceZero(t *testing.T) {
	a := prc("a")
	a.Lifecycle = &pod.Lifecycle{PreStop: execHook()}
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	acts := s.stop(0)
	s.wantCount(acts, pod.ActKillPod, "", 1)
	for _, h := range s.of(acts, pod.ActRunHook, "a") {
		t.Errorf("preStop hook run with no time left (timeout %s, 0 means no limit)", h.Timeout)
	}
	s.wantPhase(pod.PhaseTerminating, "")
	acts = s.signalled("a", 9)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.wantState("a", pod.StateTerminated, pod.ReasonKilled)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
}

func TestMachineStopWhileStarting(t *testing.T) {
	a := prc("a")
	a.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
	s := newSim(t, pod.Spec{Processes: []pod.Process{a}})
	s.manualSpawn = true
	s.start()
	acts := s.stop(30 * time.Second)
	s.wantCount(acts, pod.ActSignal, "", 0) // no pid to signal yet
	s.advance(time.Second)
	acts = s.spawnName("a")
	s.wantCount(acts, pod.ActSignal, "a", 1)
	s.wantCount(acts, pod.ActRunHook, "a", 0) // no postStart for a process being stopped
	acts = s.signalled("a", 15)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
	s.wantCount(s.allActions(), pod.ActKillPod, "", 0)
}

func TestMachineStopIgnoredUnlessRunning(t *testing.T) {
	s := newSim(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{prc("a")}})
	if acts := s.stop(0); len(acts) != 0 {
		t.Errorf("stop of a Pending pod: %s", s.dump(acts))
	}
	s.wantPhase(pod.PhasePending, "")
	s.start()
	s.exit("a", 0)
	s.drain(0)
	if acts := s.stop(0); len(acts) != 0 {
		t.Errorf("stop of a Succeeded pod: %s", s.dump(acts))
	}
	s.wantPhase(pod.PhaseSucceeded, "")
}

func TestMachineStopDuringEndWindDown(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartNever,
		InitProcesses: []pod.Process{sidecar("proxy")},
		Processes:     []pod.Process{prc("job")},
	})
	s.exit("job", 0) // proxy is being stopped
	acts := s.stop(0)
	s.wantPhase(pod.PhaseTerminating, "")
	s.wantCount(acts, pod.ActKillPod, "", 1)
	s.signalled("proxy", 9)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
}

// ---- Probes ----

func TestMachineProbeFirstRunAndPeriod(t *testing.T) {
	for _, period := range []int32{1, 5, 10, 60} {
		t.Run("period "+strconv.Itoa(int(period))+"s", func(t *testing.T) {
			a := prc("a")
			a.ReadinessProbe = execProbe(5, period, 1, 3)
			a.ReadinessProbe.TimeoutSeconds = 2
			s := newSim(t, pod.Spec{Processes: []pod.Process{a}})
			s.advance(time.Minute)
			s.start()
			started := s.now
			if p := s.ps("a"); p.Ready || !p.Started {
				t.Errorf("a before its readiness probe: ready %v started %v", p.Ready, p.Started)
			}
			if c := s.cond(pod.ConditionReadyPod); c.Status != pod.ConditionFalse {
				t.Errorf("Ready %+v", c)
			}
			next, ok := s.m.NextWake()
			span := min(time.Duration(period)*time.Second/10, time.Second)
			if !ok || next.Before(started.Add(5*time.Second)) || !next.Before(started.Add(5*time.Second+span)) {
				t.Fatalf("first probe at %s, want in [start+5s, start+5s+%s)", s.rel(next), span)
			}
			s.advance(next.Sub(s.now) - time.Nanosecond)
			acts := s.wake()
			pr := s.of(acts, pod.ActRunProbe, "a")
			if len(pr) != 1 || pr[0].Probe != pod.ProbeReadiness || pr[0].Timeout != 2*time.Second || pr[0].Run != 1 {
				t.Fatalf("at the first probe: %s", s.dump(acts))
			}
			sched := s.now
			s.wantNoWake() // nothing until the probe reports
			s.advance(300 * time.Millisecond)
			s.probe("a", pod.ProbeReadiness, true)
			if p := s.ps("a"); !p.Ready {
				t.Errorf("a not ready after a passed readiness probe")
			}
			if c := s.cond(pod.ConditionReadyPod); c.Status != pod.ConditionTrue || !c.LastTransitionTime.Equal(s.now) {
				t.Errorf("Ready %+v, want True since now", c)
			}
			s.wantWake(sched.Add(time.Duration(period) * time.Second))
			acts = s.wake()
			s.wantCount(acts, pod.ActRunProbe, "a", 1)
		})
	}
}

func TestMachineStartupProbeHoldsOthersOff(t *testing.T) {
	a := prc("a")
	a.StartupProbe = execProbe(0, 1, 1, 10)
	a.LivenessProbe = execProbe(0, 10, 1, 3)
	a.ReadinessProbe = execProbe(0, 10, 1, 3)
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	for range 3 {
		acts := s.wake()
		pr := s.of(acts, pod.ActRunProbe, "a")
		if len(pr) != 1 || pr[0].Probe != pod.ProbeStartup {
			t.Fatalf("want only the startup probe: %s", s.dump(acts))
		}
		if p := s.ps("a"); p.Started || p.Ready {
			t.Errorf("a started %v ready %v before its startup probe passed", p.Started, p.Ready)
		}
		acts = s.probe("a", pod.ProbeStartup, false)
		if ev := procEvents(acts, pod.EventUnhealthy, "a"); len(ev) != 1 || ev[0].Reason != "Startup" {
			t.Errorf("unhealthy events %+v", ev)
		}
	}
	s.wake()
	s.advance(100 * time.Millisecond)
	acts := s.probe("a", pod.ProbeStartup, true)
	var kinds []pod.ProbeKind
	for _, a := range s.of(acts, pod.ActRunProbe, "a") {
		kinds = append(kinds, a.Probe)
	}
	if !slices.Equal(kinds, []pod.ProbeKind{pod.ProbeLiveness, pod.ProbeReadiness}) {
		t.Fatalf("after the startup probe: probes %v, want liveness and readiness", kinds)
	}
	if p := s.ps("a"); !p.Started || p.Ready {
		t.Errorf("a started %v ready %v, want started, not ready yet", p.Started, p.Ready)
	}
	s.probe("a", pod.ProbeLiveness, true)
	s.probe("a", pod.ProbeReadiness, true)
	if p := s.ps("a"); !p.Ready {
		t.Errorf("a not ready")
	}
	// The startup probe never runs again.
	from := s.now
	for range 6 {
		acts := s.wake()
		for _, a := range s.of(acts, pod.ActRunProbe, "a") {
			if a.Probe == pod.ProbeStartup {
				t.Fatalf("startup probe run again at %s", s.rel(s.now))
			}
			s.probe("a", a.Probe, true)
		}
	}
	if s.now.Sub(from) < 20*time.Second {
		t.Errorf("6 wakes took %s, want liveness and readiness every 10s", s.now.Sub(from))
	}
}

func TestMachineReadinessThresholds(t *testing.T) {
	a := prc("a")
	a.ReadinessProbe = execProbe(0, 10, 2, 2)
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	steps := []struct {
		ok, ready bool
	}{
		{true, false}, {true, true}, // 2 successes to pass
		{false, true}, {false, false}, // 2 failures to fail
		{false, false}, {true, false}, {true, true},
		{false, true}, {true, true}, {false, true}, // failures not in a row
	}
	for n, st := range steps {
		s.wake()
		acts := s.probe("a", pod.ProbeReadiness, st.ok)
		if p := s.ps("a"); p.Ready != st.ready {
			t.Fatalf("result %d (%v): ready %v, want %v", n+1, st.ok, p.Ready, st.ready)
		}
		wantUnhealthy := 0
		if !st.ok {
			wantUnhealthy = 1
		}
		if ev := procEvents(acts, pod.EventUnhealthy, "a"); len(ev) != wantUnhealthy || (len(ev) == 1 && (ev[0].Reason != "Readiness" || !strings.Contains(ev[0].Message, "boom"))) {
			t.Errorf("result %d: unhealthy events %+v", n+1, ev)
		}
		if p := s.ps("a"); !p.Started || p.State != pod.StateRunning {
			t.Errorf("readiness changed more than ready: %+v", p)
		}
	}
	all := s.allActions()
	s.wantCount(all, pod.ActSignal, "", 0)
	s.wantCount(all, pod.ActKillProcess, "", 0)
	if ev := events(all, pod.EventKilling); len(ev) != 0 {
		t.Errorf("killing events %+v", ev)
	}
}

func TestMachineLivenessFailureStopsProcess(t *testing.T) {
	tests := []struct {
		name       string
		probeGrace *int64
		preStop    bool
		policy     pod.RestartPolicy
		killAfter  time.Duration
	}{
		{"probe grace, preStop, Always", i64(5), true, pod.RestartAlways, 5 * time.Second},
		{"pod grace, OnFailure", nil, false, pod.RestartOnFailure, 30 * time.Second},
		{"probe grace 1, Never", i64(1), false, pod.RestartNever, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := prc("a")
			a.LivenessProbe = execProbe(0, 10, 1, 3)
			a.LivenessProbe.TerminationGracePeriodSeconds = tt.probeGrace
			if tt.preStop {
				a.Lifecycle = &pod.Lifecycle{PreStop: execHook()}
			}
			s := newSimStarted(t, pod.Spec{
				RestartPolicy:                 tt.policy,
				TerminationGracePeriodSeconds: i64(30),
				Processes:                     []pod.Process{a, prc("b")},
			})
			for n := range 2 {
				s.wake()
				acts := s.probe("a", pod.ProbeLiveness, false)
				if ev := procEvents(acts, pod.EventUnhealthy, "a"); len(ev) != 1 || ev[0].Reason != "Liveness" {
					t.Errorf("failure %d: unhealthy events %+v", n+1, ev)
				}
				if ev := events(acts, pod.EventKilling); len(ev) != 0 {
					t.Fatalf("failure %d: killed before the threshold", n+1)
				}
			}
			s.wake()
			crossed := s.now
			acts := s.probe("a", pod.ProbeLiveness, false)
			if ev := procEvents(acts, pod.EventKilling, "a"); len(ev) != 1 || ev[0].Reason != "Liveness" || !strings.Contains(ev[0].Message, "liveness") {
				t.Fatalf("killing events %+v%s", ev, s.dump(acts))
			}
			if tt.preStop {
				h := s.of(acts, pod.ActRunHook, "a")
				if len(h) != 1 || h[0].Hook != pod.HookPreStop || h[0].Timeout != tt.killAfter {
					t.Fatalf("want the preStop hook with timeout %s: %s", tt.killAfter, s.dump(acts))
				}
				s.wantCount(acts, pod.ActSignal, "a", 0)
				s.advance(time.Second)
				acts = s.hook("a", pod.HookPreStop, true, "")
			}
			if tt.killAfter > 0 {
				s.wantCount(acts, pod.ActSignal, "a", 1)
				s.wantCount(acts, pod.ActSignal, "b", 0)
				s.wantPhase(pod.PhaseRunning, "")
				if p := s.ps("a"); p.Ready {
					t.Errorf("a ready while being stopped")
				}
				s.wantWake(crossed.Add(tt.killAfter))
				acts = s.wake()
			}
			s.wantCount(acts, pod.ActKillProcess, "a", 1)
			s.wantCount(acts, pod.ActKillPod, "", 0)

			s.advance(100 * time.Millisecond)
			acts = s.signalled("a", 9)
			if ev := procEvents(acts, pod.EventExited, "a"); len(ev) != 1 || ev[0].Reason != pod.ReasonKilled {
				t.Errorf("exited events %+v", ev)
			}
			if tt.policy == pod.RestartNever {
				s.wantCount(acts, pod.ActStart, "a", 0)
				s.wantState("a", pod.StateTerminated, pod.ReasonKilled)
				s.wantState("b", pod.StateRunning, "")
				s.exit("b", 0)
				s.drain(0)
				s.wantPhase(pod.PhaseFailed, `process "a" failed`)
				return
			}
			if ev := procEvents(acts, pod.EventRestarting, "a"); len(ev) != 1 {
				t.Fatalf("restarting events %+v", ev)
			}
			s.wantCount(acts, pod.ActStart, "a", 1)
			p := s.ps("a")
			if p.RestartCount != 1 || p.LastState.Terminated == nil || p.LastState.Terminated.Reason != pod.ReasonKilled {
				t.Errorf("a status %+v", p)
			}
			// A late result of the old run is dropped.
			if acts := s.step(pod.Input{Kind: pod.InProbeResult, Proc: s.idx("a"), Run: 1, Probe: pod.ProbeLiveness}); len(acts) != 0 {
				t.Errorf("old run's probe result: %s", s.dump(acts))
			}
			acts = s.wake()
			if pr := s.of(acts, pod.ActRunProbe, "a"); len(pr) != 1 || pr[0].Run != 2 {
				t.Errorf("new run's probe: %s", s.dump(acts))
			}
			all := s.allActions()
			if ev := events(all, pod.EventKilling); len(ev) != 1 {
				t.Errorf("%d killing events, want 1", len(ev))
			}
			s.wantCount(all, pod.ActKillProcess, "a", 1)
		})
	}
}

func TestMachineLivenessOneStopPerCrossing(t *testing.T) {
	a := prc("a")
	a.LivenessProbe = execProbe(0, 1, 1, 2)
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	s.wake()
	s.probe("a", pod.ProbeLiveness, false)
	s.wake()
	acts := s.probe("a", pod.ProbeLiveness, false)
	s.wantCount(acts, pod.ActSignal, "a", 1)
	// While it stops, no probe runs, and its results would be ignored.
	acts = s.until(s.now.Add(20 * time.Second))
	s.wantCount(acts, pod.ActRunProbe, "a", 0)
	s.wantCount(acts, pod.ActKillProcess, "a", 0)
	acts = s.until(s.now.Add(20 * time.Second)) // the pod's 30s
	s.wantCount(acts, pod.ActKillProcess, "a", 1)
	if ev := events(s.allActions(), pod.EventKilling); len(ev) != 1 {
		t.Errorf("%d killing events, want 1", len(ev))
	}
}

func TestMachineStartupProbeFailureStopsProcess(t *testing.T) {
	a := prc("a")
	a.StartupProbe = execProbe(2, 1, 1, 2)
	a.LivenessProbe = execProbe(0, 10, 1, 3)
	s := newSimStarted(t, pod.Spec{TerminationGracePeriodSeconds: i64(7), Processes: []pod.Process{a}})
	s.wake()
	if s.now.Before(t0.Add(2 * time.Second)) {
		t.Errorf("startup probe before its initial delay, at %s", s.rel(s.now))
	}
	s.probe("a", pod.ProbeStartup, false)
	s.wake()
	acts := s.probe("a", pod.ProbeStartup, false)
	if ev := procEvents(acts, pod.EventKilling, "a"); len(ev) != 1 || ev[0].Reason != "Startup" || !strings.Contains(ev[0].Message, "startup") {
		t.Fatalf("killing events %+v", ev)
	}
	s.wantCount(acts, pod.ActSignal, "a", 1)
	s.wantWake(s.now.Add(7 * time.Second))
	acts = s.wake()
	s.wantCount(acts, pod.ActKillProcess, "a", 1)
	acts = s.signalled("a", 9)
	s.wantCount(acts, pod.ActStart, "a", 1)
	if p := s.ps("a"); p.LastState.Terminated.Reason != pod.ReasonKilled {
		t.Errorf("a lastState %+v", p.LastState.Terminated)
	}
	for _, pr := range s.of(s.allActions(), pod.ActRunProbe, "a") {
		if pr.Probe != pod.ProbeStartup {
			t.Errorf("%s probe run before the startup probe passed", pr.Probe)
		}
	}
}

func TestMachineNoProbeBeforePostStart(t *testing.T) {
	a := prc("a")
	a.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
	a.ReadinessProbe = execProbe(1, 1, 1, 3)
	a.LivenessProbe = execProbe(0, 1, 1, 3)
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	s.wantNoWake()
	acts := s.advance(30 * time.Second)
	s.wantCount(acts, pod.ActRunProbe, "", 0)
	acts = s.hook("a", pod.HookPostStart, true, "")
	s.wantCount(acts, pod.ActRunProbe, "a", 2) // both overdue
}

func TestMachineProbeDuringStopIgnored(t *testing.T) {
	a := prc("a")
	a.ReadinessProbe = execProbe(0, 1, 1, 1)
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	s.wake()
	s.probe("a", pod.ProbeReadiness, true)
	s.wake() // in flight
	s.stop(30 * time.Second)
	acts := s.probe("a", pod.ProbeReadiness, false)
	if ev := events(acts, pod.EventUnhealthy); len(ev) != 0 {
		t.Errorf("unhealthy during a stop: %+v", ev)
	}
	acts = s.until(s.now.Add(20 * time.Second))
	s.wantCount(acts, pod.ActRunProbe, "", 0)
}

// A process stopped for its liveness probe keeps its own kill time when
// the pod is stopped meanwhile with a longer grace.
func TestMachineLivenessStopThenPodStop(t *testing.T) {
	a := prc("a")
	a.LivenessProbe = execProbe(0, 10, 1, 1)
	a.LivenessProbe.TerminationGracePeriodSeconds = i64(2)
	s := newSimStarted(t, pod.Spec{TerminationGracePeriodSeconds: i64(30), Processes: []pod.Process{a, prc("b")}})
	s.wake()
	crossed := s.now
	s.probe("a", pod.ProbeLiveness, false)
	s.advance(time.Second)
	acts := s.stop(30 * time.Second)
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"b"}) {
		t.Errorf("signalled %v, want [b] (a was signalled already)", got)
	}
	acts = s.until(crossed.Add(2 * time.Second))
	s.wantCount(acts, pod.ActKillProcess, "a", 1)
	s.wantCount(acts, pod.ActKillPod, "", 0)
	acts = s.signalled("a", 9)
	s.wantCount(acts, pod.ActStart, "", 0)
	s.wantState("a", pod.StateTerminated, pod.ReasonKilled)
	s.wantWake(crossed.Add(31 * time.Second))
}

// ---- Hooks ----

func TestMachinePostStart(t *testing.T) {
	a := prc("a")
	a.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
	s := newSim(t, pod.Spec{Processes: []pod.Process{a}})
	s.manualSpawn = true
	s.start()
	acts := s.spawnName("a")
	h := s.of(acts, pod.ActRunHook, "a")
	if len(h) != 1 || h[0].Hook != pod.HookPostStart || h[0].Run != 1 {
		t.Fatalf("after the spawn: %s", s.dump(acts))
	}
	if ev := procEvents(acts, pod.EventStarted, "a"); len(ev) != 1 || ev[0].PID != 1000 {
		t.Errorf("started events %+v", ev)
	}
	if p := s.ps("a"); p.State != pod.StateRunning || p.Started || p.Ready || p.PID != 1000 {
		t.Errorf("a during its postStart: %+v", p)
	}
	if c := s.cond(pod.ConditionContainersReady); c.Status != pod.ConditionFalse {
		t.Errorf("ContainersReady %+v", c)
	}
	// A hook report for another run, or a preStop report, changes nothing.
	s.step(pod.Input{Kind: pod.InHookDone, Proc: 0, Run: 7, Hook: pod.HookPostStart, OK: true})
	s.hook("a", pod.HookPreStop, true, "")
	if p := s.ps("a"); p.Started {
		t.Errorf("a started by a stray hook report")
	}
	s.advance(time.Second)
	s.hook("a", pod.HookPostStart, true, "")
	if p := s.ps("a"); !p.Started || !p.Ready {
		t.Errorf("a after its postStart: %+v", p)
	}
	if c := s.cond(pod.ConditionContainersReady); c.Status != pod.ConditionTrue || !c.LastTransitionTime.Equal(s.now) {
		t.Errorf("ContainersReady %+v", c)
	}
}

func TestMachinePostStartFailure(t *testing.T) {
	for _, policy := range []pod.RestartPolicy{pod.RestartOnFailure, pod.RestartNever} {
		t.Run(string(policy), func(t *testing.T) {
			a := prc("a")
			a.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
			s := newSimStarted(t, pod.Spec{RestartPolicy: policy, TerminationGracePeriodSeconds: i64(30), Processes: []pod.Process{a}})
			s.advance(time.Second)
			acts := s.hook("a", pod.HookPostStart, false, "exit status 3")
			if ev := procEvents(acts, pod.EventFailedPostStartHook, "a"); len(ev) != 1 || ev[0].Message != "exit status 3" {
				t.Errorf("FailedPostStartHook events %+v", ev)
			}
			if ev := procEvents(acts, pod.EventKilling, "a"); len(ev) != 1 || ev[0].Reason != pod.ReasonFailedPostStartHook {
				t.Errorf("Killing events %+v", ev)
			}
			s.wantCount(acts, pod.ActSignal, "a", 1)
			if p := s.ps("a"); p.Started || p.Ready {
				t.Errorf("a started %v ready %v after its postStart failed", p.Started, p.Ready)
			}
			s.wantWake(s.now.Add(30 * time.Second))
			// It exits 0 on SIGTERM: still a failure.
			acts = s.exit("a", 0)
			if ev := procEvents(acts, pod.EventExited, "a"); len(ev) != 1 || ev[0].Reason != pod.ReasonFailedPostStartHook {
				t.Errorf("exited events %+v", ev)
			}
			if policy == pod.RestartOnFailure {
				s.wantCount(acts, pod.ActStart, "a", 1)
				last := s.ps("a").LastState.Terminated
				if last == nil || last.Reason != pod.ReasonFailedPostStartHook || !strings.Contains(last.Message, "exit status 3") {
					t.Errorf("a lastState %+v", last)
				}
				return
			}
			s.wantCount(acts, pod.ActDrain, "", 1)
			s.drain(0)
			s.wantPhase(pod.PhaseFailed, `process "a" failed`)
			s.wantState("a", pod.StateTerminated, pod.ReasonFailedPostStartHook)
		})
	}
}

// ---- dependsOn ----

func TestMachineDependsOn(t *testing.T) {
	tests := []struct {
		name  string
		cond  string
		db    func(*pod.Process)
		spawn bool // db is reported spawned before meet
		meet  func(s *sim) []pod.Action
	}{
		{"Started after postStart", pod.ConditionStarted,
			func(p *pod.Process) { p.Lifecycle = &pod.Lifecycle{PostStart: execHook()} }, true,
			func(s *sim) []pod.Action { return s.hook("db", pod.HookPostStart, true, "") }},
		{"Started after startup probe", pod.ConditionStarted,
			func(p *pod.Process) { p.StartupProbe = execProbe(0, 1, 1, 3) }, true,
			func(s *sim) []pod.Action { s.wake(); return s.probe("db", pod.ProbeStartup, true) }},
		{"Ready by readiness probe", pod.ConditionReady,
			func(p *pod.Process) { p.ReadinessProbe = execProbe(0, 1, 1, 3) }, true,
			func(s *sim) []pod.Action { s.wake(); return s.probe("db", pod.ProbeReadiness, true) }},
		{"Ready without a readiness probe", pod.ConditionReady,
			func(*pod.Process) {}, false,
			func(s *sim) []pod.Action { return s.spawnName("db") }},
		{"Started without hooks or probes", pod.ConditionStarted,
			func(*pod.Process) {}, false,
			func(s *sim) []pod.Action { return s.spawnName("db") }},
		{"Succeeded", pod.ConditionSucceeded,
			func(p *pod.Process) { p.RestartPolicy = pod.RestartOnFailure }, false,
			func(s *sim) []pod.Action {
				s.spawnName("db")
				s.exit("db", 1)
				s.spawnName("db")
				return s.exit("db", 0)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := prc("db")
			tt.db(&db)
			web := prc("web")
			web.DependsOn = []pod.Dependency{{Name: "db", Condition: tt.cond}}
			s := newSim(t, pod.Spec{Processes: []pod.Process{web, db, prc("other")}})
			s.manualSpawn = true
			acts := s.start()
			if got := s.started(acts); !slices.Equal(got, []string{"db", "other"}) {
				t.Fatalf("started %v, want [db other]", got)
			}
			if tt.spawn {
				s.spawnName("db")
			}
			s.wantState("web", pod.StateWaiting, pod.ReasonWaitingForDependencies)
			if p := s.ps("web"); !strings.Contains(p.Message, `"db"`) || !strings.Contains(p.Message, tt.cond) {
				t.Errorf("web message %q", p.Message)
			}
			s.wantCount(s.allActions(), pod.ActStart, "web", 0)
			acts = tt.meet(s)
			if got := s.started(acts); !slices.Equal(got, []string{"web"}) {
				t.Fatalf("condition met: started %v, want [web]%s", got, s.dump(acts))
			}
			s.wantState("web", pod.StateWaiting, "")
		})
	}
}

func TestMachineDependencyFailed(t *testing.T) {
	tests := []struct {
		name string
		cond string
		code int
		msg  string
	}{
		{"Succeeded but failed", pod.ConditionSucceeded, 1, `process "db" failed`},
		{"Ready but exited 0", pod.ConditionReady, 0, `process "web" failed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := prc("db")
			db.ReadinessProbe = execProbe(0, 1, 1, 3)
			web := prc("web")
			web.DependsOn = []pod.Dependency{{Name: "db", Condition: tt.cond}}
			s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{db, web}})
			s.wantState("web", pod.StateWaiting, pod.ReasonWaitingForDependencies)
			acts := s.exit("db", tt.code)
			s.wantState("web", pod.StateWaiting, pod.ReasonDependencyFailed)
			if p := s.ps("web"); !strings.Contains(p.Message, `"db"`) {
				t.Errorf("web message %q does not name db", p.Message)
			}
			ev := procEvents(acts, pod.EventDependencyFailed, "web")
			if len(ev) != 1 || ev[0].Reason != pod.ReasonDependencyFailed || !strings.Contains(ev[0].Message, `"db"`) {
				t.Errorf("DependencyFailed events %+v", ev)
			}
			s.wantCount(acts, pod.ActDrain, "", 1)
			s.wantPhase(pod.PhaseRunning, "")
			s.drain(0)
			s.wantPhase(pod.PhaseFailed, tt.msg)
			s.wantState("web", pod.StateWaiting, pod.ReasonDependencyFailed)
			s.wantCount(s.allActions(), pod.ActStart, "web", 0)
		})
	}
}

// A dependency failure reaches the whole chain of dependents in one step,
// whatever their order in the spec.
func TestMachineDependencyFailedChain(t *testing.T) {
	c, a := prc("c"), prc("a")
	c.DependsOn = []pod.Dependency{{Name: "a", Condition: pod.ConditionStarted}}
	a.DependsOn = []pod.Dependency{{Name: "b", Condition: pod.ConditionSucceeded}}
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{c, a, prc("b")}})
	acts := s.exit("b", 1)
	s.wantState("a", pod.StateWaiting, pod.ReasonDependencyFailed)
	s.wantState("c", pod.StateWaiting, pod.ReasonDependencyFailed)
	if ev := events(acts, pod.EventDependencyFailed); len(ev) != 2 {
		t.Errorf("DependencyFailed events %+v, want 2", ev)
	}
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	s.wantPhase(pod.PhaseFailed, `process "c" failed`)
}

// A dependency that met its condition, then ended for good, does not fail
// its dependents that still wait for another dependency.
func TestMachineDependencyMetThenEnded(t *testing.T) {
	seed, cache, web := prc("seed"), prc("cache"), prc("web")
	seed.RestartPolicy = pod.RestartOnFailure
	cache.ReadinessProbe = execProbe(0, 1, 1, 3)
	web.DependsOn = []pod.Dependency{{Name: "seed", Condition: pod.ConditionStarted}, {Name: "cache", Condition: pod.ConditionReady}}
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{seed, cache, web}})
	s.wantState("web", pod.StateWaiting, pod.ReasonWaitingForDependencies)
	s.advance(time.Second)
	acts := s.exit("seed", 0) // it was started: its condition was met
	if ev := events(acts, pod.EventDependencyFailed); len(ev) != 0 {
		t.Fatalf("DependencyFailed for a dependency that met its condition: %+v", ev)
	}
	s.wantState("web", pod.StateWaiting, pod.ReasonWaitingForDependencies)
	s.wantCount(s.allActions(), pod.ActRunProbe, "cache", 1) // ran during the second
	acts = s.probe("cache", pod.ProbeReadiness, true)
	if got := s.started(acts); !slices.Equal(got, []string{"web"}) {
		t.Errorf("started %v, want [web]", got)
	}
}

func TestMachineDependencyRestartDoesNotRestartDependents(t *testing.T) {
	web := prc("web")
	web.DependsOn = []pod.Dependency{{Name: "db", Condition: pod.ConditionStarted}}
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{prc("db"), web}})
	s.wantState("web", pod.StateRunning, "")
	s.advance(time.Second)
	acts := s.exit("db", 1)
	if got := s.started(acts); !slices.Equal(got, []string{"db"}) {
		t.Errorf("started %v, want [db]", got)
	}
	s.wantCount(acts, pod.ActSignal, "", 0)
	if run, _, ok := s.m.Running(s.idx("web")); !ok || run != 1 {
		t.Errorf("web run %d running %v, want run 1 running", run, ok)
	}
	if p := s.ps("web"); p.RestartCount != 0 {
		t.Errorf("web restartCount %d", p.RestartCount)
	}
	// A dependent waiting on a restarting dependency waits on.
	s.advance(time.Second)
	s.exit("db", 1) // back-off 10s
	s.wantState("db", pod.StateWaiting, pod.ReasonCrashLoopBackOff)
	s.wantState("web", pod.StateRunning, "")
}

func TestMachineDependentWaitsThroughBackOff(t *testing.T) {
	db := prc("db")
	db.Lifecycle = &pod.Lifecycle{PostStart: execHook()}
	web := prc("web")
	web.DependsOn = []pod.Dependency{{Name: "db", Condition: pod.ConditionStarted}}
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartOnFailure, Processes: []pod.Process{db, web}})
	s.advance(time.Second)
	acts := s.exit("db", 1)
	if ev := events(acts, pod.EventDependencyFailed); len(ev) != 0 {
		t.Fatalf("DependencyFailed for a dependency that will restart: %+v", ev)
	}
	s.wantState("web", pod.StateWaiting, pod.ReasonWaitingForDependencies)
	acts = s.hook("db", pod.HookPostStart, true, "")
	if got := s.started(acts); !slices.Equal(got, []string{"web"}) {
		t.Errorf("started %v, want [web]", got)
	}
}

// ---- restartPolicyRules ----

func TestMachineRestartRules(t *testing.T) {
	tests := []struct {
		name   string
		policy pod.RestartPolicy
		rules  []pod.RestartRule
		code   int
		want   string // "restart", "end" or "pod"
	}{
		{"Restart under Never", pod.RestartNever, []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorIn, 42)}}, 42, "restart"},
		{"no match under Never", pod.RestartNever, []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorIn, 42)}}, 1, "end"},
		{"no match under OnFailure", pod.RestartOnFailure, []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorIn, 42)}}, 1, "restart"},
		{"NotIn no match", pod.RestartNever, []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorNotIn, 0)}}, 0, "end"},
		{"NotIn match", pod.RestartNever, []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorNotIn, 0)}}, 9, "restart"},
		{"first match wins: RestartAllContainers", pod.RestartNever, []pod.RestartRule{
			{Action: pod.RuleRestartAllContainers, ExitCodes: codes(pod.OperatorIn, 1, 2)},
			{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorIn, 1)},
		}, 1, "pod"},
		{"first match wins: Restart", pod.RestartNever, []pod.RestartRule{
			{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorIn, 1)},
			{Action: pod.RuleRestartAllContainers, ExitCodes: codes(pod.OperatorIn, 1, 2)},
		}, 1, "restart"},
		{"second rule matches", pod.RestartNever, []pod.RestartRule{
			{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorIn, 1)},
			{Action: pod.RuleRestartAllContainers, ExitCodes: codes(pod.OperatorIn, 1, 2)},
		}, 2, "pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := prc("a")
			a.RestartPolicyRules = tt.rules
			s := newSimStarted(t, pod.Spec{RestartPolicy: tt.policy, Processes: []pod.Process{a, prc("b")}})
			s.advance(time.Second)
			acts := s.exit("a", tt.code)
			restarting := procEvents(acts, pod.EventRestarting, "a")
			podRestarted := events(acts, pod.EventPodRestarted)
			switch tt.want {
			case "restart":
				if len(restarting) != 1 || len(podRestarted) != 0 {
					t.Errorf("want a restart: %s", s.dump(acts))
				}
				s.wantCount(acts, pod.ActStart, "a", 1)
			case "end":
				if len(restarting) != 0 || len(podRestarted) != 0 {
					t.Errorf("want no restart: %s", s.dump(acts))
				}
				s.wantState("a", pod.StateTerminated, pod.Exit{Code: tt.code}.Reason())
			case "pod":
				if len(restarting) != 0 || len(podRestarted) != 1 {
					t.Errorf("want a pod restart: %s", s.dump(acts))
				}
				s.wantCount(acts, pod.ActSignal, "b", 1)
			}
			s.wantPhase(pod.PhaseRunning, "")
		})
	}
}

func TestMachineRestartAllContainers(t *testing.T) {
	a := prc("a")
	a.RestartPolicyRules = []pod.RestartRule{{Action: pod.RuleRestartAllContainers, ExitCodes: codes(pod.OperatorIn, 3)}}
	c := prc("c")
	c.DependsOn = []pod.Dependency{{Name: "b", Condition: pod.ConditionSucceeded}}
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartNever,
		InitProcesses: []pod.Process{prc("setup"), sidecar("proxy")},
		Processes:     []pod.Process{a, prc("b"), c},
	})
	acts := s.exit("setup", 0)
	if got := s.started(acts); !slices.Equal(got, []string{"proxy", "a", "b"}) {
		t.Fatalf("started %v", got)
	}
	s.advance(time.Second)
	acts = s.exit("a", 3)
	if ev := events(acts, pod.EventPodRestarted); len(ev) != 1 || ev[0].Process != "a" {
		t.Errorf("PodRestarted events %+v", ev)
	}
	if ev := events(acts, pod.EventRestarting); len(ev) != 0 {
		t.Errorf("restarting events %+v", ev)
	}
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"b"}) {
		t.Errorf("signalled %v, want [b]", got)
	}
	s.wantPhase(pod.PhaseRunning, "") // not Terminating
	acts = s.signalled("b", 15)
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"proxy"}) {
		t.Errorf("signalled %v, want [proxy]", got)
	}
	acts = s.signalled("proxy", 15)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.wantCount(acts, pod.ActStart, "", 0)
	s.wantPhase(pod.PhaseRunning, "")

	s.advance(time.Second)
	acts = s.drain(0)
	if got := s.started(acts); !slices.Equal(got, []string{"setup"}) {
		t.Fatalf("after the drain: started %v, want [setup]", got)
	}
	s.wantPhase(pod.PhaseInitializing, "")
	if st := s.status(); st.StartedAt == nil || !st.StartedAt.Equal(s.now) {
		t.Errorf("startedAt %v, want now", st.StartedAt)
	}
	for name, want := range map[string]int{"setup": 1, "proxy": 1, "a": 1, "b": 1, "c": 0} {
		if p := s.ps(name); p.RestartCount != want {
			t.Errorf("%s restartCount %d, want %d", name, p.RestartCount, want)
		}
	}
	s.wantState("a", pod.StateWaiting, pod.ReasonPodInitializing)
	if p := s.ps("a"); p.LastState.Terminated == nil || p.LastState.Terminated.ExitCode != 3 {
		t.Errorf("a lastState %+v", p.LastState.Terminated)
	}
	acts = s.exit("setup", 0)
	if got := s.started(acts); !slices.Equal(got, []string{"proxy", "a", "b"}) {
		t.Fatalf("second round: started %v", got)
	}
	s.wantPhase(pod.PhaseRunning, "")
	for _, e := range events(s.allActions(), pod.EventPhase) {
		if e.Phase == pod.PhaseTerminating {
			t.Errorf("phase Terminating during a pod restart")
		}
	}

	// A stop during a pod restart's wind-down stops the pod.
	s.exit("a", 3)
	s.stop(30 * time.Second)
	s.wantPhase(pod.PhaseTerminating, "")
	s.signalled("b", 15)
	s.signalled("proxy", 15)
	acts = s.drain(0)
	s.wantCount(acts, pod.ActStart, "", 0)
	s.wantPhase(pod.PhaseStopped, "")
}

// ---- Status ----

func TestMachineStatusFill(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartAlways,
		InitProcesses: []pod.Process{sidecar("proxy")},
		Processes:     []pod.Process{prc("a")},
	})
	st := s.status()
	if len(st.Init) != 1 || len(st.Processes) != 1 || !st.Init[0].Sidecar || st.Processes[0].Sidecar {
		t.Fatalf("status lists %+v %+v", st.Init, st.Processes)
	}
	if st.StartedAt == nil || !st.StartedAt.Equal(t0) {
		t.Errorf("startedAt %v", st.StartedAt)
	}
	p := s.ps("a")
	if p.State != pod.StateRunning || p.PID != 1001 || p.ExitCode != nil || p.FinishedAt != nil || p.LastState.Terminated != nil || !p.Started || !p.Ready || p.StartedAt == nil || !p.StartedAt.Equal(t0) {
		t.Errorf("a first run %+v", p)
	}

	s.advance(2 * time.Second)
	s.exit("a", 3)
	p = s.ps("a")
	last := p.LastState.Terminated
	if p.State != pod.StateRunning || p.RestartCount != 1 || last == nil || last.ExitCode != 3 || last.Reason != pod.ReasonError ||
		!last.FinishedAt.Equal(t0.Add(2*time.Second)) || last.StartedAt == nil || !last.StartedAt.Equal(t0) {
		t.Errorf("a second run %+v last %+v", p, last)
	}
	if p.ExitCode == nil || *p.ExitCode != 3 || !p.StartedAt.Equal(s.now) {
		t.Errorf("a second run exit code %v startedAt %v", p.ExitCode, p.StartedAt)
	}

	s.advance(time.Second)
	s.signalled("a", 11) // back-off 10s
	p = s.ps("a")
	if p.State != pod.StateWaiting || p.Reason != pod.ReasonCrashLoopBackOff || !strings.Contains(p.Message, "10s") ||
		p.Signal != "SIGSEGV" || *p.ExitCode != 139 || p.LastState.Terminated.Signal != 11 || p.Ready || p.Started || p.PID != 0 {
		t.Errorf("a in back-off %+v", p)
	}

	s.stop(30 * time.Second)
	p = s.ps("a")
	if p.State != pod.StateTerminated || p.Reason != pod.ReasonError || p.LastState.Terminated == nil || p.LastState.Terminated.ExitCode != 3 {
		t.Errorf("a after the stop %+v last %+v", p, p.LastState.Terminated)
	}
	// Fill reuses the slices it is given.
	st2 := pod.Status{Init: make([]pod.ProcessStatus, 5), Processes: make([]pod.ProcessStatus, 5)}
	s.m.Fill(&st2)
	if len(st2.Init) != 1 || len(st2.Processes) != 1 || len(st2.Conditions) != 3 {
		t.Errorf("Fill over a used status: %d init, %d apps, %d conditions", len(st2.Init), len(st2.Processes), len(st2.Conditions))
	}
}

func TestMachineConditions(t *testing.T) {
	a := prc("a")
	a.ReadinessProbe = execProbe(0, 10, 1, 1)
	s := newSim(t, pod.Spec{InitProcesses: []pod.Process{prc("setup")}, Processes: []pod.Process{a}})
	for _, c := range s.status().Conditions {
		if c.Status != pod.ConditionFalse || !c.LastTransitionTime.Equal(t0) {
			t.Errorf("new: %+v", c)
		}
	}
	if got := []string{s.status().Conditions[0].Type, s.status().Conditions[1].Type, s.status().Conditions[2].Type}; !slices.Equal(got, []string{pod.ConditionInitialized, pod.ConditionContainersReady, pod.ConditionReadyPod}) {
		t.Errorf("condition types %v", got)
	}
	s.advance(time.Second)
	s.start()
	s.advance(time.Second)
	s.exit("setup", 0)
	initAt := s.now
	if c := s.cond(pod.ConditionInitialized); c.Status != pod.ConditionTrue || !c.LastTransitionTime.Equal(initAt) {
		t.Errorf("Initialized %+v", c)
	}
	if c := s.cond(pod.ConditionReadyPod); c.Status != pod.ConditionFalse || !c.LastTransitionTime.Equal(t0) || c.Reason != "ContainersNotReady" || !strings.Contains(c.Message, "a") {
		t.Errorf("Ready %+v", c)
	}
	s.wake()
	s.probe("a", pod.ProbeReadiness, true)
	readyAt := s.now
	s.wake()
	s.probe("a", pod.ProbeReadiness, true)
	for _, typ := range []string{pod.ConditionContainersReady, pod.ConditionReadyPod} {
		if c := s.cond(typ); c.Status != pod.ConditionTrue || !c.LastTransitionTime.Equal(readyAt) || c.Reason != "" {
			t.Errorf("%s %+v, want True since %s", typ, c, s.rel(readyAt))
		}
	}
	s.wake()
	s.probe("a", pod.ProbeReadiness, false)
	unreadyAt := s.now
	s.wake()
	s.probe("a", pod.ProbeReadiness, false)
	if c := s.cond(pod.ConditionReadyPod); c.Status != pod.ConditionFalse || !c.LastTransitionTime.Equal(unreadyAt) {
		t.Errorf("Ready %+v, want False since %s", c, s.rel(unreadyAt))
	}
	if c := s.cond(pod.ConditionInitialized); !c.LastTransitionTime.Equal(initAt) {
		t.Errorf("Initialized moved: %+v", c)
	}
}

func TestMachineRestore(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy: pod.RestartAlways,
		InitProcesses: []pod.Process{prc("setup")},
		Processes:     []pod.Process{prc("a"), prc("b")},
	})
	s.exit("setup", 0)
	s.advance(time.Second)
	s.exit("a", 1) // a: restartCount 1, running again
	s.advance(time.Second)
	s.exit("b", 2)
	s.advance(time.Second)
	s.exit("b", 0) // b: back-off
	saved := s.status()
	b, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	var st pod.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}

	later := s.now.Add(time.Hour)
	m := pod.NewMachine("web", s.spec, later)
	m.Restore(&st, later)
	if m.Phase() != pod.PhaseStopped {
		t.Errorf("phase %s, want Stopped", m.Phase())
	}
	if _, ok := m.NextWake(); ok {
		t.Errorf("a restored machine wants a timer")
	}
	var got pod.Status
	m.Fill(&got)
	if got.Phase != pod.PhaseStopped || got.Message != "" || got.StartedAt == nil || !got.StartedAt.Equal(t0) {
		t.Errorf("restored pod %s %q startedAt %v", got.Phase, got.Message, got.StartedAt)
	}
	byName := map[string]pod.ProcessStatus{}
	for _, p := range append(got.Init, got.Processes...) {
		byName[p.Name] = p
	}
	if p := byName["setup"]; p.State != pod.StateTerminated || p.Reason != pod.ReasonCompleted || *p.ExitCode != 0 {
		t.Errorf("setup %+v", p)
	}
	// a was running: its run is lost, exit status unknown.
	if p := byName["a"]; p.State != pod.StateTerminated || p.RestartCount != 1 || p.ExitCode == nil || *p.ExitCode != 255 ||
		p.LastState.Terminated == nil || p.LastState.Terminated.ExitCode != 1 || p.PID != 0 {
		t.Errorf("a %+v exit %v last %+v", p, p.ExitCode, p.LastState.Terminated)
	}
	// b waited for a restart: its last exit is kept (the one before is not
	// in a status).
	if p := byName["b"]; p.State != pod.StateTerminated || p.RestartCount != 1 || *p.ExitCode != 0 || p.Reason != pod.ReasonCompleted ||
		p.FinishedAt == nil || !p.FinishedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("b %+v", p)
	}

	// It starts again with its counts.
	out := m.Step(pod.Input{Kind: pod.InStart}, later)
	if m.Phase() != pod.PhaseInitializing || len(out) == 0 {
		t.Errorf("restart of a restored pod: phase %s, %d actions", m.Phase(), len(out))
	}
	m.Fill(&got)
	if got.Processes[0].RestartCount != 1 || got.Processes[1].RestartCount != 1 || got.Processes[0].LastState.Terminated == nil {
		t.Errorf("restart counts after a new start: %+v", got.Processes)
	}

	for _, ph := range []pod.Phase{pod.PhaseSucceeded, pod.PhaseFailed, pod.PhasePending, pod.PhaseRunning, pod.PhaseInitializing, pod.PhaseTerminating} {
		m := pod.NewMachine("web", s.spec, later)
		m.Restore(&pod.Status{Phase: ph, Message: "m"}, later)
		want := ph
		if !ph.Ended() && ph != pod.PhasePending {
			want = pod.PhaseStopped
		}
		if m.Phase() != want {
			t.Errorf("restored %s: phase %s, want %s", ph, m.Phase(), want)
		}
	}
}

// A pod killed while a process's spawn is not reported yet: the SIGKILL
// exit that follows the report is reason Killed.
func TestMachineKillBeforeSpawnReport(t *testing.T) {
	a := prc("a")
	a.Lifecycle = &pod.Lifecycle{PreStop: execHook()}
	s := newSim(t, pod.Spec{Processes: []pod.Process{a}})
	s.manualSpawn = true
	s.start()
	acts := s.stop(0)
	s.wantCount(acts, pod.ActKillPod, "", 1)
	acts = s.spawnName("a")
	s.wantCount(acts, pod.ActRunHook, "a", 0)
	acts = s.signalled("a", 9)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.wantState("a", pod.StateTerminated, pod.ReasonKilled)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
}

// A sidecar that ignores its stop signal at the pod's end is killed at the
// deadline; the pod still takes the apps' phase.
func TestMachineSidecarKilledAtEndDeadline(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy:                 pod.RestartNever,
		TerminationGracePeriodSeconds: i64(20),
		InitProcesses:                 []pod.Process{sidecar("proxy")},
		Processes:                     []pod.Process{prc("job")},
	})
	s.advance(time.Minute)
	acts := s.exit("job", 0)
	s.wantCount(acts, pod.ActSignal, "proxy", 1)
	s.wantWake(s.now.Add(20 * time.Second))
	acts = s.wake()
	s.wantCount(acts, pod.ActKillPod, "", 1)
	acts = s.signalled("proxy", 9)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.wantState("proxy", pod.StateTerminated, pod.ReasonKilled)
	s.drain(0)
	s.wantPhase(pod.PhaseSucceeded, "")
}

// A process restored while running on its first run has a lost run with
// exit status 255 and no lastState.
func TestMachineRestoreFirstRun(t *testing.T) {
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{prc("a")}})
	saved := s.status()
	m := pod.NewMachine("web", s.spec, t0.Add(time.Hour))
	m.Restore(&saved, t0.Add(time.Hour))
	var st pod.Status
	m.Fill(&st)
	p := st.Processes[0]
	if p.State != pod.StateTerminated || p.ExitCode == nil || *p.ExitCode != 255 || p.Reason != pod.ReasonError ||
		p.LastState.Terminated != nil || p.FinishedAt == nil || !p.FinishedAt.Equal(t0.Add(time.Hour)) || p.StartedAt == nil || !p.StartedAt.Equal(t0) {
		t.Errorf("restored first run %+v", p)
	}
	if st.Phase != pod.PhaseStopped {
		t.Errorf("phase %s", st.Phase)
	}
}

// A rule that matches at every run restarts the pod with back-off, not in
// a tight loop.
func TestMachinePodRestartBacksOff(t *testing.T) {
	a := prc("a")
	a.RestartPolicyRules = []pod.RestartRule{{Action: pod.RuleRestartAllContainers, ExitCodes: codes(pod.OperatorIn, 3)}}
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, Processes: []pod.Process{a}})
	// First pod restart: at once.
	acts := s.exit("a", 3)
	s.wantCount(acts, pod.ActDrain, "", 1)
	acts = s.drain(0)
	if got := s.started(acts); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("first pod restart: started %v", got)
	}
	// Second, right after: waits the initial delay (10s by default).
	acts = s.exit("a", 3)
	acts = s.drain(0)
	if got := s.started(acts); len(got) != 0 {
		t.Fatalf("second pod restart started %v at once", got)
	}
	if next, ok := s.m.NextWake(); !ok || next.Sub(s.now) != 10*time.Second {
		t.Fatalf("next wake %v (ok %v), want in 10s", next.Sub(s.now), ok)
	}
	s.wantPhase(pod.PhaseRunning, "back-off 10s restarting the pod")
	if got := s.started(s.advance(10 * time.Second)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after the back-off: started %v", got)
	}
	s.wantPhase(pod.PhaseRunning, "")
}

// A restart rule never restarts an init process that succeeded: the pod
// would never get past it.
func TestMachineInitSuccessSkipsRules(t *testing.T) {
	setup := prc("setup")
	setup.RestartPolicyRules = []pod.RestartRule{{Action: pod.RuleRestart, ExitCodes: codes(pod.OperatorNotIn, 1)}}
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartNever, InitProcesses: []pod.Process{setup}, Processes: []pod.Process{prc("app")}})
	acts := s.exit("setup", 0)
	if got := s.started(acts); !slices.Equal(got, []string{"app"}) {
		t.Fatalf("started %v, want [app]", got)
	}
	if ev := events(acts, pod.EventRestarting); len(ev) != 0 {
		t.Errorf("restarting events %+v", ev)
	}
}

// A process killed on its own (its liveness probe failed) whose exit is
// never reported is taken for dead KilledExitWait after the kill, and the
// restart policy goes on: it is not stuck Running for ever.
func TestMachineProcessKillUnreported(t *testing.T) {
	a := prc("a")
	a.LivenessProbe = execProbe(0, 1, 1, 1)
	g := int64(2)
	a.LivenessProbe.TerminationGracePeriodSeconds = &g
	s := newSimStarted(t, pod.Spec{RestartPolicy: pod.RestartAlways, Processes: []pod.Process{a}})
	s.wake() // the first probe
	acts := s.probe("a", pod.ProbeLiveness, false)
	s.wantCount(acts, pod.ActSignal, "a", 1)
	acts = s.advance(2 * time.Second)
	s.wantCount(acts, pod.ActKillProcess, "a", 1)
	s.wantState("a", pod.StateRunning, "")
	acts = s.advance(pod.KilledExitWait)
	s.wantCount(acts, pod.ActAbandon, "a", 1)
	if got := s.started(acts); len(got) != 1 || got[0] != "a" {
		t.Fatalf("after the abandon: started %v, want [a]", got)
	}
	if p := s.ps("a"); p.RestartCount != 1 || p.LastState.Terminated == nil || p.LastState.Terminated.Reason != pod.ReasonKilled {
		t.Errorf("a: restartCount %d, lastState %+v", p.RestartCount, p.LastState.Terminated)
	}
}

// A stop whose processes have all exited before the deadline drains the
// pod's cgroup; the deadline then kills nothing more.
func TestMachineNoKillWhileDraining(t *testing.T) {
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{prc("a")}})
	s.stop(10 * time.Second)
	acts := s.signalled("a", 15)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.wantNoWake()
	acts = s.advance(20 * time.Second)
	s.wantCount(acts, pod.ActKillPod, "", 0)
	s.drain(0)
	s.wantPhase(pod.PhaseStopped, "")
}

// Revision moves when what a reader sees moves, and only then: a probe
// that passes again changes nothing (no wake-up, no save of the state).
func TestMachineRevision(t *testing.T) {
	a := prc("a")
	a.ReadinessProbe = execProbe(0, 1, 1, 1)
	s := newSimStarted(t, pod.Spec{Processes: []pod.Process{a}})
	s.wake()
	r0 := s.m.Revision()
	s.probe("a", pod.ProbeReadiness, true)
	r1 := s.m.Revision()
	if r1 == r0 {
		t.Fatal("ready became true: revision unchanged")
	}
	for range 3 {
		s.wake()
		s.probe("a", pod.ProbeReadiness, true)
	}
	if r := s.m.Revision(); r != r1 {
		t.Errorf("passing probes moved the revision from %d to %d", r1, r)
	}
	s.wake()
	s.probe("a", pod.ProbeReadiness, false)
	if r := s.m.Revision(); r == r1 {
		t.Error("ready became false: revision unchanged")
	}
}

// A process stopped for a failed liveness probe is restarted under
// OnFailure even when it exits 0 on the stop signal (kubelet restarts it
// unless the policy is Never); under Never it is not, and the Killing
// event does not promise a restart.
func TestMachineProbeKillRestartsUnlessNever(t *testing.T) {
	for _, policy := range []pod.RestartPolicy{pod.RestartOnFailure, pod.RestartNever} {
		t.Run(string(policy), func(t *testing.T) {
			a := prc("a")
			a.LivenessProbe = execProbe(0, 1, 1, 1)
			s := newSimStarted(t, pod.Spec{RestartPolicy: policy, Processes: []pod.Process{a}})
			s.wake()
			acts := s.probe("a", pod.ProbeLiveness, false)
			kill := events(acts, pod.EventKilling)
			if len(kill) != 1 {
				t.Fatalf("Killing events %+v", kill)
			}
			promised := strings.Contains(kill[0].Message, "will be restarted")
			if promised != (policy != pod.RestartNever) {
				t.Errorf("Killing message %q under %s", kill[0].Message, policy)
			}
			acts = s.exit("a", 0)
			restarted := len(events(acts, pod.EventRestarting)) == 1
			if restarted != (policy != pod.RestartNever) {
				t.Errorf("under %s: restarted %v after a liveness kill and exit 0", policy, restarted)
			}
		})
	}
}

// activeDeadlineSeconds: at the deadline every process gets its stop
// signal, and once all are down the pod is Failed with DeadlineExceeded;
// a restart of the pod (a new start) gets a new deadline.
func TestMachineActiveDeadline(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy:                 pod.RestartAlways,
		TerminationGracePeriodSeconds: i64(5),
		ActiveDeadlineSeconds:         i64(60),
		Processes:                     []pod.Process{prc("a"), prc("b")},
	})
	s.wantWake(t0.Add(60 * time.Second))
	acts := s.until(t0.Add(60 * time.Second))
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("at the deadline signalled %v, want [a b]", got)
	}
	if ev := events(acts, pod.EventDeadlineExceeded); len(ev) != 1 || ev[0].Reason != pod.ReasonDeadlineExceeded {
		t.Errorf("deadline events %+v", ev)
	}
	s.signalled("a", 15)
	acts = s.signalled("b", 15)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	var st pod.Status
	s.m.Fill(&st)
	if st.Phase != pod.PhaseFailed || st.Reason != pod.ReasonDeadlineExceeded || !strings.Contains(st.Message, "longer than the specified deadline (60s)") {
		t.Errorf("after the deadline: phase %s reason %q message %q", st.Phase, st.Reason, st.Message)
	}
	s.wantNoWake()
	// The reason survives a daemon restart, and a new start clears it.
	m2 := pod.NewMachine("web", s.spec, s.now)
	m2.Restore(&st, s.now)
	var st2 pod.Status
	m2.Fill(&st2)
	if st2.Reason != pod.ReasonDeadlineExceeded || st2.Phase != pod.PhaseFailed {
		t.Errorf("restored: phase %s reason %q", st2.Phase, st2.Reason)
	}
	s.start()
	s.m.Fill(&st)
	if st.Reason != "" {
		t.Errorf("a new start keeps reason %q", st.Reason)
	}
	s.wantWake(s.now.Add(60 * time.Second))
}

// An eviction (an emptyDir over its limit) stops the pod, which ends
// Failed with reason Evicted; it is ignored once the pod winds down.
func TestMachineEvict(t *testing.T) {
	s := newSimStarted(t, pod.Spec{
		RestartPolicy:                 pod.RestartAlways,
		TerminationGracePeriodSeconds: i64(5),
		Processes:                     []pod.Process{prc("a")},
	})
	acts := s.step(pod.Input{Kind: pod.InEvict, Message: `Usage of EmptyDir volume "cache" exceeds the limit "1Mi".`})
	if got := s.signalledNames(acts); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("evicted: signalled %v", got)
	}
	if ev := events(acts, pod.EventEvicted); len(ev) != 1 || ev[0].Reason != pod.ReasonEvicted {
		t.Errorf("events %+v", ev)
	}
	if again := s.step(pod.Input{Kind: pod.InEvict, Message: "again"}); len(events(again, pod.EventEvicted)) != 0 {
		t.Error("a second eviction during the wind-down was published")
	}
	acts = s.signalled("a", 15)
	s.wantCount(acts, pod.ActDrain, "", 1)
	s.drain(0)
	st := s.status()
	if st.Phase != pod.PhaseFailed || st.Reason != pod.ReasonEvicted || !strings.Contains(st.Message, `"cache"`) {
		t.Errorf("phase %s reason %q message %q", st.Phase, st.Reason, st.Message)
	}
	if ps := s.ps("a"); ps.State != pod.StateTerminated {
		t.Errorf("a is %s", ps.State)
	}
}
