package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

var loopback = netip.MustParseAddr("127.0.0.1")

// TestTraffic proves the rules with real connections between namespaces.
func TestTraffic(t *testing.T) {
	for _, brnf := range []bool{false, true} {
		t.Run(fmt.Sprintf("br_netfilter=%v", brnf), func(t *testing.T) { testTraffic(t, brnf) })
	}
}

func testTraffic(t *testing.T, brnf bool) {
	needRoot(t)
	tp := newTopo(t, brnf, "A", "B")
	a, b := tp.pods["A"], tp.pods["B"]
	serveTCP(t, a.ns, "A", 80)
	serveTCP(t, b.ns, "B", 80)
	serveUDP(t, a.ns, "A", 5353)
	serveTCP(t, tp.outside, "out", 7000)

	f := openFW(t, tp.config(false))
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	msA := []Mapping{
		{Protocol: "tcp", HostPort: 8080, PodIP: a.ip, PodPort: 80},
		{Protocol: "udp", HostPort: 5353, PodIP: a.ip, PodPort: 5353},
		{Protocol: "tcp", HostIP: hostAddr, HostPort: 8081, PodIP: a.ip, PodPort: 80},
		{Protocol: "tcp", HostPort: 8080, PodIP: a.ip6, PodPort: 80},
		{Protocol: "tcp", HostIP: hostAddr, HostPort: 8083, PodIP: a.ip6, PodPort: 80}, // skipped: families differ
	}
	msB := []Mapping{{Protocol: "tcp", HostPort: 8082, PodIP: b.ip, PodPort: 80}}
	if err := f.Publish("pod-a", msA); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("pod-b", msB); err != nil {
		t.Fatal(err)
	}

	gw := gateway.String()
	t.Run("HostLoopback", func(t *testing.T) {
		expectAnswer(t, tp.host, ap(loopback, 8080), "A "+gw)
	})
	t.Run("HostOwnAddress", func(t *testing.T) {
		// the source is the host's address picked for the original
		// destination: the pod answers through its default route
		expectAnswer(t, tp.host, ap(hostAddr, 8080), "A "+hostAddr.String())
		expectAnswer(t, tp.host, ap(host6, 8080), "A "+host6.String())
	})
	t.Run("PodToPod", func(t *testing.T) {
		expectAnswer(t, b.ns, ap(hostAddr, 8080), "A "+gw)
		expectAnswer(t, b.ns, ap(gateway, 8080), "A "+gw)
		expectAnswer(t, b.ns, ap(host6, 8080), "A "+gateway6.String())
	})
	t.Run("Hairpin", func(t *testing.T) {
		expectAnswer(t, a.ns, ap(hostAddr, 8080), "A "+gw)
		expectAnswer(t, a.ns, ap(gateway6, 8080), "A "+gateway6.String())
	})
	t.Run("FromOutside", func(t *testing.T) {
		// an external client keeps its address
		expectAnswer(t, tp.outside, ap(outHost, 8080), "A "+outAddr.String())
		expectAnswer(t, tp.outside, ap(outHost6, 8080), "A "+outAddr6.String())
	})
	t.Run("UDP", func(t *testing.T) {
		for _, c := range []struct {
			ns   string
			addr netip.AddrPort
			src  netip.Addr
		}{
			{tp.host, ap(loopback, 5353), gateway},
			{tp.host, ap(hostAddr, 5353), hostAddr},
			{b.ns, ap(hostAddr, 5353), gateway},
			{a.ns, ap(gateway, 5353), gateway},
		} {
			got, err := askUDP(t, c.ns, c.addr, 3*time.Second)
			if want := "A " + c.src.String(); err != nil || got != want {
				t.Errorf("UDP from %s to %s: %q, %v; want %q", c.ns, c.addr, got, err, want)
			}
		}
	})
	t.Run("HostIPRestricted", func(t *testing.T) {
		expectAnswer(t, tp.host, ap(hostAddr, 8081), "A "+hostAddr.String())
		expectAnswer(t, b.ns, ap(hostAddr, 8081), "A "+gw)
		expectNoAnswer(t, tp.host, ap(loopback, 8081))
		expectNoAnswer(t, b.ns, ap(gateway, 8081))
		expectNoAnswer(t, tp.outside, ap(outHost, 8081))
		expectNoAnswer(t, b.ns, ap(hostAddr, 8083)) // the skipped mapping
	})
	t.Run("Egress", func(t *testing.T) {
		expectAnswer(t, a.ns, ap(outAddr, 7000), "out "+outHost.String())
		expectAnswer(t, b.ns, ap(outAddr6, 7000), "out "+outHost6.String())
	})
	t.Run("Published", func(t *testing.T) {
		got, err := f.Published()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]Mapping{"pod-a": msA[:4], "pod-b": msB}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Published = %v, want %v", got, want)
		}
	})
	t.Run("EnsureKeepsPorts", func(t *testing.T) {
		if err := f.Ensure(); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.Published(); len(got["pod-a"]) != 4 || len(got["pod-b"]) != 1 {
			t.Errorf("after Ensure: %v", got)
		}
		expectAnswer(t, tp.host, ap(loopback, 8080), "A "+gw)
		expectAnswer(t, b.ns, ap(hostAddr, 8082), "B "+gw)
	})
	t.Run("Republish", func(t *testing.T) {
		// pod-a's 8080 now goes to B: Publish replaces the owner's rules
		if err := f.Publish("pod-a", []Mapping{{Protocol: "tcp", HostPort: 8080, PodIP: b.ip, PodPort: 80}}); err != nil {
			t.Fatal(err)
		}
		expectAnswer(t, tp.host, ap(hostAddr, 8080), "B "+hostAddr.String())
		expectNoAnswer(t, tp.host, ap(hostAddr, 8081))
		if err := f.Publish("pod-a", msA); err != nil {
			t.Fatal(err)
		}
		expectAnswer(t, tp.host, ap(hostAddr, 8080), "A "+hostAddr.String())
	})
	t.Run("Unpublish", func(t *testing.T) {
		if err := f.Unpublish("pod-a"); err != nil {
			t.Fatal(err)
		}
		expectNoAnswer(t, tp.host, ap(loopback, 8080))
		expectNoAnswer(t, b.ns, ap(hostAddr, 8080))
		if _, err := askUDP(t, b.ns, ap(gateway, 5353), 300*time.Millisecond); err == nil {
			t.Error("UDP port still published")
		}
		expectAnswer(t, tp.host, ap(loopback, 8082), "B "+gw)
		got, err := f.Published()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string][]Mapping{"pod-b": msB}; !reflect.DeepEqual(got, want) {
			t.Errorf("Published = %v, want %v", got, want)
		}
		if err := f.Unpublish("pod-a"); err != nil {
			t.Errorf("second Unpublish: %v", err)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if err := f.Delete(); err != nil {
			t.Fatal(err)
		}
		if ok, err := f.Exists(); ok || err != nil {
			t.Errorf("Exists after Delete: %v %v", ok, err)
		}
		expectNoAnswer(t, tp.host, ap(loopback, 8082))
		if err := f.Delete(); err != nil {
			t.Errorf("second Delete: %v", err)
		}
	})
}

