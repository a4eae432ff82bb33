// Package node_test runs podvisor nodes against a real Kubernetes control
// plane (test/kube/controlplane): daemons, node agents, Pods scheduled to
// them by Deployments and Jobs. make test-kube runs it, as root.
package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
	"github.com/podvisor/podvisor/test/kube/controlplane"
)

// cluster is a control plane and its podvisor nodes.
type cluster struct {
	t   testing.TB
	cp  *controlplane.ControlPlane
	bin string // podvisor's bin directory
	dir string
}

// node is one podvisor daemon and its node agent.
type node struct {
	name, root, socket string
	cgroupParent       string
	daemon, agent      *exec.Cmd
	agentArgs          []string
	cl                 *api.Client
	netns              string
	log                *os.File
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	kbin := os.Getenv("PODVISOR_KUBE_BIN")
	if kbin == "" {
		t.Skip("PODVISOR_KUBE_BIN is not set: make test-kube builds the control plane and runs this")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: podvisor daemons make namespaces and cgroups")
	}
	bin, _ := filepath.Abs("../../../bin")
	for _, p := range []string{"podvisor", "podvisor-node"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Fatalf("%s: build it first (make build)", filepath.Join(bin, p))
		}
	}
	dir := t.TempDir()
	cp, err := controlplane.Start(t.Context(), controlplane.Options{BinDir: kbin, Dir: filepath.Join(dir, "cp")})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, cp: cp, bin: bin, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			for _, comp := range []string{controlplane.APIServer, controlplane.ControllerManager, controlplane.Scheduler} {
				t.Logf("--- tail of %s ---\n%s", comp, cp.LogTail(comp, 15))
			}
		}
		if err := cp.Stop(); err != nil {
			t.Logf("control plane stop: %v", err)
		}
	})
	t.Logf("control plane ready in %.1fs", cp.BootTime.Seconds())
	return c
}

