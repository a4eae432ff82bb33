package firewall

import (
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Expression builders. Rules always load into register 1 (and 2 for the
// DNAT port), like nft does.

// ipsDstNAT is IPS_DST_NAT of the conntrack status bits.
const ipsDstNAT = 1 << 5

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// ifnameData is an interface name as nft compares it: IFNAMSIZ bytes,
// zero-padded.
func ifnameData(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func iifname(op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifnameData(name)},
	}
}

func oifname(op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifnameData(name)},
	}
}

// nfproto matches the packet's family (meta nfproto ipv4/ipv6), which nft
// adds implicitly before any ip or ip6 match in an inet table.
func nfproto(ip netip.Addr) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if ip.Is6() {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// addrMatch matches the source (src) or destination address against p
// (== or != by op). The caller has matched the family first.
func addrMatch(src bool, op expr.CmpOp, p netip.Prefix) []expr.Any {
	var off, n uint32
	switch {
	case p.Addr().Is4() && src:
		off, n = 12, 4
	case p.Addr().Is4():
		off, n = 16, 4
	case src:
		off, n = 8, 16
	default:
		off, n = 24, 16
	}
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n}}
	if p.Bits() < p.Addr().BitLen() {
		e = append(e, &expr.Bitwise{
			SourceRegister: 1, DestRegister: 1, Len: n,
			Mask: prefixMask(p), Xor: make([]byte, n),
		})
	}
	return append(e, &expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()})
}

// prefixMask is p's netmask as bytes.
func prefixMask(p netip.Prefix) []byte {
	m := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// ctStatusDNAT matches `ct status dnat` (dnat true) or `ct status != dnat`.
func ctStatusDNAT(dnat bool) []expr.Any {
	op := expr.CmpOpNeq
	if !dnat {
		op = expr.CmpOpEq
	}
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
	}
}

// ctEstablished matches `ct state established,related`.
func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// fibDaddrLocal matches `fib daddr type local`.
func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func rule(parts ...[]expr.Any) []expr.Any {
	var r []expr.Any
	for _, p := range parts {
		r = append(r, p...)
	}
	return r
}

func one(e expr.Any) []expr.Any { return []expr.Any{e} }

// baseRules returns the rules of the base chain named chain for c.
func baseRules(c Config, chain string) [][]expr.Any {
	br := c.Bridge
	var subnets []netip.Prefix
	if c.Subnet.IsValid() {
		subnets = append(subnets, c.Subnet)
	}
	if c.Subnet6.IsValid() {
		subnets = append(subnets, c.Subnet6)
	}
	switch chain {
	case chainPrerouting, chainOutput:
		return [][]expr.Any{rule(fibDaddrLocal(), one(&expr.Verdict{Kind: expr.VerdictJump, Chain: chainHostports}))}
	case chainPostrouting:
		rs := [][]expr.Any{
			// The host's 127.0.0.1:hostPort reaching a pod: the source
			// must not stay a loopback address on the bridge.
			rule(oifname(expr.CmpOpEq, br), ctStatusDNAT(true), nfproto(loopback4.Addr()),
				addrMatch(true, expr.CmpOpEq, loopback4), one(&expr.Masq{})),
		}
		for _, s := range subnets {
			// Hairpin: a pod reaching a published port that lands on a pod
			// of the same bridge; the reply must come back through the host
			// to be de-NATed (br_netfilter may be absent).
			rs = append(rs, rule(oifname(expr.CmpOpEq, br), ctStatusDNAT(true), nfproto(s.Addr()),
				addrMatch(true, expr.CmpOpEq, s), one(&expr.Masq{})))
		}
		if !c.Internal {
			for _, s := range subnets {
				rs = append(rs, rule(nfproto(s.Addr()), addrMatch(true, expr.CmpOpEq, s),
					addrMatch(false, expr.CmpOpNeq, s), one(&expr.Masq{})))
			}
		}
		return rs
	case chainInput:
		// CVE-2020-8558: with route_localnet on the bridge, a pod could
		// reach the host's 127.0.0.0/8 services through the gateway.
		return [][]expr.Any{rule(iifname(expr.CmpOpEq, br), nfproto(loopback4.Addr()),
			addrMatch(false, expr.CmpOpEq, loopback4), ctStatusDNAT(false), one(verdict(expr.VerdictDrop)))}
	case chainForward:
		if c.Internal {
			return [][]expr.Any{
				rule(iifname(expr.CmpOpEq, br), oifname(expr.CmpOpNeq, br), one(verdict(expr.VerdictDrop))),
				rule(oifname(expr.CmpOpEq, br), iifname(expr.CmpOpNeq, br), one(verdict(expr.VerdictDrop))),
			}
		}
		return [][]expr.Any{
			rule(ctEstablished(), one(verdict(expr.VerdictAccept))),
			rule(iifname(expr.CmpOpEq, br), one(verdict(expr.VerdictAccept))),
			rule(oifname(expr.CmpOpEq, br), one(verdict(expr.VerdictAccept))),
		}
	}
	return nil
}

// dnatRule returns the hostports rule of m:
// meta nfproto F [ip daddr H] meta l4proto P th dport HP dnat ip to A:PP.
// m is valid and of one family.
func dnatRule(m Mapping) []expr.Any {
	pod := m.PodIP
	r := nfproto(pod)
	if m.HostIP.IsValid() {
		r = append(r, addrMatch(false, expr.CmpOpEq, netip.PrefixFrom(m.HostIP, m.HostIP.BitLen()))...)
	}
	fam := uint32(unix.NFPROTO_IPV4)
	if pod.Is6() {
		fam = unix.NFPROTO_IPV6
	}
	proto, _ := protoNumber(m.Protocol)
	return append(r,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(m.HostPort)},
		&expr.Immediate{Register: 1, Data: pod.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(m.PodPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}
