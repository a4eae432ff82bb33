package firewall

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/namespaces"
	"golang.org/x/sys/unix"
)

// Helpers of the root tests: namespaces made with `ip netns add`, links and
// sysctls set inside them only.

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: needs CAP_NET_ADMIN and CAP_SYS_ADMIN to make network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// ipn runs ip -n ns args.
func ipn(t testing.TB, ns string, args ...string) {
	t.Helper()
	run(t, "ip", append([]string{"-n", ns}, args...)...)
}

// newNetNS makes a network namespace pvtest-<random>, with lo up and no
// IPv6 DAD, removed at cleanup; it returns its name.
func newNetNS(t testing.TB) string {
	t.Helper()
	b := make([]byte, 5)
	rand.Read(b)
	name := "pvtest-" + hex.EncodeToString(b)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	// lo up; no IPv6 duplicate address detection, whose tentative
	// link-local addresses would delay the first neighbour solicitations
	run(t, "ip", "netns", "exec", name, "sh", "-c", "ip link set lo up && "+
		"echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad")
	return name
}

func nsPath(name string) string { return "/run/netns/" + name }

// sysctl writes a sysctl inside the namespace ns (key with dots).
func sysctl(t testing.TB, ns, key, value string) {
	t.Helper()
	path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	run(t, "ip", "netns", "exec", ns, "sh", "-c", fmt.Sprintf("echo %s > %s", value, path))
}

// Addresses of the test topology.
var (
	subnet   = netip.MustParsePrefix("10.99.0.0/24")
	gateway  = netip.MustParseAddr("10.99.0.1")
	subnet6  = netip.MustParsePrefix("fd00:99::/64")
	gateway6 = netip.MustParseAddr("fd00:99::1")
	hostAddr = netip.MustParseAddr("192.0.2.1") // on the host's link dum0
	host6    = netip.MustParseAddr("2001:db8:2::1")
	outHost  = netip.MustParseAddr("198.51.100.1") // host's end towards outside
	outAddr  = netip.MustParseAddr("198.51.100.2") // the outside namespace
	outHost6 = netip.MustParseAddr("2001:db8:1::1")
	outAddr6 = netip.MustParseAddr("2001:db8:1::2")
)

type pod struct {
	name string // label, "A", "B"...
	ns   string
	ip   netip.Addr
	ip6  netip.Addr
}

// topo is a host namespace with a bridge br0 (subnet, subnet6), a link
// dum0 with hostAddr and host6, a veth to an "outside" namespace, and pods
// on the bridge.
//
// brnf says whether bridged IPv4 and IPv6 traffic goes through the IP
// hooks (br_netfilter's bridge-nf-call-iptables, on by default in every
// namespace when the kernel has it): then a DNATed packet that stays on the
// bridge is bridged, not routed, and a pod reaches its own published port
// only through a bridge port in hairpin mode, which newTopo then sets, as
// the caller of this package must.
type topo struct {
	host, outside string
	pods          map[string]*pod
	bridge        string
}

