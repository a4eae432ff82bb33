package supervisor

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// The engine (Pod.loop and its step/apply) driven through a fake runtime
// inside synctest bubbles: time is the bubble's fake clock, so the times
// the lifecycle defines (back-off, grace periods, probe periods) are
// asserted exactly. Nothing here touches the system; these tests run as
// any user.

func graceOf(d time.Duration) *time.Duration { return &d }

// fakeJitter is the offset of a process's first probe of kind k: a hash
// of the pod, the probe kind and the process, modulo a tenth of the
// period (at most a second), as the machine spreads first probes.
func fakeJitter(podName, procName string, k pod.ProbeKind, periodSeconds int32) time.Duration {
	period := time.Duration(max(periodSeconds, 1)) * time.Second
	span := min(period/10, time.Second)
	h := fnv.New32a()
	h.Write([]byte(podName))
	h.Write([]byte{0, byte(k)})
	h.Write([]byte(procName))
	return time.Duration(h.Sum32()) % span
}

func wantOffsets(t *testing.T, fp *fakePod, what string, got, want []time.Duration) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s at %v, want %v; calls:%s", what, got, want, fp.rt.dump())
	}
}

func eventsOf(evs []Event, types ...EventType) []Event {
	var out []Event
	for _, e := range evs {
		if slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// procsOf lists the Proc field of calls.
func procsOf(calls []fakeCall) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Proc
	}
	return out
}

func crashAtOnce(code int) func(i, run int) (*pod.Exit, time.Duration) {
	return func(i, run int) (*pod.Exit, time.Duration) { return &pod.Exit{Code: code}, 0 }
}

// A process that exits at once, over and over: the first restart is
// immediate, then the default back-off doubles from 10s up to 5m.
func TestEngineRestartBackoffDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "crashy", `
  processes:
  - name: crash
    command: [/bin/crash]
`)
		fp.rt.set(func(f *fakeRT) { f.onStart = crashAtOnce(1) })
		fp.start()

		st := fp.proc("crash")
		if st.State != pod.StateWaiting || st.Reason != pod.ReasonCrashLoopBackOff || st.RestartCount != 1 {
			t.Errorf("at 0: %+v", st)
		}
		if want := "back-off 10s restarting process after Error"; st.Message != want {
			t.Errorf("message %q, want %q", st.Message, want)
		}
		fp.sleepUntil(time.Hour)

		var want []time.Duration
		at, delay := time.Duration(0), time.Duration(0)
		for at <= time.Hour {
			want = append(want, at)
			at += delay
			delay = min(max(2*delay, 10*time.Second), 5*time.Minute)
		}
		wantOffsets(t, fp, "starts", fp.startTimes(0), want)
		if got, want := fp.p.Status().Phase, pod.PhaseRunning; got != want {
			t.Errorf("phase %s, want %s", got, want)
		}
		var delays []string
		for _, e := range eventsOf(fp.drainEvents(), EventRestarting) {
			delays = append(delays, e.Delay)
		}
		wantDelays := []string{"0s", "10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s"}
		if len(delays) < len(wantDelays) || !slices.Equal(delays[:len(wantDelays)], wantDelays) {
			t.Errorf("Restarting delays %v, want %v...", delays, wantDelays)
		}
		if got := fp.proc("crash").RestartCount; got != len(want)-1 {
			t.Errorf("restartCount %d, want %d", got, len(want)-1)
		}
	})
}

// A custom back-off, exits driven by the test: delays 0, 1s, 2s, 4s, 4s
// (the cap), and a run of resetAfter or more starts the streak over.
func TestEngineRestartBackoffCustom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "custom", `
  restartBackoff: {initialDelay: 1s, maxDelay: 4s, resetAfter: 30s}
  processes:
  - name: app
    command: [/bin/app]
`)
		fp.start()
		exitAt := func(d time.Duration) {
			t.Helper()
			fp.sleepUntil(d)
			if !fp.rt.exit(0, pod.Exit{Code: 2}) {
				t.Fatalf("at %s: the process is not running; calls:%s", d, fp.rt.dump())
			}
			synctest.Wait()
		}
		exitAt(2 * time.Second)  // restart at once: 2s
		exitAt(3 * time.Second)  // 1s: 4s
		exitAt(4 * time.Second)  // 2s: 6s
		exitAt(6 * time.Second)  // 4s: 10s
		exitAt(10 * time.Second) // 4s (capped): 14s
		if st := fp.proc("app"); st.State != pod.StateWaiting || st.Reason != pod.ReasonCrashLoopBackOff {
			t.Errorf("at 10s: %+v", st)
		}
		exitAt(44 * time.Second) // ran 30s: the streak starts over, at once: 44s
		exitAt(45 * time.Second) // 1s: 46s
		fp.sleepUntil(50 * time.Second)
		wantOffsets(t, fp, "starts", fp.startTimes(0), []time.Duration{
			0, 2 * time.Second, 4 * time.Second, 6 * time.Second, 10 * time.Second,
			14 * time.Second, 44 * time.Second, 46 * time.Second,
		})
		if got := fp.proc("app").RestartCount; got != 7 {
			t.Errorf("restartCount %d, want 7", got)
		}
	})
}

