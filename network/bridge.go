package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Bridge is a Linux bridge in the host namespace, with the gateway
// address(es) of the pods attached to it.
type Bridge struct {
	Name     string       // link name, at most 15 bytes
	Subnet   netip.Prefix // IPv4 subnet, masked (e.g. 10.77.0.0/16)
	Subnet6  netip.Prefix // optional IPv6 subnet (!IsValid() = none)
	Gateway  netip.Addr   // zero: the subnet's first address (10.77.0.1)
	Gateway6 netip.Addr   // zero: the first address of Subnet6
	MTU      int          // 0: 1500
}

// GatewayAddr returns the IPv4 gateway with the default applied: Gateway,
// or the first address of Subnet.
func (b Bridge) GatewayAddr() netip.Addr {
	if b.Gateway.IsValid() {
		return b.Gateway.Unmap()
	}
	if !b.Subnet.IsValid() {
		return netip.Addr{}
	}
	return b.Subnet.Masked().Addr().Next()
}

// Gateway6Addr returns the IPv6 gateway with the default applied:
// Gateway6, or the first address of Subnet6; the zero Addr without
// Subnet6.
func (b Bridge) Gateway6Addr() netip.Addr {
	if b.Gateway6.IsValid() {
		return b.Gateway6
	}
	if !b.Subnet6.IsValid() {
		return netip.Addr{}
	}
	return b.Subnet6.Masked().Addr().Next()
}

func (b Bridge) mtu() int {
	if b.MTU > 0 {
		return b.MTU
	}
	return 1500
}

// check validates b.
func (b Bridge) check() error {
	if err := checkLinkName(b.Name); err != nil {
		return err
	}
	if !b.Subnet.IsValid() || !b.Subnet.Addr().Is4() {
		return fmt.Errorf("subnet %v is not an IPv4 prefix", b.Subnet)
	}
	gw := b.GatewayAddr()
	if !b.Subnet.Masked().Contains(gw) {
		return fmt.Errorf("gateway %s is not in subnet %s", gw, b.Subnet.Masked())
	}
	if b.Subnet6.IsValid() {
		if !b.Subnet6.Addr().Is6() || b.Subnet6.Addr().Is4In6() {
			return fmt.Errorf("subnet6 %v is not an IPv6 prefix", b.Subnet6)
		}
		if gw6 := b.Gateway6Addr(); !b.Subnet6.Masked().Contains(gw6) {
			return fmt.Errorf("gateway %s is not in subnet %s", gw6, b.Subnet6.Masked())
		}
	} else if b.Gateway6.IsValid() {
		return fmt.Errorf("gateway %s without an IPv6 subnet", b.Gateway6)
	}
	return nil
}

// checkLinkName checks an interface name as the kernel does
// (dev_valid_name).
func checkLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) > unix.IFNAMSIZ-1:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return fmt.Errorf("invalid interface name %q", name)
	case strings.ContainsAny(name, "/: \t\n\r\v\f\x00"):
		return fmt.Errorf("invalid interface name %q (slash, colon or white space)", name)
	}
	return nil
}

