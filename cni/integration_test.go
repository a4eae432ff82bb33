package cni

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/podvisor/podvisor/namespaces"
)

// debianPlugins is where Debian's containernetworking-plugins installs.
const debianPlugins = "/usr/lib/cni"

func requirePlugins(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, bridges, veths)")
	}
	for _, name := range []string{"bridge", "host-local", "portmap"} {
		if _, err := os.Stat(filepath.Join(debianPlugins, name)); err != nil {
			t.Skipf("needs the CNI plugin %s/%s (Debian package containernetworking-plugins): %v", debianPlugins, name, err)
		}
	}
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// pluginVersion is the newest of 1.0.0 and 0.4.0 that Debian's bridge
// plugin supports.
func pluginVersion(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(debianPlugins, "bridge"))
	cmd.Env = append(os.Environ(), "CNI_COMMAND=VERSION")
	cmd.Stdin = strings.NewReader(`{"cniVersion":"1.0.0"}`)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bridge VERSION: %v", err)
	}
	var info struct {
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("bridge VERSION: %v: %s", err, out)
	}
	if slices.Contains(info.SupportedVersions, "1.0.0") {
		return "1.0.0"
	}
	return "0.4.0"
}

// testNet is a test "host" network namespace, a pod namespace, and a CNI
// setup whose plugins run in the host namespace.
type testNet struct {
	host, pod string // namespace files
	do        func(func() error) error
	p         *Plugins
	name      string // network name
	bridge    string
	subnet    netip.Prefix
	dataDir   string // host-local's
	version   string
	dummyIP   netip.Addr // the host namespace's own address, on its lo
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	requirePlugins(t)
	base := t.TempDir()
	t.Cleanup(func() { _ = namespaces.Release(base) })
	mk := func(name string, sysctls []namespaces.Sysctl) string {
		dir := filepath.Join(base, name)
		p, err := namespaces.CreateWith(dir, namespaces.Options{Hostname: name, HostIPC: true, Sysctls: sysctls})
		if err != nil {
			t.Fatalf("namespaces %s: %v", name, err)
		}
		t.Cleanup(func() {
			if err := namespaces.Remove(dir); err != nil {
				t.Errorf("remove namespaces %s: %v", dir, err)
			}
		})
		return p.Net
	}
	r := randHex(t, 3)
	n := &testNet{
		host:    mk("host", []namespaces.Sysctl{{Name: "net.ipv4.ip_forward", Value: "1"}}),
		pod:     mk("pod", nil),
		name:    "pvtest-" + r,
		bridge:  "pvcni" + r,
		dataDir: t.TempDir(),
		version: pluginVersion(t),
	}
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	n.subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 199, b[0], 0}), 24)
	n.dummyIP = netip.AddrFrom4([4]byte{10, 198, b[1], 1})

	h, err := namespaces.Open(namespaces.Paths{Net: n.host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	n.do = func(f func() error) error {
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			restore, err := h.Enter()
			if err != nil {
				errc <- err // the thread stays locked: Go discards it
				return
			}
			ferr := f()
			if rerr := restore(); rerr != nil {
				errc <- errors.Join(ferr, rerr)
				return
			}
			runtime.UnlockOSThread()
			errc <- ferr
		}()
		return <-errc
	}
	// The host namespace's own address (this kernel has no dummy links:
	// on lo, as a /32).
	if err := n.do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: n.dummyIP.AsSlice(), Mask: net.CIDRMask(32, 32)}})
	}); err != nil {
		t.Fatalf("address %v on lo in the host namespace: %v", n.dummyIP, err)
	}
	n.p = &Plugins{
		ConfDir:  t.TempDir(),
		BinDirs:  []string{debianPlugins},
		CacheDir: t.TempDir(),
		Do:       n.do,
	}
	return n
}

// conflist is the test network's configuration, with extra plugins after
// bridge and portmap.
func (n *testNet) conflist(name string, extra ...string) string {
	plugins := []string{
		fmt.Sprintf(`{"type":"bridge","bridge":%q,"isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":%q,"dataDir":%q,"routes":[{"dst":"0.0.0.0/0"}]}}`,
			n.bridge, n.subnet.String(), n.dataDir),
		`{"type":"portmap","capabilities":{"portMappings":true}}`,
	}
	plugins = append(plugins, extra...)
	return fmt.Sprintf(`{"cniVersion":%q,"name":%q,"plugins":[%s]}`, n.version, name, strings.Join(plugins, ","))
}

