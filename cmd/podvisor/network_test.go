package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

// netHost is a network namespace the test makes (ip netns add) to stand for
// the host: the daemon under test makes its bridge, rules and DNS
// responder there (--host-netns), so the machine's network is untouched.
type netHost struct {
	path   string
	dialer *namespaces.NetDialer
	flags  []string
	subnet netip.Prefix
	bridge string
	netns  string // the daemon's --netns-dir
}

func newNetHost(t *testing.T) *netHost {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
	name := fmt.Sprintf("pvtest-%d-%d", os.Getpid(), rand.IntN(1e6))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	path := "/run/netns/" + name
	d, err := namespaces.NewNetDialer(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	h := &netHost{path: path, dialer: d,
		subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 215, byte(rand.IntN(250)), 0}), 24),
		bridge: fmt.Sprintf("pvd%d", rand.IntN(1e9)),
		netns:  filepath.Join(t.TempDir(), "netns")}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", h.netns).Run() })
	h.flags = []string{"--default-network", "bridge", "--bridge", h.bridge, "--pod-cidr", h.subnet.String(), "--host-netns", path, "--netns-dir", h.netns}
	return h
}

func (h *netHost) banner(t *testing.T, addr string) string {
	t.Helper()
	c, err := h.dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from the host: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// serveIn answers every connection in the pod's network namespace on addr
// with banner.
func serveIn(t *testing.T, netns, addr, banner string) {
	t.Helper()
	d, err := namespaces.NewNetDialer(netns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ln, err := d.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, banner)
			c.Close()
		}
	}()
}

