package kube

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/pod"
)

func TestQOSClass(t *testing.T) {
	proc := func(r pod.Resources) pod.Process { return pod.Process{Name: "a", Command: []string{"x"}, Resources: r} }
	lim := func(cpu, mem string) pod.Limits {
		var l pod.Limits
		if cpu != "" {
			l.CPU = q(cpu)
		}
		if mem != "" {
			l.Memory = q(mem)
		}
		return l
	}
	req := func(cpu, mem string) pod.Requests {
		var r pod.Requests
		if cpu != "" {
			r.CPU = q(cpu)
		}
		if mem != "" {
			r.Memory = q(mem)
		}
		return r
	}
	cases := []struct {
		name string
		spec pod.Spec
		want string
	}{
		{"nothing", pod.Spec{Processes: []pod.Process{proc(pod.Resources{})}}, "BestEffort"},
		{"pids only", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: pod.Limits{Pids: ptr(int64(10))}})}}, "BestEffort"},
		{"limits only: requests default to them", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: lim("1", "1Gi")})}}, "Guaranteed"},
		{"equal", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: lim("500m", "128Mi"), Requests: req("0.5", "128Mi")})}}, "Guaranteed"},
		{"request below limit", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: lim("1", "1Gi"), Requests: req("500m", "")})}}, "Burstable"},
		{"cpu limit only", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: lim("1", "")})}}, "Burstable"},
		{"requests only", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Requests: req("100m", "")})}}, "Burstable"},
		{"one of two guaranteed", pod.Spec{Processes: []pod.Process{proc(pod.Resources{Limits: lim("1", "1Gi")}), proc(pod.Resources{})}}, "Burstable"},
		{"init counts", pod.Spec{InitProcesses: []pod.Process{proc(pod.Resources{})}, Processes: []pod.Process{proc(pod.Resources{Limits: lim("1", "1Gi")})}}, "Burstable"},
		{"pod-level guaranteed", pod.Spec{Resources: pod.Resources{Limits: lim("2", "2Gi")}, Processes: []pod.Process{proc(pod.Resources{Requests: req("100m", "")})}}, "Guaranteed"},
		{"pod-level burstable", pod.Spec{Resources: pod.Resources{Limits: lim("2", ""), Requests: req("1", "")}, Processes: []pod.Process{proc(pod.Resources{})}}, "Burstable"},
	}
	for _, tc := range cases {
		if got := QOSClass(&tc.spec); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPodStatus(t *testing.T) {
	p := onePod(t, `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  initContainers:
  - {name: init, image: busybox:1.28, command: [sh, -c, "true"]}
  - {name: log, image: fluent-bit, command: [tail], restartPolicy: Always}
  containers:
  - {name: app, image: nginx:1.25, command: [nginx], resources: {limits: {cpu: 500m, memory: 128Mi}}}
  - {name: worker, command: [work]}
`)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	code := func(c int) *int { return &c }
	st := &pod.Status{
		Name: "web", Phase: pod.PhaseRunning, CreatedAt: t0, StartedAt: at(1),
		Init: []pod.ProcessStatus{
			{Name: "init", State: pod.StateTerminated, Reason: pod.ReasonCompleted, StartedAt: at(1), FinishedAt: at(2), ExitCode: code(0)},
			{Name: "log", State: pod.StateRunning, Sidecar: true, Ready: true, Started: true, StartedAt: at(2)},
		},
		Processes: []pod.ProcessStatus{
			{Name: "app", State: pod.StateRunning, Ready: true, Started: true, RestartCount: 2, StartedAt: at(30),
				LastState: pod.LastState{Terminated: &pod.Terminated{ExitCode: 137, Signal: 9, Reason: pod.ReasonOOMKilled, StartedAt: at(10), FinishedAt: *at(20)}}},
			{Name: "worker", State: pod.StateWaiting, Reason: pod.ReasonCrashLoopBackOff, Message: "back-off 10s", RestartCount: 0, StartedAt: at(3), FinishedAt: at(4), ExitCode: code(1),
				LastState: pod.LastState{Terminated: &pod.Terminated{ExitCode: 1, Reason: pod.ReasonError, StartedAt: at(3), FinishedAt: *at(4)}}},
		},
		Conditions: []pod.Condition{
			{Type: pod.ConditionInitialized, Status: pod.ConditionTrue, LastTransitionTime: *at(2)},
			{Type: pod.ConditionContainersReady, Status: pod.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: *at(4)},
			{Type: pod.ConditionReadyPod, Status: pod.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: *at(4)},
		},
	}
	kp, err := PodStatus(p, st, Options{NodeName: "node1", HostIP: "192.0.2.10"})
	if err != nil {
		t.Fatal(err)
	}
	s := kp.Status
	if kp.Kind != "Pod" || kp.Name != "web" || kp.Namespace != "shop" || !kp.CreationTimestamp.Time.Equal(t0) || kp.Spec.NodeName != "node1" {
		t.Errorf("object %+v", kp.ObjectMeta)
	}
	if s.Phase != corev1.PodRunning || s.HostIP != "192.0.2.10" || s.PodIP != "" || !s.StartTime.Time.Equal(*at(1)) || s.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("status %+v", s)
	}
	wantConds := []struct {
		typ    corev1.PodConditionType
		status corev1.ConditionStatus
	}{
		{corev1.PodReadyToStartContainers, corev1.ConditionTrue}, {corev1.PodInitialized, corev1.ConditionTrue},
		{corev1.PodReady, corev1.ConditionFalse}, {corev1.ContainersReady, corev1.ConditionFalse}, {corev1.PodScheduled, corev1.ConditionTrue},
	}
	for i, w := range wantConds {
		if c := s.Conditions[i]; c.Type != w.typ || c.Status != w.status {
			t.Errorf("condition %d: %s %s, want %s %s", i, c.Type, c.Status, w.typ, w.status)
		}
	}
	if s.Conditions[2].Reason != "ContainersNotReady" || !s.Conditions[2].LastTransitionTime.Time.Equal(*at(4)) {
		t.Errorf("Ready %+v", s.Conditions[2])
	}
	if len(s.InitContainerStatuses) != 2 || len(s.ContainerStatuses) != 2 {
		t.Fatalf("%+v", s)
	}
	init := s.InitContainerStatuses[0]
	if init.State.Terminated == nil || init.State.Terminated.Reason != "Completed" || init.Image != "busybox:1.28" || init.ContainerID != "podvisor://web/init/1" ||
		init.State.Terminated.ContainerID != "podvisor://web/init/1" || !init.State.Terminated.FinishedAt.Time.Equal(*at(2)) {
		t.Errorf("init %+v", init)
	}
	if log := s.InitContainerStatuses[1]; log.State.Running == nil || !log.Ready || !*log.Started {
		t.Errorf("sidecar %+v", log)
	}
	app := s.ContainerStatuses[0]
	if app.State.Running == nil || !app.State.Running.StartedAt.Time.Equal(*at(30)) || app.RestartCount != 2 || app.ContainerID != "podvisor://web/app/3" ||
		app.LastTerminationState.Terminated == nil || app.LastTerminationState.Terminated.ExitCode != 137 || app.LastTerminationState.Terminated.Signal != 9 ||
		app.LastTerminationState.Terminated.Reason != "OOMKilled" || app.LastTerminationState.Terminated.ContainerID != "podvisor://web/app/2" || app.Image != "nginx:1.25" {
		t.Errorf("app %+v", app)
	}
	w := s.ContainerStatuses[1]
	if w.State.Waiting == nil || w.State.Waiting.Reason != "CrashLoopBackOff" || w.ContainerID != "podvisor://web/worker/1" ||
		w.LastTerminationState.Terminated.ContainerID != "podvisor://web/worker/1" || w.Ready || *w.Started || w.Image != "" {
		t.Errorf("worker %+v", w)
	}
}

