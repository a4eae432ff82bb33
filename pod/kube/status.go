package kube

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/podvisor/podvisor/pod"
)

// PodObject returns the v1 Pod a pod stands for: the one it was made from
// (pod.Pod.Kubernetes), or, for a podvisor/v1 pod, one built from its
// spec (containers and initContainers with their command, args, env,
// working directory, ports, resources and restart policy).
func PodObject(p *pod.Pod) (*corev1.Pod, error) {
	var kp corev1.Pod
	if len(p.Kubernetes) > 0 {
		if err := json.Unmarshal(p.Kubernetes, &kp); err != nil {
			return nil, fmt.Errorf("pod %q: its Kubernetes object: %w", p.Metadata.Name, err)
		}
		return &kp, nil
	}
	kp.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	ns := p.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	kp.ObjectMeta = metav1.ObjectMeta{
		Name:        p.Metadata.Name,
		Namespace:   ns,
		UID:         types.UID(p.Metadata.UID),
		Labels:      p.Metadata.Labels,
		Annotations: p.Metadata.Annotations,
	}
	s := &p.Spec
	kp.Spec = corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicy(s.RestartPolicy),
		TerminationGracePeriodSeconds: s.TerminationGracePeriodSeconds,
		ActiveDeadlineSeconds:         s.ActiveDeadlineSeconds,
		Hostname:                      s.Hostname,
		Subdomain:                     s.Subdomain,
		HostNetwork:                   s.Network == pod.NetworkHost,
		HostIPC:                       s.HostIPC,
		HostPID:                       s.HostPID,
		ShareProcessNamespace:         s.ShareProcessNamespace,
	}
	for _, pr := range s.InitProcesses {
		kp.Spec.InitContainers = append(kp.Spec.InitContainers, containerOf(&pr))
	}
	for _, pr := range s.Processes {
		kp.Spec.Containers = append(kp.Spec.Containers, containerOf(&pr))
	}
	return &kp, nil
}

// containerOf is the Container a podvisor/v1 process stands for.
func containerOf(pr *pod.Process) corev1.Container {
	c := corev1.Container{Name: pr.Name, Command: pr.Command, Args: pr.Args, WorkingDir: pr.WorkingDir}
	for _, e := range pr.Env {
		c.Env = append(c.Env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	for _, pt := range pr.Ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: pt.Name, ContainerPort: pt.ContainerPort, Protocol: corev1.Protocol(pt.Protocol)})
	}
	if pr.RestartPolicy != "" {
		rp := corev1.ContainerRestartPolicy(pr.RestartPolicy)
		c.RestartPolicy = &rp
	}
	c.Resources = resourcesOf(pr.Resources)
	return c
}

