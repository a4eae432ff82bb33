package kubenode

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
)

// NodeAnnotation marks the podvisor pods a node agent made with its node's
// name, so that a restarted agent finds its own (kube.NodeAnnotation).
const NodeAnnotation = kube.NodeAnnotation

// DefaultTaint keeps Pods that do not tolerate it off podvisor nodes: their
// containers' images are not run, their commands are, on the host.
var DefaultTaint = corev1.Taint{Key: "podvisor.io/host-processes", Value: "true", Effect: corev1.TaintEffectNoSchedule}

// PodName is the podvisor pod of a Kubernetes Pod: <namespace>.<name>
// (namespaces have no dots, so no two Pods share one).
func PodName(namespace, name string) string {
	if namespace == "" {
		namespace = "default"
	}
	return namespace + "." + name
}

// ownedBy reports whether a podvisor pod is the node's, and the Pod's
// namespace and name.
func ownedBy(spec *pod.Pod, node string) bool {
	return spec.Metadata.Annotations[NodeAnnotation] == node && spec.Metadata.Annotations[kube.NameAnnotation] == spec.Metadata.Name
}