// Stop with a grace of 30s (the spec says 60s: the argument wins) on a
// process that ignores SIGTERM: the stop signal at once, the pod's cgroup
// SIGKILLed at exactly t+30s, and Stop returns once the exit is reported
// and the drain answered, Stopped.
func TestEngineStopGraceDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "grace", `
  terminationGracePeriodSeconds: 60
  processes:
  - name: stubborn
    command: [/bin/stubborn]
  - name: polite
    command: [/bin/polite]
`)
		fp.rt.set(func(f *fakeRT) { f.onSignal = func(i, run, sig int) bool { return i != 0 } })
		fp.start()
		fp.sleepUntil(5 * time.Second)
		done, when := fp.stopAsync(graceOf(30 * time.Second))
		synctest.Wait()

		sigs := fp.rt.callsOf("signal")
		wantOffsets(t, fp, "signals", fp.offsets(sigs), []time.Duration{5 * time.Second, 5 * time.Second})
		if !slices.Equal(procsOf(sigs), []int{0, 1}) || sigs[0].Signal != 15 || sigs[1].Signal != 15 {
			t.Errorf("signals %v", sigs)
		}
		if got := fp.p.Status().Phase; got != pod.PhaseTerminating {
			t.Errorf("phase %s, want Terminating", got)
		}
		if st := fp.proc("polite"); st.State != pod.StateTerminated || st.Signal != "SIGTERM" {
			t.Errorf("polite: %+v", st)
		}

		fp.sleepUntil(35*time.Second - time.Nanosecond)
		if n := len(fp.rt.callsOf("killPod")); n != 0 {
			t.Fatalf("killPod before the grace period ended:%s", fp.rt.dump())
		}
		select {
		case err := <-done:
			t.Fatalf("Stop returned early: %v", err)
		default:
		}

		fp.sleepUntil(35 * time.Second)
		wantOffsets(t, fp, "killPod", fp.offsets(fp.rt.callsOf("killPod")), []time.Duration{35 * time.Second})
		wantOffsets(t, fp, "drain", fp.offsets(fp.rt.callsOf("drain")), []time.Duration{35 * time.Second})
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Stop: %v", err)
			}
			if got := fp.since(*when); got != 35*time.Second {
				t.Errorf("Stop returned at %s, want 35s", got)
			}
		default:
			t.Fatalf("Stop did not return; calls:%s", fp.rt.dump())
		}
		st := fp.p.Status()
		if st.Phase != pod.PhaseStopped || st.Message != "" {
			t.Errorf("phase %s %q, want Stopped", st.Phase, st.Message)
		}
		ps := fp.proc("stubborn")
		if ps.State != pod.StateTerminated || ps.Reason != pod.ReasonKilled || ps.ExitCode == nil || *ps.ExitCode != 137 || ps.Signal != "SIGKILL" {
			t.Errorf("stubborn: %+v", ps)
		}
		if ps.FinishedAt == nil || fp.since(*ps.FinishedAt) != 35*time.Second {
			t.Errorf("stubborn finished at %v", ps.FinishedAt)
		}
		if n := len(fp.rt.callsOf("start")); n != 2 {
			t.Errorf("%d starts, want 2 (no restart after a stop)", n)
		}
	})
}

// A SIGKILLed process whose exit is never reported is taken for dead
// KilledExitWait after the kill.
func TestEngineStopAbandonsUnreportedExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "lost", `
  processes:
  - name: zombie
    command: [/bin/zombie]
`)
		fp.rt.set(func(f *fakeRT) {
			f.onSignal = func(i, run, sig int) bool { return false }
			f.lostKills = true
		})
		fp.start()
		fp.sleepUntil(time.Second)
		done, when := fp.stopAsync(graceOf(10 * time.Second))
		fp.sleepUntil(14*time.Second - time.Nanosecond)
		wantOffsets(t, fp, "killPod", fp.offsets(fp.rt.callsOf("killPod")), []time.Duration{11 * time.Second})
		if n := len(fp.rt.callsOf("abandon")); n != 0 {
			t.Fatalf("abandoned early:%s", fp.rt.dump())
		}
		fp.sleepUntil(14 * time.Second)
		wantOffsets(t, fp, "abandon", fp.offsets(fp.rt.callsOf("abandon")), []time.Duration{14 * time.Second})
		wantOffsets(t, fp, "drain", fp.offsets(fp.rt.callsOf("drain")), []time.Duration{14 * time.Second})
		if err := <-done; err != nil || fp.since(*when) != 14*time.Second {
			t.Errorf("Stop: %v at %s, want nil at 14s", err, fp.since(*when))
		}
		ps := fp.proc("zombie")
		if ps.Reason != pod.ReasonKilled || ps.Message != "no exit reported after SIGKILL" {
			t.Errorf("zombie: %+v", ps)
		}
		if got := fp.p.Status().Phase; got != pod.PhaseStopped {
			t.Errorf("phase %s", got)
		}
	})
}

// A preStop hook that never ends: the stop signal is not sent, and the
// pod is SIGKILLed at the deadline all the same. A late answer of the hook
// changes nothing.
func TestEngineStopPreStopHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "prestop", `
  processes:
  - name: web
    command: [/bin/web]
    lifecycle:
      preStop: {exec: {command: [/bin/drain-connections]}}
  - name: other
    command: [/bin/other]
`)
		fp.rt.set(func(f *fakeRT) {
			f.hook = func(i, run int, h pod.HookKind) fakeAnswer { return fakeAnswer{Manual: true} }
		})
		fp.start()
		fp.sleepUntil(time.Second)
		done, when := fp.stopAsync(graceOf(30 * time.Second))
		synctest.Wait()

		hooks := fp.rt.callsOf("runHook")
		if len(hooks) != 1 || hooks[0].Proc != 0 || hooks[0].Hook != pod.HookPreStop || hooks[0].Timeout != 30*time.Second || fp.since(hooks[0].At) != time.Second {
			t.Fatalf("hooks %v, want preStop of web at 1s with timeout 30s", hooks)
		}
		sigs := fp.rt.callsOf("signal")
		if !slices.Equal(procsOf(sigs), []int{1}) {
			t.Errorf("signals %v, want other's alone", sigs)
		}
		fp.sleepUntil(31*time.Second - time.Nanosecond)
		if len(fp.rt.callsOf("killPod")) != 0 {
			t.Fatalf("killPod early:%s", fp.rt.dump())
		}
		fp.sleepUntil(31 * time.Second)
		wantOffsets(t, fp, "killPod", fp.offsets(fp.rt.callsOf("killPod")), []time.Duration{31 * time.Second})
		if err := <-done; err != nil || fp.since(*when) != 31*time.Second {
			t.Errorf("Stop: %v at %s, want nil at 31s", err, fp.since(*when))
		}
		if got := fp.p.Status().Phase; got != pod.PhaseStopped {
			t.Errorf("phase %s", got)
		}
		if ps := fp.proc("web"); ps.Reason != pod.ReasonKilled {
			t.Errorf("web: %+v", ps)
		}
		if sigs := fp.rt.callsOf("signal"); len(sigs) != 1 {
			t.Errorf("web was signalled: %v", sigs)
		}

		n := len(fp.rt.callsOf())
		fp.rt.answerHook(t, 0, pod.HookPreStop, true, "")
		fp.sleepUntil(time.Minute)
		if got := fp.rt.callsOf(); len(got) != n {
			t.Errorf("calls after a late hook answer:%s", fp.rt.dump())
		}
		if got := fp.p.Status().Phase; got != pod.PhaseStopped {
			t.Errorf("phase %s after a late hook answer", got)
		}
	})
}

