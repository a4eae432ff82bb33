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

	"github.com/podvisor/podvisor/supervisor/api"
	"github.com/podvisor/podvisor/test/kube/controlplane"
)

// cluster is a control plane and its podvisor nodes.
type cluster struct {
	t   *testing.T
	cp  *controlplane.ControlPlane
	bin string // podvisor's bin directory
	dir string
}

// node is one podvisor daemon and its node agent.
type node struct {
	name, root, socket string
	daemon, agent      *exec.Cmd
	agentArgs          []string
	cl                 *api.Client
	netns              string
	log                *os.File
}

func newCluster(t *testing.T) *cluster {
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
func freePort(t *testing.T) int {
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
	if out, err := exec.Command("ip", "netns", "add", n.netns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.netns).Run() })
	var err error
	if n.log, err = os.Create(filepath.Join(c.dir, name+".log")); err != nil {
		t.Fatal(err)
	}
	n.daemon = exec.Command(filepath.Join(c.bin, "podvisor"), "daemon", "--root", n.root, "--socket", n.socket,
		"--cgroup-parent", fmt.Sprintf("podvisor-kube-%d-%s", os.Getpid(), name),
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
func (n *node) stopDaemon(t *testing.T) {
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

// TestNode: podvisor nodes in a real cluster.
func TestNode(t *testing.T) {
	c := newCluster(t)
	n1 := c.addNode("pv1", "10.91.1.0/24")
	c.eventually(90*time.Second, func() string {
		out, err := c.cp.Kubectl(t.Context(), "get", "node", "pv1", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status} {.spec.taints[0].key}")
		if err != nil || out != "True podvisor.io/host-processes" {
			return fmt.Sprintf("node pv1 not ready with its taint: %q %v", out, err)
		}
		return ""
	})

	// A Deployment of 2 replicas: each a podvisor pod with its IP.
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
` + tolerate + `      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: ignored
        command: [sh, -c, 'echo "hello from $(hostname)"; exec sleep 1000']
`)
	var pods []kpod
	c.eventually(90*time.Second, func() string {
		pods = c.pods("app=web")
		running := 0
		for _, p := range pods {
			if p.Status.Phase == "Running" && p.ready() && p.Status.PodIP != "" && p.Metadata.DeletionTimestamp == "" {
				running++
			}
		}
		if running != 2 {
			return fmt.Sprintf("%d of 2 replicas running: %s", running, c.kubectl("get", "pods", "-o", "wide"))
		}
		return ""
	})
	t.Logf("kubectl get pods -o wide:\n%s", c.kubectl("get", "pods", "-o", "wide"))
	for _, p := range pods {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !netip.MustParsePrefix("10.91.1.0/24").Contains(ip) {
			t.Errorf("pod %s IP %q is not in the node's pod CIDR", p.Metadata.Name, p.Status.PodIP)
		}
		st, err := n1.cl.Get(t.Context(), "default."+p.Metadata.Name)
		if err != nil || st.Phase != "Running" || st.Cgroup == "" || st.Namespaces.Net == "" {
			t.Errorf("podvisor pod of %s: %+v %v", p.Metadata.Name, st, err)
		}
	}
	first := pods[0].Metadata.Name
	if out := c.kubectl("logs", first); !strings.Contains(out, "hello from "+first) {
		t.Errorf("kubectl logs %s: %q", first, out)
	}
	if out := c.kubectl("exec", first, "--", "sh", "-c", "echo in $(hostname); cat /proc/self/cgroup | grep -c podvisor-kube"); !strings.Contains(out, "in "+first) {
		t.Errorf("kubectl exec: %q", out)
	}
	if _, err := c.cp.Kubectl(t.Context(), "exec", first, "--", "sh", "-c", "exit 3"); err == nil || !strings.Contains(err.Error(), "exit code 3") {
		t.Errorf("kubectl exec exit 3: %v", err)
	}
}
