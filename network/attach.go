package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Attachment is a pod's link to a bridge: a veth pair with one end on the
// bridge in the host namespace and the other in the pod's network
// namespace.
type Attachment struct {
	Bridge   string           // the bridge to enslave the host side to
	HostIf   string           // host-side veth name (<= 15 bytes), see VethName
	NetNS    string           // path of the pod's network namespace file
	PodIf    string           // pod-side name; "" = "eth0"
	Addrs    []netip.Prefix   // the pod's addresses with the subnet's prefix length, e.g. 10.77.0.5/16
	Gateways []netip.Addr     // a default route via each (v4 and/or v6)
	MAC      net.HardwareAddr // pod side; nil = MACFor(first address)
	MTU      int              // 0: 1500
}

func (a Attachment) podIf() string {
	if a.PodIf == "" {
		return "eth0"
	}
	return a.PodIf
}

func (a Attachment) mtu() int {
	if a.MTU > 0 {
		return a.MTU
	}
	return 1500
}

func (a Attachment) check() error {
	if err := checkLinkName(a.HostIf); err != nil {
		return fmt.Errorf("host interface: %w", err)
	}
	if err := checkLinkName(a.podIf()); err != nil {
		return fmt.Errorf("pod interface: %w", err)
	}
	if a.Bridge == "" {
		return errors.New("no bridge")
	}
	if a.NetNS == "" {
		return errors.New("no network namespace")
	}
	for _, p := range a.Addrs {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return fmt.Errorf("invalid address %v", p)
		}
	}
	for _, g := range a.Gateways {
		if !g.IsValid() || g.Zone() != "" {
			return fmt.Errorf("invalid gateway %v", g)
		}
	}
	if a.MAC != nil && len(a.MAC) != 6 {
		return fmt.Errorf("invalid MAC address %v", a.MAC)
	}
	return nil
}

// Attach makes a veth pair: the host side on the bridge (hairpin mode on),
// up; the pod side moved into NetNS at creation (one RTM_NEWLINK with the
// peer's namespace, master and up set in the same request if the kernel
// allows), renamed PodIf, with Addrs, up, default routes via Gateways.
// Loopback in the pod namespace is not touched. On error it leaves nothing
// (deletes the veth it made).
//
// The pod side is created under its final name directly inside NetNS, so
// no rename is needed and it cannot clash with host links. The kernel
// refuses IFF_UP for a veth peer in the creating request (the pair is not
// linked yet when the peer is configured: ENOTCONN), so the pod side is
// set up by a request made inside NetNS, before its routes.
//
// Attach returns when the new links pass traffic: the kernel processes a
// link's carrier asynchronously (a few hundred µs), and until then the
// devices drop packets and the bridge port is not forwarding, so that the
// first SYN or ARP to the pod would be lost (and retried a second later).
// It waits at most one second for that, then returns anyway. IPv6 addresses
// are added with IFA_F_NODAD (usable at once: the subnet's addresses are
// handed out by Leases, so there is no duplicate to detect). A HostIf that
// exists already is an error (file exists) and that link is left alone.
func (h *Host) Attach(a Attachment) error {
	release, err := h.use()
	if err != nil {
		return err
	}
	defer release()
	fail := func(op string, err error) error {
		return fmt.Errorf("veth %q (bridge %q, netns %s): %s: %w", a.HostIf, a.Bridge, a.NetNS, op, err)
	}
	if err := a.check(); err != nil {
		return fail("check", err)
	}
	mac := a.MAC
	if mac == nil && len(a.Addrs) > 0 {
		mac = MACFor(a.Addrs[0].Addr())
	}
	nsfd, err := openNetNS(a.NetNS)
	if err != nil {
		return fail("open", err)
	}
	defer unix.Close(nsfd)

	// The pod-side netlink socket, made meanwhile (it costs two setns).
	type handleResult struct {
		nlh *netlink.Handle
		err error
	}
	hc := make(chan handleResult, 1)
	go func() {
		nlh, err := handleIn(nsfd)
		hc <- handleResult{nlh, err}
	}()
	var pod *netlink.Handle
	defer func() {
		if pod == nil {
			if r := <-hc; r.nlh != nil {
				r.nlh.Close()
			}
		} else {
			pod.Close()
		}
	}()

	brIdx, err := h.bridgeIndex(a.Bridge)
	if err != nil {
		return fail("look up bridge", err)
	}
	err = h.createVeth(a, brIdx, nsfd, mac)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		// Maybe the cached bridge index is stale (the bridge made anew
		// behind this Host's back): look it up and try again if so.
		h.forgetBridge(a.Bridge)
		if idx, lerr := h.bridgeIndex(a.Bridge); lerr == nil && idx != brIdx {
			brIdx = idx
			err = h.createVeth(a, brIdx, nsfd, mac)
		}
	}
	if errors.Is(err, unix.EEXIST) {
		// Say which side: the host's name or the pod's.
		if l, lerr := h.nlh.LinkByName(a.HostIf); lerr == nil {
			return fail("create", fmt.Errorf("a %s named %q exists in the host namespace: %w", l.Type(), a.HostIf, err))
		}
		return fail("create", fmt.Errorf("%q exists in the pod namespace: %w", a.podIf(), err))
	}
	if err != nil {
		return fail("create", err)
	}
	// From here on, an error deletes the veth (and so its peer).
	undo := func(op string, err error) error {
		if derr := h.delLinkByName(a.HostIf); derr != nil && !errors.Is(derr, unix.ENODEV) {
			err = errors.Join(err, fmt.Errorf("delete after failure: %w", derr))
		}
		return fail(op, err)
	}
	if err := h.setHairpin(a.HostIf); err != nil {
		return undo("hairpin mode", err)
	}

	r := <-hc
	if r.err != nil {
		return undo("pod namespace", r.err)
	}
	pod = r.nlh
	podLink, err := pod.LinkByName(a.podIf())
	if err != nil {
		return undo("look up "+a.podIf()+" in pod namespace", err)
	}
	if err := pod.LinkSetUp(podLink); err != nil {
		return undo("set "+a.podIf()+" up", err)
	}
	for _, p := range a.Addrs {
		addr := &netlink.Addr{IPNet: prefixToIPNet(p)}
		if p.Addr().Is6() && !p.Addr().Is4In6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := pod.AddrAdd(podLink, addr); err != nil {
			return undo("add address "+p.String(), err)
		}
	}
	for _, gw := range a.Gateways {
		gw = gw.Unmap()
		r := &netlink.Route{
			LinkIndex: podLink.Attrs().Index,
			Gw:        net.IP(gw.AsSlice()),
			Table:     unix.RT_TABLE_MAIN,
			Scope:     unix.RT_SCOPE_UNIVERSE,
		}
		if gw.Is4() {
			r.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
		} else {
			r.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		}
		if err := pod.RouteAdd(r); err != nil {
			return undo("add default route via "+gw.String(), err)
		}
	}
	h.waitReady(a.HostIf, pod, podLink.Attrs().Index)
	return nil
}