// A readiness probe every 5s whose answers take 2s: probes run on their
// schedule (not measured from the answers), and the ready flag follows
// the answers: up at the first pass, down at the third failure in a row,
// up again at the next pass.
func TestEngineReadinessProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const name = "ready"
		fp := newFakePod(t, name, `
  processes:
  - name: web
    command: [/bin/web]
    readinessProbe:
      exec: {command: [/bin/check]}
      periodSeconds: 5
`)
		var calls atomic.Int32
		answers := []bool{true, true, false, false, false, true}
		fp.rt.set(func(f *fakeRT) {
			f.probe = func(i, run int, k pod.ProbeKind) fakeAnswer {
				n := int(calls.Add(1)) - 1
				ok := n >= len(answers) || answers[n]
				return fakeAnswer{OK: ok, Message: "HTTP 503", After: 2 * time.Second}
			}
		})
		fp.start()
		j := fakeJitter(name, "web", pod.ProbeReadiness, 5)
		ready := func(d time.Duration) bool {
			t.Helper()
			fp.sleepUntil(d)
			return fp.proc("web").Ready
		}
		if ready(j + 2*time.Second - time.Nanosecond) {
			t.Error("ready before the first answer")
		}
		if !ready(j + 2*time.Second) {
			t.Error("not ready at the first pass")
		}
		if !ready(j + 22*time.Second - time.Nanosecond) {
			t.Error("unready before the third failure")
		}
		if ready(j + 22*time.Second) {
			t.Error("still ready after the third failure")
		}
		if ready(j + 27*time.Second - time.Nanosecond) {
			t.Error("ready before the next pass")
		}
		if !ready(j + 27*time.Second) {
			t.Error("not ready after the next pass")
		}
		fp.sleepUntil(j + 31*time.Second)

		probes := fp.rt.probeCalls(0, pod.ProbeReadiness)
		var want []time.Duration
		for d := j; d <= j+31*time.Second; d += 5 * time.Second {
			want = append(want, d)
		}
		wantOffsets(t, fp, "readiness probes", fp.offsets(probes), want)
		for _, c := range probes {
			if c.Timeout != time.Second {
				t.Errorf("probe timeout %s, want 1s", c.Timeout)
			}
		}
		if n := len(fp.rt.callsOf("runProbe")); n != len(probes) {
			t.Errorf("other probes ran:%s", fp.rt.dump())
		}
		un := eventsOf(fp.drainEvents(), EventUnhealthy)
		if len(un) != 3 || un[0].Reason != "Readiness" || !strings.Contains(un[0].Message, "HTTP 503") {
			t.Errorf("Unhealthy events %+v, want 3 of Readiness", un)
		}
		if len(fp.rt.callsOf("signal", "killProcess")) != 0 {
			t.Errorf("a readiness failure stopped the process:%s", fp.rt.dump())
		}
		// The pod's Ready condition changed with the flag, at the same times.
		st := fp.p.Status()
		for _, c := range st.Conditions {
			if c.Type == pod.ConditionReadyPod {
				if c.Status != pod.ConditionTrue || fp.since(c.LastTransitionTime) != j+27*time.Second {
					t.Errorf("Ready condition %+v, want True since %s", c, j+27*time.Second)
				}
			}
		}
	})
}

// A liveness probe failing 3 times in a row stops the process once: the
// stop signal at the third failure, and, the process ignoring it, its
// cgroup SIGKILLed after the probe's own terminationGracePeriodSeconds;
// then it restarts (at once: the first restart) and is probed again.
func TestEngineLivenessFailureStopsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const name = "live"
		fp := newFakePod(t, name, `
  processes:
  - name: app
    command: [/bin/app]
    livenessProbe:
      exec: {command: [/bin/alive]}
      periodSeconds: 10
      failureThreshold: 3
      terminationGracePeriodSeconds: 5
`)
		fp.rt.set(func(f *fakeRT) {
			f.probe = func(i, run int, k pod.ProbeKind) fakeAnswer {
				return fakeAnswer{OK: run > 1, Message: "deadlocked"}
			}
			f.onSignal = func(i, run, sig int) bool { return false }
		})
		fp.start()
		j := fakeJitter(name, "app", pod.ProbeLiveness, 10)
		fp.sleepUntil(j + 20*time.Second)
		sigs := fp.rt.callsOf("signal")
		wantOffsets(t, fp, "signal", fp.offsets(sigs), []time.Duration{j + 20*time.Second})
		if len(sigs) == 1 && sigs[0].Signal != 15 {
			t.Errorf("signal %d, want 15", sigs[0].Signal)
		}
		fp.sleepUntil(j + 25*time.Second - time.Nanosecond)
		if n := len(fp.rt.callsOf("killProcess")); n != 0 {
			t.Fatalf("killed early:%s", fp.rt.dump())
		}
		fp.sleepUntil(j + 25*time.Second + 2*time.Minute)

		wantOffsets(t, fp, "killProcess", fp.offsets(fp.rt.callsOf("killProcess")), []time.Duration{j + 25*time.Second})
		wantOffsets(t, fp, "signal", fp.offsets(fp.rt.callsOf("signal")), []time.Duration{j + 20*time.Second})
		wantOffsets(t, fp, "starts", fp.startTimes(0), []time.Duration{0, j + 25*time.Second})
		if n := len(fp.rt.callsOf("killPod", "drain")); n != 0 {
			t.Errorf("the pod was stopped:%s", fp.rt.dump())
		}
		// Probes: 3 of run 1, none while it stops, then run 2's from its
		// start, jittered the same way.
		want := []time.Duration{j, j + 10*time.Second, j + 20*time.Second}
		for d := j + 25*time.Second + j; d <= j+25*time.Second+2*time.Minute; d += 10 * time.Second {
			want = append(want, d)
		}
		wantOffsets(t, fp, "liveness probes", fp.offsets(fp.rt.probeCalls(0, pod.ProbeLiveness)), want)

		evs := fp.drainEvents()
		if n := len(eventsOf(evs, EventUnhealthy)); n != 3 {
			t.Errorf("%d Unhealthy events, want 3", n)
		}
		if k := eventsOf(evs, EventKilling); len(k) != 1 || k[0].Reason != "Liveness" {
			t.Errorf("Killing events %+v, want one for Liveness", k)
		}
		ps := fp.proc("app")
		if ps.State != pod.StateRunning || ps.RestartCount != 1 {
			t.Errorf("app: %+v", ps)
		}
		if lt := ps.LastState.Terminated; lt == nil || lt.Reason != pod.ReasonKilled || lt.ExitCode != 137 {
			t.Errorf("last state %+v, want Killed 137", lt)
		}
	})
}