// TestInternal checks that an internal network forwards nothing off the
// bridge and masquerades nothing out, that its ports still answer from the
// host and the bridge, and that Ensure with another Config refills the base
// chains.
func TestInternal(t *testing.T) {
	needRoot(t)
	tp := newTopo(t, true, "A", "B")
	a, b := tp.pods["A"], tp.pods["B"]
	serveTCP(t, a.ns, "A", 80)
	serveTCP(t, tp.outside, "out", 7000)

	f := openFW(t, tp.config(true))
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("pod-a", []Mapping{{Protocol: "tcp", HostPort: 8080, PodIP: a.ip, PodPort: 80}}); err != nil {
		t.Fatal(err)
	}
	gw := gateway.String()
	expectNoAnswer(t, a.ns, ap(outAddr, 7000))
	expectNoAnswer(t, a.ns, ap(outAddr6, 7000))
	expectNoAnswer(t, tp.outside, ap(outHost, 8080))
	expectAnswer(t, tp.host, ap(loopback, 8080), "A "+gw)
	expectAnswer(t, b.ns, ap(hostAddr, 8080), "A "+gw)
	expectAnswer(t, a.ns, ap(hostAddr, 8080), "A "+gw)

	// the same table, now not internal
	g := openFW(t, tp.config(false))
	if err := g.Ensure(); err != nil {
		t.Fatal(err)
	}
	expectAnswer(t, a.ns, ap(outAddr, 7000), "out "+outHost.String())
	expectAnswer(t, tp.outside, ap(outHost, 8080), "A "+outAddr.String())
	// and back
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	expectNoAnswer(t, a.ns, ap(outAddr, 7000))
	expectAnswer(t, b.ns, ap(hostAddr, 8080), "A "+gw)
}

