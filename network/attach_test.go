package network

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestVethName(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		n := VethName(fmt.Sprintf("pod-%d", i))
		if len(n) != 15 || !strings.HasPrefix(n, "pv") || checkLinkName(n) != nil {
			t.Fatalf("VethName = %q", n)
		}
		for _, c := range n[2:] {
			if !strings.ContainsRune("0123456789abcdef", c) {
				t.Fatalf("VethName = %q: not hex", n)
			}
		}
		if seen[n] {
			t.Fatalf("VethName collision %q", n)
		}
		seen[n] = true
	}
	if VethName("a") != VethName("a") || VethName("a") == VethName("b") {
		t.Error("VethName not stable")
	}
}

func TestMACFor(t *testing.T) {
	m := MACFor(netip.MustParseAddr("10.77.0.5"))
	if m.String() != "0a:58:0a:4d:00:05" {
		t.Errorf("MACFor(10.77.0.5) = %s", m)
	}
	if !bytes.Equal(MACFor(netip.MustParseAddr("::ffff:10.77.0.5")), m) {
		t.Error("a v4-mapped address gives another MAC")
	}
	m6 := MACFor(netip.MustParseAddr("fd77:1::5"))
	if len(m6) != 6 || m6[0] != 0x0e || !bytes.Equal(m6, MACFor(netip.MustParseAddr("fd77:1::5"))) ||
		bytes.Equal(m6, MACFor(netip.MustParseAddr("fd77:1::6"))) {
		t.Errorf("MACFor(fd77:1::5) = %s", m6)
	}
	for _, m := range []net.HardwareAddr{m, m6} {
		if m[0]&1 != 0 || m[0]&2 == 0 {
			t.Errorf("%s: not locally administered unicast", m)
		}
	}
	if MACFor(netip.Addr{}) != nil {
		t.Error("MACFor(zero) not nil")
	}
}

// podAttachment is an attachment of a new pod namespace to testBridge.
func podAttachment(t testing.TB, name string, n int) Attachment {
	return Attachment{
		Bridge: testBridge.Name,
		HostIf: VethName(t.Name() + name),
		NetNS:  newNetNS(t, name),
		Addrs: []netip.Prefix{
			netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, 0, byte(n)}), 16),
			netip.PrefixFrom(netip.MustParseAddr(fmt.Sprintf("fd77:1::%x", n)), 64),
		},
		Gateways: []netip.Addr{testBridge.GatewayAddr(), testBridge.Gateway6Addr()},
	}
}