func TestPodStatusPhases(t *testing.T) {
	p := onePod(t, podSpec(`{hostNetwork: true, containers: [{name: a, command: [x]}]}`))
	code := func(c int) *int { return &c }
	cases := []struct {
		st     pod.Status
		phase  corev1.PodPhase
		reason string
	}{
		{pod.Status{Phase: pod.PhasePending}, corev1.PodPending, ""},
		{pod.Status{Phase: pod.PhaseInitializing}, corev1.PodPending, ""},
		{pod.Status{Phase: pod.PhaseTerminating}, corev1.PodRunning, ""},
		{pod.Status{Phase: pod.PhaseSucceeded}, corev1.PodSucceeded, ""},
		{pod.Status{Phase: pod.PhaseFailed, Reason: pod.ReasonDeadlineExceeded}, corev1.PodFailed, "DeadlineExceeded"},
		{pod.Status{Phase: pod.PhaseStopped, Processes: []pod.ProcessStatus{{Name: "a", State: pod.StateTerminated, ExitCode: code(0)}}}, corev1.PodSucceeded, "Stopped"},
		{pod.Status{Phase: pod.PhaseStopped, Processes: []pod.ProcessStatus{{Name: "a", State: pod.StateTerminated, ExitCode: code(143)}}}, corev1.PodFailed, "Stopped"},
	}
	for _, tc := range cases {
		kp, err := PodStatus(p, &tc.st, Options{HostIP: "192.0.2.10"})
		if err != nil {
			t.Fatal(err)
		}
		if kp.Status.Phase != tc.phase || kp.Status.Reason != tc.reason {
			t.Errorf("%s: %s %q, want %s %q", tc.st.Phase, kp.Status.Phase, kp.Status.Reason, tc.phase, tc.reason)
		}
		if kp.Status.PodIP != "192.0.2.10" {
			t.Errorf("hostNetwork pod IP %q", kp.Status.PodIP)
		}
		if ready := kp.Status.Conditions[0]; ready.Status != corev1.ConditionFalse {
			t.Errorf("%s: PodReadyToStartContainers %s without a start", tc.st.Phase, ready.Status)
		}
	}
}

