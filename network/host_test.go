package network

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var testBridge = Bridge{
	Name:    "pvtest0",
	Subnet:  netip.MustParsePrefix("10.77.0.0/16"),
	Subnet6: netip.MustParsePrefix("fd77:1::/64"),
}

func TestBridgeGatewayDefaults(t *testing.T) {
	b := testBridge
	if g := b.GatewayAddr(); g != netip.MustParseAddr("10.77.0.1") {
		t.Errorf("GatewayAddr = %s", g)
	}
	if g := b.Gateway6Addr(); g != netip.MustParseAddr("fd77:1::1") {
		t.Errorf("Gateway6Addr = %s", g)
	}
	b.Gateway = netip.MustParseAddr("10.77.255.254")
	b.Gateway6 = netip.MustParseAddr("fd77:1::fe")
	if b.GatewayAddr() != b.Gateway || b.Gateway6Addr() != b.Gateway6 {
		t.Errorf("explicit gateways not kept: %s %s", b.GatewayAddr(), b.Gateway6Addr())
	}
	if g := (Bridge{Subnet: b.Subnet}).Gateway6Addr(); g.IsValid() {
		t.Errorf("Gateway6Addr without Subnet6 = %s", g)
	}
	for _, bad := range []Bridge{
		{Name: "", Subnet: b.Subnet},
		{Name: "waytoolongbridgename", Subnet: b.Subnet},
		{Name: "a/b", Subnet: b.Subnet},
		{Name: "ok", Subnet: netip.MustParsePrefix("fd00::/64")},
		{Name: "ok", Subnet: b.Subnet, Gateway: netip.MustParseAddr("10.78.0.1")},
		{Name: "ok", Subnet: b.Subnet, Subnet6: netip.MustParsePrefix("10.1.0.0/16")},
	} {
		if err := bad.check(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestOwnNamespaceReadOnly opens the process's own namespace and only
// reads from it: it runs without root.
func TestOwnNamespaceReadOnly(t *testing.T) {
	h, err := OpenHost("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Path() != "" {
		t.Errorf("Path = %q", h.Path())
	}
	if ok, err := h.LinkExists("lo"); err != nil || !ok {
		t.Errorf("LinkExists(lo) = %v, %v", ok, err)
	}
	if ok, err := h.LinkExists("pvnosuchlink0"); err != nil || ok {
		t.Errorf("LinkExists(pvnosuchlink0) = %v, %v", ok, err)
	}
	if ok, err := h.HasAddr(netip.MustParseAddr("127.0.0.1")); err != nil || !ok {
		t.Errorf("HasAddr(127.0.0.1) = %v, %v", ok, err)
	}
	if ports, err := h.Ports("pvnosuchbr0"); err != nil || len(ports) != 0 {
		t.Errorf("Ports of a missing bridge = %v, %v", ports, err)
	}
	ran := false
	if err := h.Do(func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("Do: %v (ran %v)", err, ran)
	}
	if _, _, err := h.PrimaryIP(); err != nil {
		t.Errorf("PrimaryIP: %v", err)
	}
	h.Close()
	if _, err := h.LinkExists("lo"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := h.Do(func() error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v", err)
	}
}

func TestOpenHostNotANamespace(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(f, nil, 0o644)
	if _, err := OpenHost(f); err == nil || !strings.Contains(err.Error(), "not a network namespace") {
		t.Errorf("OpenHost(plain file) = %v", err)
	}
}

// TestDoRunsInHostNamespace checks that Do's thread is in the host
// namespace, and that the caller's is not moved.
func TestDoRunsInHostNamespace(t *testing.T) {
	h, path := newHost(t)
	var want, got, self unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	if err := h.Do(func() error { return unix.Stat("/proc/thread-self/ns/net", &got) }); err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino {
		t.Errorf("Do ran in namespace %d, want %d", got.Ino, want.Ino)
	}
	unix.Stat("/proc/thread-self/ns/net", &self)
	if self.Ino == want.Ino {
		t.Error("the caller's thread is in the host namespace")
	}
}

func TestEnsureBridge(t *testing.T) {
	h, _ := newHost(t)
	nlh := nsHandle(t, h.Path())
	for i := 0; i < 2; i++ { // idempotent
		if err := h.EnsureBridge(testBridge); err != nil {
			t.Fatalf("EnsureBridge #%d: %v", i+1, err)
		}
	}
	br, err := nlh.LinkByName(testBridge.Name)
	if err != nil {
		t.Fatal(err)
	}
	if br.Type() != "bridge" || br.Attrs().Flags&net.FlagUp == 0 || br.Attrs().MTU != 1500 {
		t.Errorf("bridge: type %s flags %v mtu %d", br.Type(), br.Attrs().Flags, br.Attrs().MTU)
	}
	if !bytes.Equal(br.Attrs().HardwareAddr, MACFor(testBridge.GatewayAddr())) {
		t.Errorf("bridge MAC %s, want %s", br.Attrs().HardwareAddr, MACFor(testBridge.GatewayAddr()))
	}
	addrs, err := nlh.AddrList(br, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range addrs {
		if p, _ := ipNetToPrefix(a.IPNet); !p.Addr().IsLinkLocalUnicast() {
			got = append(got, p.String())
		}
	}
	slices.Sort(got)
	if want := []string{"10.77.0.1/16", "fd77:1::1/64"}; !slices.Equal(got, want) {
		t.Errorf("bridge addresses %v, want %v", got, want)
	}
	sysctls := map[string]string{
		"net/ipv4/ip_forward": "1",
		"net/ipv4/conf/" + testBridge.Name + "/route_localnet": "1",
		"net/ipv6/conf/all/forwarding":                         "1",
		"net/ipv6/conf/" + testBridge.Name + "/accept_dad":     "0",
	}
	h.Do(func() error {
		for k, want := range sysctls {
			if v, err := readSysctl(k); err != nil || v != want {
				t.Errorf("in the host namespace %s = %q, %v; want %s", k, v, err, want)
			}
		}
		return nil
	})
	// A bridge made down and stripped of its address is set up again.
	nlh.LinkSetDown(br)
	nlh.AddrDel(br, &netlink.Addr{IPNet: mustIPNet("10.77.0.1/16")})
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	br, _ = nlh.LinkByName(testBridge.Name)
	addrs, _ = nlh.AddrList(br, netlink.FAMILY_V4)
	if br.Attrs().Flags&net.FlagUp == 0 || len(addrs) != 1 {
		t.Errorf("bridge not repaired: flags %v, addresses %v", br.Attrs().Flags, addrs)
	}

	// A link of that name that is not a bridge.
	addDummy(t, nlh, "pvdummy0")
	err = h.EnsureBridge(Bridge{Name: "pvdummy0", Subnet: netip.MustParsePrefix("10.78.0.0/16")})
	if err == nil || !strings.Contains(err.Error(), `"pvdummy0"`) || !strings.Contains(err.Error(), "not a bridge") {
		t.Errorf("EnsureBridge on a dummy: %v", err)
	}
	if err := h.RemoveBridge("pvdummy0"); err == nil {
		t.Error("RemoveBridge removed a dummy")
	}
	if ok, _ := h.LinkExists("pvdummy0"); !ok {
		t.Error("dummy gone")
	}

	// An IPv4-only bridge sets no IPv6 sysctl.
	if err := h.EnsureBridge(Bridge{Name: "pvtest4", Subnet: netip.MustParsePrefix("10.79.0.0/24"), MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	br4, _ := nlh.LinkByName("pvtest4")
	if br4.Attrs().MTU != 1400 {
		t.Errorf("MTU %d", br4.Attrs().MTU)
	}
	h.Do(func() error {
		if v, _ := readSysctl("net/ipv6/conf/pvtest4/accept_dad"); v == "0" {
			t.Error("accept_dad set on an IPv4-only bridge")
		}
		return nil
	})
}

// TestHostSysctlsStayInNamespace checks that EnsureBridge sets its
// sysctls in the Host's namespace only: another namespace (standing for the
// machine's, which tests must not read for this: other programs may change
// it meanwhile) keeps its values.
func TestHostSysctlsStayInNamespace(t *testing.T) {
	h, _ := newHost(t)
	other, _ := newHost(t)
	read := func(h *Host, name string) (v string) {
		h.Do(func() error { v, _ = readSysctl(name); return nil })
		return v
	}
	for _, h := range []*Host{h, other} {
		h.Do(func() error {
			return errors.Join(writeSysctl("net/ipv4/ip_forward", "0"), writeSysctl("net/ipv6/conf/all/forwarding", "0"))
		})
	}
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	if v := read(h, "net/ipv4/ip_forward"); v != "1" {
		t.Errorf("ip_forward in the host namespace = %s", v)
	}
	if v := read(h, "net/ipv6/conf/all/forwarding"); v != "1" {
		t.Errorf("ipv6 forwarding in the host namespace = %s", v)
	}
	if v := read(other, "net/ipv4/ip_forward"); v != "0" {
		t.Errorf("ip_forward in another namespace = %s", v)
	}
	if v := read(other, "net/ipv6/conf/all/forwarding"); v != "0" {
		t.Errorf("ipv6 forwarding in another namespace = %s", v)
	}
}

func TestRemoveBridge(t *testing.T) {
	h, _ := newHost(t)
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := h.RemoveBridge(testBridge.Name); err != nil {
			t.Fatalf("RemoveBridge #%d: %v", i+1, err)
		}
	}
	if ok, _ := h.LinkExists(testBridge.Name); ok {
		t.Error("bridge still there")
	}
	// Made again (a new ifindex): Attach must not use the old one.
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	pod := newNetNS(t, "pod")
	if err := h.Attach(Attachment{Bridge: testBridge.Name, HostIf: "pvre0", NetNS: pod,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.77.0.9/16")}}); err != nil {
		t.Fatal(err)
	}
	h.RemoveBridge(testBridge.Name)
	nlh := nsHandle(t, h.Path())
	nlh.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: testBridge.Name}}) // behind h's back
	pod2 := newNetNS(t, "pod2")
	if err := h.Attach(Attachment{Bridge: testBridge.Name, HostIf: "pvre1", NetNS: pod2}); err != nil {
		t.Fatalf("Attach to a bridge made anew: %v", err)
	}
	if ports, _ := h.Ports(testBridge.Name); !slices.Equal(ports, []string{"pvre1"}) {
		t.Errorf("ports %v", ports)
	}
}

func TestOverlap(t *testing.T) {
	h, _ := newHost(t)
	nlh := nsHandle(t, h.Path())
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	subnet := testBridge.Subnet
	if d, err := h.Overlap(subnet, testBridge.Name); err != nil || d != "" {
		t.Errorf("Overlap with only our bridge = %q, %v", d, err)
	}
	if d, err := h.Overlap(subnet, ""); err != nil || d != "10.77.0.0/16 dev "+testBridge.Name {
		t.Errorf("Overlap without except = %q, %v", d, err)
	}
	eth := addDummy(t, nlh, "pveth1", "192.0.2.10/24", "fd00:db8::10/64")
	// Default routes never count.
	if err := nlh.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	if err := nlh.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("fd00:db8::1")}); err != nil {
		t.Fatal(err)
	}
	if d, err := h.Overlap(netip.MustParsePrefix("10.99.0.0/16"), testBridge.Name); err != nil || d != "" {
		t.Errorf("Overlap with the default route = %q, %v", d, err)
	}
	// A route inside the subnet, and one containing it.
	if err := nlh.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: mustIPNet("10.77.128.0/17")}); err != nil {
		t.Fatal(err)
	}
	if d, err := h.Overlap(subnet, testBridge.Name); err != nil || d != "10.77.128.0/17 dev pveth1" {
		t.Errorf("Overlap = %q, %v", d, err)
	}
	if err := nlh.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Dst: mustIPNet("10.0.0.0/8"), Gw: net.ParseIP("192.0.2.254")}); err != nil {
		t.Fatal(err)
	}
	if d, err := h.Overlap(netip.MustParsePrefix("10.200.0.0/24"), testBridge.Name); err != nil || d != "10.0.0.0/8 via 192.0.2.254 dev pveth1" {
		t.Errorf("Overlap with a larger route = %q, %v", d, err)
	}
	// IPv6.
	if d, err := h.Overlap(testBridge.Subnet6, testBridge.Name); err != nil || d != "" {
		t.Errorf("Overlap v6 with only our bridge = %q, %v", d, err)
	}
	if d, err := h.Overlap(netip.MustParsePrefix("fd00:db8::/48"), testBridge.Name); err != nil || d != "fd00:db8::/64 dev pveth1" {
		t.Errorf("Overlap v6 = %q, %v", d, err)
	}
	// A route without a device.
	if err := nlh.RouteAdd(&netlink.Route{Dst: mustIPNet("172.31.0.0/16"), Type: unix.RTN_BLACKHOLE}); err != nil {
		t.Fatal(err)
	}
	if d, err := h.Overlap(netip.MustParsePrefix("172.31.5.0/24"), testBridge.Name); err != nil || d != "blackhole 172.31.0.0/16" {
		t.Errorf("Overlap blackhole = %q, %v", d, err)
	}
	if d, err := h.Overlap(netip.MustParsePrefix("10.77.0.0/16"), "pvnosuch"); err != nil || d == "" {
		t.Errorf("Overlap with a missing except link = %q, %v", d, err)
	}
}

