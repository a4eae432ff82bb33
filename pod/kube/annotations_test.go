package kube

import (
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// annotated is a Pod manifest with the given annotations and spec (flow
// style).
func annotated(ann, spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: " + ann + "\nspec: " + spec + "\n"
}

const (
	aaHello  = "container.apparmor.security.beta.kubernetes.io/hello"
	scPod    = "seccomp.security.alpha.kubernetes.io/pod"
	scHello  = "container.seccomp.security.alpha.kubernetes.io/hello"
	helloCtr = `{containers: [{name: hello, command: [x]}]}`
)

// TestSecurityAnnotationsRefused: an AppArmor or seccomp annotation whose
// value podvisor cannot honour is refused at the annotation's path, as the
// field it stands for would be.
func TestSecurityAnnotationsRefused(t *testing.T) {
	cases := []struct {
		name, src, field, detail string
	}{
		{"AppArmor localhost", annotated(`{`+aaHello+`: localhost/k8s-apparmor-example-deny-write}`, helloCtr),
			"metadata.annotations[" + aaHello + "]", `"localhost/k8s-apparmor-example-deny-write" (AppArmor type Localhost) is not supported: podvisor applies no AppArmor profile`},
		{"AppArmor runtime/default, as the field's RuntimeDefault", annotated(`{`+aaHello+`: runtime/default}`, helloCtr),
			"metadata.annotations[" + aaHello + "]", `"runtime/default" (AppArmor type RuntimeDefault) is not supported`},
		{"AppArmor of an init container", annotated(`{`+aaHello+`: localhost/x}`, `{initContainers: [{name: hello, command: [x]}], containers: [{name: a, command: [y]}]}`),
			"metadata.annotations[" + aaHello + "]", "is not supported"},
		{"AppArmor of no container", annotated(`{container.apparmor.security.beta.kubernetes.io/nope: unconfined}`, helloCtr),
			"metadata.annotations[container.apparmor.security.beta.kubernetes.io/nope]", `the pod has no container "nope"`},
		{"AppArmor bad value", annotated(`{`+aaHello+`: enforce}`, helloCtr),
			"metadata.annotations[" + aaHello + "]", `unsupported value "enforce": must be runtime/default, unconfined or localhost/<profile>`},
		{"AppArmor against the field", annotated(`{`+aaHello+`: runtime/default}`, `{containers: [{name: hello, command: [x], securityContext: {appArmorProfile: {type: Unconfined}}}]}`),
			"metadata.annotations[" + aaHello + "]", `"runtime/default" does not match spec.containers[0].securityContext.appArmorProfile.type Unconfined: the annotation and the field must agree`},
		{"seccomp pod localhost", annotated(`{`+scPod+`: localhost/profiles/audit.json}`, helloCtr),
			"metadata.annotations[" + scPod + "]", `"localhost/profiles/audit.json" is a seccomp Localhost profile: not supported`},
		{"seccomp container localhost", annotated(`{`+scHello+`: localhost/profiles/audit.json}`, helloCtr),
			"metadata.annotations[" + scHello + "]", "seccomp Localhost profile: not supported"},
		{"seccomp bad value", annotated(`{`+scPod+`: default}`, helloCtr),
			"metadata.annotations[" + scPod + "]", `unsupported value "default": must be runtime/default, docker/default, unconfined or localhost/<profile>`},
		{"seccomp against the field", annotated(`{`+scPod+`: unconfined}`, `{securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: [{name: hello, command: [x]}]}`),
			"metadata.annotations[" + scPod + "]", `"unconfined" does not match spec.securityContext.seccompProfile.type RuntimeDefault`},
		{"a workload's template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}, annotations: {" + aaHello + ": localhost/x}}\n    spec: " + helloCtr + "\n",
			"spec.template.metadata.annotations[" + aaHello + "]", "(AppArmor type Localhost) is not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines := loadErr(t, tc.src)
			if !hasLine(lines, tc.field, tc.detail) {
				t.Errorf("no problem %q at %s in\n%s", tc.detail, tc.field, strings.Join(lines, "\n"))
			}
			if len(lines) != 1 {
				t.Errorf("%d problems, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
			}
		})
	}
}

// TestSecurityAnnotationsAccepted: what the annotations map to.
func TestSecurityAnnotationsAccepted(t *testing.T) {
	seccompOf := func(sc *pod.SeccompProfile) string {
		if sc == nil {
			return "<nil>"
		}
		return sc.Type
	}
	cases := []struct {
		name, ann, spec string
		pod, hello      string // the seccomp type of the pod and of container hello
	}{
		{"AppArmor unconfined", `{` + aaHello + `: unconfined}`, helloCtr, "<nil>", "<nil>"},
		{"seccomp pod runtime/default", `{` + scPod + `: runtime/default}`, helloCtr, pod.SeccompRuntimeDefault, "<nil>"},
		{"seccomp pod docker/default", `{` + scPod + `: docker/default}`, helloCtr, pod.SeccompRuntimeDefault, "<nil>"},
		{"seccomp pod unconfined", `{` + scPod + `: unconfined}`, helloCtr, pod.SeccompUnconfined, "<nil>"},
		{"seccomp container runtime/default", `{` + scHello + `: runtime/default}`, helloCtr, "<nil>", pod.SeccompRuntimeDefault},
		{"seccomp container unconfined", `{` + scHello + `: unconfined}`, `{initContainers: [{name: hello, command: [x]}], containers: [{name: a, command: [y]}]}`, "<nil>", pod.SeccompUnconfined},
		{"the field set, agreeing", `{` + scPod + `: runtime/default}`, `{securityContext: {seccompProfile: {type: RuntimeDefault}}, containers: [{name: hello, command: [x]}]}`, pod.SeccompRuntimeDefault, "<nil>"},
		{"both", `{` + scPod + `: unconfined, ` + scHello + `: docker/default}`, helloCtr, pod.SeccompUnconfined, pod.SeccompRuntimeDefault},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := load(t, annotated(tc.ann, tc.spec))
			p := r.Pods[0]
			var podType string
			if p.Spec.SecurityContext == nil {
				podType = "<nil>"
			} else {
				podType = seccompOf(p.Spec.SecurityContext.SeccompProfile)
			}
			var hello *pod.Process
			for _, list := range [][]pod.Process{p.Spec.InitProcesses, p.Spec.Processes} {
				for i := range list {
					if list[i].Name == "hello" {
						hello = &list[i]
					}
				}
			}
			if got := seccompOf(hello.SecurityContext.SeccompProfile); podType != tc.pod || got != tc.hello {
				t.Errorf("seccomp: pod %s, hello %s; want %s, %s", podType, got, tc.pod, tc.hello)
			}
			if len(r.Warnings) > 0 {
				t.Errorf("warnings %q", r.Warnings)
			}
		})
	}
	// A seccomp annotation of no container has no effect, as in
	// Kubernetes: a notice says so.
	r := load(t, annotated(`{container.seccomp.security.alpha.kubernetes.io/nope: runtime/default}`, helloCtr))
	if !strings.Contains(strings.Join(r.Notices, "\n"), `metadata.annotations[container.seccomp.security.alpha.kubernetes.io/nope] has no effect: the pod has no container "nope"`) {
		t.Errorf("notices %q", r.Notices)
	}
}

// TestSecurityAnnotationsIgnoreUnsupported: with IgnoreUnsupported, a
// refused annotation is a warning; a seccomp Localhost profile becomes
// RuntimeDefault, as the field's does.
func TestSecurityAnnotationsIgnoreUnsupported(t *testing.T) {
	r := load(t, annotated(`{`+aaHello+`: localhost/deny-write, `+scPod+`: localhost/audit.json}`, helloCtr), ignoreUnsupported)
	want := []string{
		`pod "p": metadata.annotations[` + aaHello + `]: "localhost/deny-write" (AppArmor type Localhost) is not supported: podvisor applies no AppArmor profile; ignored (--ignore-unsupported)`,
		`pod "p": metadata.annotations[` + scPod + `]: "localhost/audit.json" is a seccomp Localhost profile: not supported: podvisor applies RuntimeDefault (the container runtimes' default filter) or Unconfined; RuntimeDefault stands in for it (--ignore-unsupported)`,
	}
	if strings.Join(r.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(r.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if sc := r.Pods[0].Spec.SecurityContext; sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != pod.SeccompRuntimeDefault {
		t.Errorf("pod security context %+v", sc)
	}
}