// TestDaemonNetworkKill9 runs pods on the bridge under a daemon that is
// killed with SIGKILL and started again: the pods keep their addresses and
// published ports, and a pod removed meanwhile leaves no lease, no rule,
// no veth and no name in the netns directory.
func TestDaemonNetworkKill9(t *testing.T) {
	c := newCLI(t, true)
	h := newNetHost(t)
	d := startDaemon(t, c, h.flags...)
	hp := 20000 + rand.IntN(20000)
	c.mustPV(t, "run", specFile(t, "web", fmt.Sprintf(`  terminationGracePeriodSeconds: 1
  processes:
  - {name: a, command: [sleep, "1000"], ports: [{containerPort: 80, hostPort: %d}]}
`, hp)))
	for _, n := range []string{"db", "gone"} {
		c.mustPV(t, "run", specFile(t, n, "  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	}
	ips := map[string]string{}
	for _, n := range []string{"web", "db", "gone"} {
		st := c.status(t, n)
		ip, err := netip.ParseAddr(st.PodIP)
		if err != nil || !h.subnet.Contains(ip) {
			t.Fatalf("pod %s: IP %q, want an address of %s", n, st.PodIP, h.subnet)
		}
		ips[n] = st.PodIP
	}
	if out := c.mustPV(t, "port", "web"); strings.TrimSpace(out) != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", hp) {
		t.Errorf("podvisor port web: %q", out)
	}
	if out := c.mustPV(t, "port", "web", "80/tcp"); strings.TrimSpace(out) != fmt.Sprintf("0.0.0.0:%d", hp) {
		t.Errorf("podvisor port web 80/tcp: %q", out)
	}
	if out := c.mustPV(t, "ps", "-o", "wide"); !strings.Contains(out, ips["web"]) || !strings.Contains(out, fmt.Sprintf("0.0.0.0:%d->80/tcp", hp)) {
		t.Errorf("ps -o wide shows no IP or port:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(h.netns, "web")); err != nil {
		t.Errorf("web is not named in the netns directory: %v", err)
	}

	d.kill9(t)
	// Removed while no daemon runs.
	if err := os.RemoveAll(filepath.Join(c.root, "pods", "gone")); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, c, h.flags...)
	defer func() {
		c.pv(t, "rm", "-f", "web", "db")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	for _, n := range []string{"web", "db"} {
		st := c.waitStatus(t, n, "running", func(s pod.Status) bool { return s.Phase == pod.PhaseRunning })
		if st.PodIP != ips[n] {
			t.Errorf("pod %s came back with %q, had %q", n, st.PodIP, ips[n])
		}
	}
	web := c.status(t, "web")
	serveIn(t, web.Namespaces.Net, ":80", "web")
	if got := h.banner(t, fmt.Sprintf("127.0.0.1:%d", hp)); got != "web" {
		t.Errorf("hostPort after recovery: %q", got)
	}
	if _, _, code := c.pv(t, "inspect", "gone"); code == 0 {
		t.Error("the removed pod is back")
	}
	leases, _ := os.ReadDir(filepath.Join(c.root, "networks", "podvisor", "leases"))
	var held []string
	for _, e := range leases {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			held = append(held, e.Name())
		}
	}
	if len(held) != 2 || strings.Contains(strings.Join(held, " "), ips["gone"]) {
		t.Errorf("leases after recovery: %v (gone had %s)", held, ips["gone"])
	}
	if _, err := os.Lstat(filepath.Join(h.netns, "gone")); err == nil {
		t.Error("the removed pod's name is left in the netns directory")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := exec.Command("ip", "-n", filepath.Base(h.path), "-o", "link", "show", "master", h.bridge).Output()
		if n := strings.Count(string(out), "\n"); n == 2 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d veths on the bridge after recovery, want 2 (web, db):\n%s", n, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, _ := exec.Command("ip", "netns", "exec", filepath.Base(h.path), "nft", "list", "ruleset").Output(); len(out) > 0 && strings.Contains(string(out), `"gone"`) {
		t.Errorf("rules of the removed pod are left:\n%s", out)
	}
}

// TestNetworkCommands: network create, ls, inspect and rm, and the
// errors of pods on networks.
func TestNetworkCommands(t *testing.T) {
	c := newCLI(t, true)
	h := newNetHost(t)
	d := startDaemon(t, c, h.flags...)
	defer func() {
		c.pv(t, "rm", "-f", "onnet")
		c.pv(t, "network", "rm", "extra")
		if code := d.stop(t); code != 0 {
			t.Errorf("daemon exit %d", code)
		}
	}()
	sub := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 216, byte(rand.IntN(250)), 0}), 24)
	bridge := fmt.Sprintf("pve%d", rand.IntN(1e9))
	if out := c.mustPV(t, "network", "create", "--subnet", sub.String(), "--internal", "--bridge", bridge, "extra"); strings.TrimSpace(out) != "extra" {
		t.Errorf("network create: %q", out)
	}
	if _, stderr, code := c.pv(t, "network", "create", "--subnet", sub.String(), "extra"); code == 0 || !strings.Contains(stderr, "already exists") {
		t.Errorf("second create: exit %d %s", code, stderr)
	}
	if _, stderr, code := c.pv(t, "network", "create", "--subnet", sub.String(), "other"); code == 0 || !strings.Contains(stderr, `overlaps network "extra"`) {
		t.Errorf("overlapping create: exit %d %s", code, stderr)
	}
	if _, stderr, code := c.pv(t, "network", "create", "host"); code == 0 || !strings.Contains(stderr, "reserved") {
		t.Errorf("create host: exit %d %s", code, stderr)
	}
	var nets []api.Network
	if err := json.Unmarshal([]byte(c.mustPV(t, "network", "ls", "-o", "json")), &nets); err != nil {
		t.Fatal(err)
	}
	if len(nets) < 2 || nets[0].Name != "podvisor" || !nets[0].Default || nets[0].Subnet != h.subnet.String() || nets[0].Bridge != h.bridge {
		t.Errorf("network ls: %+v", nets)
	}
	c.mustPV(t, "run", specFile(t, "onnet", "  network: extra\n  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n"))
	st := c.status(t, "onnet")
	if ip, err := netip.ParseAddr(st.PodIP); err != nil || !sub.Contains(ip) || st.Network != "extra" {
		t.Errorf("pod on extra: network %q IP %q", st.Network, st.PodIP)
	}
	var inspected []api.Network
	if err := json.Unmarshal([]byte(c.mustPV(t, "network", "inspect", "extra")), &inspected); err != nil {
		t.Fatal(err)
	}
	if len(inspected) != 1 || !inspected[0].Internal || inspected[0].Bridge != bridge || len(inspected[0].Pods) != 1 || inspected[0].Pods[0] != "onnet" {
		t.Errorf("network inspect extra: %+v", inspected)
	}
	if out := c.mustPV(t, "network", "ls"); !strings.Contains(out, "extra") || !strings.Contains(out, "NAME") {
		t.Errorf("network ls table:\n%s", out)
	}
	if _, stderr, code := c.pv(t, "network", "rm", "extra"); code == 0 || !strings.Contains(stderr, "used by pods onnet") {
		t.Errorf("rm of a network in use: exit %d %s", code, stderr)
	}
	if _, stderr, code := c.pv(t, "network", "rm", "podvisor"); code == 0 || !strings.Contains(stderr, "default network") {
		t.Errorf("rm of the default network: exit %d %s", code, stderr)
	}
	c.mustPV(t, "rm", "-f", "onnet")
	if out := c.mustPV(t, "network", "rm", "extra"); strings.TrimSpace(out) != "extra" {
		t.Errorf("network rm: %q", out)
	}
	if _, stderr, code := c.pv(t, "network", "inspect", "extra"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Errorf("inspect of a removed network: exit %d %s", code, stderr)
	}
	// A pod on a network that does not exist, and a hostPort without a
	// network to publish into, are refused by name.
	if _, stderr, code := c.pv(t, "run", specFile(t, "lost", "  network: extra\n  processes:\n  - {name: a, command: [sleep, \"1000\"]}\n")); code == 0 || !strings.Contains(stderr, `unknown network "extra"`) {
		t.Errorf("pod on a removed network: exit %d %s", code, stderr)
	}
	if _, stderr, code := c.pv(t, "run", specFile(t, "lost", "  network: none\n  processes:\n  - {name: a, command: [sleep, \"1000\"], ports: [{containerPort: 80, hostPort: 8080}]}\n")); code == 0 || !strings.Contains(stderr, "spec.processes[0].ports[0].hostPort: not with network \"none\"") {
		t.Errorf("hostPort with network none: exit %d %s", code, stderr)
	}
}

