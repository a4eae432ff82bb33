package firewall

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

func TestTableName(t *testing.T) {
	for in, want := range map[string]string{
		"podvisor0": "podvisor_podvisor0",
		"pv-br.1":   "podvisor_pv_br_1",
		"é":         "podvisor__",
		"A_b9":      "podvisor_A_b9",
	} {
		if got := TableName(in); got != want {
			t.Errorf("TableName(%q) = %q, want %q", in, got, want)
		}
		if _, err := (Config{Table: TableName(in), Bridge: "br0", Subnet: netip.MustParsePrefix("10.0.0.0/24")}).validate(); err != nil {
			t.Errorf("TableName(%q) not valid: %v", in, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Table: "podvisor_br0", Bridge: "br0", Subnet: netip.MustParsePrefix("10.88.0.1/16")}
	c, err := good.validate()
	if err != nil {
		t.Fatal(err)
	}
	if c.Subnet != netip.MustParsePrefix("10.88.0.0/16") {
		t.Errorf("subnet not masked: %v", c.Subnet)
	}
	bad := []func(*Config){
		func(c *Config) { c.Table = "" },
		func(c *Config) { c.Table = "a-b" },
		func(c *Config) { c.Table = "a b" },
		func(c *Config) { c.Bridge = "" },
		func(c *Config) { c.Bridge = "a-very-long-bridge-name" },
		func(c *Config) { c.Subnet = netip.MustParsePrefix("fd00::/64") },
		func(c *Config) { c.Subnet6 = netip.MustParsePrefix("10.0.0.0/8") },
		func(c *Config) { c.Subnet = netip.Prefix{} },
	}
	for i, mod := range bad {
		c := good
		mod(&c)
		if _, err := c.validate(); err == nil {
			t.Errorf("case %d: %+v accepted", i, c)
		}
	}
	v6only := Config{Table: "t", Bridge: "b", Subnet6: netip.MustParsePrefix("fd00:1::5/64")}
	if c, err := v6only.validate(); err != nil || c.Subnet6 != netip.MustParsePrefix("fd00:1::/64") {
		t.Errorf("IPv6-only config: %v %v", c.Subnet6, err)
	}
	if _, err := Open(Config{Table: "x"}); err == nil || !strings.Contains(err.Error(), `firewall table "x"`) {
		t.Errorf("Open of a bad config: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	pod4 := netip.MustParseAddr("10.0.0.2")
	pod6 := netip.MustParseAddr("fd00::2")
	cases := []struct {
		m       Mapping
		skip    bool
		bad     bool
		outHost netip.Addr
	}{
		{m: Mapping{Protocol: "tcp", HostPort: 80, PodIP: pod4, PodPort: 8080}},
		{m: Mapping{Protocol: "udp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 53, PodIP: pod4, PodPort: 53}, outHost: netip.MustParseAddr("192.0.2.1")},
		{m: Mapping{Protocol: "sctp", HostIP: netip.MustParseAddr("::ffff:192.0.2.1"), HostPort: 1, PodIP: pod4, PodPort: 1}, outHost: netip.MustParseAddr("192.0.2.1")},
		{m: Mapping{Protocol: "tcp", HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: 80, PodIP: pod4, PodPort: 80}},
		{m: Mapping{Protocol: "tcp", HostIP: netip.MustParseAddr("::"), HostPort: 80, PodIP: pod4, PodPort: 80}, skip: true},
		{m: Mapping{Protocol: "tcp", HostIP: netip.MustParseAddr("2001:db8::1"), HostPort: 80, PodIP: pod4, PodPort: 80}, skip: true},
		{m: Mapping{Protocol: "tcp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 80, PodIP: pod6, PodPort: 80}, skip: true},
		{m: Mapping{Protocol: "tcp", HostIP: netip.MustParseAddr("2001:db8::1"), HostPort: 80, PodIP: pod6, PodPort: 80}, outHost: netip.MustParseAddr("2001:db8::1")},
		{m: Mapping{Protocol: "icmp", HostPort: 80, PodIP: pod4, PodPort: 80}, bad: true},
		{m: Mapping{Protocol: "TCP", HostPort: 80, PodIP: pod4, PodPort: 80}, bad: true},
		{m: Mapping{Protocol: "tcp", HostPort: 0, PodIP: pod4, PodPort: 80}, bad: true},
		{m: Mapping{Protocol: "tcp", HostPort: 80, PodIP: pod4, PodPort: 0}, bad: true},
		{m: Mapping{Protocol: "tcp", HostPort: 80, PodPort: 80}, bad: true},
		{m: Mapping{Protocol: "tcp", HostPort: 80, PodIP: netip.IPv4Unspecified(), PodPort: 80}, bad: true},
	}
	for _, c := range cases {
		got, skip, err := c.m.normalize()
		if (err != nil) != c.bad || skip != c.skip {
			t.Errorf("%v: skip %v err %v", c.m, skip, err)
			continue
		}
		if !c.bad && !c.skip && got.HostIP != c.outHost {
			t.Errorf("%v: host %v, want %v", c.m, got.HostIP, c.outHost)
		}
	}
}

func TestUserDataRoundTrip(t *testing.T) {
	ms := []Mapping{
		{Protocol: "tcp", HostPort: 8080, PodIP: netip.MustParseAddr("10.0.0.2"), PodPort: 80},
		{Protocol: "udp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 53, PodIP: netip.MustParseAddr("10.0.0.2"), PodPort: 5353},
		{Protocol: "sctp", HostIP: netip.MustParseAddr("2001:db8::ffff:1"), HostPort: 65535, PodIP: netip.MustParseAddr("fd00:1:2:3:4:5:6:7"), PodPort: 1},
	}
	owners := []string{"a", "pod/ns/name", strings.Repeat("é", MaxOwnerLen/2), strings.Repeat("x", MaxOwnerLen)}
	for _, o := range owners {
		for _, m := range ms {
			ud := encodeUserData(o, m)
			if len(ud) > udMaxLen {
				t.Fatalf("%q %v: user data of %d bytes", o, m, len(ud))
			}
			gotOwner, gm, ok := parseUserData(ud)
			if !ok || gotOwner != o || gm != m {
				t.Errorf("round trip of %q %v: %q %v %v", o, m, gotOwner, gm, ok)
			}
			// the comment TLV is NUL-terminated valid text, as nft wants it
			c := commentOf(ud)
			if c == nil || c[len(c)-1] != 0 || !strings.HasPrefix(string(c), "podvisor ") || !utf8Valid(c[:len(c)-1]) {
				t.Errorf("comment %q", c)
			}
		}
	}
	for _, bad := range [][]byte{nil, {udOwner}, {udOwner, 5, 'a'}, {udOwner, 1, 'a'}, {udMapping, 2, 1, 6}, {udOwner, 1, 'a', udMapping, 3, 9, 6, 0}} {
		if _, _, ok := parseUserData(bad); ok {
			t.Errorf("parseUserData(%v) ok", bad)
		}
	}
	// every truncation of a valid mapping is rejected, not a panic
	mb := encodeMapping(ms[2])
	for i := range mb {
		if _, ok := decodeMapping(mb[:i]); ok {
			t.Errorf("truncated mapping %v accepted", mb[:i])
		}
	}
}

func commentOf(ud []byte) []byte {
	for len(ud) >= 2 {
		n := int(ud[1])
		if ud[0] == udComment {
			return ud[2 : 2+n]
		}
		ud = ud[2+n:]
	}
	return nil
}

func utf8Valid(b []byte) bool { return strings.ToValidUTF8(string(b), "?") == string(b) }

func TestMappingString(t *testing.T) {
	m := Mapping{Protocol: "tcp", HostPort: 8080, PodIP: netip.MustParseAddr("10.0.0.2"), PodPort: 80}
	if s := m.String(); s != "tcp *:8080->10.0.0.2:80" {
		t.Error(s)
	}
	m.HostIP = netip.MustParseAddr("::1")
	m.PodIP = netip.MustParseAddr("fd00::2")
	if s := m.String(); s != "tcp [::1]:8080->[fd00::2]:80" {
		t.Error(s)
	}
}

func TestDNATRuleExprs(t *testing.T) {
	m := Mapping{Protocol: "udp", HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 53, PodIP: netip.MustParseAddr("10.0.0.2"), PodPort: 5353}
	r := dnatRule(m)
	// meta nfproto, cmp, payload daddr, cmp, meta l4proto, cmp, payload dport, cmp, imm, imm, nat
	if len(r) != 11 {
		t.Fatalf("%d expressions", len(r))
	}
	if p := r[2].(*expr.Payload); p.Offset != 16 || p.Len != 4 {
		t.Errorf("daddr payload %+v", p)
	}
	if c := r[3].(*expr.Cmp); !bytes.Equal(c.Data, []byte{192, 0, 2, 1}) {
		t.Errorf("daddr %v", c.Data)
	}
	if c := r[5].(*expr.Cmp); !bytes.Equal(c.Data, []byte{unix.IPPROTO_UDP}) {
		t.Errorf("l4proto %v", c.Data)
	}
	if c := r[7].(*expr.Cmp); !bytes.Equal(c.Data, []byte{0, 53}) {
		t.Errorf("dport %v", c.Data)
	}
	if n := r[10].(*expr.NAT); n.Type != expr.NATTypeDestNAT || n.Family != unix.NFPROTO_IPV4 || !n.Specified {
		t.Errorf("nat %+v", n)
	}
	m6 := Mapping{Protocol: "tcp", HostPort: 80, PodIP: netip.MustParseAddr("fd00::2"), PodPort: 80}
	r = dnatRule(m6)
	if len(r) != 9 {
		t.Fatalf("v6 without host: %d expressions", len(r))
	}
	if c := r[1].(*expr.Cmp); c.Data[0] != unix.NFPROTO_IPV6 {
		t.Errorf("nfproto %v", c.Data)
	}
	if n := r[8].(*expr.NAT); n.Family != unix.NFPROTO_IPV6 {
		t.Errorf("nat %+v", n)
	}
}

func TestBaseRules(t *testing.T) {
	c := Config{Table: "t", Bridge: "br0", Subnet: netip.MustParsePrefix("10.0.0.0/24"), Subnet6: netip.MustParsePrefix("fd00::/64")}
	count := func(c Config) map[string]int {
		n := map[string]int{}
		for _, bc := range baseChains {
			n[bc.name] = len(baseRules(c, bc.name))
		}
		return n
	}
	got := count(c)
	want := map[string]int{chainPrerouting: 1, chainOutput: 1, chainPostrouting: 5, chainInput: 1, chainForward: 3}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d rules, want %d", k, got[k], v)
		}
	}
	c.Internal = true
	c.Subnet6 = netip.Prefix{}
	got = count(c)
	want = map[string]int{chainPrerouting: 1, chainOutput: 1, chainPostrouting: 2, chainInput: 1, chainForward: 2}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("internal %s: %d rules, want %d", k, got[k], v)
		}
	}
	if m := prefixMask(netip.MustParsePrefix("10.0.0.0/20")); !bytes.Equal(m, []byte{255, 255, 240, 0}) {
		t.Errorf("mask %v", m)
	}
	if n := len(addrMatch(true, expr.CmpOpEq, netip.MustParsePrefix("10.0.0.1/32"))); n != 2 {
		t.Errorf("host match: %d expressions, want no bitwise", n)
	}
}