// A startup probe holds the liveness probe off until it passes; then the
// liveness probe runs at once (its first time is past) and the startup
// probe never again.
func TestEngineStartupProbeHoldsLiveness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const name = "startup"
		fp := newFakePod(t, name, `
  processes:
  - name: app
    command: [/bin/app]
    startupProbe:
      exec: {command: [/bin/up]}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      exec: {command: [/bin/alive]}
      periodSeconds: 10
`)
		var startups atomic.Int32
		fp.rt.set(func(f *fakeRT) {
			f.probe = func(i, run int, k pod.ProbeKind) fakeAnswer {
				if k == pod.ProbeStartup {
					return fakeAnswer{OK: startups.Add(1) >= 5, Message: "connection refused"}
				}
				return fakeAnswer{OK: true}
			}
		})
		fp.start()
		js := fakeJitter(name, "app", pod.ProbeStartup, 1)
		fp.sleepUntil(js + 4*time.Second - time.Nanosecond)
		if ps := fp.proc("app"); ps.Started || ps.Ready {
			t.Errorf("started before the startup probe passed: %+v", ps)
		}
		if n := len(fp.rt.probeCalls(0, pod.ProbeLiveness)); n != 0 {
			t.Errorf("liveness probed before the startup probe passed:%s", fp.rt.dump())
		}
		fp.sleepUntil(js + 4*time.Second)
		if ps := fp.proc("app"); !ps.Started || !ps.Ready {
			t.Errorf("not started when the startup probe passed: %+v", ps)
		}
		fp.sleepUntil(js + time.Minute)
		wantOffsets(t, fp, "startup probes", fp.offsets(fp.rt.probeCalls(0, pod.ProbeStartup)),
			[]time.Duration{js, js + time.Second, js + 2*time.Second, js + 3*time.Second, js + 4*time.Second})
		var want []time.Duration
		for d := js + 4*time.Second; d <= js+time.Minute; d += 10 * time.Second {
			want = append(want, d)
		}
		wantOffsets(t, fp, "liveness probes", fp.offsets(fp.rt.probeCalls(0, pod.ProbeLiveness)), want)
		if un := eventsOf(fp.drainEvents(), EventUnhealthy); len(un) != 4 || un[0].Reason != "Startup" {
			t.Errorf("Unhealthy events %+v, want 4 of Startup", un)
		}
		if len(fp.rt.callsOf("signal", "killProcess")) != 0 {
			t.Errorf("stopped:%s", fp.rt.dump())
		}
	})
}

// A postStart hook gates started (and ready, and a dependent's start, and
// the probes) until it completes.
func TestEnginePostStartGatesStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "poststart", `
  processes:
  - name: app
    command: [/bin/app]
    lifecycle:
      postStart: {exec: {command: [/bin/warm-up]}}
    livenessProbe:
      exec: {command: [/bin/alive]}
      periodSeconds: 10
  - name: client
    command: [/bin/client]
    dependsOn: [{name: app}]
`)
		fp.rt.set(func(f *fakeRT) {
			f.hook = func(i, run int, h pod.HookKind) fakeAnswer { return fakeAnswer{Manual: true} }
		})
		fp.start()
		hooks := fp.rt.callsOf("runHook")
		if len(hooks) != 1 || hooks[0].Proc != 0 || hooks[0].Hook != pod.HookPostStart || hooks[0].At != fp.t0 || hooks[0].Timeout != 0 {
			t.Fatalf("hooks %v, want postStart of app at 0 without timeout", hooks)
		}
		fp.sleepUntil(3*time.Second - time.Nanosecond)
		if ps := fp.proc("app"); ps.State != pod.StateRunning || ps.Started || ps.Ready {
			t.Errorf("app during postStart: %+v", ps)
		}
		if ps := fp.proc("client"); ps.State != pod.StateWaiting || ps.Reason != pod.ReasonWaitingForDependencies || ps.Message != `waiting for "app" to be Started` {
			t.Errorf("client during app's postStart: %+v", ps)
		}
		if n := len(fp.rt.callsOf("runProbe")); n != 0 {
			t.Errorf("probed during postStart:%s", fp.rt.dump())
		}
		fp.sleepUntil(3 * time.Second)
		fp.rt.answerHook(t, 0, pod.HookPostStart, true, "")
		synctest.Wait()
		if ps := fp.proc("app"); !ps.Started || !ps.Ready {
			t.Errorf("app after postStart: %+v", ps)
		}
		wantOffsets(t, fp, "client starts", fp.startTimes(1), []time.Duration{3 * time.Second})
		fp.sleepUntil(20 * time.Second)
		// The first probe is due (start + jitter) by then: it runs at once.
		wantOffsets(t, fp, "liveness probes", fp.offsets(fp.rt.probeCalls(0, pod.ProbeLiveness)),
			[]time.Duration{3 * time.Second, 13 * time.Second})
	})
}