func resourcesOf(r pod.Resources) corev1.ResourceRequirements {
	var out corev1.ResourceRequirements
	put := func(list *corev1.ResourceList, name corev1.ResourceName, q *pod.Quantity) {
		if q == nil {
			return
		}
		v, err := resource.ParseQuantity(q.String())
		if err != nil {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = v
	}
	put(&out.Limits, corev1.ResourceCPU, r.Limits.CPU)
	put(&out.Limits, corev1.ResourceMemory, r.Limits.Memory)
	put(&out.Limits, corev1.ResourceEphemeralStorage, r.Limits.EphemeralStorage)
	put(&out.Requests, corev1.ResourceCPU, r.Requests.CPU)
	put(&out.Requests, corev1.ResourceMemory, r.Requests.Memory)
	put(&out.Requests, corev1.ResourceEphemeralStorage, r.Requests.EphemeralStorage)
	return out
}

// ContainerID is the containerID of a process's run n (1 for its first
// run): podvisor://<pod>/<process>/<n>.
func ContainerID(podName, process string, n int) string {
	return fmt.Sprintf("podvisor://%s/%s/%d", podName, process, n)
}

// PodStatus returns a pod in Kubernetes' shape, a v1 Pod (PodObject) with
// its status filled from st: phase, reason and message, the conditions,
// hostIP (o.HostIP, else the status's) and podIP and podIPs (the pod's
// addresses; the host's with hostNetwork), the
// QoS class, the start time and each process's container status. Of o it
// reads NodeName (spec.nodeName) and HostIP.
//
// The phases map as Kubernetes': Pending and Initializing are Pending,
// Running and Terminating are Running; a pod stopped on request (Stopped)
// is Succeeded when each app process exited 0, else Failed, with reason
// Stopped. A process's run n (its restartCount+1 once it has started) has
// the containerID podvisor://<pod>/<process>/<n>; lastState is run n-1,
// or, while it waits to restart, run n itself.
func PodStatus(p *pod.Pod, st *pod.Status, o Options) (*corev1.Pod, error) {
	kp, err := PodObject(p)
	if err != nil {
		return nil, err
	}
	if !st.CreatedAt.IsZero() {
		kp.CreationTimestamp = metav1.NewTime(st.CreatedAt)
	}
	if o.NodeName != "" {
		kp.Spec.NodeName = o.NodeName
	}
	s := &kp.Status
	s.Phase, s.Reason, s.Message = phaseOf(st)
	hostIP := st.HostIP
	if o.HostIP != "" {
		hostIP = o.HostIP
	}
	if hostIP != "" {
		s.HostIP = hostIP
		s.HostIPs = []corev1.HostIP{{IP: hostIP}}
		if p.Spec.Network == pod.NetworkHost {
			s.PodIP = hostIP
			s.PodIPs = []corev1.PodIP{{IP: hostIP}}
		}
	}
	if p.Spec.Network != pod.NetworkHost && len(st.PodIPs) > 0 {
		s.PodIP = st.PodIPs[0]
		s.PodIPs = nil
		for _, ip := range st.PodIPs {
			s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
		}
	}
	if st.StartedAt != nil {
		t := metav1.NewTime(*st.StartedAt)
		s.StartTime = &t
	}
	s.QOSClass = corev1.PodQOSClass(QOSClass(&p.Spec))
	s.Conditions = conditionsOf(st)
	images := map[string]string{}
	for _, list := range [][]corev1.Container{kp.Spec.InitContainers, kp.Spec.Containers} {
		for _, c := range list {
			images[c.Name] = c.Image
		}
	}
	for _, ps := range st.Init {
		s.InitContainerStatuses = append(s.InitContainerStatuses, containerStatus(p.Metadata.Name, &ps, images[ps.Name]))
	}
	for _, ps := range st.Processes {
		s.ContainerStatuses = append(s.ContainerStatuses, containerStatus(p.Metadata.Name, &ps, images[ps.Name]))
	}
	return kp, nil
}

// phaseOf maps a pod's phase to Kubernetes' phase, reason and message.
func phaseOf(st *pod.Status) (corev1.PodPhase, string, string) {
	switch st.Phase {
	case pod.PhasePending, pod.PhaseInitializing:
		return corev1.PodPending, st.Reason, st.Message
	case pod.PhaseRunning, pod.PhaseTerminating:
		return corev1.PodRunning, st.Reason, st.Message
	case pod.PhaseSucceeded:
		return corev1.PodSucceeded, st.Reason, st.Message
	case pod.PhaseFailed:
		return corev1.PodFailed, st.Reason, st.Message
	case pod.PhaseStopped:
		phase := corev1.PodSucceeded
		for _, ps := range st.Processes {
			if ps.ExitCode == nil || *ps.ExitCode != 0 {
				phase = corev1.PodFailed
			}
		}
		reason := st.Reason
		if reason == "" {
			reason = "Stopped"
		}
		return phase, reason, st.Message
	}
	return corev1.PodUnknown, st.Reason, st.Message
}

// conditionsOf makes the pod's conditions in kubelet's order:
// PodReadyToStartContainers, Initialized, Ready, ContainersReady,
// PodScheduled.
func conditionsOf(st *pod.Status) []corev1.PodCondition {
	byType := map[string]pod.Condition{}
	for _, c := range st.Conditions {
		byType[c.Type] = c
	}
	cond := func(typ corev1.PodConditionType, status bool, at time.Time, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: typ, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
		if status {
			c.Status = corev1.ConditionTrue
		}
		if !at.IsZero() {
			c.LastTransitionTime = metav1.NewTime(at)
		}
		return c
	}
	from := func(typ corev1.PodConditionType, name string) corev1.PodCondition {
		c, ok := byType[name]
		if !ok {
			return cond(typ, false, time.Time{}, "", "")
		}
		out := cond(typ, c.Status == pod.ConditionTrue, c.LastTransitionTime, c.Reason, c.Message)
		if c.Status == pod.ConditionUnknown {
			out.Status = corev1.ConditionUnknown
		}
		return out
	}
	var started time.Time
	if st.StartedAt != nil {
		started = *st.StartedAt
	}
	ready := st.StartedAt != nil && !st.Phase.Ended()
	return []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, ready, started, "", ""),
		from(corev1.PodInitialized, pod.ConditionInitialized),
		from(corev1.PodReady, pod.ConditionReadyPod),
		from(corev1.ContainersReady, pod.ConditionContainersReady),
		cond(corev1.PodScheduled, true, st.CreatedAt, "", ""),
	}
}