func (n *testNet) writeConf(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(n.p.ConfDir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// state is what the test network has made: the bridge's ports in the host
// namespace, links in the pod namespace other than lo, host-local's leases.
type state struct {
	ports, podLinks, leases []string
}

func (n *testNet) state(t *testing.T, network string) state {
	t.Helper()
	var s state
	if err := n.do(func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		br := -1
		for _, l := range links {
			if l.Attrs().Name == n.bridge {
				br = l.Attrs().Index
			}
		}
		for _, l := range links {
			if br > 0 && l.Attrs().MasterIndex == br {
				s.ports = append(s.ports, l.Attrs().Name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h, err := namespaces.Open(namespaces.Paths{Net: n.pod})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := h.Enter()
		if err != nil {
			errc <- err
			return
		}
		links, lerr := netlink.LinkList()
		if rerr := restore(); rerr != nil {
			errc <- rerr
			return
		}
		runtime.UnlockOSThread()
		for _, l := range links {
			if l.Attrs().Name != "lo" {
				s.podLinks = append(s.podLinks, l.Attrs().Name)
			}
		}
		errc <- lerr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(n.dataDir, network))
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			s.leases = append(s.leases, e.Name())
		}
	}
	return s
}

// nat is the host namespace's iptables nat table (iptables-save), or what
// went wrong.
func (n *testNet) nat() string {
	var out []byte
	err := n.do(func() error {
		var err error
		out, err = exec.Command("iptables-save", "-t", "nat").CombinedOutput()
		return err
	})
	if err != nil {
		return fmt.Sprintf("iptables-save: %v: %s", err, out)
	}
	return string(out)
}

// serve listens in the pod namespace and answers "hello NAME" to each
// connection.
func serve(t *testing.T, podNS string) int {
	t.Helper()
	d, err := namespaces.NewNetDialer(podNS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := d.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello %s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// hello connects from the host namespace to addr and returns the greeting.
func hello(hostNS string, addr netip.AddrPort) (string, error) {
	d, err := namespaces.NewNetDialer(hostNS)
	if err != nil {
		return "", err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func TestBridgeAddDel(t *testing.T) {
	n := newTestNet(t)
	n.writeConf(t, "10-test.conflist", n.conflist(n.name))

	nets, err := n.p.Networks()
	if err != nil || len(nets) != 1 || nets[0].Name != n.name || nets[0].Version != n.version || !slices.Equal(nets[0].Plugins, []string{"bridge", "portmap"}) {
		t.Fatalf("Networks = %+v, %v", nets, err)
	}
	conf, err := n.p.Config(n.name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.p.Config("pvtest-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Config of an unknown network = %v, want ErrNotFound", err)
	}

	port := serve(t, n.pod)
	var pb [2]byte
	if _, err := rand.Read(pb[:]); err != nil {
		t.Fatal(err)
	}
	hostPort := 20000 + (int(pb[0])<<8|int(pb[1]))%10000
	a := Attachment{
		ContainerID:  "web-" + randHex(t, 4),
		NetNS:        n.pod,
		Args:         ArgsFor("default", "web", "web-infra", "uid-1"),
		PortMappings: []PortMapping{{HostPort: int32(hostPort), ContainerPort: int32(port), Protocol: "tcp"}},
	}
	ctx := context.Background()
	start := time.Now()
	r, err := n.p.Add(ctx, conf, a)
	addTime := time.Since(start)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	t.Logf("Add took %v: IPs %v, gateways %v, interface %s, result %s", addTime, r.IPs, r.Gateways, r.Interface, r.Raw)
	if len(r.IPs) != 1 || !n.subnet.Contains(r.IPs[0].Addr()) || r.IPs[0].Bits() != 24 {
		t.Fatalf("Add: IPs %v, want one in %v", r.IPs, n.subnet)
	}
	gw := n.subnet.Addr().Next()
	if !slices.Equal(r.Gateways, []netip.Addr{gw}) || r.Interface != "eth0" {
		t.Errorf("Add: gateways %v, interface %q", r.Gateways, r.Interface)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.Raw, &raw); err != nil || raw["cniVersion"] != n.version {
		t.Errorf("Raw = %s", r.Raw)
	}
	podIP := r.IPs[0].Addr()
	s := n.state(t, n.name)
	if len(s.ports) != 1 || !slices.Equal(s.podLinks, []string{"eth0"}) || !slices.Equal(s.leases, []string{podIP.String()}) {
		t.Errorf("after Add: %+v", s)
	}

	// The pod is reached from the host namespace at its address...
	if got, err := hello(n.host, netip.AddrPortFrom(podIP, uint16(port))); err != nil || !strings.HasPrefix(got, "hello "+gw.String()+":") {
		t.Errorf("pod %v:%d from the host namespace: %q, %v", podIP, port, got, err)
	}
	// ...and at the published port of the host's own address.
	if got, err := hello(n.host, netip.AddrPortFrom(n.dummyIP, uint16(hostPort))); err != nil || !strings.HasPrefix(got, "hello ") {
		t.Errorf("published port %v:%d from the host namespace: %q, %v\nnat table:\n%s", n.dummyIP, hostPort, got, err, n.nat())
	} else {
		t.Logf("published port %v:%d answered %q", n.dummyIP, hostPort, got)
	}

	// Debian's portmap 1.1.1 fails CHECK of an IPv4-only attachment when
	// ip6tables works (it looks for its chain in both; fixed upstream
	// since): then only the plugins before it are known to pass.
	if err := n.p.Check(ctx, conf, a); err != nil {
		if strings.Contains(err.Error(), `plugin type="portmap" failed (check)`) && strings.Contains(err.Error(), "could not check ipv6 dnat") {
			t.Logf("Check: portmap's known IPv6 CHECK bug: %v", err)
		} else {
			t.Errorf("Check: %v", err)
		}
	}

	start = time.Now()
	if err := n.p.Del(ctx, conf, a); err != nil {
		t.Fatalf("Del: %v", err)
	}
	t.Logf("Del took %v", time.Since(start))
	if s := n.state(t, n.name); len(s.ports)+len(s.podLinks)+len(s.leases) != 0 {
		t.Errorf("after Del: %+v", s)
	}
	if nat := n.nat(); strings.Contains(nat, "CNI-DN-") {
		t.Errorf("portmap rules left after Del:\n%s", nat)
	}
	if err := n.p.Del(ctx, conf, a); err != nil {
		t.Errorf("second Del: %v", err)
	}
	// DEL after the pod's namespace is gone is fine too.
	if err := n.p.Del(ctx, conf, Attachment{ContainerID: a.ContainerID, NetNS: filepath.Join(t.TempDir(), "gone")}); err != nil {
		t.Errorf("Del with a missing netns: %v", err)
	}
}

func TestDelAfterRestart(t *testing.T) {
	n := newTestNet(t)
	conf := []byte(n.conflist(n.name))
	a := Attachment{
		ContainerID:  "web-" + randHex(t, 4),
		NetNS:        n.pod,
		Args:         ArgsFor("default", "web", "web-infra", ""),
		PortMappings: []PortMapping{{HostPort: 18080, ContainerPort: 80, Protocol: "tcp"}},
	}
	ctx := context.Background()
	if _, err := n.p.Add(ctx, conf, a); err != nil {
		t.Fatal(err)
	}
	if s := n.state(t, n.name); len(s.ports) != 1 || len(s.leases) != 1 {
		t.Fatalf("after Add: %+v", s)
	}
	if nat := n.nat(); !strings.Contains(nat, "CNI-DN-") {
		t.Logf("no portmap rules after Add? nat table:\n%s", nat)
	}
	// A restarted daemon: a new Plugins value with the same directories,
	// knowing only the stored config and the attachment's identity.
	p2 := &Plugins{ConfDir: n.p.ConfDir, BinDirs: n.p.BinDirs, CacheDir: n.p.CacheDir, Do: n.do}
	if err := p2.Del(ctx, conf, Attachment{ContainerID: a.ContainerID, NetNS: a.NetNS}); err != nil {
		t.Fatalf("Del: %v", err)
	}
	if s := n.state(t, n.name); len(s.ports)+len(s.podLinks)+len(s.leases) != 0 {
		t.Errorf("after Del: %+v", s)
	}
	if nat := n.nat(); strings.Contains(nat, "CNI-DN-") {
		t.Errorf("portmap rules left after Del:\n%s", nat)
	}
	if entries, _ := os.ReadDir(filepath.Join(n.p.CacheDir, "results")); len(entries) != 0 {
		t.Errorf("cache left after Del: %v", entries)
	}
}

func TestAddFailureLeavesNothing(t *testing.T) {
	n := newTestNet(t)
	conf := []byte(n.conflist(n.name, `{"type":"pvcni-missing"}`))
	a := Attachment{ContainerID: "web-" + randHex(t, 4), NetNS: n.pod}
	_, err := n.p.Add(context.Background(), conf, a)
	if err == nil {
		t.Fatal("Add succeeded")
	}
	t.Logf("Add: %v", err)
	if !strings.Contains(err.Error(), `plugin type="pvcni-missing" failed (add)`) {
		t.Errorf("Add error does not name the plugin: %v", err)
	}
	if strings.Contains(err.Error(), "DEL after") {
		t.Errorf("the cleanup failed: %v", err)
	}
	if s := n.state(t, n.name); len(s.ports)+len(s.podLinks)+len(s.leases) != 0 {
		t.Errorf("after the failed Add: %+v", s)
	}
	if nat := n.nat(); strings.Contains(nat, "CNI-DN-") {
		t.Errorf("portmap rules left after the failed Add:\n%s", nat)
	}
}

// TestAddDelTiming measures Add and Del of the bridge + host-local +
// portmap list.
func TestAddDelTiming(t *testing.T) {
	n := newTestNet(t)
	conf := []byte(n.conflist(n.name))
	ctx := context.Background()
	const rounds = 5
	var adds, dels []time.Duration
	for i := range rounds {
		a := Attachment{
			ContainerID:  fmt.Sprintf("web-%d-%s", i, randHex(t, 4)),
			NetNS:        n.pod,
			PortMappings: []PortMapping{{HostPort: 18080, ContainerPort: 80, Protocol: "tcp"}},
		}
		start := time.Now()
		if _, err := n.p.Add(ctx, conf, a); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, time.Since(start))
		start = time.Now()
		if err := n.p.Del(ctx, conf, a); err != nil {
			t.Fatal(err)
		}
		dels = append(dels, time.Since(start))
	}
	slices.Sort(adds)
	slices.Sort(dels)
	t.Logf("Add (bridge+host-local+portmap, %d rounds): min %v median %v max %v", rounds, adds[0], adds[rounds/2], adds[rounds-1])
	t.Logf("Del: min %v median %v max %v", dels[0], dels[rounds/2], dels[rounds-1])
}

// TestCheck: CHECK passes after ADD and fails, naming the plugin, once
// the pod's interface is gone.
func TestCheck(t *testing.T) {
	n := newTestNet(t)
	conf := []byte(fmt.Sprintf(`{"cniVersion":%q,"name":%q,"plugins":[{"type":"bridge","bridge":%q,"isGateway":true,"ipam":{"type":"host-local","subnet":%q,"dataDir":%q}}]}`,
		n.version, n.name, n.bridge, n.subnet.String(), n.dataDir))
	a := Attachment{ContainerID: "web-" + randHex(t, 4), NetNS: n.pod}
	ctx := context.Background()
	if _, err := n.p.Add(ctx, conf, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.p.Del(ctx, conf, a); err != nil {
			t.Errorf("Del: %v", err)
		}
	})
	if err := n.p.Check(ctx, conf, a); err != nil {
		t.Fatalf("Check: %v", err)
	}
	// Remove the bridge's veth port: the pod's eth0 goes with it.
	ports := n.state(t, n.name).ports
	if len(ports) != 1 {
		t.Fatalf("bridge ports: %v", ports)
	}
	if err := n.do(func() error {
		for _, port := range ports {
			l, err := netlink.LinkByName(port)
			if err != nil {
				return err
			}
			if err := netlink.LinkDel(l); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err := n.p.Check(ctx, conf, a)
	if err == nil || !strings.Contains(err.Error(), `plugin type="bridge" failed (check)`) {
		t.Errorf("Check without the veth = %v", err)
	} else {
		t.Logf("Check without the veth: %v", err)
	}
}