// freePort is a free TCP port on 127.0.0.1.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// addNode starts a podvisor daemon (its own root, socket, cgroup parent,
// and bridge and pod CIDR inside a network namespace the test made) and a
// node agent for it.
func (c *cluster) addNode(name string, cidr string) *node {
	t := c.t
	t.Helper()
	n := &node{name: name, root: filepath.Join(c.dir, name), netns: "pvk-" + name + "-" + strconv.Itoa(os.Getpid())}
	n.socket = filepath.Join(n.root, "api.sock")
	n.cgroupParent = fmt.Sprintf("podvisor-kube-%d-%s", os.Getpid(), name)
	if out, err := exec.Command("ip", "netns", "add", n.netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.netns).Run() })
	var err error
	if n.log, err = os.Create(filepath.Join(c.dir, name+".log")); err != nil {
		t.Fatal(err)
	}
	n.daemon = exec.Command(filepath.Join(c.bin, "podvisor"), "daemon", "--root", n.root, "--socket", n.socket,
		"--cgroup-parent", n.cgroupParent,
		"--bridge", "pvk"+name, "--pod-cidr", cidr, "--host-netns", "/run/netns/"+n.netns, "--netns-dir", "",
		"--log-level", "info")
	n.daemon.Stdout, n.daemon.Stderr = n.log, n.log
	n.daemon.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.daemon.Start(); err != nil {
		t.Fatal(err)
	}
	n.cl = api.NewClient(n.socket)
	for i := 0; ; i++ {
		if _, err := n.cl.Version(context.Background()); err == nil {
			break
		}
		if i > 300 {
			t.Fatalf("daemon %s not answering", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { n.stopDaemon(t) })
	t.Cleanup(func() { // runs first
		if t.Failed() {
			b, _ := os.ReadFile(n.log.Name())
			lines := strings.Split(string(b), "\n")
			t.Logf("--- tail of node %s's log ---\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})

	cert, key, err := c.cp.IssueServingCert("127.0.0.1", name)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(n.root, "kubelet.crt"), filepath.Join(n.root, "kubelet.key")
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	n.agentArgs = []string{"node", "--kubeconfig", c.cp.Kubeconfig, "--node-name", name, "--socket", n.socket,
		"--listen-address", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--internal-ip", "127.0.0.1",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--client-ca-file", c.cp.CAFile,
		"--pod-cidr", cidr, "--config", filepath.Join(n.root, "none.yaml")}
	os.WriteFile(filepath.Join(n.root, "none.yaml"), nil, 0o600)
	c.startAgent(n)
	t.Cleanup(func() { n.stopAgent() })
	return n
}

func (c *cluster) startAgent(n *node) {
	n.agent = exec.Command(filepath.Join(c.bin, "podvisor"), n.agentArgs...)
	n.agent.Stdout, n.agent.Stderr = n.log, n.log
	n.agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.agent.Start(); err != nil {
		c.t.Fatal(err)
	}
}

func (n *node) stopAgent() {
	if n.agent == nil || n.agent.Process == nil {
		return
	}
	n.agent.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { n.agent.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		n.agent.Process.Kill()
		<-done
	}
	n.agent = nil
}

// stopDaemon removes every pod, then stops the daemon.
func (n *node) stopDaemon(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n.stopAgent()
	pods, _ := n.cl.List(ctx)
	for _, p := range pods {
		if err := n.cl.Remove(ctx, p.Name, true, new(int)); err != nil {
			t.Errorf("remove %s: %v", p.Name, err)
		}
	}
	n.daemon.Process.Signal(syscall.SIGTERM)
	n.daemon.Wait()
	for _, d := range []string{"/sys/fs/cgroup/memory/", "/sys/fs/cgroup/unified/", "/sys/fs/cgroup/"} {
		if _, err := os.Stat(d + n.cgroupParent); err == nil {
			t.Errorf("cgroup left behind: %s", d+n.cgroupParent)
		}
	}
}

func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, err := c.cp.Kubectl(c.t.Context(), args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (c *cluster) apply(manifest string) {
	c.t.Helper()
	if _, err := c.cp.KubectlInput(c.t.Context(), manifest, "apply", "-f", "-"); err != nil {
		c.t.Fatalf("kubectl apply: %v\n%s", err, manifest)
	}
}

// eventually polls f until it returns "" or the timeout passes; then the
// last message fails the test.
func (c *cluster) eventually(timeout time.Duration, f func() string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// kpod is the part of a Pod the test reads.
type kpod struct {
	Metadata struct {
		Name              string `json:"name"`
		DeletionTimestamp string `json:"deletionTimestamp"`
		Labels            map[string]string
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type, Status string
		} `json:"conditions"`
		ContainerStatuses []struct {
			Name         string `json:"name"`
			Ready        bool   `json:"ready"`
			RestartCount int    `json:"restartCount"`
			ContainerID  string `json:"containerID"`
			State        map[string]json.RawMessage
		} `json:"containerStatuses"`
	} `json:"status"`
}

func (p *kpod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func (c *cluster) pods(selector string) []kpod {
	c.t.Helper()
	out := c.kubectl("get", "pods", "-l", selector, "-o", "json")
	var list struct{ Items []kpod }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		c.t.Fatalf("%v\n%s", err, out)
	}
	return list.Items
}

const tolerate = `      tolerations: [{key: podvisor.io/host-processes, operator: Exists}]
`

// nodeReady waits for a node to be Ready with its taint.
func (c *cluster) nodeReady(name string) {
	c.t.Helper()
	c.eventually(90*time.Second, func() string {
		out, err := c.cp.Kubectl(c.t.Context(), "get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.spec.taints[0].key}")
		if err != nil || out != "True podvisor.io/host-processes" {
			return fmt.Sprintf("node %s not ready with its taint: %q %v", name, out, err)
		}
		return ""
	})
}

// running waits until want Pods of selector run, ready, not being deleted,
// and returns them.
func (c *cluster) running(selector string, want int, timeout time.Duration) []kpod {
	c.t.Helper()
	var live []kpod
	c.eventually(timeout, func() string {
		live = nil
		all := c.pods(selector)
		for _, p := range all {
			if p.Metadata.DeletionTimestamp == "" && p.Status.Phase == "Running" && p.ready() && p.Status.PodIP != "" {
				live = append(live, p)
			}
		}
		if len(live) != want || len(all) != want {
			return fmt.Sprintf("%d of %d pods of %s running (%d in all):\n%s", len(live), want, selector, len(all), c.kubectl("get", "pods", "-o", "wide"))
		}
		return ""
	})
	return live
}

func names(pods []kpod) map[string]bool {
	m := map[string]bool{}
	for _, p := range pods {
		m[p.Metadata.Name] = true
	}
	return m
}

// TestNode: two podvisor nodes in a real cluster; Deployments, Jobs,
// probes, ConfigMaps, logs, exec, restarts of processes and of the agent.
func TestNode(t *testing.T) {
	c := newCluster(t)
	n1 := c.addNode("pv1", "10.91.1.0/24")
	n2 := c.addNode("pv2", "10.91.2.0/24")
	nodes := map[string]*node{"pv1": n1, "pv2": n2}
	c.nodeReady("pv1")
	c.nodeReady("pv2")

	// A Deployment of 4 replicas over both nodes: each a podvisor pod
	// with its cgroup, namespaces and an IP of its node's CIDR.
	c.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: bonjour, app.conf: "mode=fast\n"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + tolerate + `      terminationGracePeriodSeconds: 2
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      volumes: [{name: conf, configMap: {name: web-config}}]
      containers:
      - name: web
        image: ignored
        command: [sh, -c, 'echo "hello from $(hostname) $GREETING $(cat /etc/web/app.conf)"; exec sleep 1000']
        env: [{name: GREETING, valueFrom: {configMapKeyRef: {name: web-config, key: greeting}}}]
        volumeMounts: [{name: conf, mountPath: /etc/web}]
`)
	pods := c.running("app=web", 4, 120*time.Second)
	wide := c.kubectl("get", "pods", "-o", "wide")
	t.Logf("kubectl get pods -o wide:\n%s", wide)
	for _, p := range pods {
		found := false
		for _, l := range strings.Split(wide, "\n") {
			f := strings.Fields(l)
			if len(f) >= 7 && f[0] == p.Metadata.Name && f[2] == "Running" && f[5] == p.Status.PodIP && f[6] == p.Spec.NodeName {
				found = true
			}
		}
		if !found {
			t.Errorf("kubectl get pods -o wide has no line for %s with its IP %s and node %s", p.Metadata.Name, p.Status.PodIP, p.Spec.NodeName)
		}
	}
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
		n := nodes[p.Spec.NodeName]
		if n == nil {
			t.Fatalf("pod %s on node %q", p.Metadata.Name, p.Spec.NodeName)
		}
		cidr := map[string]string{"pv1": "10.91.1.0/24", "pv2": "10.91.2.0/24"}[p.Spec.NodeName]
		if ip, err := netip.ParseAddr(p.Status.PodIP); err != nil || !netip.MustParsePrefix(cidr).Contains(ip) {
			t.Errorf("pod %s IP %q is not in node %s's pod CIDR %s", p.Metadata.Name, p.Status.PodIP, p.Spec.NodeName, cidr)
		}
		st, err := n.cl.Get(t.Context(), "default."+p.Metadata.Name)
		if err != nil || st.Phase != "Running" || st.Cgroup == "" || st.Namespaces.Net == "" || st.PodIP != p.Status.PodIP {
			t.Errorf("podvisor pod of %s: %+v %v", p.Metadata.Name, st, err)
		}
		if id := p.Status.ContainerStatuses[0].ContainerID; !strings.HasPrefix(id, "podvisor://default."+p.Metadata.Name+"/web/") {
			t.Errorf("containerID %q", id)
		}
	}
	if perNode["pv1"] != 2 || perNode["pv2"] != 2 {
		t.Errorf("replicas per node %v, want 2 and 2", perNode)
	}
	first := pods[0]
	if out := c.kubectl("logs", first.Metadata.Name); !strings.Contains(out, "hello from "+first.Metadata.Name+" bonjour mode=fast") {
		t.Errorf("kubectl logs %s: %q (want the ConfigMap's env and file)", first.Metadata.Name, out)
	}
	if out, want := c.kubectl("exec", first.Metadata.Name, "--", "sh", "-c", "echo in $(hostname) $GREETING; cat /etc/web/greeting"), "in "+first.Metadata.Name+" bonjour\nbonjour"; out != want {
		t.Errorf("kubectl exec: %q, want %q", out, want)
	}
	if _, err := c.cp.Kubectl(t.Context(), "exec", first.Metadata.Name, "--", "sh", "-c", "exit 3"); err == nil || !strings.Contains(err.Error(), "exit code 3") {
		t.Errorf("kubectl exec exit 3: %v", err)
	}
	// kubectl logs -f follows: a line the process writes later arrives.
	{
		n := nodes[first.Spec.NodeName]
		st, err := n.cl.Get(t.Context(), "default."+first.Metadata.Name)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
		got := make(chan string, 1)
		go func() {
			out, _ := c.cp.Kubectl(ctx, "logs", "-f", first.Metadata.Name)
			got <- out
		}()
		time.Sleep(2 * time.Second)
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/fd/1", st.Processes[0].PID), []byte("followed-line\n"), 0); err != nil {
			t.Fatal(err)
		}
		out := <-got
		cancel()
		if !strings.Contains(out, "hello from") || !strings.Contains(out, "followed-line") {
			t.Errorf("kubectl logs -f: %q, want the first line and the one written while following", out)
		}
	}

	// The service account token, CA and namespace, where Kubernetes
	// mounts them (the token from the TokenRequest API).
	sa := c.kubectl("exec", first.Metadata.Name, "--", "sh", "-c", "cd /var/run/secrets/kubernetes.io/serviceaccount && cat namespace && echo && head -c 3 token && echo && grep -c CERTIFICATE ca.crt")
	if lines := strings.Fields(sa); len(lines) != 3 || lines[0] != "default" || lines[1] != "eyJ" || lines[2] == "0" {
		t.Errorf("service account files: %q", sa)
	}

	// An update of the mounted ConfigMap reaches the file, as kubelet's
	// does (the env keeps the value the process started with).
	c.kubectl("patch", "configmap", "web-config", "--type=merge", `-p={"data":{"greeting":"salut"}}`)
	c.eventually(60*time.Second, func() string {
		out, err := c.cp.Kubectl(t.Context(), "exec", first.Metadata.Name, "--", "cat", "/etc/web/greeting")
		if err != nil || out != "salut" {
			return fmt.Sprintf("the mounted ConfigMap's file says %q (%v), want salut", out, err)
		}
		return ""
	})

	// Killing a replica's process: restarted, and Kubernetes sees the
	// restart count.
	n := nodes[first.Spec.NodeName]
	st, err := n.cl.Get(t.Context(), "default."+first.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(st.Processes[0].PID, syscall.SIGKILL)
	c.eventually(60*time.Second, func() string {
		for _, p := range c.pods("app=web") {
			if p.Metadata.Name == first.Metadata.Name && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].RestartCount >= 1 && p.ready() {
				return ""
			}
		}
		return "no restart seen by the API server:\n" + c.kubectl("get", "pods")
	})
	// kubectl logs shows both runs; --previous the one before the current.
	hello := "hello from " + first.Metadata.Name + " bonjour mode=fast"
	if out := c.kubectl("logs", first.Metadata.Name, "-c", "web"); strings.Count(out, hello) != 2 {
		t.Errorf("kubectl logs -c web after a restart: %q, want the line of each of the 2 runs", out)
	}
	if out := c.kubectl("logs", first.Metadata.Name, "--previous"); strings.TrimSpace(out) != hello+"\nfollowed-line" {
		t.Errorf("kubectl logs --previous: %q, want the first run's lines alone", out)
	}

	// Deleting a Pod: the ReplicaSet makes another, which runs; the old
	// one's podvisor pod is gone.
	c.kubectl("delete", "pod", first.Metadata.Name, "--wait=true", "--timeout=60s")
	pods = c.running("app=web", 4, 90*time.Second)
	if names(pods)[first.Metadata.Name] {
		t.Errorf("deleted pod %s still listed", first.Metadata.Name)
	}
	if _, err := n.cl.Get(t.Context(), "default."+first.Metadata.Name); err == nil {
		t.Errorf("the podvisor pod of deleted %s is still there", first.Metadata.Name)
	}

	// Scale to 6, then back to 2.
	c.kubectl("scale", "deployment", "web", "--replicas=6")
	c.running("app=web", 6, 90*time.Second)
	c.kubectl("scale", "deployment", "web", "--replicas=2")
	pods = c.running("app=web", 2, 90*time.Second)
	c.eventually(60*time.Second, func() string {
		total := 0
		for _, nn := range nodes {
			list, _ := nn.cl.List(t.Context())
			total += len(list)
		}
		if total != 2 {
			return fmt.Sprintf("%d podvisor pods on the nodes after scaling to 2", total)
		}
		return ""
	})

	// A rolling update of the command: the pods are replaced.
	old := names(pods)
	c.kubectl("patch", "deployment", "web", "--type=json", `-p=[{"op":"replace","path":"/spec/template/spec/containers/0/command","value":["sh","-c","echo v2; exec sleep 1000"]}]`)
	minReady := 2
	c.eventually(120*time.Second, func() string {
		live := c.pods("app=web")
		ready := 0
		for _, p := range live {
			if p.ready() && p.Metadata.DeletionTimestamp == "" {
				ready++
			}
		}
		minReady = min(minReady, ready)
		if len(live) != 2 {
			return fmt.Sprintf("%d pods during the rollout", len(live))
		}
		for _, p := range live {
			if old[p.Metadata.Name] || !p.ready() {
				return "rollout not done:\n" + c.kubectl("get", "pods")
			}
		}
		return ""
	})
	// maxUnavailable 25 % of 2 is 0: the pods were replaced one at a
	// time, a new one ready before an old one went.
	if minReady < 2 {
		t.Errorf("during the rollout only %d pods were ready, want 2 at all times", minReady)
	}
	if out := c.kubectl("rollout", "status", "deployment/web", "--timeout=60s"); !strings.Contains(out, "successfully rolled out") {
		t.Errorf("rollout status: %q", out)
	}

	// Scaling down pods that ignore TERM: preStop, TERM, the grace
	// period, then KILL.
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: stubborn}
spec:
  replicas: 2
  selector: {matchLabels: {app: stubborn}}
  template:
    metadata: {labels: {app: stubborn}}
    spec:
` + tolerate + `      terminationGracePeriodSeconds: 2
      containers:
      - name: s
        image: ignored
        command: [sh, -c, 'trap "echo got TERM" TERM; while :; do sleep 0.2; done']
        lifecycle: {preStop: {exec: {command: [sh, -c, 'echo prestop']}}}
`)
	stubborn := c.running("app=stubborn", 2, 90*time.Second)
	t0 := time.Now()
	c.kubectl("scale", "deployment", "stubborn", "--replicas=0")
	c.eventually(90*time.Second, func() string {
		if n := len(c.pods("app=stubborn")); n != 0 {
			return fmt.Sprintf("%d stubborn pods left", n)
		}
		return ""
	})
	if d := time.Since(t0); d < 2*time.Second {
		t.Errorf("stubborn pods gone in %s, before their 2 s grace period", d)
	}
	for _, p := range stubborn {
		nn := nodes[p.Spec.NodeName]
		killed := false
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		nn.cl.EventsSince(ctx, "", false, func(e pod.Event) error {
			if e.Pod == "default."+p.Metadata.Name && e.Type == pod.EventExited && e.Signal == "SIGKILL" && e.Reason == pod.ReasonKilled {
				killed = true
			}
			return nil
		})
		cancel()
		if !killed {
			t.Errorf("stubborn pod %s: no exit by SIGKILL after the grace period in its daemon's events", p.Metadata.Name)
		}
	}
	c.kubectl("delete", "deployment", "stubborn", "--wait=true")

	// A readiness probe: not Ready until it passes, as the API server sees.
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: probed, labels: {app: probed}}
spec:
` + strings.ReplaceAll(tolerate, "      ", "  ") + `  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ignored
    command: [sleep, "1000"]
    readinessProbe:
      exec: {command: [test, -e, /tmp/ready]}
      periodSeconds: 1
`)
	c.eventually(60*time.Second, func() string {
		p := c.pods("app=probed")
		if len(p) != 1 || p[0].Status.Phase != "Running" {
			return "probed not running"
		}
		return ""
	})
	time.Sleep(2 * time.Second)
	if p := c.pods("app=probed"); p[0].ready() {
		t.Errorf("probed is Ready before its probe passes")
	}
	c.kubectl("exec", "probed", "--", "touch", "/tmp/ready")
	c.eventually(30*time.Second, func() string {
		if p := c.pods("app=probed"); len(p) == 1 && p[0].ready() {
			return ""
		}
		return "probed not Ready after its probe passes"
	})

	// A Job with a native sidecar completes.
	c.apply(`apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  backoffLimit: 0
  template:
    spec:
` + tolerate + `      restartPolicy: Never
      terminationGracePeriodSeconds: 2
      initContainers:
      - {name: proxy, image: ignored, restartPolicy: Always, command: [sleep, "1000"]}
      containers:
      - {name: work, image: ignored, command: [sh, -c, 'echo working; sleep 1; echo done']}
`)
	c.eventually(90*time.Second, func() string {
		out, _ := c.cp.Kubectl(t.Context(), "get", "job", "batch", "-o", "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}")
		if out != "True" {
			return "job batch not Complete:\n" + c.kubectl("get", "pods", "-o", "wide")
		}
		return ""
	})

	// Restarting a node agent: its pods keep running, matched again. The
	// node is one that runs a web pod: the scheduler spreads them, but
	// a rolling update may leave both on one node.
	web := c.pods("app=web")
	if len(web) == 0 {
		t.Fatal("no web pod before the agent's restart")
	}
	rn := nodes[web[0].Spec.NodeName]
	if rn == nil {
		t.Fatalf("web pod %s on an unknown node %q", web[0].Metadata.Name, web[0].Spec.NodeName)
	}
	before := map[string]int{}
	list, err := rn.cl.List(t.Context())
	if err != nil || len(list) == 0 {
		t.Fatalf("%s's pods before the agent's restart: %d, %v", rn.name, len(list), err)
	}
	for _, st := range list {
		if len(st.Processes) > 0 {
			before[st.Name] = st.Processes[0].PID
		}
	}
	rn.stopAgent()
	c.startAgent(rn)
	c.nodeReady(rn.name)
	time.Sleep(3 * time.Second)
	if list, err = rn.cl.List(t.Context()); err != nil || len(list) != len(before) {
		t.Fatalf("%s's pods after the agent's restart: %d of %d, %v", rn.name, len(list), len(before), err)
	}
	for _, st := range list {
		if pid, ok := before[st.Name]; !ok || len(st.Processes) == 0 || st.Processes[0].PID != pid {
			t.Errorf("pod %s's process changed over the agent's restart: %d -> %+v", st.Name, pid, st.Processes)
		}
	}
	c.running("app=web", 2, 60*time.Second)
	// Matched: a change after the restart reaches the Pod's status.
	var onNode kpod
	for _, p := range c.pods("app=web") {
		if p.Spec.NodeName == rn.name {
			onNode = p
		}
	}
	if onNode.Metadata.Name == "" {
		t.Fatalf("no web pod on %s after the agent's restart", rn.name)
	}
	st, err = rn.cl.Get(t.Context(), "default."+onNode.Metadata.Name)
	if err != nil {
		t.Fatal(err)
	}
	restarts := onNode.Status.ContainerStatuses[0].RestartCount
	syscall.Kill(st.Processes[0].PID, syscall.SIGKILL)
	c.eventually(60*time.Second, func() string {
		for _, p := range c.pods("app=web") {
			if p.Metadata.Name == onNode.Metadata.Name && p.Status.ContainerStatuses[0].RestartCount > restarts {
				return ""
			}
		}
		return "a restart after the agent's restart is not seen by the API server"
	})
	if p := c.pods("app=probed"); len(p) != 1 || !p[0].ready() {
		t.Errorf("probed after the agent's restart: %+v", p)
	}

	// A Pod deleted while its node's agent is down: its podvisor pod is
	// removed when the agent comes back.
	var victim string
	for _, p := range c.pods("app=web") {
		if p.Spec.NodeName == rn.name {
			victim = p.Metadata.Name
		}
	}
	if victim == "" {
		t.Fatalf("no web pod on %s", rn.name)
	}
	rn.stopAgent()
	c.kubectl("delete", "pod", victim, "--grace-period=0", "--force", "--wait=true")
	c.startAgent(rn)
	c.eventually(60*time.Second, func() string {
		if _, err := rn.cl.Get(t.Context(), "default."+victim); err == nil {
			return "the podvisor pod of " + victim + ", deleted while the agent was down, is still there"
		}
		return ""
	})
	c.running("app=web", 2, 90*time.Second)

	// Everything deleted: the nodes' daemons are left with no pod.
	c.kubectl("delete", "deployment", "web", "--wait=true")
	c.kubectl("delete", "job", "batch", "--wait=true", "--cascade=foreground")
	c.kubectl("delete", "pod", "probed", "--wait=true")
	c.eventually(90*time.Second, func() string {
		for name, nn := range nodes {
			if list, _ := nn.cl.List(t.Context()); len(list) != 0 {
				return fmt.Sprintf("node %s still has %d podvisor pods", name, len(list))
			}
		}
		return ""
	})
}