func TestPrimaryIPHasAddrLinkExists(t *testing.T) {
	h, _ := newHost(t)
	nlh := nsHandle(t, h.Path())
	if ip, ok, err := h.PrimaryIP(); err != nil || ok {
		t.Errorf("PrimaryIP without a default route = %s, %v, %v", ip, ok, err)
	}
	other := addDummy(t, nlh, "pveth0", "198.51.100.7/24")
	eth := addDummy(t, nlh, "pveth1", "203.0.113.5/24", "192.0.2.10/24")
	// 192.0.2.10 is the first address in the gateway's subnet.
	if err := nlh.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP("192.0.2.1"), Priority: 100}); err != nil {
		t.Fatal(err)
	}
	if ip, ok, err := h.PrimaryIP(); err != nil || !ok || ip != netip.MustParseAddr("192.0.2.10") {
		t.Errorf("PrimaryIP = %s, %v, %v", ip, ok, err)
	}
	// A better default route with a preferred source.
	if err := nlh.RouteAdd(&netlink.Route{LinkIndex: other.Attrs().Index, Gw: net.ParseIP("198.51.100.1"), Src: net.ParseIP("203.0.113.5"), Priority: 50}); err != nil {
		t.Fatal(err)
	}
	if ip, ok, err := h.PrimaryIP(); err != nil || !ok || ip != netip.MustParseAddr("203.0.113.5") {
		t.Errorf("PrimaryIP with src = %s, %v, %v", ip, ok, err)
	}

	for s, want := range map[string]bool{"192.0.2.10": true, "198.51.100.7": true, "192.0.2.11": false, "::1": false} {
		if ok, err := h.HasAddr(netip.MustParseAddr(s)); err != nil || ok != want {
			t.Errorf("HasAddr(%s) = %v, %v", s, ok, err)
		}
	}
	if ok, err := h.LinkExists("pveth1"); err != nil || !ok {
		t.Errorf("LinkExists(pveth1) = %v, %v", ok, err)
	}
	if ok, err := h.LinkExists("pveth9"); err != nil || ok {
		t.Errorf("LinkExists(pveth9) = %v, %v", ok, err)
	}
}