// EnsureBridge makes the bridge if missing (idempotent: an existing bridge of
// that name is reused, its gateway address(es) added if missing, set up); a
// link of that name that is not a bridge is an error naming it. It sets in
// the host namespace: net.ipv4.ip_forward=1,
// net.ipv4.conf.<bridge>.route_localnet=1, and with Subnet6
// net.ipv6.conf.all.forwarding=1 and accept_dad=0 on the bridge (no DAD
// delay), and brings the bridge up.
//
// A new bridge gets the MAC address MACFor(gateway), set explicitly so that
// it does not change as ports come and go. An existing bridge gets the MTU
// asked for. Addresses are added with the subnet's prefix length; IPv6 ones
// with IFA_F_NODAD, so that they are usable at once.
func (h *Host) EnsureBridge(b Bridge) error {
	release, err := h.use()
	if err != nil {
		return err
	}
	defer release()
	fail := func(op string, err error) error {
		return fmt.Errorf("bridge %q: %s: %w", b.Name, op, err)
	}
	if err := b.check(); err != nil {
		return fail("check", err)
	}
	gw := b.GatewayAddr()
	br, err := h.nlh.LinkByName(b.Name)
	switch {
	case err == nil:
		if br.Type() != "bridge" {
			return fail("check", fmt.Errorf("link %q exists and is a %s, not a bridge", b.Name, br.Type()))
		}
		if br.Attrs().MTU != b.mtu() {
			if err := h.nlh.LinkSetMTU(br, b.mtu()); err != nil {
				return fail(fmt.Sprintf("set MTU %d", b.mtu()), err)
			}
		}
	case isNotFound(err):
		la := netlink.NewLinkAttrs()
		la.Name = b.Name
		la.MTU = b.mtu()
		la.HardwareAddr = MACFor(gw)
		if err := h.nlh.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fail("create", err)
		}
		if br, err = h.nlh.LinkByName(b.Name); err != nil {
			return fail("look up", err)
		}
		if br.Type() != "bridge" {
			return fail("check", fmt.Errorf("link %q exists and is a %s, not a bridge", b.Name, br.Type()))
		}
	default:
		return fail("look up", err)
	}
	idx := br.Attrs().Index

	// Sysctls first: accept_dad before the IPv6 address.
	sysctls := [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv4/conf/" + b.Name + "/route_localnet", "1"},
	}
	if b.Subnet6.IsValid() {
		sysctls = append(sysctls,
			[2]string{"net/ipv6/conf/all/forwarding", "1"},
			[2]string{"net/ipv6/conf/" + b.Name + "/accept_dad", "0"},
		)
	}
	if err := h.do(func() error {
		for _, s := range sysctls {
			if err := writeSysctl(s[0], s[1]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fail("sysctl", err)
	}

	want := []netip.Prefix{netip.PrefixFrom(gw, b.Subnet.Bits())}
	if b.Subnet6.IsValid() {
		want = append(want, netip.PrefixFrom(b.Gateway6Addr(), b.Subnet6.Bits()))
	}
	have, err := retryDump(func() ([]netlink.Addr, error) { return h.nlh.AddrList(br, netlink.FAMILY_ALL) })
	if err != nil {
		return fail("list addresses", err)
	}
	for _, p := range want {
		if hasPrefix(have, p) {
			continue
		}
		a := &netlink.Addr{IPNet: prefixToIPNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.nlh.AddrAdd(br, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fail("add address "+p.String(), err)
		}
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := h.nlh.LinkSetUp(br); err != nil {
			return fail("set up", err)
		}
	}
	h.brMu.Lock()
	h.brIndex[b.Name] = idx
	h.brMu.Unlock()
	return nil
}

// hasPrefix reports whether addrs hold p (address and prefix length).
func hasPrefix(addrs []netlink.Addr, p netip.Prefix) bool {
	for _, a := range addrs {
		if q, ok := ipNetToPrefix(a.IPNet); ok && q == p {
			return true
		}
	}
	return false
}

// RemoveBridge deletes the bridge link; a missing one is not an error. A
// link of that name that is not a bridge is left alone, and is an error.
// Its ports are released by the kernel (the veths stay).
func (h *Host) RemoveBridge(name string) error {
	release, err := h.use()
	if err != nil {
		return err
	}
	defer release()
	h.forgetBridge(name)
	br, err := h.nlh.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bridge %q: look up: %w", name, err)
	}
	if br.Type() != "bridge" {
		return fmt.Errorf("bridge %q: remove: link is a %s, not a bridge", name, br.Type())
	}
	if err := h.nlh.LinkDel(br); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("bridge %q: remove: %w", name, err)
	}
	return nil
}

// bridgeIndex returns the ifindex of the bridge called name, from the
// cache or the kernel.
func (h *Host) bridgeIndex(name string) (int, error) {
	h.brMu.Lock()
	idx, ok := h.brIndex[name]
	h.brMu.Unlock()
	if ok {
		return idx, nil
	}
	br, err := h.nlh.LinkByName(name)
	if err != nil {
		return 0, err
	}
	if br.Type() != "bridge" {
		return 0, fmt.Errorf("link %q is a %s, not a bridge", name, br.Type())
	}
	idx = br.Attrs().Index
	h.brMu.Lock()
	h.brIndex[name] = idx
	h.brMu.Unlock()
	return idx, nil
}

func (h *Host) forgetBridge(name string) {
	h.brMu.Lock()
	delete(h.brIndex, name)
	h.brMu.Unlock()
}

// Ports lists the names of the links enslaved to bridge (empty when the
// bridge is missing).
func (h *Host) Ports(bridge string) ([]string, error) {
	release, err := h.use()
	if err != nil {
		return nil, err
	}
	defer release()
	br, err := h.nlh.LinkByName(bridge)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bridge %q: look up: %w", bridge, err)
	}
	idx := br.Attrs().Index
	names, err := retryDump(func() ([]string, error) { return h.portsOf(idx) })
	if err != nil {
		return nil, fmt.Errorf("bridge %q: list ports: %w", bridge, err)
	}
	return names, nil
}