// A failed postStart hook stops the process (FailedPostStartHook), which
// then restarts under its policy and runs its hook again.
func TestEnginePostStartFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "hookfail", `
  processes:
  - name: app
    command: [/bin/app]
    lifecycle:
      postStart: {exec: {command: [/bin/warm-up]}}
`)
		fp.rt.set(func(f *fakeRT) {
			f.hook = func(i, run int, h pod.HookKind) fakeAnswer {
				return fakeAnswer{OK: run > 1, Message: "exit 3", After: time.Second}
			}
		})
		fp.start()
		fp.sleepUntil(time.Minute)
		wantOffsets(t, fp, "signals", fp.offsets(fp.rt.callsOf("signal")), []time.Duration{time.Second})
		wantOffsets(t, fp, "starts", fp.startTimes(0), []time.Duration{0, time.Second})
		wantOffsets(t, fp, "hooks", fp.offsets(fp.rt.callsOf("runHook")), []time.Duration{0, time.Second})
		evs := fp.drainEvents()
		if e := eventsOf(evs, EventFailedPostStartHook); len(e) != 1 || e[0].Message != "exit 3" {
			t.Errorf("FailedPostStartHook events %+v", e)
		}
		if e := eventsOf(evs, EventKilling); len(e) != 1 || e[0].Reason != pod.ReasonFailedPostStartHook {
			t.Errorf("Killing events %+v", e)
		}
		ps := fp.proc("app")
		if !ps.Started || ps.RestartCount != 1 {
			t.Errorf("app: %+v", ps)
		}
		if lt := ps.LastState.Terminated; lt == nil || lt.Reason != pod.ReasonFailedPostStartHook || !strings.Contains(lt.Message, "exit 3") {
			t.Errorf("last state %+v", lt)
		}
	})
}

// Init processes one by one, sidecars started in their place, then the
// apps; a stop signals the apps together, then the sidecars one at a time
// in reverse order, each once the ones before have exited.
func TestEngineSidecarOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "sidecars", `
  initProcesses:
  - name: setup
    command: [/bin/setup]
  - name: proxy
    command: [/bin/proxy]
    restartPolicy: Always
  - name: logs
    command: [/bin/logs]
    restartPolicy: Always
  processes:
  - name: web
    command: [/bin/web]
  - name: worker
    command: [/bin/worker]
`)
		const setup, proxy, logs, web, worker = 0, 1, 2, 3, 4
		fp.rt.set(func(f *fakeRT) { f.onSignal = func(i, run, sig int) bool { return false } })
		fp.start()
		if st := fp.p.Status(); st.Phase != pod.PhaseInitializing || st.Init[1].Reason != pod.ReasonPodInitializing {
			t.Errorf("at 0: %s %+v", st.Phase, st.Init)
		}
		fp.sleepUntil(2 * time.Second)
		fp.rt.exit(setup, pod.Exit{})
		synctest.Wait()
		starts := fp.rt.callsOf("start")
		if !slices.Equal(procsOf(starts), []int{setup, proxy, logs, web, worker}) {
			t.Errorf("start order %v", procsOf(starts))
		}
		wantOffsets(t, fp, "starts", fp.offsets(starts), []time.Duration{0, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second})
		if got := fp.p.Status().Phase; got != pod.PhaseRunning {
			t.Errorf("phase %s", got)
		}

		fp.sleepUntil(10 * time.Second)
		done, when := fp.stopAsync(graceOf(30 * time.Second))
		synctest.Wait()
		exitAt := func(d time.Duration, i int) {
			t.Helper()
			fp.sleepUntil(d)
			if !fp.rt.exit(i, pod.Exit{Code: 143, Signal: 15}) {
				t.Fatalf("process %d not running at %s", i, d)
			}
			synctest.Wait()
		}
		exitAt(11*time.Second, web)
		if n := len(fp.rt.callsOf("signal")); n != 2 {
			t.Errorf("a sidecar was signalled while an app runs:%s", fp.rt.dump())
		}
		exitAt(12*time.Second, worker)
		exitAt(13*time.Second, logs)
		exitAt(14*time.Second, proxy)
		sigs := fp.rt.callsOf("signal")
		if !slices.Equal(procsOf(sigs), []int{web, worker, logs, proxy}) {
			t.Errorf("signal order %v, want web, worker, logs, proxy", procsOf(sigs))
		}
		wantOffsets(t, fp, "signals", fp.offsets(sigs), []time.Duration{10 * time.Second, 10 * time.Second, 12 * time.Second, 13 * time.Second})
		if err := <-done; err != nil || fp.since(*when) != 14*time.Second {
			t.Errorf("Stop: %v at %s, want nil at 14s", err, fp.since(*when))
		}
		if len(fp.rt.callsOf("killPod")) != 0 {
			t.Errorf("killPod in a stop that ended in time")
		}
		if got := fp.p.Status().Phase; got != pod.PhaseStopped {
			t.Errorf("phase %s", got)
		}
	})
}

// dependsOn Ready: the dependent starts when the dependency's readiness
// probe first passes, not before.
func TestEngineDependsOnReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const name = "deps"
		fp := newFakePod(t, name, `
  processes:
  - name: db
    command: [/bin/db]
    readinessProbe:
      exec: {command: [/bin/db-ready]}
      periodSeconds: 5
  - name: web
    command: [/bin/web]
    dependsOn: [{name: db, condition: Ready}]
`)
		var calls atomic.Int32
		fp.rt.set(func(f *fakeRT) {
			f.probe = func(i, run int, k pod.ProbeKind) fakeAnswer {
				return fakeAnswer{OK: calls.Add(1) > 1, Message: "starting up"}
			}
		})
		fp.start()
		j := fakeJitter(name, "db", pod.ProbeReadiness, 5)
		fp.sleepUntil(j + 5*time.Second - time.Nanosecond)
		ps := fp.proc("web")
		if ps.State != pod.StateWaiting || ps.Reason != pod.ReasonWaitingForDependencies || ps.Message != `waiting for "db" to be Ready` {
			t.Errorf("web: %+v", ps)
		}
		wantOffsets(t, fp, "db probes", fp.offsets(fp.rt.probeCalls(0, pod.ProbeReadiness)), []time.Duration{j})
		if n := len(fp.startTimes(1)); n != 0 {
			t.Fatalf("web started before db was ready:%s", fp.rt.dump())
		}
		fp.sleepUntil(j + 5*time.Second)
		wantOffsets(t, fp, "web starts", fp.startTimes(1), []time.Duration{j + 5*time.Second})
		if ps := fp.proc("web"); ps.State != pod.StateRunning {
			t.Errorf("web: %+v", ps)
		}
	})
}

