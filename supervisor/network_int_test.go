package supervisor

import (
	"bufio"
	"errors"
	"fmt"

	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/firewall"
	"github.com/podvisor/podvisor/namespaces"
	"github.com/podvisor/podvisor/network"
	"github.com/podvisor/podvisor/pod"
)

// netEnv is a network namespace the test makes to stand for the host: the
// supervisor makes its bridge, rules and DNS responder there, so the
// machine's own network is never touched.
type netEnv struct {
	host    namespaces.Paths
	dialer  *namespaces.NetDialer
	opts    NetworkOptions
	subnet  netip.Prefix
	gateway netip.Addr
	// other is an address of the host namespace besides the bridge's.
	other netip.Addr
}

func newNetEnv(t testing.TB) *netEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces, links and nftables rules")
	}
	dir := filepath.Join(t.TempDir(), "hostns")
	paths, err := namespaces.CreateWith(dir, namespaces.Options{Hostname: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = namespaces.Remove(dir)
		_ = namespaces.Release(filepath.Dir(dir))
	})
	d, err := namespaces.NewNetDialer(paths.Net)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	// A second address of the "host", on its loopback.
	other := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + rand.IntN(250))})
	nsh, err := netns.GetFromPath(paths.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: other.AsSlice(), Mask: net.CIDRMask(32, 32)}}); err != nil {
		t.Fatal(err)
	}
	sub := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(rand.IntN(250)), 0}), 24)
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\nsearch example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	netnsDir := filepath.Join(t.TempDir(), "netns")
	// NameNetNS makes the directory a mount of its own, as ip netns does.
	t.Cleanup(func() { _ = unix.Unmount(netnsDir, unix.MNT_DETACH) })
	return &netEnv{host: paths, dialer: d, subnet: sub, gateway: sub.Addr().Next(), other: other,
		opts: NetworkOptions{
			Default:    pod.NetworkBridge,
			Bridge:     fmt.Sprintf("pvt%d", rand.IntN(1e9)),
			PodCIDR:    sub,
			HostNetNS:  paths.Net,
			NetnsDir:   netnsDir,
			ResolvConf: resolv,
			CNIConfDir: filepath.Join(t.TempDir(), "cni"),
		}}
}

// serveBanner accepts connections in d's namespace on addr and writes
// banner to each.
func serveBanner(t *testing.T, d *namespaces.NetDialer, addr, banner string) {
	t.Helper()
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
			fmt.Fprintf(c, "%s from %s\n", banner, c.RemoteAddr())
			c.Close()
		}
	}()
}