// portsOf dumps the links whose master is idx, filtered by the kernel
// (IFLA_MASTER in the dump request).
func (h *Host) portsOf(idx int) ([]string, error) {
	req := h.rawRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(idx))))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	names := []string{}
	for _, m := range msgs {
		if len(m) < unix.SizeofIfInfomsg {
			continue
		}
		attrs, perr := nl.ParseRouteAttr(m[unix.SizeofIfInfomsg:])
		if perr != nil {
			return nil, perr
		}
		var name string
		master := -1
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.IFLA_IFNAME:
				name = unix.ByteSliceToString(a.Value)
			case unix.IFLA_MASTER:
				if len(a.Value) >= 4 {
					master = int(nl.NativeEndian().Uint32(a.Value))
				}
			}
		}
		// The kernel filters; check anyway, in case it ignored the filter.
		if master == idx && name != "" {
			names = append(names, name)
		}
	}
	return names, err
}

// rawRequest is a request on the Host's own raw netlink socket.
func (h *Host) rawRequest(typ, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   uint32(unix.SizeofNlMsghdr),
			Type:  uint16(typ),
			Flags: unix.NLM_F_REQUEST | uint16(flags),
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: h.raw},
	}
}

// Overlap returns a description of a route in the host namespace's main
// table (IPv4 and IPv6) whose destination overlaps p, such as
// "10.77.0.0/16 dev eth1", skipping routes on the link named except (our
// own bridge) and default routes; "" when none.
//
// The description reads like `ip route`: "[TYPE ]DEST[ via GATEWAY][ dev
// LINK]", TYPE only for routes that are not unicast (e.g. "blackhole").
func (h *Host) Overlap(p netip.Prefix, except string) (string, error) {
	release, err := h.use()
	if err != nil {
		return "", err
	}
	defer release()
	if !p.IsValid() {
		return "", fmt.Errorf("route overlap: invalid prefix %v", p)
	}
	p = p.Masked()
	exceptIdx := -1
	if except != "" {
		l, err := h.nlh.LinkByName(except)
		switch {
		case err == nil:
			exceptIdx = l.Attrs().Index
		case !isNotFound(err):
			return "", fmt.Errorf("route overlap with %s: look up link %q: %w", p, except, err)
		}
	}
	family := netlink.FAMILY_V4
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		family = netlink.FAMILY_V6
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.nlh.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return "", fmt.Errorf("route overlap with %s: list routes: %w", p, err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue // default
		}
		dst, ok := ipNetToPrefix(r.Dst)
		if !ok || dst.Bits() == 0 || !dst.Overlaps(p) {
			continue
		}
		if exceptIdx > 0 && routeUsesLink(r, exceptIdx) {
			continue
		}
		return h.describeRoute(r, dst), nil
	}
	return "", nil
}

// routeUsesLink reports whether r goes out through the link idx.
func routeUsesLink(r netlink.Route, idx int) bool {
	if r.LinkIndex == idx {
		return true
	}
	for _, nh := range r.MultiPath {
		if nh.LinkIndex == idx {
			return true
		}
	}
	return false
}

func (h *Host) describeRoute(r netlink.Route, dst netip.Prefix) string {
	var sb strings.Builder
	if r.Type != 0 && r.Type != unix.RTN_UNICAST {
		sb.WriteString(routeTypeName(r.Type))
		sb.WriteByte(' ')
	}
	sb.WriteString(dst.String())
	if r.Gw != nil {
		sb.WriteString(" via ")
		sb.WriteString(r.Gw.String())
	}
	if r.LinkIndex > 0 {
		sb.WriteString(" dev ")
		sb.WriteString(h.linkName(r.LinkIndex))
	}
	for _, nh := range r.MultiPath {
		sb.WriteString(" nexthop")
		if nh.Gw != nil {
			sb.WriteString(" via ")
			sb.WriteString(nh.Gw.String())
		}
		if nh.LinkIndex > 0 {
			sb.WriteString(" dev ")
			sb.WriteString(h.linkName(nh.LinkIndex))
		}
	}
	return sb.String()
}

func (h *Host) linkName(idx int) string {
	l, err := h.nlh.LinkByIndex(idx)
	if err != nil {
		return fmt.Sprintf("if%d", idx)
	}
	return l.Attrs().Name
}

