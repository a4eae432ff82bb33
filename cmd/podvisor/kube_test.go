package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/podvisor/podvisor/pod"
)

// writeNamed writes a file of the given name in a new temporary directory.
func writeNamed(t *testing.T, name, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// uniq is a pod name of this test run.
func uniq(prefix string) string { return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1)) }

// Kubernetes manifests through validate: accepted as they are (several
// pods and kinds in one file: one "FILE: ok"), refused by name with the
// manifest's own paths, notices on stderr, --ignore-unsupported turning a
// refusal into a warning, --configmap giving the data of env.
func TestValidateKubernetes(t *testing.T) {
	c := newCLI(t, false)
	hello := "../../examples/kubernetes/hello.yaml"
	out, stderr, code := c.run(t, "validate", hello)
	if code != 0 || out != hello+": ok\n" {
		t.Errorf("validate %s: exit %d\nstdout %q\nstderr %q", hello, code, out, stderr)
	}
	if want := hello + `: notice: pod "hello-kube": images are ignored, podvisor runs host programs: busybox:1.36 (init container prepare)`; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}

	// A ConfigMap in a file of its own, with --configmap; a Service beside
	// the Job is skipped with a notice.
	job, settings := "../../examples/kubernetes/job.yaml", "../../examples/kubernetes/settings.yaml"
	out, stderr, code = c.run(t, "validate", "--configmap", settings, job)
	if code != 0 || out != job+": ok\n" {
		t.Errorf("validate --configmap: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	if want := job + `: notice: skipped Service "report": podvisor runs pods only`; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	// Without it, the reference is an error naming the ConfigMap.
	out, stderr, code = c.run(t, "validate", job)
	want := job + `: document 2: spec.template.spec.containers[0].envFrom[0].configMapRef: configmap "report-settings" not found`
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(stderr, "podvisor: "+want) {
		t.Errorf("validate without --configmap: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	// A --configmap file holds ConfigMaps only.
	_, stderr, code = c.run(t, "validate", "--configmap", job, hello)
	if code != 1 || !strings.Contains(stderr, `configmap file 1: document 1: kind: Service "report" in a configmap file`) {
		t.Errorf("a Service in a --configmap file: exit %d, stderr %q", code, stderr)
	}

	// Several pods in one file, with flow style and a List: one "ok".
	multi := writeNamed(t, "multi.yaml", `apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, command: [sleep, "1"]}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: b}, spec: {containers: [{name: c, args: [sleep, "1"]}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: server, command: [sleep, "1000"]}]
`)
	out, stderr, code = c.run(t, "validate", multi)
	if code != 0 || out != multi+": ok\n" || !strings.Contains(stderr, multi+`: notice: pod "web": spec.replicas: 3 has no effect`) {
		t.Errorf("several pods: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}

	// Refused by name, with the manifest's path; with --ignore-unsupported
	// a warning, and the file is good.
	pvc := writeNamed(t, "pvc.yaml", `apiVersion: v1
kind: Pod
metadata: {name: claim}
spec:
  containers:
  - name: app
    image: nginx
    command: [sleep, "1"]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: noimage
    image: nginx
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: data}
`)
	out, stderr, code = c.run(t, "validate", pvc)
	for _, want := range []string{
		pvc + `: spec.volumes[0].persistentVolumeClaim: not supported on a single host`,
		pvc + `: spec.containers[1].command: required: podvisor runs host programs and ignores the image "nginx"`,
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("refusal: exit %d, stdout lacks %q:\n%s", code, want, out)
		}
	}
	fixed := strings.Replace(mustRead(t, pvc), "  - name: noimage\n    image: nginx\n", "", 1)
	pvc2 := writeNamed(t, "pvc2.yaml", fixed)
	if _, _, code := c.run(t, "validate", pvc2); code != 1 {
		t.Errorf("a persistentVolumeClaim without --ignore-unsupported: exit %d", code)
	}
	out, stderr, code = c.run(t, "validate", pvc2, "--ignore-unsupported")
	if code != 0 || out != pvc2+": ok\n" || !strings.Contains(stderr, pvc2+`: warning: pod "claim": spec.volumes[0].persistentVolumeClaim: not supported on a single host`) {
		t.Errorf("--ignore-unsupported: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}

	// podvisor/v1 files are read as before, beside Kubernetes ones.
	out, _, code = c.run(t, "validate", "../../examples/hello.yaml", hello)
	if code != 0 || out != "../../examples/hello.yaml: ok\n"+hello+": ok\n" {
		t.Errorf("mixed: exit %d %q", code, out)
	}
}

// up runs every pod of a file, each line prefixed with pod/process, and
// exits 1 when one of them failed.
func TestUpKubernetesTwoPods(t *testing.T) {
	c := newCLI(t, true)
	one, two := uniq("one"), uniq("two")
	file := func(exit int) string {
		return writeNamed(t, "two.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  containers:
  - {name: a, image: busybox, command: [sh, -c, 'echo hi from $(POD)'], env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: team}
spec:
  restartPolicy: Never
  containers:
  - {name: b, command: [sh, -c, 'echo hi from $(NS); exit %d'], env: [{name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]}
`, one, two, exit))
	}
	out, stderr, code := c.run(t, "up", file(0))
	if code != 0 || !strings.Contains(out, one+"/a | hi from "+one+"\n") || !strings.Contains(out, two+"/b | hi from team\n") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, `notice: pod \"`+one+`\": images are ignored`) {
		t.Errorf("no notice on stderr:\n%s", stderr)
	}
	out, stderr, code = c.run(t, "up", file(3))
	if code != 1 || !strings.Contains(out, one+"/a | hi from") || !strings.Contains(out, two+"/b | hi from team") {
		t.Errorf("one pod failed: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.root, "ns")); len(entries) != 0 {
		t.Errorf("namespaces left: %v", entries)
	}
}

// The Kubernetes examples run with up as their comments say.
func TestUpKubernetesExamples(t *testing.T) {
	c := newCLI(t, true)
	out, stderr, code := c.run(t, "up", "../../examples/kubernetes/hello.yaml")
	if code != 0 {
		t.Fatalf("hello: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	host, _ := os.Hostname()
	for _, want := range []string{
		"prepare | prepared /work/message",
		"log-tap | sidecar up",
		"app | hello from hello-kube in namespace default on " + host,
		"app | prepared for hello-kube",
		"app | config: colour=blue",
		"log-tap | sidecar stopped",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("hello: stdout lacks %q:\n%s", want, out)
		}
	}
	// The app's directories exist in the pod's view only.
	for _, d := range []string{"/work/message", "/config/app.conf"} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s exists on the host", d)
		}
	}
	out, stderr, code = c.run(t, "up", "--configmap", "../../examples/kubernetes/settings.yaml", "../../examples/kubernetes/job.yaml")
	if code != 0 {
		t.Fatalf("job: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"report | report for storage, every 1h",
		"NoNewPrivs 1, CapEff 0000000000000000",
		"report | memory limit 64Mi",
		"report | root is read-only",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("job: stdout lacks %q:\n%s", want, out)
		}
	}
	if !regexpMatch(`report \| uid 65534\s`, out) {
		t.Errorf("job: not run as 65534:\n%s", out)
	}
}

// yamlPod reads YAML as a v1 Pod, through JSON as kubectl does.
func yamlPod(t *testing.T, y string) *corev1.Pod {
	t.Helper()
	var generic any
	if err := yaml.Unmarshal([]byte(y), &generic); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, y)
	}
	b, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	var kp corev1.Pod
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kp); err != nil {
		t.Fatalf("not a v1 Pod: %v\n%s", err, y)
	}
	return &kp
}

// run and create through a daemon: a file of a ConfigMap and a Pod whose
// env and volume read it; several pods at once, all or none; notices and
// warnings from the daemon on stderr; the status in Kubernetes' shape.
func TestDaemonKubernetes(t *testing.T) {
	c := newCLI(t, true)
	d := startDaemon(t, c)
	defer func() {
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	name := uniq("kube")
	file := writeNamed(t, "app.yaml", fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: shop}
data:
  GREETING: bonjour
  app.conf: "colour=green\n"
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: %[1]s, namespace: shop}
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - {name: config, configMap: {name: app-config}}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'echo "$GREETING $(cat /config/app.conf) in $(NS)"; exec sleep 1000']
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: app-config, key: GREETING}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    volumeMounts: [{name: config, mountPath: /config}]
`, name))
	out, stderr, code := c.pv(t, "run", file)
	if code != 0 || out != name+"\n" {
		t.Fatalf("run: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	for _, want := range []string{
		`notice: skipped Service "` + name + `": podvisor runs pods only`,
		`notice: pod "` + name + `": images are ignored`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("run: stderr lacks %q:\n%s", want, stderr)
		}
	}
	st := c.waitStatus(t, name, "the app ready", func(st pod.Status) bool {
		return len(st.Processes) == 1 && st.Processes[0].Ready
	})
	if st.Namespace != "shop" {
		t.Errorf("status namespace %q", st.Namespace)
	}
	waitLogs(t, c, name, "app | bonjour colour=green in shop\n")
	if table := c.mustPV(t, "ps"); !regexpMatch(`(?m)^NAMESPACE\s+NAME\s+PHASE`, table) || !regexpMatch(`(?m)^shop\s+`+name+`\s+Running\s+1/1\s`, table) {
		t.Errorf("ps:\n%s", table)
	}

	// The status in Kubernetes' shape, read back as a v1 Pod.
	y := c.mustPV(t, "inspect", name, "-o", "yaml", "--kube")
	kp := yamlPod(t, y)
	if kp.Kind != "Pod" || kp.APIVersion != "v1" || kp.Name != name || kp.Namespace != "shop" || kp.Status.Phase != corev1.PodRunning {
		t.Errorf("inspect --kube: %s %s %s/%s phase %s\n%s", kp.APIVersion, kp.Kind, kp.Namespace, kp.Name, kp.Status.Phase, y)
	}
	if cs := kp.Status.ContainerStatuses; len(cs) != 1 || cs[0].Name != "app" || !cs[0].Ready || cs[0].RestartCount != 0 ||
		cs[0].ContainerID != "podvisor://"+name+"/app/1" || cs[0].State.Running == nil || cs[0].Image != "busybox" {
		t.Errorf("containerStatuses: %+v\n%s", cs, y)
	}
	if host, _ := os.Hostname(); kp.Spec.NodeName != host || len(kp.Spec.Containers) != 1 || kp.Spec.Volumes[0].ConfigMap == nil {
		t.Errorf("spec: nodeName %q, %+v", kp.Spec.NodeName, kp.Spec)
	}
	var kj corev1.Pod
	if err := json.Unmarshal([]byte(c.mustPV(t, "inspect", "--kube", name, "-o", "json")), &kj); err != nil || kj.Status.Phase != corev1.PodRunning || kj.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("inspect --kube -o json: %v %+v", err, kj.Status)
	}
	if g := yamlPod(t, c.mustPV(t, "get", "pod", name)); g.Name != name || len(g.Status.ContainerStatuses) != 1 || !g.Status.ContainerStatuses[0].Ready {
		t.Errorf("get pod: %+v", g.Status)
	}
	if table := c.mustPV(t, "get", "pods"); !regexpMatch(`(?m)^shop\s+`+name+`\s+1/1\s+Running\s+0\s`, table) {
		t.Errorf("get pods:\n%s", table)
	}

	// A ConfigMap file of its own (a multipart body), and
	// --ignore-unsupported: a refusal becomes a warning.
	cm := writeNamed(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: side}\ndata: {WORD: hello}\n")
	side := uniq("side")
	sideFile := writeNamed(t, "side.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
  containers:
  - {name: s, command: [sh, -c, 'echo $WORD; ls -A /data | wc -l'], envFrom: [{configMapRef: {name: side}}], volumeMounts: [{name: data, mountPath: /data}]}
`, side))
	if _, stderr, code := c.pv(t, "run", "--configmap", cm, sideFile); code != 1 || !strings.Contains(stderr, "spec.volumes[0].persistentVolumeClaim: not supported on a single host") {
		t.Errorf("run of a refused field: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := c.pv(t, "run", sideFile, "--ignore-unsupported"); code != 1 || !strings.Contains(stderr, `configmap "side" not found`) {
		t.Errorf("run without --configmap: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code = c.pv(t, "run", "--configmap", cm, "--ignore-unsupported", sideFile)
	if code != 0 || out != side+"\n" || !strings.Contains(stderr, `warning: pod "`+side+`": spec.volumes[0].persistentVolumeClaim: not supported on a single host`) {
		t.Errorf("run --ignore-unsupported: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	c.waitStatus(t, side, "Succeeded", func(st pod.Status) bool { return st.Phase == pod.PhaseSucceeded })
	if l := c.mustPV(t, "logs", side, "s"); l != "hello\n0\n" {
		t.Errorf("logs of %s: %q (want the ConfigMap's word and an empty emptyDir)", side, l)
	}

	// create: every pod of a file, each name on its line.
	p1, p2 := uniq("multi"), uniq("multi")
	two := writeNamed(t, "two.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec: {containers: [{name: a, command: [sleep, "1000"]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec: {containers: [{name: a, command: [sleep, "1000"]}]}
`, p1, p2))
	if out := c.mustPV(t, "create", two); out != p1+"\n"+p2+"\n" {
		t.Errorf("create of two pods printed %q", out)
	}
	for _, n := range []string{p1, p2} {
		if st := c.status(t, n); st.Phase != pod.PhasePending {
			t.Errorf("%s: %s after create", n, st.Phase)
		}
	}
	// All or none: the second pod's name is taken, so the first one made
	// by this call is removed again.
	p3 := uniq("multi")
	clash := writeNamed(t, "clash.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec: {containers: [{name: a, command: [sleep, "1000"]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: %s}
spec: {containers: [{name: a, command: [sleep, "1000"]}]}
`, p3, p2))
	out, stderr, code = c.pv(t, "run", clash)
	if code != 1 || out != "" || !strings.Contains(stderr, "already exists") {
		t.Errorf("run of a clashing file: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	if _, stderr, code := c.pv(t, "inspect", p3); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("%s was left after the failed create: %d %q", p3, code, stderr)
	}
	if _, err := os.Stat(filepath.Join(c.root, "pods", p3)); err == nil {
		t.Errorf("state of %s left", p3)
	}

	if out := c.mustPV(t, "rm", "-f", name, side, p1, p2); out != name+"\n"+side+"\n"+p1+"\n"+p2+"\n" {
		t.Errorf("rm printed %q", out)
	}
}

// waitLogs waits until a pod's logs hold want.
func waitLogs(t *testing.T, c *cliEnv, name, want string) {
	t.Helper()
	c.waitStatus(t, name, "log "+want, func(pod.Status) bool {
		return strings.Contains(c.mustPV(t, "logs", name), want)
	})
}