// banner dials addr from d's namespace and returns the first line read.
func banner(d *namespaces.NetDialer, addr string) (string, error) {
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func wantBanner(t *testing.T, d *namespaces.NetDialer, addr, want string) string {
	t.Helper()
	got, err := banner(d, addr)
	if err != nil || !strings.HasPrefix(got, want+" from ") {
		t.Fatalf("dial %s: got %q, %v; want %q", addr, got, err, want)
	}
	return strings.TrimPrefix(got, want+" from ")
}

func sleeper(name, extra string) string {
	return fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 1
%s  processes:
  - name: app
    command: [sleep, "1000"]
`, name, extra)
}

func TestNetworkBridge(t *testing.T) {
	env := newNetEnv(t)
	sv := newSupervisorWith(t, Options{Network: env.opts, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	nameA, nameB := podName(t), podName(t)
	a := createAndStart(t, sv, load(t, sleeper(nameA, "")))
	b := createAndStart(t, sv, load(t, sleeper(nameB, "")))
	stA, stB := a.Status(), b.Status()
	ipA, errA := netip.ParseAddr(stA.PodIP)
	ipB, errB := netip.ParseAddr(stB.PodIP)
	if errA != nil || errB != nil || !env.subnet.Contains(ipA) || !env.subnet.Contains(ipB) || ipA == ipB {
		t.Fatalf("pod IPs %q and %q: want two addresses of %s", stA.PodIP, stB.PodIP, env.subnet)
	}
	if stA.Network != DefaultNetworkName || len(stA.PodIPs) != 1 {
		t.Errorf("status network %q podIPs %v", stA.Network, stA.PodIPs)
	}
	dA, dB := netnsDialer(t, a), netnsDialer(t, b)
	// The same port in two pods.
	serveBanner(t, dA, ":8080", "A")
	serveBanner(t, dB, ":8080", "B")
	// host → pod, pod → pod by address.
	wantBanner(t, env.dialer, netip.AddrPortFrom(ipA, 8080).String(), "A")
	wantBanner(t, env.dialer, netip.AddrPortFrom(ipB, 8080).String(), "B")
	if from := wantBanner(t, dA, netip.AddrPortFrom(ipB, 8080).String(), "B"); !strings.HasPrefix(from, ipA.String()+":") {
		t.Errorf("pod B saw pod A's connection from %s, want %s (no NAT between pods)", from, ipA)
	}
	// pod → an address of the host, which sees the pod's address... or
	// the gateway's: the host is the router.
	serveBanner(t, env.dialer, netip.AddrPortFrom(env.other, 9099).String(), "H")
	wantBanner(t, dA, netip.AddrPortFrom(env.other, 9099).String(), "H")

	// pod → pod by name, through the DNS responder on the gateway, as the
	// pod's resolv.conf says.
	resolv, err := os.ReadFile(filepath.Join(sv.mntDir(nameA), "run", "resolv.conf"))
	if err != nil || !strings.Contains(string(resolv), "nameserver "+env.gateway.String()+"\n") || !strings.Contains(string(resolv), "search "+DefaultNetworkName+" example.test") {
		t.Errorf("pod resolv.conf: %q %v", resolv, err)
	}
	hosts, _ := os.ReadFile(filepath.Join(sv.mntDir(nameA), "run", "hosts"))
	if !strings.Contains(string(hosts), ipA.String()+"\t"+nameA) {
		t.Errorf("pod /etc/hosts does not map its name to %s:\n%s", ipA, hosts)
	}
	for _, q := range []string{nameB, nameB + "." + DefaultNetworkName} {
		if got := resolveIn(t, dA, env.gateway, q, dns.TypeA); len(got) != 1 || got[0] != ipB {
			t.Errorf("%s resolved in pod A to %v, want %s", q, got, ipB)
		}
	}
	if got := resolveIn(t, dA, env.gateway, "nosuchpod", dns.TypeA); got != nil {
		t.Errorf("an unknown pod resolved to %v", got)
	}
	// A process of the pod resolves the name through libc, too.
	nameC := podName(t)
	c := createAndStart(t, sv, load(t, fmt.Sprintf(`apiVersion: podvisor/v1
kind: Pod
metadata: {name: %s}
spec:
  restartPolicy: Never
  processes:
  - name: app
    command: [sh, -c, "getent hosts %s; echo env=$POD_IP arg=$1 both=$BOTH", sh, "$(POD_IP)"]
    env:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: BOTH, value: "ip $(POD_IP)"}
`, nameC, nameB)))
	waitLog(t, sv, nameC, "app", ipB.String(), 20*time.Second)
	waitPhase(t, c, 20*time.Second, pod.PhaseSucceeded)
	ipC := c.Status().PodIP
	waitLog(t, sv, nameC, "app", fmt.Sprintf("env=%s arg=%s both=ip %s", ipC, ipC, ipC), 5*time.Second)

	// ip netns names the pods.
	if fi, err := os.Stat(filepath.Join(env.opts.NetnsDir, nameA)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("no %s in the netns directory: %v", nameA, err)
	} else if nsInode(t, filepath.Join(env.opts.NetnsDir, nameA)) != nsInode(t, stA.Namespaces.Net) {
		t.Errorf("netns directory entry is not the pod's namespace")
	}

	// rm leaves no lease, no name, no veth; the last pod takes the bridge
	// and the table.
	host, err := network.OpenHost(env.host.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	leases := filepath.Join(sv.Root(), "networks", DefaultNetworkName, "leases")
	for _, p := range []*Pod{a, b, c} {
		if err := sv.Remove(t.Context(), p.name, RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(leases)
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			t.Errorf("lease %s left after rm", e.Name())
		}
	}
	if _, err := os.Lstat(filepath.Join(env.opts.NetnsDir, nameA)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns entry left after rm: %v", err)
	}
	waitFor(t, 10*time.Second, "the bridge and the table to go with the last pod", func() bool {
		ok, _ := host.LinkExists(env.opts.Bridge)
		fw, _ := firewall.Open(firewall.Config{Table: firewall.TableName(env.opts.Bridge), Bridge: env.opts.Bridge, Subnet: env.subnet, NetNS: env.host.Net})
		defer fw.Close()
		exists, _ := fw.Exists()
		return !ok && !exists
	})
}

func TestNetworkHostPort(t *testing.T) {
	env := newNetEnv(t)
	sv := newSupervisorWith(t, Options{Network: env.opts, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	hp := 20000 + rand.IntN(20000)
	nameW, nameO := podName(t), podName(t)
	w := createAndStart(t, sv, load(t, sleeper(nameW, fmt.Sprintf("  hostname: web\n"))+fmt.Sprintf("    ports: [{name: http, containerPort: 80, hostPort: %d}]\n", hp)))
	o := createAndStart(t, sv, load(t, sleeper(nameO, "")))
	st := w.Status()
	if len(st.Ports) != 1 || st.Ports[0].String() != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", hp) {
		t.Errorf("status ports %v", st.Ports)
	}
	dW, dO := netnsDialer(t, w), netnsDialer(t, o)
	serveBanner(t, dW, ":80", "W")
	// From the host: 127.0.0.1, the host's own addresses.
	for _, a := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), env.other, env.gateway} {
		wantBanner(t, env.dialer, netip.AddrPortFrom(a, uint16(hp)).String(), "W")
	}
	// From another pod, and from the pod itself (hairpin).
	wantBanner(t, dO, netip.AddrPortFrom(env.other, uint16(hp)).String(), "W")
	wantBanner(t, dW, netip.AddrPortFrom(env.gateway, uint16(hp)).String(), "W")

	// Another pod cannot publish the same port: the error names the pod
	// that has it, nothing is left of the refused pod, and an event says
	// why.
	events, unsubscribe := sv.Subscribe(64)
	defer unsubscribe()
	nameX := podName(t)
	_, err := sv.Create(load(t, sleeper(nameX, "")+fmt.Sprintf("    ports: [{containerPort: 81, hostPort: %d}]\n", hp)))
	if err == nil || !errors.Is(err, pod.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("published already by pod %q", nameW)) {
		t.Fatalf("create with a taken hostPort: %v", err)
	}
	assertNoPodLeftovers(t, sv, env, nameX)
	for got := false; !got; {
		select {
		case ev := <-events:
			got = ev.Type == EventNetworkNotReady && ev.Pod == nameX && strings.Contains(ev.Message, "published already")
		case <-time.After(5 * time.Second):
			t.Fatal("no NetworkNotReady event for the refused pod")
		}
	}
	// A port a program of the host holds is refused (bind check).
	held, err := env.dialer.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", hp+1))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, err = sv.Create(load(t, sleeper(nameX, "")+fmt.Sprintf("    ports: [{containerPort: 81, hostPort: %d}]\n", hp+1)))
	if err == nil || !errors.Is(err, pod.ErrConflict) || !strings.Contains(err.Error(), "in use on the host") {
		t.Fatalf("create with a hostPort in use on the host: %v", err)
	}
	assertNoPodLeftovers(t, sv, env, nameX)
	// hostIP must be an address of the host.
	_, err = sv.Create(load(t, sleeper(nameX, "")+fmt.Sprintf("    ports: [{containerPort: 81, hostPort: %d, hostIP: 198.51.100.7}]\n", hp+2)))
	if err == nil || !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), "198.51.100.7 is not an address of the host") {
		t.Fatalf("create with a foreign hostIP: %v", err)
	}
	assertNoPodLeftovers(t, sv, env, nameX)

	// Removing the pod frees the port for another.
	if err := sv.Remove(t.Context(), nameW, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	w2 := createAndStart(t, sv, load(t, sleeper(nameX, "")+fmt.Sprintf("    ports: [{containerPort: 81, hostPort: %d}]\n", hp)))
	serveBanner(t, netnsDialer(t, w2), ":81", "W2")
	wantBanner(t, env.dialer, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(hp)).String(), "W2")
}

func TestNetworkNoneAndHost(t *testing.T) {
	env := newNetEnv(t)
	sv := newSupervisorWith(t, Options{Network: env.opts, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	n := createAndStart(t, sv, load(t, sleeper(podName(t), "  network: none\n")))
	st := n.Status()
	if st.PodIP != "" || st.Network != "none" || st.Namespaces.Net == "" {
		t.Errorf("network none: status %q %q netns %q", st.Network, st.PodIP, st.Namespaces.Net)
	}
	links, err := linksIn(st.Namespaces.Net)
	if err != nil || len(links) != 1 || links[0] != "lo" {
		t.Errorf("network none: links %v %v, want lo only", links, err)
	}
	h := createAndStart(t, sv, load(t, sleeper(podName(t), "  network: host\n")))
	if st := h.Status(); st.Network != "host" || st.Namespaces.Net != "" {
		t.Errorf("network host: status %q netns %q", st.Network, st.Namespaces.Net)
	}
	// No bridge was made for them.
	host, err := network.OpenHost(env.host.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if ok, _ := host.LinkExists(env.opts.Bridge); ok {
		t.Errorf("bridge %s made for pods that are not on it", env.opts.Bridge)
	}
	// dnsPolicy Default: the host's resolvers, as Kubernetes gives the
	// node's, not the network's responder.
	dp := podName(t)
	createAndStart(t, sv, load(t, sleeper(dp, "  dnsPolicy: Default\n")))
	if resolv, err := os.ReadFile(filepath.Join(sv.mntDir(dp), "run", "resolv.conf")); err != nil || strings.Contains(string(resolv), "nameserver "+env.gateway.String()) {
		t.Errorf("dnsPolicy Default: resolv.conf %q %v names the network's responder", resolv, err)
	}
	// An unknown network is refused by name.
	_, err = sv.Create(load(t, sleeper(podName(t), "  network: nosuchnet\n")))
	if err == nil || !errors.Is(err, pod.ErrInvalid) || !strings.Contains(err.Error(), `unknown network "nosuchnet"`) {
		t.Errorf("create on an unknown network: %v", err)
	}
}

// assertNoPodLeftovers checks that a pod whose create failed left no
// lease, no name, no rule and no directory.
func assertNoPodLeftovers(t *testing.T, sv *Supervisor, env *netEnv, name string) {
	t.Helper()
	if _, err := sv.Get(name); err == nil {
		t.Errorf("pod %s exists after a failed create", name)
	}
	l := &network.Leases{Dir: filepath.Join(sv.Root(), "networks", DefaultNetworkName, "leases"), Subnet: env.subnet}
	all, _ := l.List()
	for ip, owner := range all {
		if owner == name {
			t.Errorf("lease %s of %s left", ip, name)
		}
	}
	if _, err := os.Lstat(filepath.Join(env.opts.NetnsDir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns name of %s left: %v", name, err)
	}
	fw, err := firewall.Open(firewall.Config{Table: firewall.TableName(env.opts.Bridge), Bridge: env.opts.Bridge, Subnet: env.subnet, NetNS: env.host.Net})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	pub, _ := fw.Published()
	if len(pub[name]) > 0 {
		t.Errorf("rules of %s left: %v", name, pub[name])
	}
	if _, err := os.Stat(filepath.Join(sv.Root(), "pods", name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory of %s left: %v", name, err)
	}
}

// resolveIn asks the DNS server at server:53 for name, over TCP from d's
// namespace.
func resolveIn(t *testing.T, d *namespaces.NetDialer, server netip.Addr, name string, qtype uint16) []netip.Addr {
	t.Helper()
	c, err := d.Dial("tcp", netip.AddrPortFrom(server, 53).String())
	if err != nil {
		t.Fatalf("dial the DNS responder: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	co := &dns.Conn{Conn: c}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	r, err := co.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Addr
	for _, rr := range r.Answer {
		switch a := rr.(type) {
		case *dns.A:
			ip, _ := netip.AddrFromSlice(a.A.To4())
			out = append(out, ip)
		case *dns.AAAA:
			ip, _ := netip.AddrFromSlice(a.AAAA)
			out = append(out, ip)
		}
	}
	return out
}

func linksIn(nsPath string) ([]string, error) {
	h, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, err
	}
	defer nl.Close()
	links, err := nl.LinkList()
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names, err
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A CNI network, with Debian's plugins: bridge, host-local and portmap,
// run in the test's host namespace; DEL on rm leaves nothing.
func TestNetworkCNI(t *testing.T) {
	env := newNetEnv(t)
	binDir := ""
	for _, d := range []string{"/usr/lib/cni", "/opt/cni/bin"} {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			binDir = d
			break
		}
	}
	if binDir == "" {
		t.Skip("needs the CNI plugins bridge, host-local and portmap (Debian's containernetworking-plugins; make test installs it)")
	}
	name := fmt.Sprintf("cnitest%d", rand.IntN(1e6))
	bridge := fmt.Sprintf("pvc%d", rand.IntN(1e9))
	sub := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 214, byte(rand.IntN(250)), 0}), 24)
	dataDir := t.TempDir()
	conf := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": %q, "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}`, name, bridge, dataDir, sub.String())
	if err := os.MkdirAll(env.opts.CNIConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(env.opts.CNIConfDir, "10-test.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	env.opts.CNIBinDirs = []string{binDir}
	sv := newSupervisorWith(t, Options{Network: env.opts, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	hp := 20000 + rand.IntN(20000)
	podN := podName(t)
	p := createAndStart(t, sv, load(t, sleeper(podN, "  network: "+name+"\n")+fmt.Sprintf("    ports: [{containerPort: 80, hostPort: %d}]\n", hp)))
	st := p.Status()
	ip, err := netip.ParseAddr(st.PodIP)
	if err != nil || !sub.Contains(ip) || st.Network != name {
		t.Fatalf("pod on the CNI network: network %q IP %q, want an address of %s", st.Network, st.PodIP, sub)
	}
	serveBanner(t, netnsDialer(t, p), ":80", "C")
	wantBanner(t, env.dialer, netip.AddrPortFrom(ip, 80).String(), "C")
	wantBanner(t, env.dialer, netip.AddrPortFrom(env.other, uint16(hp)).String(), "C")
	nets, err := sv.Networks()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range nets {
		if n.Name == name {
			found = n.Driver == "cni" && len(n.Pods) == 1 && n.Pods[0] == podN
		}
	}
	if !found {
		t.Errorf("networks %+v: want %s, driver cni, with the pod", nets, name)
	}
	if err := sv.Remove(t.Context(), podN, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	// DEL released the address and took the pod's veth off the bridge.
	leases, _ := os.ReadDir(filepath.Join(dataDir, name))
	for _, e := range leases {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			t.Errorf("host-local lease %s left after rm", e.Name())
		}
	}
	host, err := network.OpenHost(env.host.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	waitFor(t, 10*time.Second, "the pod's veth to leave the CNI bridge", func() bool {
		ports, _ := host.Ports(bridge)
		return len(ports) == 0
	})
}

// A /30 has one address for a pod: the second pod is refused, naming the
// subnet, and leaves nothing. With an IPv6 subnet too, a pod has an
// address of both, reachable over both, and its name resolves to both.
func TestNetworkExhaustedAndIPv6(t *testing.T) {
	env := newNetEnv(t)
	env.opts.PodCIDR = netip.PrefixFrom(env.subnet.Addr(), 30)
	env.subnet = env.opts.PodCIDR
	env.opts.PodCIDR6 = netip.MustParsePrefix(fmt.Sprintf("fd77:%x::/64", rand.IntN(0xffff)))
	sv := newSupervisorWith(t, Options{Network: env.opts, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	name := podName(t)
	p := createAndStart(t, sv, load(t, sleeper(name, "")))
	st := p.Status()
	if len(st.PodIPs) != 2 {
		t.Fatalf("podIPs %v, want an IPv4 and an IPv6 address", st.PodIPs)
	}
	ip4, ip6 := netip.MustParseAddr(st.PodIPs[0]), netip.MustParseAddr(st.PodIPs[1])
	if !env.subnet.Contains(ip4) || !env.opts.PodCIDR6.Contains(ip6) {
		t.Fatalf("podIPs %v, want addresses of %s and %s", st.PodIPs, env.subnet, env.opts.PodCIDR6)
	}
	d := netnsDialer(t, p)
	serveBanner(t, d, ":80", "six")
	wantBanner(t, env.dialer, netip.AddrPortFrom(ip6, 80).String(), "six")
	wantBanner(t, env.dialer, netip.AddrPortFrom(ip4, 80).String(), "six")
	if got := resolveIn(t, d, env.gateway, name, dns.TypeAAAA); len(got) != 1 || got[0] != ip6 {
		t.Errorf("AAAA %s: %v, want %s", name, got, ip6)
	}
	other := podName(t)
	_, err := sv.Create(load(t, sleeper(other, "")))
	if err == nil || !errors.Is(err, pod.ErrConflict) || !strings.Contains(err.Error(), "every address of "+env.subnet.String()+" is taken") {
		t.Fatalf("create on a full subnet: %v", err)
	}
	assertNoPodLeftovers(t, sv, env, other)
}