func newTopo(t testing.TB, brnf bool, pods ...string) *topo {
	t.Helper()
	tp := &topo{host: newNetNS(t), outside: newNetNS(t), pods: map[string]*pod{}, bridge: "br0"}
	h := tp.host
	sysctl(t, h, "net.ipv4.ip_forward", "1")
	sysctl(t, h, "net.ipv6.conf.all.forwarding", "1")
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil {
		v := "0"
		if brnf {
			v = "1"
		}
		sysctl(t, h, "net.bridge.bridge-nf-call-iptables", v)
		sysctl(t, h, "net.bridge.bridge-nf-call-ip6tables", v)
	} else if brnf {
		t.Skip("kernel without br_netfilter (no /proc/sys/net/bridge)")
	}
	ipn(t, h, "link", "add", "br0", "type", "bridge")
	sysctl(t, h, "net.ipv4.conf.br0.route_localnet", "1")
	ipn(t, h, "addr", "add", gateway.String()+"/24", "dev", "br0")
	ipn(t, h, "addr", "add", gateway6.String()+"/64", "dev", "br0", "nodad")
	ipn(t, h, "link", "set", "br0", "up")
	// "another link" with the host's own address: a veth pair inside the
	// host namespace (the dummy module may be absent)
	ipn(t, h, "link", "add", "dum0", "type", "veth", "peer", "name", "dum1")
	ipn(t, h, "link", "set", "dum1", "up")
	ipn(t, h, "addr", "add", hostAddr.String()+"/24", "dev", "dum0")
	ipn(t, h, "addr", "add", host6.String()+"/64", "dev", "dum0", "nodad")
	ipn(t, h, "link", "set", "dum0", "up")

	ipn(t, h, "link", "add", "out0", "type", "veth", "peer", "name", "eth0", "netns", tp.outside)
	ipn(t, h, "addr", "add", outHost.String()+"/24", "dev", "out0")
	ipn(t, h, "addr", "add", outHost6.String()+"/64", "dev", "out0", "nodad")
	ipn(t, h, "link", "set", "out0", "up")
	ipn(t, tp.outside, "addr", "add", outAddr.String()+"/24", "dev", "eth0")
	ipn(t, tp.outside, "addr", "add", outAddr6.String()+"/64", "dev", "eth0", "nodad")
	ipn(t, tp.outside, "link", "set", "eth0", "up")
	// no route back to the pod subnets: only masqueraded traffic returns

	for i, name := range pods {
		p := &pod{name: name, ns: newNetNS(t),
			ip:  netip.AddrFrom4([4]byte{10, 99, 0, byte(2 + i)}),
			ip6: netip.MustParseAddr(fmt.Sprintf("fd00:99::%d", 2+i))}
		veth := "v" + name
		ipn(t, h, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", p.ns)
		ipn(t, h, "link", "set", veth, "master", "br0", "up")
		if brnf {
			ipn(t, h, "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
		}
		ipn(t, p.ns, "addr", "add", p.ip.String()+"/24", "dev", "eth0")
		ipn(t, p.ns, "addr", "add", p.ip6.String()+"/64", "dev", "eth0", "nodad")
		ipn(t, p.ns, "link", "set", "eth0", "up")
		ipn(t, p.ns, "route", "add", "default", "via", gateway.String())
		ipn(t, p.ns, "-6", "route", "add", "default", "via", gateway6.String())
		tp.pods[name] = p
	}
	return tp
}

func (tp *topo) config(internal bool) Config {
	return Config{Table: TableName(tp.bridge), Bridge: tp.bridge, Subnet: subnet, Subnet6: subnet6, Internal: internal, NetNS: nsPath(tp.host)}
}

func openFW(t testing.TB, c Config) *Firewall {
	t.Helper()
	f, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func dialer(t testing.TB, ns string) *namespaces.NetDialer {
	t.Helper()
	d, err := namespaces.NewNetDialer(nsPath(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// serveTCP listens on [::]:port (dual-stack) in ns and answers each
// connection with "<label> <remote address>\n".
func serveTCP(t testing.TB, ns, label string, port uint16) {
	t.Helper()
	l, err := dialer(t, ns).Listen("tcp", fmt.Sprintf(":%d", port))
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
			ra := c.RemoteAddr().(*net.TCPAddr).AddrPort()
			fmt.Fprintf(c, "%s %s\n", label, ra.Addr().Unmap())
			c.Close()
		}
	}()
}

// ask connects from ns to addr and returns the server's line ("label
// source"), or an error (within timeout).
func ask(t testing.TB, ns string, addr netip.AddrPort, timeout time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := dialer(t, ns).DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func expectAnswer(t testing.TB, ns string, addr netip.AddrPort, want string) {
	t.Helper()
	got, err := ask(t, ns, addr, 3*time.Second)
	if err != nil {
		t.Errorf("from %s to %s: %v", ns, addr, err)
		return
	}
	if got != want {
		t.Errorf("from %s to %s: answer %q, want %q", ns, addr, got, want)
	}
}

func expectNoAnswer(t testing.TB, ns string, addr netip.AddrPort) {
	t.Helper()
	if got, err := ask(t, ns, addr, 500*time.Millisecond); err == nil {
		t.Errorf("from %s to %s: answer %q, want none", ns, addr, got)
	}
}

// udpSocket makes a UDP socket in the namespace ns, bound to laddr.
func udpSocket(t testing.TB, ns string, laddr netip.AddrPort) *net.UDPConn {
	t.Helper()
	nsfd, err := unix.Open(nsPath(ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nsfd)
	family := unix.AF_INET
	var sa unix.Sockaddr
	if laddr.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(laddr.Port()), Addr: laddr.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(laddr.Port()), Addr: laddr.Addr().As16()}
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		defer unix.Close(self)
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		fd, serr := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			// stay locked: Go discards the thread
			if serr == nil {
				unix.Close(fd)
			}
			ch <- result{-1, err}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{fd, serr}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("UDP socket in %s: %v", ns, r.err)
	}
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(r.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(r.fd)
			t.Fatal(err)
		}
	}
	if err := unix.Bind(r.fd, sa); err != nil {
		unix.Close(r.fd)
		t.Fatalf("UDP bind %s in %s: %v", laddr, ns, err)
	}
	f := os.NewFile(uintptr(r.fd), "udp")
	defer f.Close()
	pc, err := net.FilePacketConn(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.(*net.UDPConn)
}

// serveUDP answers each datagram on port in ns with "<label> <source>".
func serveUDP(t testing.TB, ns, label string, port uint16) {
	t.Helper()
	for _, any := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		c := udpSocket(t, ns, netip.AddrPortFrom(any, port))
		go func() {
			buf := make([]byte, 512)
			for {
				_, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				c.WriteToUDPAddrPort([]byte(label+" "+from.Addr().Unmap().String()), from)
			}
		}()
	}
}

// askUDP sends a datagram from ns to addr and returns the answer.
func askUDP(t testing.TB, ns string, addr netip.AddrPort, timeout time.Duration) (string, error) {
	t.Helper()
	any := netip.IPv4Unspecified()
	if addr.Addr().Is6() {
		any = netip.IPv6Unspecified()
	}
	c := udpSocket(t, ns, netip.AddrPortFrom(any, 0))
	if _, err := c.WriteToUDPAddrPort([]byte("hello"), addr); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 512)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return "", err
	}
	if from.Addr().Unmap() != addr.Addr() || from.Port() != addr.Port() {
		return "", fmt.Errorf("answer from %s, not %s", from, addr)
	}
	return string(buf[:n]), nil
}