// readyTimeout bounds how long Attach waits for the kernel to make the
// new links pass traffic.
const readyTimeout = time.Second

// waitReady waits until the kernel has processed the carrier of the new
// veth pair (linkwatch, asynchronous: until then the devices' queues drop
// every packet and the bridge port is disabled, so a first SYN or ARP
// would be lost and retried only after a second): the host side up
// (operstate) and forwarding on the bridge, the bridge up, the pod side
// up. It gives up silently after readyTimeout: traffic then flows later.
func (h *Host) waitReady(hostIf string, pod *netlink.Handle, podIdx int) {
	deadline := time.Now().Add(readyTimeout)
	delay := 20 * time.Microsecond
	for {
		if h.portReady(hostIf) {
			if l, err := pod.LinkByIndex(podIdx); err == nil && l.Attrs().OperState == netlink.OperUp {
				return
			}
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Millisecond)
	}
}

// brStateForwarding is BR_STATE_FORWARDING (linux/if_bridge.h).
const brStateForwarding = 3

// portReady reports whether the bridge port name is up and forwarding,
// and its bridge up.
func (h *Host) portReady(name string) bool {
	oper, master, state, ok := h.linkState(unix.IFLA_IFNAME, name, 0)
	if !ok || oper != netlink.OperUp || state != brStateForwarding || master == 0 {
		return false
	}
	oper, _, _, ok = h.linkState(0, "", master)
	return ok && oper == netlink.OperUp
}

