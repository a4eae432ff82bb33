package supervisor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/cgroups"
	"github.com/podvisor/podvisor/pod"
)

// stdin: true keeps a process's standard input open (a read blocks, it
// does not see EOF); without it, standard input is /dev/null.
func TestProcessStdinOpen(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  terminationGracePeriodSeconds: 1
  processes:
  - name: held
    stdin: true
    command: [sh, -c, 'echo reading; read line; echo "eof after $line"; sleep 1000']
  - name: closed
    restartPolicy: Never
    command: [sh, -c, 'read line; echo "eof at once"']
`)))
	waitLog(t, sv, name, "closed", "eof at once", 10*time.Second)
	waitLog(t, sv, name, "held", "reading", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	for _, l := range logLines(t, sv, name, "held") {
		if strings.Contains(l, "eof after") {
			t.Errorf("an open stdin read EOF: %q", l)
		}
	}
	if st := procStatus(p.Status(), "held"); st.State != pod.StateRunning {
		t.Errorf("held is %s", st.State)
	}
}

// tty: true gives a process a terminal as stdin, stdout and stderr; what it
// writes is logged as stdout.
func TestProcessTTY(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  processes:
  - name: term
    tty: true
    command: [sh, -c, 'if [ -t 0 ] && [ -t 1 ] && [ -t 2 ]; then echo "a terminal: $(tty)"; fi; echo to-stderr >&2']
`)))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	lines := waitLog(t, sv, name, "term", "to-stderr", 5*time.Second)
	found := false
	for _, l := range lines {
		found = found || strings.Contains(l, "a terminal: /dev/pts/")
	}
	if !found {
		t.Errorf("no terminal seen by the process: %q", lines)
	}
}

// CPU and memory requests weigh the process's and the pod's cgroups as
// kubelet weighs them (shares on v1, the equivalent cpu.weight on v2).
func TestRequestsWeighCgroups(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p, err := sv.Create(load(t, podYAML(name, `
  processes:
  - name: a
    command: [sleep, "1000"]
    resources: {requests: {cpu: 250m, memory: 64Mi}}
  - name: b
    command: [sleep, "1000"]
    resources: {requests: {cpu: "1"}}
  - name: c
    command: [sleep, "1000"]
`)))
	if err != nil {
		t.Fatal(err)
	}
	defer sv.Remove(context.Background(), name, RemoveOptions{Force: true})
	st := p.Status()
	v2 := sv.h.Mode == cgroups.Unified
	want := map[string]string{"a": "256", "b": "1024", "": "1280"}
	if v2 {
		// cgroup v2: cpu.weight, converted as the OCI runtimes do.
		for k, shares := range map[string]uint64{"a": 256, "b": 1024, "": 1280} {
			want[k] = strconv.FormatUint(cgroups.WeightOf(shares), 10)
		}
	}
	for proc, w := range want {
		path := st.Cgroup
		if proc != "" {
			path = processCgroup(st.Cgroup, proc)
		}
		file := "cpu.shares"
		if v2 {
			file = "cpu.weight"
		}
		if got := readCgroupFile(t, sv, path, "cpu", file); got != w {
			t.Errorf("%s %s = %s, want %s", path, file, got, w)
		}
	}
	if got := readCgroupFile(t, sv, processCgroup(st.Cgroup, "c"), "cpu", map[bool]string{true: "cpu.weight", false: "cpu.shares"}[v2]); got != "1024" && got != "100" {
		t.Errorf("a process without requests got weight %s, want the default", got)
	}
	if v2 {
		if got := readCgroupFile(t, sv, processCgroup(st.Cgroup, "a"), "memory", "memory.low"); got != "67108864" {
			t.Errorf("memory.low = %s", got)
		}
	}
}

// activeDeadlineSeconds stops a running pod, which ends Failed with reason
// DeadlineExceeded.
func TestActiveDeadlineEndsPod(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  activeDeadlineSeconds: 1
  terminationGracePeriodSeconds: 2
  processes:
  - name: long
    command: [sleep, "1000"]
`)))
	st := waitPhase(t, p, 15*time.Second, pod.PhaseFailed)
	if st.Reason != pod.ReasonDeadlineExceeded || !strings.Contains(st.Message, "deadline") {
		t.Errorf("reason %q message %q", st.Reason, st.Message)
	}
	if ps := procStatus(st, "long"); ps.State != pod.StateTerminated || ps.Signal != "SIGTERM" {
		t.Errorf("long: %+v", ps)
	}
}

// Namespaced sysctls are set in the pod's own namespaces.
func TestPodSysctls(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  restartPolicy: Never
  securityContext:
    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "80"}, {name: kernel.shm_rmid_forced, value: "1"}]
  processes:
  - name: read
    command: [sh, -c, 'echo port=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start) shm=$(cat /proc/sys/kernel/shm_rmid_forced)']
`)))
	waitPhase(t, p, 10*time.Second, pod.PhaseSucceeded)
	waitLog(t, sv, name, "read", "port=80 shm=1", 5*time.Second)
}

// shareProcessNamespace: the pod's processes share a PID namespace whose
// PID 1 is podvisor's pause; ps sees only the pod; orphans are reaped; the
// next run of the pod gets a new namespace.
func TestShareProcessNamespace(t *testing.T) {
	sv := newTestSupervisor(t)
	name := podName(t)
	p := createAndStart(t, sv, load(t, podYAML(name, `
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 1
  processes:
  - name: server
    command: [sleep, "1000"]
  - name: look
    restartPolicy: Never
    command: [sh, -c, 'sh -c "sleep 0.2 &"; sleep 0.5; echo "pid1=$(tr "\0" " " < /proc/1/cmdline)"; echo "self=$$"; ps -e -o pid=,stat=,comm= | tr -s " " | sed "s/^ //"; echo done']
`)))
	lines := waitLog(t, sv, name, "look", "done", 10*time.Second)
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "pid1=podvisor-pause") {
		t.Errorf("PID 1 is not the pause:\n%s", all)
	}
	var procs []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[0] != "" && f[0][0] >= '0' && f[0][0] <= '9' {
			procs = append(procs, l)
			if strings.HasPrefix(f[1], "Z") {
				t.Errorf("a zombie in the pod: %q", l)
			}
		}
	}
	// pause, sleep (server), sh (look), ps and the pipe's tr and sed:
	// nothing of the host's, which has dozens.
	if len(procs) < 4 || len(procs) > 7 || !strings.HasPrefix(procs[0], "1 ") || !strings.Contains(all, "sleep") {
		t.Errorf("ps in the pod saw %d processes:\n%s", len(procs), all)
	}
	st := p.Status()
	if st.Namespaces.PID == "" {
		t.Error("no PID namespace in the status")
	}
	first := nsInode(t, st.Namespaces.PID)
	if err := p.Stop(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	st = waitCond(t, p, 10*time.Second, "server running", func(s *pod.Status) bool {
		return procStatus(*s, "server").State == pod.StateRunning && s.Namespaces.PID != ""
	})
	if nsInode(t, st.Namespaces.PID) == first {
		t.Error("the second run kept the first run's PID namespace")
	}
}