// containerStatus is a process's status as a ContainerStatus.
func containerStatus(podName string, ps *pod.ProcessStatus, image string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:         ps.Name,
		Ready:        ps.Ready,
		RestartCount: int32(min(ps.RestartCount, 1<<31-1)),
		Image:        image,
	}
	started := ps.Started
	cs.Started = &started
	ran := ps.StartedAt != nil || ps.LastState.Terminated != nil
	run := ps.RestartCount + 1
	id := func(n int) string {
		if n < 1 {
			return ""
		}
		return ContainerID(podName, ps.Name, n)
	}
	last := run - 1
	switch ps.State {
	case pod.StateRunning:
		r := &corev1.ContainerStateRunning{}
		if ps.StartedAt != nil {
			r.StartedAt = metav1.NewTime(*ps.StartedAt)
		}
		cs.State.Running = r
	case pod.StateTerminated:
		t := &corev1.ContainerStateTerminated{Reason: ps.Reason, Message: ps.Message, ContainerID: id(run)}
		if ps.ExitCode != nil {
			t.ExitCode = int32(*ps.ExitCode)
		}
		if n, ok := pod.ParseSignal(ps.Signal); ok && ps.Signal != "" {
			t.Signal = int32(n)
		}
		if ps.StartedAt != nil {
			t.StartedAt = metav1.NewTime(*ps.StartedAt)
		}
		if ps.FinishedAt != nil {
			t.FinishedAt = metav1.NewTime(*ps.FinishedAt)
		}
		cs.State.Terminated = t
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: ps.Reason, Message: ps.Message}
		// While it waits, the run before is the latest one.
		last = run
	}
	if ran {
		if cs.State.Waiting != nil {
			cs.ContainerID = id(last)
		} else {
			cs.ContainerID = id(run)
		}
	}
	if t := ps.LastState.Terminated; t != nil {
		lt := &corev1.ContainerStateTerminated{
			ExitCode:    int32(t.ExitCode),
			Signal:      int32(t.Signal),
			Reason:      t.Reason,
			Message:     t.Message,
			FinishedAt:  metav1.NewTime(t.FinishedAt),
			ContainerID: id(last),
		}
		if t.StartedAt != nil {
			lt.StartedAt = metav1.NewTime(*t.StartedAt)
		}
		cs.LastTerminationState.Terminated = lt
	}
	return cs
}

// QOSClass is the Kubernetes QoS class of a pod, computed as Kubernetes
// computes it: Guaranteed when every process (init processes included)
// has cpu and memory limits and the pod's summed requests equal its summed
// limits, BestEffort when no process has a cpu or memory request or
// limit, Burstable otherwise. A request left out is its limit, as the
// API server defaults it. When the pod sets pod-level cpu or memory
// resources, they decide instead, as with Kubernetes' pod-level resources.
func QOSClass(s *pod.Spec) string { return pod.QOSClass(s) }