// A RestartAllContainers rule: every process is stopped, the pod's cgroup
// drained, and every process started again; a second one in a row backs
// off (10s).
func TestEngineRestartAllContainers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "restartall", `
  processes:
  - name: a
    command: [/bin/a]
    restartPolicyRules:
    - action: RestartAllContainers
      exitCodes: {operator: In, values: [42]}
  - name: b
    command: [/bin/b]
`)
		fp.start()
		fp.sleepUntil(5 * time.Second)
		fp.rt.exit(0, pod.Exit{Code: 42})
		synctest.Wait()

		wantOffsets(t, fp, "signals", fp.offsets(fp.rt.callsOf("signal")), []time.Duration{5 * time.Second})
		wantOffsets(t, fp, "drain", fp.offsets(fp.rt.callsOf("drain")), []time.Duration{5 * time.Second})
		wantOffsets(t, fp, "a starts", fp.startTimes(0), []time.Duration{0, 5 * time.Second})
		wantOffsets(t, fp, "b starts", fp.startTimes(1), []time.Duration{0, 5 * time.Second})
		// The restart comes after the drain.
		var order []string
		for _, c := range fp.rt.callsOf("drain", "start") {
			order = append(order, c.Kind)
		}
		if !slices.Equal(order, []string{"start", "start", "drain", "start", "start"}) {
			t.Errorf("calls %v", order)
		}
		evs := fp.drainEvents()
		if e := eventsOf(evs, EventPodRestarted); len(e) != 1 || e[0].Process != "a" || e[0].Pod != "restartall" || fp.since(e[0].Time) != 5*time.Second {
			t.Errorf("PodRestarted events %+v", e)
		}
		st := fp.p.Status()
		if st.Phase != pod.PhaseRunning || fp.proc("a").RestartCount != 1 || fp.proc("b").RestartCount != 1 {
			t.Errorf("after the restart: %s %+v", st.Phase, st.Processes)
		}

		fp.sleepUntil(6 * time.Second)
		fp.rt.exit(0, pod.Exit{Code: 42})
		synctest.Wait()
		st = fp.p.Status()
		if st.Phase != pod.PhaseRunning || st.Message != "back-off 10s restarting the pod" {
			t.Errorf("second restart: %s %q", st.Phase, st.Message)
		}
		fp.sleepUntil(16*time.Second - time.Nanosecond)
		if n := len(fp.startTimes(0)); n != 2 {
			t.Fatalf("restarted during the back-off:%s", fp.rt.dump())
		}
		fp.sleepUntil(30 * time.Second)
		wantOffsets(t, fp, "a starts", fp.startTimes(0), []time.Duration{0, 5 * time.Second, 16 * time.Second})
		wantOffsets(t, fp, "b starts", fp.startTimes(1), []time.Duration{0, 5 * time.Second, 16 * time.Second})
		if n := len(eventsOf(fp.drainEvents(), EventPodRestarted)); n != 1 {
			t.Errorf("%d more PodRestarted events, want 1", n)
		}
		if fp.proc("a").RestartCount != 2 || fp.proc("b").RestartCount != 2 {
			t.Errorf("restart counts: %+v", fp.p.Status().Processes)
		}
	})
}

// A drain answered late holds Stop's waiters until it is; then they are
// all released at once, and the deadline's timer no longer fires.
func TestEngineStopWaitersReleasedByLateDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "latedrain", `
  processes:
  - name: app
    command: [/bin/app]
`)
		fp.rt.set(func(f *fakeRT) { f.drainLater = true })
		fp.start()
		fp.sleepUntil(time.Second)
		done1, when1 := fp.stopAsync(nil)
		synctest.Wait()
		done2, when2 := fp.stopAsync(graceOf(time.Minute))
		synctest.Wait()
		wantOffsets(t, fp, "drain", fp.offsets(fp.rt.callsOf("drain")), []time.Duration{time.Second})
		fp.sleepUntil(11 * time.Second)
		for _, done := range []<-chan error{done1, done2} {
			select {
			case err := <-done:
				t.Fatalf("Stop returned before the drain was answered: %v", err)
			default:
			}
		}
		if got := fp.p.Status().Phase; got != pod.PhaseTerminating {
			t.Errorf("phase %s while draining, want Terminating", got)
		}
		fp.rt.finishDrain(t, 2)
		synctest.Wait()
		for i, w := range []struct {
			done <-chan error
			when *time.Time
		}{{done1, when1}, {done2, when2}} {
			select {
			case err := <-w.done:
				if err != nil || fp.since(*w.when) != 11*time.Second {
					t.Errorf("Stop %d: %v at %s, want nil at 11s", i+1, err, fp.since(*w.when))
				}
			default:
				t.Errorf("Stop %d not released by the drain", i+1)
			}
		}
		st := fp.p.Status()
		if st.Phase != pod.PhaseStopped || st.Message != "2 tasks of the pod's cgroup still exiting after SIGKILL" {
			t.Errorf("phase %s %q", st.Phase, st.Message)
		}
		n := len(fp.rt.callsOf())
		fp.sleepUntil(time.Hour)
		if len(fp.rt.callsOf()) != n {
			t.Errorf("calls after the stop ended:%s", fp.rt.dump())
		}
	})
}

// WaitFor wakes at the status change it waits for, at once; one whose
// context ends returns at that time with the context's error.
func TestEngineWaitForWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "waitfor", `
  processes:
  - name: web
    command: [/bin/web]
    readinessProbe:
      exec: {command: [/bin/check]}
      periodSeconds: 5
`)
		fp.rt.set(func(f *fakeRT) {
			f.probe = func(i, run int, k pod.ProbeKind) fakeAnswer { return fakeAnswer{Manual: true} }
		})
		type result struct {
			st  pod.Status
			err error
			at  time.Time
		}
		waitFor := func(ctx context.Context, cond func(*pod.Status) bool) <-chan result {
			ch := make(chan result, 1)
			go func() {
				st, err := fp.p.WaitFor(ctx, cond)
				ch <- result{st, err, time.Now()}
			}()
			return ch
		}
		isReady := func(s *pod.Status) bool { r, n := s.Ready(); return n > 0 && r == n }
		ready := waitFor(t.Context(), isReady)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		timedOut := waitFor(ctx, isReady)
		ended := make(chan result, 1)
		go func() {
			st, err := fp.p.Wait(t.Context())
			ended <- result{st, err, time.Now()}
		}()
		fp.start()

		fp.sleepUntil(7 * time.Second)
		select {
		case r := <-timedOut:
			if !errors.Is(r.err, context.DeadlineExceeded) || fp.since(r.at) != 3*time.Second || r.st.Phase != pod.PhaseRunning {
				t.Errorf("WaitFor with a 3s context: %v at %s, phase %s", r.err, fp.since(r.at), r.st.Phase)
			}
		default:
			t.Error("WaitFor did not return at its context's end")
		}
		select {
		case r := <-ready:
			t.Fatalf("WaitFor returned before ready: %+v", r)
		default:
		}
		fp.rt.answerProbe(t, 0, pod.ProbeReadiness, true, "")
		synctest.Wait()
		select {
		case r := <-ready:
			if r.err != nil || fp.since(r.at) != 7*time.Second || !r.st.Processes[0].Ready {
				t.Errorf("WaitFor: %v at %s, %+v", r.err, fp.since(r.at), r.st.Processes)
			}
		default:
			t.Error("WaitFor not woken by the readiness change")
		}

		fp.sleepUntil(9 * time.Second)
		if _, err := fp.p.WaitFor(t.Context(), func(s *pod.Status) bool { return s.Phase == pod.PhaseRunning }); err != nil {
			t.Errorf("WaitFor of a condition that holds: %v", err)
		}
		done, _ := fp.stopAsync(nil)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Errorf("Stop: %v", err)
		}
		select {
		case r := <-ended:
			if r.err != nil || r.st.Phase != pod.PhaseStopped || fp.since(r.at) != 9*time.Second {
				t.Errorf("Wait: %v, %s at %s", r.err, r.st.Phase, fp.since(r.at))
			}
		default:
			t.Error("Wait not woken by the stop")
		}
	})
}

