package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// explain, on real processes: each cause the explanation names, with its
// evidence (exit codes, back-off, output, probe output, hook output, the
// OOM limit, the start error's path and user, the dependency and the init
// process waited for).
func TestExplainCauses(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  processes:
  - name: crash
    command: [sh, -c, 'echo starting; echo "fatal: no config file" >&2; exit 3']
  - name: nopath
    command: [/nonexistent/podvisor-test/bin]
  - name: nouser
    command: [sleep, "1000"]
    user: nosuchuser-podvisor
  - name: db
    command: [sleep, "1000"]
    readinessProbe:
      exec: {command: [sh, -c, 'echo db is unreachable; exit 1']}
      periodSeconds: 1
  - name: web
    command: [sleep, "1000"]
    dependsOn: [{name: db, condition: Ready}]
  - name: hooked
    command: [sleep, "1000"]
    lifecycle:
      postStart: {exec: {command: [sh, -c, 'echo the hook broke >&2; exit 2']}}
  - name: hog
    `+helperCmd(t, "hog")+`
    resources: {limits: {memory: 32Mi}}
`)))
	want := map[string]struct {
		cause string
		text  []string
	}{
		"crash":  {pod.CauseCrashLoop, []string{"exit code 3 (Error)", "Back-off 10s: the next start is in", "Exit codes of its last runs, oldest first: 3, 3."}},
		"nopath": {pod.CauseStartError, []string{"/nonexistent/podvisor-test/bin"}},
		"nouser": {pod.CauseStartError, []string{"nosuchuser-podvisor"}},
		"db":     {pod.CauseProbeFailing, []string{"its readiness probe failed", "db is unreachable"}},
		"web":    {pod.CauseWaitingForDependencies, []string{"Dependency db (condition Ready) is Running, not ready."}},
		"hooked": {pod.CauseHookFailed, []string{"postStart hook failed", "the hook broke"}},
		"hog":    {pod.CauseOOMKilled, []string{"OOM killer", "memory limit 32Mi, the process's"}},
	}
	var ex pod.Explanation
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		ex, err = p.Explain("")
		if err != nil {
			t.Fatal(err)
		}
		missing := ""
		for _, x := range ex.Processes {
			w := want[x.Name]
			if x.Cause != w.cause || x.Name == "crash" && len(x.RecentExits) < 2 || x.Name == "db" && !strings.Contains(x.Summary, "failed 2 times") {
				missing = x.Name
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, %s is not explained as %s:\n%+v", missing, want[missing].cause, ex)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, x := range ex.Processes {
		all := x.Summary + "\n" + strings.Join(x.Details, "\n")
		for _, s := range want[x.Name].text {
			if !strings.Contains(all, s) {
				t.Errorf("%s: %q is not in:\n%s", x.Name, s, all)
			}
		}
	}
	crash := ex.Processes[0]
	if crash.NextStartAt == nil || crash.Backoff != "10s" || strings.Join(crash.LastOutput, "\n") == "" ||
		!strings.Contains(strings.Join(crash.LastOutput, "\n"), "fatal: no config file") {
		t.Errorf("crash: next start %v backoff %q output %q", crash.NextStartAt, crash.Backoff, crash.LastOutput)
	}
	if !strings.Contains(ex.Summary, "0 of 7 processes ready") {
		t.Errorf("summary %q", ex.Summary)
	}
	// One process; an unknown one.
	if one, err := p.Explain("hog"); err != nil || len(one.Processes) != 1 || one.Processes[0].OOMKills < 1 || one.Processes[0].MemoryLimitBytes != 32<<20 {
		t.Errorf("explain hog: %v %+v", err, one.Processes)
	}
	if _, err := p.Explain("nosuch"); !errors.Is(err, pod.ErrNotFound) {
		t.Errorf("explain nosuch: %v, want ErrNotFound", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sv.Remove(ctx, name, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

// An app process waits for an init process, and says which.
func TestExplainInitWait(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  initProcesses:
  - {name: migrate, command: [sleep, "1000"]}
  processes:
  - {name: app, command: [sleep, "1000"]}
`)))
	waitCond(t, p, 10*time.Second, "migrate running", func(s *pod.Status) bool { return s.Init[0].State == pod.StateRunning })
	ex, err := p.Explain("app")
	if err != nil {
		t.Fatal(err)
	}
	if x := ex.Processes[0]; x.Cause != pod.CauseWaitingForInit || !strings.Contains(strings.Join(x.Details, " "), "Init process migrate is Running.") {
		t.Errorf("app: %+v", x)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sv.Remove(ctx, name, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}
