package kubenode

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
)

func TestPodNameAndOwner(t *testing.T) {
	if PodName("shop", "web-1") != "shop.web-1" || PodName("", "x") != "default.x" {
		t.Errorf("PodName: %s %s", PodName("shop", "web-1"), PodName("", "x"))
	}
	mine := &pod.Pod{Metadata: pod.Metadata{Name: "shop.web-1", Annotations: map[string]string{NodeAnnotation: "n1", kube.NameAnnotation: "shop.web-1"}}}
	if !ownedBy(mine, "n1") || ownedBy(mine, "n2") {
		t.Error("ownedBy by node")
	}
	renamed := &pod.Pod{Metadata: pod.Metadata{Name: "other", Annotations: map[string]string{NodeAnnotation: "n1", kube.NameAnnotation: "shop.web-1"}}}
	if ownedBy(renamed, "n1") || ownedBy(&pod.Pod{}, "n1") {
		t.Error("a pod not named by its annotation, or unmarked, is not the node's")
	}
}

func TestReferenced(t *testing.T) {
	opt := true
	s := &corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm1"}}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s1"}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s2"}, Optional: &opt}},
			}}}},
		},
		InitContainers: []corev1.Container{{Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s3"}}}}}}},
		Containers: []corev1.Container{{
			Env:     []corev1.EnvVar{{Name: "Y", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm1"}}}}},
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm2"}}}},
		}},
	}
	cms, secs := referenced(s)
	if !slices.Equal(cms, []string{"cm1", "cm2", "kube-root-ca.crt"}) || !slices.Equal(secs, []string{"s1", "s2", "s3"}) {
		t.Errorf("referenced: %v %v", cms, secs)
	}
}

func TestConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	c := conditions(true, map[corev1.NodeConditionType]bool{corev1.NodeMemoryPressure: true}, t0, nil)
	got := map[corev1.NodeConditionType]corev1.ConditionStatus{}
	for _, x := range c {
		got[x.Type] = x.Status
	}
	if got[corev1.NodeReady] != corev1.ConditionTrue || got[corev1.NodeMemoryPressure] != corev1.ConditionTrue ||
		got[corev1.NodeDiskPressure] != corev1.ConditionFalse || got[corev1.NodePIDPressure] != corev1.ConditionFalse {
		t.Errorf("conditions %v", got)
	}
	// The daemon gone: not Ready; an unchanged condition keeps its
	// transition time, a changed one takes the new.
	t1 := metav1.NewTime(t0.Add(time.Minute))
	c2 := conditions(false, map[corev1.NodeConditionType]bool{corev1.NodeMemoryPressure: true}, t1, c)
	for _, x := range c2 {
		switch x.Type {
		case corev1.NodeReady:
			if x.Status != corev1.ConditionFalse || !x.LastTransitionTime.Equal(&t1) {
				t.Errorf("Ready %+v", x)
			}
		case corev1.NodeMemoryPressure:
			if !x.LastTransitionTime.Equal(&t0) || !x.LastHeartbeatTime.Equal(&t1) {
				t.Errorf("MemoryPressure %+v", x)
			}
		}
	}
}

func TestTerminated(t *testing.T) {
	kp := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	out := terminated(kp)
	if out.Status.Phase != corev1.PodSucceeded || out.Status.ContainerStatuses[0].Ready || out.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Errorf("terminated: %+v", out.Status)
	}
	if kp.Status.Phase != corev1.PodRunning {
		t.Error("terminated changed its argument")
	}
}