// A process that cannot be started: StartFailed, then CrashLoopBackOff
// with the usual back-off (the first restart immediate); under Never the
// pod fails.
func TestEngineStartFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "startfail", `
  processes:
  - name: app
    command: [/bin/missing]
`)
		fp.rt.set(func(f *fakeRT) { f.startErr = func(i, run int) error { return errFakeStart } })
		fp.start()
		fp.sleepUntil(5 * time.Second)
		ps := fp.proc("app")
		if ps.State != pod.StateWaiting || ps.Reason != pod.ReasonCrashLoopBackOff || ps.RestartCount != 1 {
			t.Errorf("app: %+v", ps)
		}
		if want := "back-off 10s restarting process after StartError: " + errFakeStart.Error(); ps.Message != want {
			t.Errorf("message %q, want %q", ps.Message, want)
		}
		if ps.ExitCode == nil || *ps.ExitCode != 128 {
			t.Errorf("exit code %v, want 128", ps.ExitCode)
		}
		evs := fp.drainEvents()
		sf := eventsOf(evs, EventStartFailed)
		if len(sf) != 2 || sf[0].Reason != pod.ReasonStartError || sf[0].Message != errFakeStart.Error() || sf[0].Process != "app" {
			t.Errorf("StartFailed events %+v", sf)
		}
		if n := len(eventsOf(evs, EventStarted)); n != 0 {
			t.Errorf("%d Started events", n)
		}
		fp.sleepUntil(time.Minute)
		wantOffsets(t, fp, "starts", fp.startTimes(0), []time.Duration{0, 0, 10 * time.Second, 30 * time.Second})
		if got := fp.p.Status().Phase; got != pod.PhaseRunning {
			t.Errorf("phase %s", got)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "startfail-never", `
  restartPolicy: Never
  processes:
  - name: app
    command: [/bin/missing]
`)
		fp.rt.set(func(f *fakeRT) { f.startErr = func(i, run int) error { return errFakeStart } })
		fp.start()
		st := fp.p.Status()
		if st.Phase != pod.PhaseFailed || st.Message != `process "app" failed` {
			t.Errorf("phase %s %q, want Failed", st.Phase, st.Message)
		}
		if ps := fp.proc("app"); ps.State != pod.StateTerminated || ps.Reason != pod.ReasonStartError {
			t.Errorf("app: %+v", ps)
		}
		fp.sleepUntil(time.Hour)
		if n := len(fp.rt.callsOf("start")); n != 1 {
			t.Errorf("%d starts, want 1:%s", n, fp.rt.dump())
		}
	})
}

// Nothing spins: an idle pod lets every goroutine block (synctest.Wait
// returns), and over an hour the only calls into the runtime are the
// scheduled probes, and the only steps theirs; a stopped pod does nothing
// at all.
func TestEngineIdleDoesNotSpin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const name = "idle"
		fp := newFakePod(t, name, `
  processes:
  - name: web
    command: [/bin/web]
    readinessProbe:
      exec: {command: [/bin/check]}
  - name: quiet
    command: [/bin/quiet]
`)
		fp.start()
		before := len(fp.rt.callsOf())

		var steps atomic.Int64
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				fp.p.mu.Lock()
				ch := fp.p.changed
				fp.p.mu.Unlock()
				select {
				case <-ch:
					steps.Add(1)
				case <-stop:
					return
				}
			}
		}()
		synctest.Wait()

		fp.sleepUntil(time.Hour)
		j := fakeJitter(name, "web", pod.ProbeReadiness, 10)
		var want []time.Duration
		for d := j; d <= time.Hour; d += 10 * time.Second {
			want = append(want, d)
		}
		after := fp.rt.callsOf()[before:]
		wantOffsets(t, fp, "calls after the start", fp.offsets(after), want)
		for _, c := range after {
			if c.Kind != "runProbe" || c.Proc != 0 || c.Probe != pod.ProbeReadiness {
				t.Fatalf("unexpected call %s", c)
			}
		}
		// Each probe is two steps: its timer, then its result.
		if n := steps.Load(); n > int64(2*len(want)) {
			t.Errorf("%d steps in an hour for %d probes", n, len(want))
		}

		done, _ := fp.stopAsync(nil)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatalf("Stop: %v", err)
		}
		n, s := len(fp.rt.callsOf()), steps.Load()
		fp.sleepUntil(2 * time.Hour)
		if len(fp.rt.callsOf()) != n || steps.Load() != s {
			t.Errorf("a stopped pod: %d calls, %d steps in an hour", len(fp.rt.callsOf())-n, steps.Load()-s)
		}
		close(stop)
		<-watched
	})
}

