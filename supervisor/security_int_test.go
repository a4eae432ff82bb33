package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
)

// statusField is a /proc/self/status line's value from a process's log.
func statusField(lines []string, field string) string {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// A process with a security context: the runtime default capabilities
// less the drops plus the adds, no_new_privs, the seccomp filter, its user
// and groups, all visible in its own /proc/self/status; a process of a pod
// without any keeps the capabilities of root.
func TestSecurityContextApplied(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  securityContext: {supplementalGroups: [4242], seccompProfile: {type: RuntimeDefault}}
  processes:
  - name: locked
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
    command: [sh, -c, 'cat /proc/self/status; if unshare -n true 2>/dev/null; then echo unshare-allowed; else echo unshare-denied; fi']
  - name: user
    securityContext: {runAsUser: 65534, runAsGroup: 65534}
    command: [cat, /proc/self/status]
`)))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	locked := waitLog(t, sv, name, "locked", "unshare-", 5*time.Second)
	// NET_BIND_SERVICE is capability 10.
	if got := statusField(locked, "CapBnd"); got != "0000000000000400" {
		t.Errorf("locked CapBnd %s, want only NET_BIND_SERVICE", got)
	}
	if got := statusField(locked, "CapEff"); got != "0000000000000400" {
		t.Errorf("locked CapEff %s", got)
	}
	for _, f := range []string{"CapInh", "CapAmb"} {
		if got := statusField(locked, f); got != "0000000000000000" {
			t.Errorf("locked %s %s", f, got)
		}
	}
	if statusField(locked, "NoNewPrivs") != "1" || statusField(locked, "Seccomp") != "2" {
		t.Errorf("locked NoNewPrivs %q Seccomp %q", statusField(locked, "NoNewPrivs"), statusField(locked, "Seccomp"))
	}
	if !strings.Contains(strings.Join(locked, "\n"), "unshare-denied") {
		t.Error("unshare worked under the runtime default filter")
	}
	if g := statusField(locked, "Groups"); !strings.Contains(g, "4242") {
		t.Errorf("supplementalGroups not applied: Groups %q", g)
	}
	user := waitLog(t, sv, name, "user", "CapBnd", 5*time.Second)
	if u := statusField(user, "Uid"); !strings.HasPrefix(u, "65534\t65534") {
		t.Errorf("user Uid %q", u)
	}
	if g := statusField(user, "Gid"); !strings.HasPrefix(g, "65534\t65534") {
		t.Errorf("user Gid %q", g)
	}
	// The default set: 14 capabilities, none of them SYS_ADMIN (21).
	if got := statusField(user, "CapBnd"); got != "00000000a80425fb" {
		t.Errorf("default CapBnd %s, want the container runtimes' default set", got)
	}
	if got := statusField(user, "CapEff"); got != "0000000000000000" {
		t.Errorf("non-root CapEff %s", got)
	}

	// Without any security context, root keeps its capabilities.
	plain := podName(t)
	q := createAndStart(t, sv, load(t, podYAML(plain, `
  restartPolicy: Never
  processes:
  - name: root
    command: [cat, /proc/self/status]
`)))
	waitPhase(t, q, 10*time.Second, pod.PhaseSucceeded)
	lines := waitLog(t, sv, plain, "root", "CapBnd", 5*time.Second)
	if eff := statusField(lines, "CapEff"); eff == "0000000000000000" || eff == "00000000a80425fb" || statusField(lines, "NoNewPrivs") != "0" {
		t.Errorf("a process without a security context: CapEff %s NoNewPrivs %s", eff, statusField(lines, "NoNewPrivs"))
	}
}

// runAsNonRoot refuses to start a process that would run as root: it
// waits with CreateContainerConfigError and never runs.
func TestRunAsNonRootRefusesRoot(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	ev := recordEvents(t, sv, name)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true}
  processes:
  - name: root
    command: [sh, -c, 'echo ran']
  - name: ok
    securityContext: {runAsUser: 1000}
    command: [sleep, "1000"]
`)))
	st := waitCond(t, p, 10*time.Second, "root refused", func(s *pod.Status) bool {
		r := procStatus(*s, "root")
		return r.Reason == pod.ReasonCreateContainerConfigError && procStatus(*s, "ok").State == pod.StateRunning
	})
	r := procStatus(st, "root")
	if r.State != pod.StateWaiting || r.LastState.Terminated == nil || !strings.Contains(r.LastState.Terminated.Message, "runAsNonRoot") {
		t.Errorf("root: %+v", r)
	}
	ev.wait(t, 5*time.Second, 1, EventStartFailed, "root", pod.ReasonCreateContainerConfigError)
	if lines := logLines(t, sv, name, "root"); len(lines) != 0 {
		t.Errorf("the refused process ran: %q", lines)
	}
}