// httpGet sends GET path to addr from the host namespace and returns the
// body.
func (h *netHost) httpGet(addr, path string) (string, error) {
	c, err := h.dialer.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\n\r\n", path)
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return strings.TrimSpace(body), nil
}

// TestUpTwoPodsExample runs examples/two-pods.yaml with up on the bridge:
// the web pod, published on the host's port 8080, reaches the db pod by
// name; at the end nothing of the network is left.
func TestUpTwoPodsExample(t *testing.T) {
	c := newCLI(t, true)
	h := newNetHost(t)
	up := c.cmd(append(append([]string{"up"}, h.flags...), "../../examples/two-pods.yaml")...)
	var out syncBuffer
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	ended := false
	defer func() {
		if !ended {
			_ = up.Process.Kill()
			<-done
		}
	}()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		body, err = h.httpGet("127.0.0.1:8080", "/greeting")
		if err == nil && body == "hello from the db pod" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web pod on the host's port 8080: %q %v\n%s", body, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body, err := h.httpGet("127.0.0.1:8080", "/answer"); err != nil || body != "42" {
		t.Errorf("GET /answer: %q %v", body, err)
	}
	_ = up.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		ended = true
		if err != nil {
			t.Errorf("up: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("up did not end:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "web/http | web: /greeting -> hello from the db pod") {
		t.Errorf("up's output:\n%s", out.String())
	}
	if err := exec.Command("ip", "-n", filepath.Base(h.path), "link", "show", h.bridge).Run(); err == nil {
		t.Errorf("bridge %s left after up", h.bridge)
	}
}

// TestTwoDaemonsNetworksSideBySide: two daemons with their own roots, bridges and
// pod CIDRs on one host; each one's pods, addresses and ports work, and
// one going away leaves the other's links and rules alone.
func TestTwoDaemonsNetworksSideBySide(t *testing.T) {
	h := newNetHost(t)
	c1, c2 := newCLI(t, true), newCLI(t, true)
	sub2 := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 218, byte(rand.IntN(250)), 0}), 24)
	br2 := fmt.Sprintf("pvf%d", rand.IntN(1e9))
	flags2 := []string{"--default-network", "bridge", "--bridge", br2, "--pod-cidr", sub2.String(), "--host-netns", h.path, "--netns-dir", filepath.Join(t.TempDir(), "netns2")}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", flags2[len(flags2)-1]).Run() })
	d1 := startDaemon(t, c1, h.flags...)
	d2 := startDaemon(t, c2, flags2...)
	hp := 20000 + rand.IntN(20000)
	c1.mustPV(t, "run", specFile(t, "p1", fmt.Sprintf("  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: a, command: [sleep, \"1000\"], ports: [{containerPort: 80, hostPort: %d}]}\n", hp)))
	c2.mustPV(t, "run", specFile(t, "p2", fmt.Sprintf("  terminationGracePeriodSeconds: 1\n  processes:\n  - {name: a, command: [sleep, \"1000\"], ports: [{containerPort: 80, hostPort: %d}]}\n", hp+1)))
	s1, s2 := c1.status(t, "p1"), c2.status(t, "p2")
	if ip, _ := netip.ParseAddr(s1.PodIP); !h.subnet.Contains(ip) {
		t.Errorf("p1 has %q, want an address of %s", s1.PodIP, h.subnet)
	}
	if ip, _ := netip.ParseAddr(s2.PodIP); !sub2.Contains(ip) {
		t.Errorf("p2 has %q, want an address of %s", s2.PodIP, sub2)
	}
	serveIn(t, s2.Namespaces.Net, ":80", "p2")
	// A third daemon on daemon 1's bridge (another root) is refused at
	// start, naming daemon 1's root.
	c3 := newCLI(t, true)
	third := c3.cmd(append([]string{"daemon"}, h.flags...)...)
	third.Env = append(third.Env, "PODVISOR_SOCKET="+c3.socket())
	out, err := third.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is the podvisor of root "+c1.root) {
		t.Errorf("a daemon on another's bridge: %v\n%s", err, out)
	}
	c1.mustPV(t, "rm", "-f", "p1")
	if code := d1.stop(t); code != 0 {
		t.Errorf("daemon 1 exit %d", code)
	}
	if err := exec.Command("ip", "-n", filepath.Base(h.path), "link", "show", br2).Run(); err != nil {
		t.Errorf("daemon 2's bridge %s is gone with daemon 1's pods", br2)
	}
	if got := h.banner(t, fmt.Sprintf("127.0.0.1:%d", hp+1)); got != "p2" {
		t.Errorf("daemon 2's published port after daemon 1 left: %q", got)
	}
	if got := h.banner(t, netip.AddrPortFrom(netip.MustParseAddr(s2.PodIP), 80).String()); got != "p2" {
		t.Errorf("daemon 2's pod by address: %q", got)
	}
	c2.mustPV(t, "rm", "-f", "p2")
	if code := d2.stop(t); code != 0 {
		t.Errorf("daemon 2 exit %d", code)
	}
}