// TestLocalnetGuard checks the CVE-2020-8558 rule: with route_localnet on
// the bridge, a pod that routes 127.0.0.0/8 to the gateway (as any
// neighbour on the bridge's L2 can) reaches the host's 127.0.0.1
// listeners, unless the table drops it. The probe is a one-way UDP
// datagram, which is all an attacker needs (the pod drops the host's
// replies from 127.0.0.1 on its own).
func TestLocalnetGuard(t *testing.T) {
	needRoot(t)
	tp := newTopo(t, false, "C")
	c := tp.pods["C"]
	ipn(t, c.ns, "route", "del", "local", "127.0.0.1", "dev", "lo", "table", "local")
	ipn(t, c.ns, "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local")
	ipn(t, c.ns, "route", "add", "127.0.0.0/8", "via", gateway.String())

	victim := udpSocket(t, tp.host, ap(loopback, 9999))
	probe := func() bool {
		t.Helper()
		s := udpSocket(t, c.ns, ap(netip.IPv4Unspecified(), 0))
		if _, err := s.WriteToUDPAddrPort([]byte("probe"), ap(loopback, 9999)); err != nil {
			t.Fatalf("send from pod: %v", err)
		}
		victim.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 16)
		n, from, err := victim.ReadFromUDPAddrPort(buf)
		if err == nil && (string(buf[:n]) != "probe" || from.Addr() != c.ip) {
			t.Fatalf("unexpected datagram %q from %s", buf[:n], from)
		}
		return err == nil
	}
	if !probe() {
		t.Skip("cannot reach the host's 127.0.0.1 from the pod even without the table: nothing to guard against")
	}
	f := openFW(t, tp.config(false))
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	if probe() {
		t.Error("the pod still reaches the host's 127.0.0.1 through the bridge")
	}
	// the host itself still does
	s := udpSocket(t, tp.host, ap(loopback, 0))
	if _, err := s.WriteToUDPAddrPort([]byte("probe"), ap(loopback, 9999)); err != nil {
		t.Fatal(err)
	}
	victim.SetReadDeadline(time.Now().Add(time.Second))
	if _, _, err := victim.ReadFromUDPAddrPort(make([]byte, 16)); err != nil {
		t.Errorf("host to its own 127.0.0.1: %v", err)
	}
}