func TestAttachConnectivity(t *testing.T) {
	h, hostNS := newHost(t)
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	a1 := podAttachment(t, "pod1", 5)
	a2 := podAttachment(t, "pod2", 6)
	a2.PodIf = "net0"
	a2.MTU = 1400
	a2.MAC = net.HardwareAddr{0x0a, 0x58, 1, 2, 3, 4}
	for _, a := range []Attachment{a1, a2} {
		if err := h.Attach(a); err != nil {
			t.Fatalf("Attach: %v", err)
		}
	}
	host := nsHandle(t, hostNS)
	br, _ := host.LinkByName(testBridge.Name)
	for _, a := range []Attachment{a1, a2} {
		hl, err := host.LinkByName(a.HostIf)
		if err != nil {
			t.Fatal(err)
		}
		if hl.Type() != "veth" || hl.Attrs().MasterIndex != br.Attrs().Index || hl.Attrs().Flags&net.FlagUp == 0 || hl.Attrs().MTU != a.mtu() {
			t.Errorf("host side %s: type %s master %d flags %v mtu %d", a.HostIf, hl.Type(), hl.Attrs().MasterIndex, hl.Attrs().Flags, hl.Attrs().MTU)
		}
		if pi, err := host.LinkGetProtinfo(hl); err != nil || !pi.Hairpin {
			t.Errorf("host side %s: hairpin %v, %v", a.HostIf, pi.Hairpin, err)
		}
		pod := nsHandle(t, a.NetNS)
		pl, err := pod.LinkByName(a.podIf())
		if err != nil {
			t.Fatalf("pod side %s: %v", a.podIf(), err)
		}
		wantMAC := a.MAC
		if wantMAC == nil {
			wantMAC = MACFor(a.Addrs[0].Addr())
		}
		if pl.Attrs().Flags&net.FlagUp == 0 || !bytes.Equal(pl.Attrs().HardwareAddr, wantMAC) || pl.Attrs().MTU != a.mtu() {
			t.Errorf("pod side: flags %v mac %s mtu %d", pl.Attrs().Flags, pl.Attrs().HardwareAddr, pl.Attrs().MTU)
		}
		addrs, _ := pod.AddrList(pl, netlink.FAMILY_ALL)
		var got []string
		for _, ad := range addrs {
			if p, _ := ipNetToPrefix(ad.IPNet); !p.Addr().IsLinkLocalUnicast() {
				got = append(got, p.String())
				if ad.Flags&unix.IFA_F_TENTATIVE != 0 {
					t.Errorf("%s tentative", p)
				}
			}
		}
		sort.Strings(got)
		if want := []string{a.Addrs[0].String(), a.Addrs[1].String()}; !slices.Equal(got, want) {
			t.Errorf("pod addresses %v, want %v", got, want)
		}
		for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
			routes, _ := pod.RouteList(pl, fam)
			found := false
			for _, r := range routes {
				if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw != nil {
					gw, _ := netip.AddrFromSlice(r.Gw)
					found = slices.Contains(a.Gateways, gw.Unmap())
				}
			}
			if !found {
				t.Errorf("family %d: no default route via the gateway in %v", fam, routes)
			}
		}
		// Loopback untouched: still down.
		lo, _ := pod.LinkByName("lo")
		if lo.Attrs().Flags&net.FlagUp != 0 {
			t.Error("pod loopback set up")
		}
	}
	ports, err := h.Ports(testBridge.Name)
	sort.Strings(ports)
	want := []string{a1.HostIf, a2.HostIf}
	sort.Strings(want)
	if err != nil || !slices.Equal(ports, want) {
		t.Errorf("Ports = %v, %v; want %v", ports, err, want)
	}

	// Host → pod, pod → pod, pod → host (gateway), IPv4 and IPv6.
	for i := range 2 {
		proveTCP(t, hostNS, a1.NetNS, a1.Addrs[i].Addr())
		proveTCP(t, a1.NetNS, a2.NetNS, a2.Addrs[i].Addr())
		proveTCP(t, a2.NetNS, a1.NetNS, a1.Addrs[i].Addr())
		proveTCP(t, a2.NetNS, hostNS, a2.Gateways[i])
	}

	if err := h.Detach(a2.HostIf); err != nil {
		t.Fatal(err)
	}
	if ports, _ := h.Ports(testBridge.Name); !slices.Equal(ports, []string{a1.HostIf}) {
		t.Errorf("Ports after Detach = %v", ports)
	}
	if _, err := nsHandle(t, a2.NetNS).LinkByName("net0"); err == nil {
		t.Error("pod side still there after Detach")
	}
	if err := h.Detach(a2.HostIf); err != nil {
		t.Errorf("Detach of a missing veth: %v", err)
	}
	if err := h.Detach(testBridge.Name); err == nil {
		t.Error("Detach deleted a bridge")
	}
}