func TestPodObjectOfPodvisorPod(t *testing.T) {
	p, err := pod.Load([]byte(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: native, labels: {a: b}}
spec:
  initProcesses: [{name: side, command: [tail], restartPolicy: Always}]
  processes: [{name: a, command: [x], args: [y], env: [{name: K, value: v}], ports: [{containerPort: 80}], resources: {limits: {cpu: "1", memory: 1Gi}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := PodStatus(p, &pod.Status{Phase: pod.PhaseRunning}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := kp.Spec.Containers[0]
	if kp.Namespace != "default" || kp.Labels["a"] != "b" || c.Command[0] != "x" || c.Args[0] != "y" || c.Env[0].Value != "v" || c.Ports[0].ContainerPort != 80 ||
		c.Resources.Limits.Cpu().String() != "1" || *kp.Spec.InitContainers[0].RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Errorf("%+v", kp)
	}
	if kp.Status.QOSClass != corev1.PodQOSBurstable { // the sidecar has no limits
		t.Errorf("qos %s", kp.Status.QOSClass)
	}
}

func TestPodStatusPodIPs(t *testing.T) {
	p := onePod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: app, command: [run]}\n")
	st := &pod.Status{Name: "web", Phase: pod.PhaseRunning, PodIP: "10.77.0.5", PodIPs: []string{"10.77.0.5", "fd77::5"}, HostIP: "192.0.2.7"}
	kp, err := PodStatus(p, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := &kp.Status; s.PodIP != "10.77.0.5" || len(s.PodIPs) != 2 || s.PodIPs[1].IP != "fd77::5" || s.HostIP != "192.0.2.7" {
		t.Errorf("podIP %q podIPs %v hostIP %q", s.PodIP, s.PodIPs, s.HostIP)
	}
}
