package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// NameAnnotation names the podvisor pod made from a Kubernetes Pod when it
// must differ from metadata.name: a node agent runs the pods of every
// namespace in one daemon, as <namespace>.<name>. metadata.name stays the
// pod's Kubernetes name: the downward API's, the host name's, the status's.
const NameAnnotation = "podvisor.io/name"

// NodeAnnotation marks the podvisor pods a node agent made with its node's
// name, so that a restarted agent finds its own. Like NameAnnotation, the
// downward API does not show it.
const NodeAnnotation = "podvisor.io/node"

// The annotations that still stand for security fields: the API server
// copies them into the fields they stand for when a pod is created
// (unless the field is set, which must then agree), so kubelet honours
// them as it honours the fields.
const (
	// appArmorAnnotation + a container's name: its AppArmor profile
	// (runtime/default, unconfined, localhost/<profile>), the
	// appArmorProfile field of before Kubernetes 1.30.
	appArmorAnnotation = "container.apparmor.security.beta.kubernetes.io/"
	// seccompPodAnnotation: the pod's seccomp profile (runtime/default,
	// docker/default, unconfined, localhost/<path>), the seccompProfile
	// field of before Kubernetes 1.19.
	seccompPodAnnotation = "seccomp.security.alpha.kubernetes.io/pod"
	// seccompAnnotation + a container's name: a container's.
	seccompAnnotation = "container.seccomp.security.alpha.kubernetes.io/"
)

// securityAnnotations reads the AppArmor and seccomp annotations of the
// pod as the API server does: each becomes the securityContext field it
// stands for, when that field is not set; a value podvisor cannot honour
// is refused at the annotation's path, as the field's would be. path is
// the annotations' path in the document.
func (t *translator) securityAnnotations(ann map[string]string, path string, s *corev1.PodSpec) {
	for _, k := range sortedKeys(ann) {
		v, kp := ann[k], path+"["+k+"]"
		switch {
		case k == seccompPodAnnotation:
			var cur *corev1.SeccompProfile
			if s.SecurityContext != nil {
				cur = s.SecurityContext.SeccompProfile
			}
			if p := t.seccompAnnotation(v, kp, cur, t.specPath+".securityContext.seccompProfile"); p != nil {
				if s.SecurityContext == nil {
					s.SecurityContext = &corev1.PodSecurityContext{}
				}
				s.SecurityContext.SeccompProfile = p
			}
		case strings.HasPrefix(k, seccompAnnotation):
			name := strings.TrimPrefix(k, seccompAnnotation)
			c, cp := containerNamed(s, name, t.specPath)
			if c == nil {
				// The API server takes it, and it has no effect.
				t.notice("%s has no effect: the pod has no container %q", kp, name)
				continue
			}
			var cur *corev1.SeccompProfile
			if c.SecurityContext != nil {
				cur = c.SecurityContext.SeccompProfile
			}
			if p := t.seccompAnnotation(v, kp, cur, cp+".securityContext.seccompProfile"); p != nil {
				if c.SecurityContext == nil {
					c.SecurityContext = &corev1.SecurityContext{}
				}
				c.SecurityContext.SeccompProfile = p
			}
		case strings.HasPrefix(k, appArmorAnnotation):
			name := strings.TrimPrefix(k, appArmorAnnotation)
			c, cp := containerNamed(s, name, t.specPath)
			if c == nil {
				t.err(kp, "the pod has no container %q", name)
				continue
			}
			t.appArmorAnnotation(v, kp, c, cp)
		}
	}
}

// containerNamed is the init or app container of a name, and its path.
func containerNamed(s *corev1.PodSpec, name, sp string) (*corev1.Container, string) {
	for i := range s.InitContainers {
		if s.InitContainers[i].Name == name {
			return &s.InitContainers[i], fmt.Sprintf("%s.initContainers[%d]", sp, i)
		}
	}
	for i := range s.Containers {
		if s.Containers[i].Name == name {
			return &s.Containers[i], fmt.Sprintf("%s.containers[%d]", sp, i)
		}
	}
	return nil, ""
}

// seccompAnnotation reads a seccomp annotation at path kp: the profile the
// field at fieldPath gets, or nil when the field is set already (cur) or
// the annotation is wrong. A Localhost profile is refused as the field's
// type Localhost is (RuntimeDefault stands in for it with
// IgnoreUnsupported).
func (t *translator) seccompAnnotation(v, kp string, cur *corev1.SeccompProfile, fieldPath string) *corev1.SeccompProfile {
	var typ corev1.SeccompProfileType
	switch {
	case v == "runtime/default" || v == "docker/default":
		typ = corev1.SeccompProfileTypeRuntimeDefault
	case v == "unconfined":
		typ = corev1.SeccompProfileTypeUnconfined
	case strings.HasPrefix(v, "localhost/") && len(v) > len("localhost/"):
		typ = corev1.SeccompProfileTypeLocalhost
	default:
		t.err(kp, "unsupported value %q: must be runtime/default, docker/default, unconfined or localhost/<profile>", v)
		return nil
	}
	if cur != nil {
		if cur.Type != typ {
			t.err(kp, "%q does not match %s.type %s: the annotation and the field must agree", v, fieldPath, cur.Type)
		}
		return nil
	}
	if typ == corev1.SeccompProfileTypeLocalhost {
		t.refuseInstead(kp, "RuntimeDefault stands in for it",
			"%q is a seccomp Localhost profile: not supported: podvisor applies RuntimeDefault (the container runtimes' default filter) or Unconfined", v)
		typ = corev1.SeccompProfileTypeRuntimeDefault
	}
	return &corev1.SeccompProfile{Type: typ}
}

// appArmorAnnotation reads a container's AppArmor annotation at path kp
// as its appArmorProfile field: unconfined is what podvisor gives anyway;
// runtime/default and localhost/<profile> are refused, as the field's
// types RuntimeDefault and Localhost are.
func (t *translator) appArmorAnnotation(v, kp string, c *corev1.Container, cp string) {
	var typ corev1.AppArmorProfileType
	switch {
	case v == "runtime/default":
		typ = corev1.AppArmorProfileTypeRuntimeDefault
	case v == "unconfined":
		typ = corev1.AppArmorProfileTypeUnconfined
	case strings.HasPrefix(v, "localhost/") && len(v) > len("localhost/"):
		typ = corev1.AppArmorProfileTypeLocalhost
	default:
		t.err(kp, "unsupported value %q: must be runtime/default, unconfined or localhost/<profile>", v)
		return
	}
	if sc := c.SecurityContext; sc != nil && sc.AppArmorProfile != nil {
		if sc.AppArmorProfile.Type != typ {
			t.err(kp, "%q does not match %s.securityContext.appArmorProfile.type %s: the annotation and the field must agree", v, cp, sc.AppArmorProfile.Type)
		}
		return
	}
	if typ != corev1.AppArmorProfileTypeUnconfined {
		t.refuse(kp, "%q (AppArmor type %s) is not supported: podvisor applies no AppArmor profile", v, typ)
		return
	}
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
	}
	c.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: typ}
}