// When the apps have completed, the sidecars are stopped, the last
// declared first; one that ignores its stop signal is SIGKILLed with what
// is left at the pod's grace period, and the pod has Succeeded.
func TestEngineSidecarsStoppedWhenAppsComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "appsdone", `
  restartPolicy: Never
  terminationGracePeriodSeconds: 20
  initProcesses:
  - name: proxy
    command: [/bin/proxy]
    restartPolicy: Always
  - name: logs
    command: [/bin/logs]
    restartPolicy: Always
  processes:
  - name: job
    command: [/bin/job]
`)
		const proxy, logs, job = 0, 1, 2
		fp.rt.set(func(f *fakeRT) { f.onSignal = func(i, run, sig int) bool { return i != logs } })
		ended := make(chan time.Time, 1)
		go func() {
			if _, err := fp.p.Wait(t.Context()); err == nil {
				ended <- time.Now()
			}
		}()
		fp.start()
		wantOffsets(t, fp, "starts", fp.offsets(fp.rt.callsOf("start")), []time.Duration{0, 0, 0})
		fp.sleepUntil(5 * time.Second)
		fp.rt.exit(job, pod.Exit{})
		fp.sleepUntil(25*time.Second - time.Nanosecond)
		sigs := fp.rt.callsOf("signal")
		if !slices.Equal(procsOf(sigs), []int{logs}) || fp.since(sigs[0].At) != 5*time.Second {
			t.Errorf("signals %v, want logs alone at 5s", sigs)
		}
		if st := fp.p.Status(); st.Phase != pod.PhaseRunning || len(fp.rt.callsOf("killPod")) != 0 {
			t.Errorf("at 25s-1ns: phase %s; calls:%s", st.Phase, fp.rt.dump())
		}
		fp.sleepUntil(25 * time.Second)
		wantOffsets(t, fp, "killPod", fp.offsets(fp.rt.callsOf("killPod")), []time.Duration{25 * time.Second})
		st := fp.p.Status()
		if st.Phase != pod.PhaseSucceeded {
			t.Errorf("phase %s %q, want Succeeded", st.Phase, st.Message)
		}
		if ps := fp.proc("job"); ps.Reason != pod.ReasonCompleted {
			t.Errorf("job: %+v", ps)
		}
		if ps := fp.proc("proxy"); ps.Reason != pod.ReasonKilled || ps.RestartCount != 0 {
			t.Errorf("proxy: %+v", ps)
		}
		select {
		case at := <-ended:
			if fp.since(at) != 25*time.Second {
				t.Errorf("Wait returned at %s", fp.since(at))
			}
		default:
			t.Error("Wait did not return")
		}
		if n := len(fp.rt.callsOf("start")); n != 3 {
			t.Errorf("%d starts, want 3: no sidecar restarts in the wind-down", n)
		}
	})
}

// A second Stop with a shorter grace hastens the first one's deadline;
// both return when the pod is Stopped.
func TestEngineStopHastened(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fp := newFakePod(t, "hasten", `
  processes:
  - name: stubborn
    command: [/bin/stubborn]
`)
		fp.rt.set(func(f *fakeRT) { f.onSignal = func(i, run, sig int) bool { return false } })
		fp.start()
		fp.sleepUntil(time.Second)
		done1, when1 := fp.stopAsync(graceOf(time.Minute))
		fp.sleepUntil(2 * time.Second)
		done2, when2 := fp.stopAsync(graceOf(5 * time.Second))
		fp.sleepUntil(10 * time.Second)
		wantOffsets(t, fp, "signal", fp.offsets(fp.rt.callsOf("signal")), []time.Duration{time.Second})
		wantOffsets(t, fp, "killPod", fp.offsets(fp.rt.callsOf("killPod")), []time.Duration{7 * time.Second})
		for i, w := range []struct {
			done <-chan error
			when *time.Time
		}{{done1, when1}, {done2, when2}} {
			select {
			case err := <-w.done:
				if err != nil || fp.since(*w.when) != 7*time.Second {
					t.Errorf("Stop %d: %v at %s, want nil at 7s", i+1, err, fp.since(*w.when))
				}
			default:
				t.Errorf("Stop %d did not return", i+1)
			}
		}
	})
}

// Reports about an earlier run (a probe answer, an exit) are dropped: they
// neither fail the new run's probe nor end it.
func TestEngineStaleReportsIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const name = "stale"
		fp := newFakePod(t, name, `
  processes:
  - name: app
    command: [/bin/app]
    livenessProbe:
      exec: {command: [/bin/alive]}
      periodSeconds: 10
      failureThreshold: 1
`)
		fp.rt.set(func(f *fakeRT) {
			f.probe = func(i, run int, k pod.ProbeKind) fakeAnswer {
				// Run 1's answer is a failure that comes late.
				return fakeAnswer{OK: run > 1, Message: "timeout", After: 5 * time.Second}
			}
		})
		fp.start()
		j := fakeJitter(name, "app", pod.ProbeLiveness, 10)
		fp.sleepUntil(j + time.Second)
		fp.rt.exit(0, pod.Exit{Code: 1}) // restarts at once, as run 2
		synctest.Wait()
		fp.p.post(pod.Input{Kind: pod.InExited, Proc: 0, Run: 1, Exit: pod.Exit{Code: 7}})
		fp.sleepUntil(j + time.Minute)
		wantOffsets(t, fp, "starts", fp.startTimes(0), []time.Duration{0, j + time.Second})
		if n := len(fp.rt.callsOf("signal", "killProcess")); n != 0 {
			t.Errorf("run 2 stopped for run 1's probe:%s", fp.rt.dump())
		}
		evs := fp.drainEvents()
		if n := len(eventsOf(evs, EventUnhealthy, EventKilling)); n != 0 {
			t.Errorf("%d Unhealthy/Killing events for a stale answer", n)
		}
		if ex := eventsOf(evs, EventExited); len(ex) != 1 || *ex[0].ExitCode != 1 {
			t.Errorf("Exited events %+v, want only run 1's real exit", ex)
		}
		ps := fp.proc("app")
		if ps.State != pod.StateRunning || ps.RestartCount != 1 || ps.LastState.Terminated == nil || ps.LastState.Terminated.ExitCode != 1 {
			t.Errorf("app: %+v", ps)
		}
		// Run 2's probes run from its own start.
		var want []time.Duration
		for d := j + time.Second + j; d <= j+time.Minute; d += 10 * time.Second {
			want = append(want, d)
		}
		probes := fp.rt.probeCalls(0, pod.ProbeLiveness)
		wantOffsets(t, fp, "run 2 probes", fp.offsets(probes[1:]), want)
	})
}