// TestAttachErrorsLeaveNothing checks that a failed Attach leaves no veth,
// and does not touch a veth that it did not make.
func TestAttachErrorsLeaveNothing(t *testing.T) {
	h, _ := newHost(t)
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	a := podAttachment(t, "pod", 5)
	gone := func(what string) {
		t.Helper()
		if ok, err := h.LinkExists(a.HostIf); err != nil || ok {
			t.Errorf("%s: veth %s left (%v)", what, a.HostIf, err)
		}
		if ports, _ := h.Ports(testBridge.Name); len(ports) != 0 {
			t.Errorf("%s: ports left: %v", what, ports)
		}
	}

	bad := a
	bad.NetNS = filepath.Join(t.TempDir(), "plain")
	os.WriteFile(bad.NetNS, nil, 0o644)
	if err := h.Attach(bad); err == nil || !strings.Contains(err.Error(), "not a network namespace") {
		t.Errorf("Attach into a plain file: %v", err)
	}
	gone("not a namespace")

	bad = a
	bad.Bridge = "pvnosuchbr"
	if err := h.Attach(bad); err == nil {
		t.Error("Attach to a missing bridge succeeded")
	}
	gone("missing bridge")

	// Fails after the veth is made: a gateway that is not on-link.
	bad = a
	bad.Gateways = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	if err := h.Attach(bad); err == nil || !strings.Contains(err.Error(), "default route via 192.0.2.1") {
		t.Errorf("Attach with an off-link gateway: %v", err)
	}
	gone("off-link gateway")

	bad = a
	bad.Addrs = append([]netip.Prefix{}, a.Addrs...)
	bad.Addrs = append(bad.Addrs, a.Addrs[0]) // twice: EEXIST on the second
	if err := h.Attach(bad); err == nil {
		t.Error("Attach with a duplicate address succeeded")
	}
	gone("duplicate address")

	// A duplicate HostIf: the error names it, the first veth stays.
	if err := h.Attach(a); err != nil {
		t.Fatal(err)
	}
	other := podAttachment(t, "other", 7)
	other.HostIf = a.HostIf
	err := h.Attach(other)
	if err == nil || !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), a.HostIf) || !strings.Contains(err.Error(), "exists in the host namespace") {
		t.Errorf("Attach with a duplicate HostIf: %v", err)
	}
	if ok, _ := h.LinkExists(a.HostIf); !ok {
		t.Error("the first veth was deleted")
	}
	if _, err := nsHandle(t, a.NetNS).LinkByName("eth0"); err != nil {
		t.Errorf("the first pod lost eth0: %v", err)
	}
	if _, err := nsHandle(t, other.NetNS).LinkByName("eth0"); err == nil {
		t.Error("the second pod got an eth0")
	}
	// The same pod attached twice: eth0 exists in its namespace.
	again := a
	again.HostIf = VethName("again")
	if err := h.Attach(again); err == nil || !strings.Contains(err.Error(), `"eth0" exists in the pod namespace`) {
		t.Errorf("a second eth0 in the same pod: %v", err)
	}
	if ok, _ := h.LinkExists(again.HostIf); ok {
		t.Error("veth left after a pod-side name clash")
	}
}

// TestAttachConcurrent attaches many pods at once.
func TestAttachConcurrent(t *testing.T) {
	h, hostNS := newHost(t)
	if err := h.EnsureBridge(testBridge); err != nil {
		t.Fatal(err)
	}
	const n = 16
	atts := make([]Attachment, n)
	for i := range atts {
		atts[i] = podAttachment(t, fmt.Sprintf("pod%d", i), 10+i)
	}
	errc := make(chan error, n)
	for _, a := range atts {
		go func() { errc <- h.Attach(a) }()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if ports, _ := h.Ports(testBridge.Name); len(ports) != n {
		t.Errorf("%d ports, want %d", len(ports), n)
	}
	proveTCP(t, hostNS, atts[n-1].NetNS, atts[n-1].Addrs[0].Addr())
}

// BenchmarkAttach reports the p50 of Attach into a fresh namespace, and the
// time to get rid of the veth: by unpinning the namespace (the last
// reference; measured until the host side is gone) or by Detach.
func BenchmarkAttach(b *testing.B) {
	h, _ := newHost(b)
	if err := h.EnsureBridge(testBridge); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var attach, unpinCall, unpinGone, detach []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ns := filepath.Join(dir, fmt.Sprintf("ns%d", i))
		if err := pinNetNS(ns); err != nil {
			b.Fatal(err)
		}
		a := Attachment{
			Bridge: testBridge.Name, HostIf: VethName(ns), NetNS: ns,
			Addrs:    []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, byte(i >> 8), byte(i)}).Next().Next(), 16)},
			Gateways: []netip.Addr{testBridge.GatewayAddr()},
		}
		b.StartTimer()
		t0 := time.Now()
		if err := h.Attach(a); err != nil {
			b.Fatal(err)
		}
		attach = append(attach, time.Since(t0))
		b.StopTimer()
		if i%2 == 0 {
			t0 = time.Now()
			if err := h.Detach(a.HostIf); err != nil {
				b.Fatal(err)
			}
			detach = append(detach, time.Since(t0))
			unpinNetNS(ns)
		} else {
			t0 = time.Now()
			if err := unpinNetNS(ns); err != nil {
				b.Fatal(err)
			}
			unpinCall = append(unpinCall, time.Since(t0))
			for {
				ok, err := h.LinkExists(a.HostIf)
				if err != nil {
					b.Fatal(err)
				}
				if !ok {
					break
				}
				time.Sleep(50 * time.Microsecond)
			}
			unpinGone = append(unpinGone, time.Since(t0))
		}
		b.StartTimer()
	}
	b.StopTimer()
	report := func(name string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(d[len(d)*9/10].Microseconds()), name+"-p90-µs")
	}
	report("attach", attach)
	report("detach", detach)
	report("unpin-call", unpinCall)
	report("unpin-veth-gone", unpinGone)
}