// TestLayout inspects the table through the library: chains, hooks,
// priorities, rules, user data; Ensure idempotence; rebuild of a chain with
// a wrong hook; Unpublish of one owner; missing-table behaviour.
func TestLayout(t *testing.T) {
	needRoot(t)
	ns := newNetNS(t)
	cfg := Config{Table: "podvisor_pvt0", Bridge: "pvt0", Subnet: netip.MustParsePrefix("10.98.0.0/16"), NetNS: nsPath(ns)}
	f := openFW(t, cfg)

	// before Ensure
	if ok, err := f.Exists(); ok || err != nil {
		t.Fatalf("Exists before Ensure: %v %v", ok, err)
	}
	if got, err := f.Published(); err != nil || len(got) != 0 {
		t.Errorf("Published of a missing table: %v %v", got, err)
	}
	if err := f.Unpublish("x"); err != nil {
		t.Errorf("Unpublish of a missing table: %v", err)
	}
	m := Mapping{Protocol: "tcp", HostPort: 1, PodIP: netip.MustParseAddr("10.98.0.2"), PodPort: 1}
	if err := f.Publish("x", []Mapping{m}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Publish to a missing table: %v", err)
	}

	// an older layout: chain input at another priority
	nsConn, err := nftables.New(nftables.WithNetNSFd(f.nsfd))
	if err != nil {
		t.Fatal(err)
	}
	tbl := nsConn.AddTable(&nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyINet})
	nsConn.AddChain(&nftables.Chain{Name: "input", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(10)})
	if err := nsConn.Flush(); err != nil {
		t.Fatal(err)
	}

	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.Exists(); !ok || err != nil {
		t.Fatalf("Exists after Ensure: %v %v", ok, err)
	}
	wantRules := map[string]int{"prerouting": 1, "output": 1, "hostports": 0, "postrouting": 3, "input": 1, "forward": 3}
	check := func(extra int) {
		t.Helper()
		chains, err := nsConn.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range chains {
			if c.Table.Name != cfg.Table {
				continue
			}
			names = append(names, c.Name)
			for _, bc := range baseChains {
				if bc.name == c.Name && !sameHook(c, bc) {
					t.Errorf("chain %s: type %s hook %v priority %v", c.Name, c.Type, *c.Hooknum, *c.Priority)
				}
			}
			if c.Name == "hostports" && c.Hooknum != nil {
				t.Errorf("hostports is a base chain")
			}
			rules, err := nsConn.GetRules(tbl, c)
			if err != nil {
				t.Fatal(err)
			}
			want := wantRules[c.Name]
			if c.Name == "hostports" {
				want = extra
			}
			if len(rules) != want {
				t.Errorf("chain %s: %d rules, want %d", c.Name, len(rules), want)
			}
		}
		sort.Strings(names)
		if want := []string{"forward", "hostports", "input", "output", "postrouting", "prerouting"}; !slices.Equal(names, want) {
			t.Errorf("chains %v, want %v", names, want)
		}
	}
	check(0)

	ms := func(n int) []Mapping {
		var out []Mapping
		for i := range n {
			out = append(out, Mapping{Protocol: "tcp", HostPort: uint16(1000 + i), PodIP: netip.MustParseAddr("10.98.0.2"), PodPort: 80})
		}
		return out
	}
	if err := f.Publish("one", ms(2)); err != nil {
		t.Fatal(err)
	}
	if err := f.Publish("two", ms(3)); err != nil {
		t.Fatal(err)
	}
	check(5)
	rules, err := nsConn.GetRules(tbl, &nftables.Chain{Name: "hostports", Table: tbl})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if o, _, ok := parseUserData(r.UserData); !ok || (o != "one" && o != "two") {
			t.Errorf("rule %d: user data %q", r.Handle, r.UserData)
		}
		if len(r.Exprs) != len(dnatRule(ms(1)[0])) {
			t.Errorf("rule %d: %d expressions", r.Handle, len(r.Exprs))
		}
	}
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	check(5)
	if err := f.Publish("one", ms(1)); err != nil {
		t.Fatal(err)
	}
	check(4)
	if err := f.Unpublish("two"); err != nil {
		t.Fatal(err)
	}
	check(1)
	got, err := f.Published()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]Mapping{"one": ms(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Published = %v, want %v", got, want)
	}
	if err := f.Publish("one", nil); err != nil {
		t.Fatal(err)
	}
	check(0)

	if err := f.Delete(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.Exists(); ok {
		t.Error("table still there")
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if err := f.Ensure(); err == nil {
		t.Error("Ensure after Close succeeded")
	}
}

// TestOpenNotNetNS checks Open's errors.
func TestOpenNotNetNS(t *testing.T) {
	c := Config{Table: "t", Bridge: "b", Subnet: netip.MustParsePrefix("10.0.0.0/8"), NetNS: "/proc/self/ns/ipc"}
	if _, err := Open(c); err == nil || !strings.Contains(err.Error(), "not a network namespace") {
		t.Errorf("Open with an IPC namespace: %v", err)
	}
	c.NetNS = t.TempDir() + "/missing"
	if _, err := Open(c); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Open with a missing file: %v", err)
	}
}

// TestConcurrentPublish publishes and unpublishes from many goroutines at
// once (run with -race): every call succeeds and the end state is exact.
func TestConcurrentPublish(t *testing.T) {
	needRoot(t)
	ns := newNetNS(t)
	f := openFW(t, Config{Table: "podvisor_pvc0", Bridge: "pvc0", Subnet: netip.MustParsePrefix("10.96.0.0/16"), NetNS: nsPath(ns)})
	if err := f.Ensure(); err != nil {
		t.Fatal(err)
	}
	ms := func(i int) []Mapping {
		ip := netip.AddrFrom4([4]byte{10, 96, 0, byte(i + 2)})
		return []Mapping{{Protocol: "tcp", HostPort: uint16(2000 + i), PodIP: ip, PodPort: 80}}
	}
	errs := make(chan error, 40)
	for i := range 20 {
		go func() {
			owner := fmt.Sprintf("pod-%d", i)
			err := f.Publish(owner, ms(i))
			if err == nil && i%2 == 1 {
				err = f.Unpublish(owner)
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := f.Published()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]Mapping{}
	for i := 0; i < 20; i += 2 {
		want[fmt.Sprintf("pod-%d", i)] = ms(i)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Published = %v, want %v", got, want)
	}
}