// linkState gets a link, by name (attr IFLA_IFNAME) or by index, and
// returns its operstate, master and bridge port state (-1 when not a
// bridge port).
func (h *Host) linkState(attr int, name string, index int) (oper netlink.LinkOperState, master, brState int, ok bool) {
	req := h.rawRequest(unix.RTM_GETLINK, 0)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	if attr != 0 {
		req.AddData(nl.NewRtAttr(attr, nl.ZeroTerminated(name)))
	}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil || len(msgs) != 1 || len(msgs[0]) < unix.SizeofIfInfomsg {
		return 0, 0, -1, false
	}
	attrs, err := nl.ParseRouteAttr(msgs[0][unix.SizeofIfInfomsg:])
	if err != nil {
		return 0, 0, -1, false
	}
	brState = -1
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.IFLA_OPERSTATE:
			if len(a.Value) >= 1 {
				oper = netlink.LinkOperState(a.Value[0])
			}
		case unix.IFLA_MASTER:
			if len(a.Value) >= 4 {
				master = int(nl.NativeEndian().Uint32(a.Value))
			}
		case unix.IFLA_LINKINFO:
			infos, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				continue
			}
			for _, info := range infos {
				if info.Attr.Type != nl.IFLA_INFO_SLAVE_DATA {
					continue
				}
				data, err := nl.ParseRouteAttr(info.Value)
				if err != nil {
					continue
				}
				for _, d := range data {
					if d.Attr.Type == nl.IFLA_BRPORT_STATE && len(d.Value) >= 1 {
						brState = int(d.Value[0])
					}
				}
			}
		}
	}
	return oper, master, brState, true
}

// createVeth sends one RTM_NEWLINK: a veth named a.HostIf in the host
// namespace, enslaved to brIdx and up, whose peer is made inside the
// namespace nsfd as a.PodIf (down), with mac and the MTU.
func (h *Host) createVeth(a Attachment, brIdx, nsfd int, mac net.HardwareAddr) error {
	req := h.rawRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags = unix.IFF_UP
	msg.Change = unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(a.HostIf)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(a.mtu()))))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(brIdx))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	peer := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	// No IFF_UP for the peer: the kernel configures it before the pair
	// is linked, and veth_open then fails with ENOTCONN.
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(a.podIf()))
	peer.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(a.mtu())))
	if mac != nil {
		peer.AddRtAttr(unix.IFLA_ADDRESS, []byte(mac))
	}
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(nsfd)))
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// setHairpin turns hairpin mode on for the bridge port called name (an
// RTM_NEWLINK on the existing link with bridge slave data).
func (h *Host) setHairpin(name string) error {
	req := h.rawRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_SLAVE_KIND, nl.NonZeroTerminated("bridge"))
	sd := info.AddRtAttr(nl.IFLA_INFO_SLAVE_DATA, nil)
	sd.AddRtAttr(nl.IFLA_BRPORT_MODE, []byte{1})
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// delLinkByName deletes a link by name (RTM_DELLINK with IFLA_IFNAME).
func (h *Host) delLinkByName(name string) error {
	req := h.rawRequest(unix.RTM_DELLINK, unix.NLM_F_ACK)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// Detach deletes the host side veth (and so its peer); missing is not an
// error. Slow in the kernel (tens of ms): callers prefer to let a veth die
// with its namespace. A link of that name that is not a veth is left
// alone, and is an error.
func (h *Host) Detach(hostIf string) error {
	release, err := h.use()
	if err != nil {
		return err
	}
	defer release()
	l, err := h.nlh.LinkByName(hostIf)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("veth %q: look up: %w", hostIf, err)
	}
	if l.Type() != "veth" {
		return fmt.Errorf("veth %q: delete: link is a %s, not a veth", hostIf, l.Type())
	}
	if err := h.nlh.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("veth %q: delete: %w", hostIf, err)
	}
	return nil
}

// VethName returns "pv" followed by 13 hex digits of a hash of seed: a
// valid, stable interface name.
func VethName(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "pv" + hex.EncodeToString(sum[:7])[:13]
}

// MACFor returns a locally administered unicast MAC derived from ip
// (0a:58:<4 bytes of IPv4>, or a hash for IPv6), so a pod that comes back
// with its IP keeps its MAC (no stale ARP).
//
// For IPv6 it is 0e:58 followed by the first 4 bytes of the SHA-256 of the
// 16 address bytes (0e, not 0a, so that it never equals an IPv4-derived
// one). nil for an invalid ip.
func MACFor(ip netip.Addr) net.HardwareAddr {
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		b := ip.As4()
		return net.HardwareAddr{0x0a, 0x58, b[0], b[1], b[2], b[3]}
	case ip.Is6():
		b := ip.WithZone("").As16()
		sum := sha256.Sum256(b[:])
		return net.HardwareAddr{0x0e, 0x58, sum[0], sum[1], sum[2], sum[3]}
	}
	return nil
}