// TestUpKill9Sweeps: an up run killed with SIGKILL leaves its pods'
// namespaces, leases, names and bridge; the next up on the same root
// removes them before it starts.
func TestUpKill9Sweeps(t *testing.T) {
	c := newCLI(t, true)
	h := newNetHost(t)
	up := c.cmd(append(append([]string{"up"}, h.flags...), "../../examples/two-pods.yaml")...)
	var out syncBuffer
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if body, err := h.httpGet("127.0.0.1:8080", "/answer"); err == nil && body == "42" {
			break
		}
		if time.Now().After(deadline) {
			_ = up.Process.Kill()
			_ = up.Wait()
			t.Fatalf("two-pods example not answering:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = up.Process.Kill()
	_ = up.Wait()
	if _, err := os.Lstat(filepath.Join(h.netns, "web")); err != nil {
		t.Fatalf("the killed up left no name for web (nothing to test): %v", err)
	}
	next := specFile(t, "after", "  restartPolicy: Never\n  network: none\n  processes:\n  - {name: a, command: [\"true\"]}\n")
	if stdout, stderr, code := c.run(t, append(append([]string{"up"}, h.flags...), next)...); code != 0 {
		t.Fatalf("second up: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, n := range []string{"web", "db"} {
		if _, err := os.Lstat(filepath.Join(h.netns, n)); err == nil {
			t.Errorf("name %s left in the netns directory", n)
		}
	}
	leases, _ := os.ReadDir(filepath.Join(c.root, "networks", "podvisor", "leases"))
	for _, e := range leases {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			t.Errorf("lease %s left", e.Name())
		}
	}
	if err := exec.Command("ip", "-n", filepath.Base(h.path), "link", "show", h.bridge).Run(); err == nil {
		t.Errorf("bridge %s left", h.bridge)
	}
	if got, err := h.httpGet("127.0.0.1:8080", "/answer"); err == nil {
		t.Errorf("port 8080 still answers after the sweep: %q", got)
	}
}

// TestDaemonRefusesOverlappingPodCIDR: a pod CIDR that overlaps a route of
// the host is refused at start, naming the route.
func TestDaemonRefusesOverlappingPodCIDR(t *testing.T) {
	c := newCLI(t, true)
	h := newNetHost(t)
	if out, err := exec.Command("ip", "-n", filepath.Base(h.path), "route", "add", "10.219.1.0/24", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip route add: %v %s", err, out)
	}
	flags := append([]string{}, h.flags...)
	for i := range flags {
		if flags[i] == "--pod-cidr" {
			flags[i+1] = "10.219.0.0/16"
		}
	}
	d := c.cmd(append([]string{"daemon"}, flags...)...)
	d.Env = append(d.Env, "PODVISOR_SOCKET="+c.socket())
	var outb syncBuffer
	d.Stdout, d.Stderr = &outb, &outb
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = d.Process.Kill()
		<-done
		t.Fatalf("the daemon started with an overlapping pod CIDR:\n%s", outb.String())
	}
	out := outb.String()
	if err == nil || !strings.Contains(out, "pod CIDR 10.219.0.0/16 overlaps the host's route 10.219.1.0/24 dev lo") {
		t.Errorf("daemon with an overlapping pod CIDR: %v\n%s", err, out)
	}
}