func routeTypeName(t int) string {
	switch t {
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_ANYCAST:
		return "anycast"
	case unix.RTN_MULTICAST:
		return "multicast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	case unix.RTN_THROW:
		return "throw"
	case unix.RTN_NAT:
		return "nat"
	}
	return fmt.Sprintf("type%d", t)
}

// PrimaryIP returns the preferred source address of the host namespace's
// default IPv4 route (the hostIP Kubernetes reports); ok false when there is
// no default route.
//
// Among default routes of the main table the one with the lowest metric
// wins. Its preferred source (src) when it has one; otherwise the address
// the kernel would pick (inet_select_addr): the first primary global
// address of the route's link in the gateway's subnet, else the first
// primary global address of that link, else the first global address of
// any other link that is up. ok is false too when no address qualifies.
func (h *Host) PrimaryIP() (ip netip.Addr, ok bool, err error) {
	release, err := h.use()
	if err != nil {
		return netip.Addr{}, false, err
	}
	defer release()
	fail := func(op string, err error) (netip.Addr, bool, error) {
		return netip.Addr{}, false, fmt.Errorf("primary IP: %s: %w", op, err)
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return h.nlh.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return fail("list routes", err)
	}
	var best *netlink.Route
	for i := range routes {
		r := &routes[i]
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.Type != 0 && r.Type != unix.RTN_UNICAST {
			continue
		}
		if best == nil || r.Priority < best.Priority {
			best = r
		}
	}
	if best == nil {
		return netip.Addr{}, false, nil
	}
	if src, ok := netip.AddrFromSlice(best.Src); ok && src.Unmap().IsValid() && !src.IsUnspecified() {
		return src.Unmap(), true, nil
	}
	linkIdx, gw := best.LinkIndex, best.Gw
	if linkIdx == 0 && len(best.MultiPath) > 0 {
		linkIdx, gw = best.MultiPath[0].LinkIndex, best.MultiPath[0].Gw
	}
	gwAddr, _ := netip.AddrFromSlice(gw)
	gwAddr = gwAddr.Unmap()
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.nlh.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return fail("list addresses", err)
	}
	var first, other netip.Addr
	for _, a := range addrs {
		if a.Scope != unix.RT_SCOPE_UNIVERSE || a.Flags&unix.IFA_F_SECONDARY != 0 {
			continue
		}
		p, ok := ipNetToPrefix(a.IPNet)
		if !ok {
			continue
		}
		if a.LinkIndex != linkIdx {
			if !other.IsValid() {
				other = p.Addr()
			}
			continue
		}
		if gwAddr.IsValid() && p.Masked().Contains(gwAddr) {
			return p.Addr(), true, nil
		}
		if !first.IsValid() {
			first = p.Addr()
		}
	}
	if first.IsValid() {
		return first, true, nil
	}
	if other.IsValid() {
		return other, true, nil
	}
	return netip.Addr{}, false, nil
}

// HasAddr reports whether ip is assigned to a link in the host namespace.
func (h *Host) HasAddr(ip netip.Addr) (bool, error) {
	release, err := h.use()
	if err != nil {
		return false, err
	}
	defer release()
	ip = ip.Unmap()
	family := netlink.FAMILY_V4
	if ip.Is6() {
		family = netlink.FAMILY_V6
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.nlh.AddrList(nil, family) })
	if err != nil {
		return false, fmt.Errorf("address %s: list addresses: %w", ip, err)
	}
	for _, a := range addrs {
		if p, ok := ipNetToPrefix(a.IPNet); ok && p.Addr() == ip.WithZone("") {
			return true, nil
		}
	}
	return false, nil
}

// LinkExists reports whether a link of that name exists in the host
// namespace. A name that no link can have (empty, too long) does not.
func (h *Host) LinkExists(name string) (bool, error) {
	release, err := h.use()
	if err != nil {
		return false, err
	}
	defer release()
	if checkLinkName(name) != nil {
		return false, nil // no link can have that name
	}
	_, err = h.nlh.LinkByName(name)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("link %q: look up: %w", name, err)
}

// writeSysctl writes a parameter under /proc/sys (name with slashes) as
// seen from the calling thread's network namespace.
func writeSysctl(name, value string) error {
	p := filepath.Join("/proc/sys", name)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("set %s=%s: %w", strings.ReplaceAll(name, "/", "."), value, err)
	}
	return nil
}

// prefixToIPNet converts an address with its prefix length.
func prefixToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	bits := 32
	if a.Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

// ipNetToPrefix converts an address with its mask (not masked).
func ipNetToPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 0 || (a.Is4() && bits != 32 && bits != 128) {
		return netip.Prefix{}, false
	}
	if a.Is4() && bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}
