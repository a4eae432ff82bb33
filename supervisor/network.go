package supervisor

// Pod networking: the default bridge network and the bridge networks made
// with `podvisor network create` (native: netlink, nftables, a DNS
// responder on each bridge's gateway), and CNI networks (libcni). The
// kernel work is done by the leaves network, firewall, dns and cni; this
// file decides what each pod gets and keeps the books: leases, published
// ports, names, and what must be undone after a crash.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/cni"
	"github.com/podvisor/podvisor/dns"
	"github.com/podvisor/podvisor/firewall"
	"github.com/podvisor/podvisor/network"
	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/store"
)

// Network defaults.
const (
	// DefaultBridge is the default network's bridge.
	DefaultBridge = "podvisor0"
	// DefaultNetworkName is the name of the default network, the one
	// "network: bridge" means.
	DefaultNetworkName = "podvisor"
	// DefaultNetnsDir is where pods' network namespaces are named, as
	// `ip netns add` names them.
	DefaultNetnsDir = "/run/netns"
)

// DefaultPodCIDR is the default network's subnet: a /16 that neither
// podman's (10.88.0.0/16) nor docker's (172.17.0.0/16) default is.
var DefaultPodCIDR = netip.MustParsePrefix("10.77.0.0/16")

// NetworkOptions configure pod networking. The zero value is the default:
// pods are on the bridge podvisor0 with addresses of 10.77.0.0/16.
type NetworkOptions struct {
	// Default is the network of pods whose spec names none: NetworkBridge
	// when empty. Tests and hosts that want no pod networking set "none".
	Default pod.NetworkMode
	// Bridge is the default network's bridge: DefaultBridge when empty.
	Bridge string
	// PodCIDR is the default network's IPv4 subnet: DefaultPodCIDR when
	// not valid.
	PodCIDR netip.Prefix
	// PodCIDR6 is the default network's IPv6 subnet: none when not valid.
	PodCIDR6 netip.Prefix
	// CNIConfDir is where CNI network configurations are read:
	// cni.DefaultConfDir when empty. CNIBinDirs are where plugins are
	// looked for: cni.DefaultBinDirs when nil.
	CNIConfDir string
	CNIBinDirs []string
	// NetnsDir is where each pod's network namespace is named for `ip
	// netns`: DefaultNetnsDir when empty; "-" names none.
	NetnsDir string
	// HostNetNS is the network namespace that bridges, rules and DNS
	// responders live in: the process's own when empty (tests give one of
	// their own).
	HostNetNS string
	// ResolvConf is the host's resolv.conf, whose name servers the DNS
	// responder forwards to and whose search domains pods keep:
	// /etc/resolv.conf when empty.
	ResolvConf string
	// NoDNS runs no DNS responder: pods on bridge networks get the host's
	// name servers, and find each other only by address.
	NoDNS bool
}

// NetworkConfig describes a bridge network: the default one, or one made
// with CreateNetwork.
type NetworkConfig struct {
	// Name is the network's name (what a pod's spec.network says).
	Name string `json:"name"`
	// Driver is "bridge" for podvisor's own networks, "cni" for a CNI
	// configuration.
	Driver string `json:"driver"`
	// Bridge is the bridge's link name.
	Bridge string `json:"bridge,omitempty"`
	// Subnet and Gateway are IPv4; Subnet6 and Gateway6 IPv6, optional.
	Subnet   string `json:"subnet,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
	Subnet6  string `json:"subnet6,omitempty"`
	Gateway6 string `json:"gateway6,omitempty"`
	// Internal networks reach neither the world nor the host's other
	// networks: no masquerade, no forwarding off the bridge.
	Internal bool `json:"internal,omitempty"`
	// Default marks the default network (not removable).
	Default bool `json:"default,omitempty"`
	// DNS is the address of the network's DNS responder, when it runs.
	DNS string `json:"dns,omitempty"`
	// File is a CNI network's configuration file.
	File string `json:"file,omitempty"`
	// Plugins are a CNI network's plugin types.
	Plugins []string `json:"plugins,omitempty"`
	// Pods are the pods on the network.
	Pods []string `json:"pods,omitempty"`
	// CreatedAt is when CreateNetwork made it.
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// bridgeNet is one bridge network and its runtime state.
type bridgeNet struct {
	cfg     NetworkConfig
	br      network.Bridge
	leases  *network.Leases
	leases6 *network.Leases
	fwCfg   firewall.Config

	fwMu sync.Mutex
	fw   *firewall.Firewall // opened at first use (see firewall)

	mu      sync.Mutex // held while the bridge is made, used or taken down
	ready   bool       // bridge, sysctls and table in place
	removed bool       // RemoveNetwork took it
	users   map[string]bool
	dns     *dns.Server
	dnsAddr netip.Addr
}

// podNet is what a pod got from its network, kept in <pod dir>/network.json
// so that it can be undone after a crash.
type podNet struct {
	Network string `json:"network"`
	// Kind: "bridge" (podvisor's own), "cni", "none" or "host".
	Kind   string         `json:"kind"`
	IPs    []netip.Prefix `json:"ips,omitempty"`
	HostIf string         `json:"hostIf,omitempty"`
	// CNI holds what a CNI DEL needs.
	CNI *cniAttachment `json:"cni,omitempty"`
	// NetnsName is the name given in the netns directory, if any.
	NetnsName string `json:"netnsName,omitempty"`
	// DNS is the name server the pod's resolv.conf names.
	DNS     netip.Addr          `json:"dns,omitzero"`
	Search  []string            `json:"search,omitempty"`
	Options []string            `json:"options,omitempty"`
	Ports   []pod.PublishedPort `json:"ports,omitempty"`
	HostIP  netip.Addr          `json:"hostIP,omitzero"`

	holds []int // sockets that reserve the published ports on the host
}

type cniAttachment struct {
	Config      []byte            `json:"config"`
	ContainerID string            `json:"containerID"`
	NetNS       string            `json:"netns"`
	Args        [][2]string       `json:"args"`
	Ports       []cni.PortMapping `json:"ports,omitempty"`
}

const netFile = "network.json"

// addrs returns the pod's addresses without their prefix length.
func (n *podNet) addrs() []netip.Addr {
	if n == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(n.IPs))
	for _, p := range n.IPs {
		out = append(out, p.Addr())
	}
	return out
}

// netstack is a supervisor's networks.
type netstack struct {
	sv   *Supervisor
	opts NetworkOptions
	log  zerolog.Logger

	hostOnce sync.Once
	host     *network.Host
	hostErr  error
	// prefetched, when not nil, brings the host's primary IPv4 address,
	// looked up in the background since New (prefetchHostIP): the first
	// pod takes it instead of waiting for the netlink round trips.
	prefetched chan netip.Addr

	mu    sync.Mutex
	nets  map[string]*bridgeNet // by name
	ports map[string]string     // published port key → pod
	// names are the DNS names of pods on each network: network → name →
	// addresses.
	names map[string]map[string]map[string]dnsEntry // network → name → pod
	// admin serializes CreateNetwork and RemoveNetwork.
	admin sync.Mutex
	// retiring counts the networks being taken down, which close waits
	// for.
	retiring sync.WaitGroup
	cni      *cni.Plugins
}

func newNetstack(sv *Supervisor, o NetworkOptions) (*netstack, error) {
	if o.Default == "" {
		o.Default = pod.NetworkBridge
	}
	if o.Bridge == "" {
		o.Bridge = DefaultBridge
	}
	if !o.PodCIDR.IsValid() {
		o.PodCIDR = DefaultPodCIDR
	}
	o.PodCIDR = o.PodCIDR.Masked()
	if o.PodCIDR6.IsValid() {
		o.PodCIDR6 = o.PodCIDR6.Masked()
	}
	if o.NetnsDir == "" {
		o.NetnsDir = DefaultNetnsDir
	}
	if o.ResolvConf == "" {
		o.ResolvConf = "/etc/resolv.conf"
	}
	switch {
	case !o.PodCIDR.Addr().Is4():
		return nil, fmt.Errorf("pod CIDR %s: not an IPv4 subnet: %w", o.PodCIDR, pod.ErrInvalid)
	case o.PodCIDR.Bits() > 30:
		return nil, fmt.Errorf("pod CIDR %s: too small, at most /30: %w", o.PodCIDR, pod.ErrInvalid)
	case o.PodCIDR6.IsValid() && (o.PodCIDR6.Addr().Is4() || o.PodCIDR6.Bits() > 126):
		return nil, fmt.Errorf("pod CIDR6 %s: not an IPv6 subnet of at most /126: %w", o.PodCIDR6, pod.ErrInvalid)
	case len(o.Bridge) > 15 || strings.ContainsAny(o.Bridge, "/ \t\n:") || o.Bridge == "." || o.Bridge == "..":
		return nil, fmt.Errorf("bridge %q: not a link name (at most 15 bytes, no '/', ':' or space): %w", o.Bridge, pod.ErrInvalid)
	}
	n := &netstack{sv: sv, opts: o, log: sv.opts.Logger, nets: map[string]*bridgeNet{}, ports: map[string]string{},
		names: map[string]map[string]map[string]dnsEntry{},
		cni:   &cni.Plugins{ConfDir: o.CNIConfDir, BinDirs: o.CNIBinDirs, CacheDir: filepath.Join(sv.opts.Root, "cni", "cache")}}
	n.cni.Do = func(f func() error) error {
		h, err := n.hostNS()
		if err != nil {
			return err
		}
		return h.Do(f)
	}
	def := NetworkConfig{Name: DefaultNetworkName, Driver: "bridge", Bridge: o.Bridge, Subnet: o.PodCIDR.String(), Default: true}
	if o.PodCIDR6.IsValid() {
		def.Subnet6 = o.PodCIDR6.String()
	}
	if err := n.add(def); err != nil {
		return nil, err
	}
	if err := n.loadCreated(); err != nil {
		return nil, err
	}
	return n, nil
}

// hostNS opens the host's network namespace on first use.
func (n *netstack) hostNS() (*network.Host, error) {
	n.hostOnce.Do(func() {
		n.host, n.hostErr = network.OpenHost(n.opts.HostNetNS)
		if n.hostErr != nil {
			n.hostErr = fmt.Errorf("host network namespace: %w", n.hostErr)
		}
	})
	return n.host, n.hostErr
}

// primaryIP is the host's primary IPv4 address (network.Host.PrimaryIP),
// invalid when it has none or cannot be read. The first call takes the
// address prefetchHostIP looked up, if any; later ones look it up again,
// since it may change.
func (n *netstack) primaryIP() netip.Addr {
	n.mu.Lock()
	pre := n.prefetched
	n.prefetched = nil
	n.mu.Unlock()
	if pre != nil {
		return <-pre
	}
	return n.lookupPrimaryIP()
}

func (n *netstack) lookupPrimaryIP() netip.Addr {
	h, err := n.hostNS()
	if err != nil {
		return netip.Addr{}
	}
	ip, ok, _ := h.PrimaryIP()
	if !ok {
		return netip.Addr{}
	}
	return ip
}

// prefetchHostIP starts looking up the host's primary address (opening
// the host's network namespace first), which the first pod needs, while
// the supervisor does other work: on a second CPU it costs the pod
// nothing.
func (n *netstack) prefetchHostIP() {
	pre := make(chan netip.Addr, 1)
	n.prefetched = pre
	go func() { pre <- n.lookupPrimaryIP() }()
}

func (n *netstack) netsDir() string { return filepath.Join(n.sv.opts.Root, "networks") }

// netDir holds a network's leases and its "up" marker.
func (n *netstack) netDir(bn *bridgeNet) string { return filepath.Join(n.netsDir(), bn.cfg.Name) }

// upMarker exists while the network's bridge and table may exist: a start
// that finds neither it nor a lease has nothing to sweep on that network
// (and touches no netlink or nftables at all).
func (n *netstack) upMarker(bn *bridgeNet) string { return filepath.Join(n.netDir(bn), "up") }

// add registers a bridge network from its configuration.
func (n *netstack) add(c NetworkConfig) error {
	sub, err := netip.ParsePrefix(c.Subnet)
	if err != nil || !sub.Addr().Is4() {
		return fmt.Errorf("network %q: subnet %q: not an IPv4 subnet: %w", c.Name, c.Subnet, pod.ErrInvalid)
	}
	sub = sub.Masked()
	br := network.Bridge{Name: c.Bridge, Subnet: sub}
	if c.Gateway != "" {
		if br.Gateway, err = netip.ParseAddr(c.Gateway); err != nil || !sub.Contains(br.Gateway) {
			return fmt.Errorf("network %q: gateway %q: not an address of %s: %w", c.Name, c.Gateway, sub, pod.ErrInvalid)
		}
	}
	if c.Subnet6 != "" {
		s6, err := netip.ParsePrefix(c.Subnet6)
		if err != nil || s6.Addr().Is4() {
			return fmt.Errorf("network %q: subnet6 %q: not an IPv6 subnet: %w", c.Name, c.Subnet6, pod.ErrInvalid)
		}
		br.Subnet6 = s6.Masked()
		if c.Gateway6 != "" {
			if br.Gateway6, err = netip.ParseAddr(c.Gateway6); err != nil || !br.Subnet6.Contains(br.Gateway6) {
				return fmt.Errorf("network %q: gateway6 %q: not an address of %s: %w", c.Name, c.Gateway6, br.Subnet6, pod.ErrInvalid)
			}
		}
	}
	c.Subnet, c.Gateway = br.Subnet.String(), br.GatewayAddr().String()
	if br.Subnet6.IsValid() {
		c.Subnet6, c.Gateway6 = br.Subnet6.String(), br.Gateway6Addr().String()
	}
	dir := filepath.Join(n.netsDir(), c.Name)
	bn := &bridgeNet{cfg: c, br: br, users: map[string]bool{},
		leases: &network.Leases{Dir: filepath.Join(dir, "leases"), Subnet: br.Subnet, Reserved: []netip.Addr{br.GatewayAddr()}}}
	if br.Subnet6.IsValid() {
		bn.leases6 = &network.Leases{Dir: filepath.Join(dir, "leases6"), Subnet: br.Subnet6, Reserved: []netip.Addr{br.Gateway6Addr()}}
	}
	bn.fwCfg = firewall.Config{Table: firewall.TableName(c.Bridge), Bridge: c.Bridge, Subnet: br.Subnet, Subnet6: br.Subnet6, Internal: c.Internal, NetNS: n.opts.HostNetNS}
	n.mu.Lock()
	n.nets[c.Name] = bn
	n.mu.Unlock()
	return nil
}

// loadCreated registers the networks that CreateNetwork saved.
func (n *netstack) loadCreated() error {
	entries, err := os.ReadDir(n.netsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		var c NetworkConfig
		if err := store.ReadJSON(filepath.Join(n.netsDir(), e.Name()), &c); err != nil {
			errs = append(errs, fmt.Errorf("network %q: %w", name, err))
			continue
		}
		c.Name, c.Default = name, false
		if err := n.add(c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// One bad file does not keep the daemon and its other networks
		// from starting: the pods of that network fail by name instead.
		n.log.Error().Err(errors.Join(errs...)).Msg("some networks could not be read; their pods cannot be created")
	}
	return nil
}

// check refuses, at start, a default subnet that overlaps a route of the
// host that is not the bridge's own.
func (n *netstack) check() error {
	if n.opts.Default != pod.NetworkBridge {
		return nil
	}
	h, err := n.hostNS()
	if err != nil {
		return err
	}
	bn := n.nets[DefaultNetworkName]
	if err := n.checkOwner(h, bn); err != nil {
		return err
	}
	for _, p := range []netip.Prefix{bn.br.Subnet, bn.br.Subnet6} {
		if !p.IsValid() {
			continue
		}
		route, err := h.Overlap(p, bn.br.Name)
		if err != nil {
			return fmt.Errorf("pod CIDR %s: read the host's routes: %w", p, err)
		}
		if route != "" {
			return fmt.Errorf("pod CIDR %s overlaps the host's route %s: choose another with --pod-cidr: %w", p, route, pod.ErrInvalid)
		}
	}
	return nil
}

// mode resolves a pod's network: its kind ("bridge", "cni", "none",
// "host") and the network's name.
func (n *netstack) mode(sp *pod.Spec) (kind, name string, err error) {
	m := sp.Network
	if m == pod.NetworkDefault {
		m = n.opts.Default
	}
	switch m {
	case pod.NetworkNone, pod.NetworkPod:
		return "none", string(pod.NetworkNone), nil
	case pod.NetworkHost:
		return "host", string(pod.NetworkHost), nil
	case pod.NetworkBridge, DefaultNetworkName:
		return "bridge", DefaultNetworkName, nil
	}
	n.mu.Lock()
	_, ok := n.nets[string(m)]
	n.mu.Unlock()
	if ok {
		return "bridge", string(m), nil
	}
	if _, err := n.cni.Config(string(m)); err == nil {
		return "cni", string(m), nil
	} else if !errors.Is(err, cni.ErrNotFound) {
		return "", "", fmt.Errorf("spec.network: %q: %w", string(m), err)
	}
	return "", "", fmt.Errorf("spec.network: unknown network %q: not bridge, none, host, a network made with `podvisor network create` nor a CNI configuration in %s: %w", string(m), n.cniConfDir(), pod.ErrInvalid)
}

func (n *netstack) cniConfDir() string {
	if n.opts.CNIConfDir != "" {
		return n.opts.CNIConfDir
	}
	return cni.DefaultConfDir
}

// attach gives the pod, whose network namespace exists, its network: an
// address and a veth on a bridge, or a CNI attachment, published ports,
// a name in the netns directory. prev is what a previous run of the pod
// had (after a crash), undone first where needed. On error it leaves
// nothing.
func (n *netstack) attach(p *Pod, prev *podNet) (_ *podNet, err error) {
	sp := &p.spec.Spec
	if prev != nil && prev.CNI != nil {
		// The previous run's CNI attachment (its namespace is gone), with
		// the configuration it was made with, whatever the files say now.
		n.cniDel(p.name, prev.CNI)
	}
	// A name in the netns directory left by a run that crashed (up keeps
	// no network file: the record says it).
	if n.opts.NetnsDir != "-" && (prev == nil || prev.NetnsName == "") && n.hasNetnsRecord(p.name) {
		prev = &podNet{NetnsName: p.name}
	}
	if prev != nil && prev.NetnsName != "" && n.opts.NetnsDir != "-" {
		_ = network.UnnameNetNS(n.opts.NetnsDir, prev.NetnsName, "")
		n.removeNetnsRecord(prev.NetnsName)
	}
	kind, name, err := n.mode(sp)
	if err != nil {
		return nil, err
	}
	pn := &podNet{Network: name, Kind: kind, HostIP: n.primaryIP()}
	ports := sp.Published()
	switch kind {
	case "none", "host":
		// The daemon's default network may make a pod that names none
		// isolated: its hostPorts would have nothing to go to.
		if len(ports) > 0 && kind == "none" {
			return nil, fmt.Errorf("%s: not with network %q (the default network): the pod has loopback only, nothing to publish into: %w", ports[0].Field, "none", pod.ErrInvalid)
		}
		if kind == "host" && pn.HostIP.IsValid() {
			pn.IPs = []netip.Prefix{netip.PrefixFrom(pn.HostIP, pn.HostIP.BitLen())}
		}
		return pn, nil
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	var bn *bridgeNet
	v6 := false
	if kind == "bridge" {
		n.mu.Lock()
		bn = n.nets[name]
		n.mu.Unlock()
		if bn == nil {
			return nil, fmt.Errorf("spec.network: network %q was removed: %w", name, pod.ErrNotFound)
		}
		v6 = bn.leases6 != nil
		for _, pp := range ports {
			if pp.HostIP != "" && netip.MustParseAddr(pp.HostIP).Is6() && !v6 {
				return nil, fmt.Errorf("%s: %s is an IPv6 address and network %q has no IPv6 subnet: %w", hostIPField(pp), pp.HostIP, name, pod.ErrInvalid)
			}
		}
	}
	if err := n.reservePorts(p.name, ports); err != nil {
		return nil, err
	}
	undo = append(undo, func() { n.releasePorts(p.name) })
	pn.Ports = ports
	// The ports are held on the host before anything forwards them: a
	// port a program of the host has is refused before any rule exists.
	if err := n.holdPorts(pn, v6); err != nil {
		return nil, err
	}
	undo = append(undo, func() { closeHolds(pn) })
	if kind == "cni" {
		if err := n.attachCNI(p, pn, ports); err != nil {
			return nil, err
		}
		undo = append(undo, func() { n.cniDel(p.name, pn.CNI) })
	} else {
		if err := n.attachBridge(p, bn, pn, ports); err != nil {
			return nil, err
		}
		undo = append(undo, func() { n.detachBridge(p.name, bn, pn, false) })
	}
	if n.opts.NetnsDir != "-" {
		named, err := network.NameNetNS(n.opts.NetnsDir, p.name, p.nsp.Net)
		switch {
		case err != nil:
			n.log.Warn().Err(err).Str("pod", p.name).Msg("could not name the pod's network namespace for ip netns")
		case !named:
			n.log.Warn().Str("pod", p.name).Str("dir", n.opts.NetnsDir).Msg("a network namespace of that name exists already (another program's): the pod's is not named there")
		default:
			pn.NetnsName = p.name
			undo = append(undo, func() {
				_ = network.UnnameNetNS(n.opts.NetnsDir, p.name, p.nsp.Net)
				n.removeNetnsRecord(p.name)
			})
			// A record, so that a crash that loses the pod still lets the
			// name be found and removed.
			n.writeNetnsRecord(p.name)
		}
	}
	if n.sv.opts.Persist {
		if err := store.WriteJSON(filepath.Join(p.dir, netFile), pn); err != nil {
			return nil, fmt.Errorf("cannot save the pod's network state: %w", plainErr(err))
		}
	}
	return pn, nil
}

func (n *netstack) recordDir() string { return filepath.Join(n.sv.opts.Root, "netns-names") }

func (n *netstack) hasNetnsRecord(name string) bool {
	return !pathAbsent(filepath.Join(n.recordDir(), name))
}

func (n *netstack) writeNetnsRecord(name string) {
	if err := os.MkdirAll(n.recordDir(), 0o700); err == nil {
		_ = os.WriteFile(filepath.Join(n.recordDir(), name), []byte(n.opts.NetnsDir+"\n"), 0o600)
	}
}

func (n *netstack) removeNetnsRecord(name string) {
	_ = os.Remove(filepath.Join(n.recordDir(), name))
}

// reservePorts takes the pod's published ports in the books: another
// pod's on the same protocol, port and address is a conflict named.
func (n *netstack) reservePorts(owner string, ports []pod.PublishedPort) error {
	if len(ports) == 0 {
		return nil
	}
	h, err := n.hostNS()
	if err != nil {
		return err
	}
	for _, pp := range ports {
		if pp.HostIP == "" {
			continue
		}
		ip := netip.MustParseAddr(pp.HostIP)
		ok, err := h.HasAddr(ip)
		if err != nil {
			return fmt.Errorf("%s: %w", hostIPField(pp), err)
		}
		if !ok {
			return fmt.Errorf("%s: %s is not an address of the host: %w", hostIPField(pp), ip, pod.ErrInvalid)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, pp := range ports {
		for key, other := range n.ports {
			if other == owner {
				continue
			}
			if keyOverlaps(key, pp) {
				return fmt.Errorf("%s: %d/%s is published already by pod %q: %w", pp.Field, pp.HostPort, strings.ToLower(pp.Protocol), other, pod.ErrConflict)
			}
		}
	}
	for _, pp := range ports {
		n.ports[pp.Key()] = owner
	}
	return nil
}

// hostIPField is the field path of a published port's hostIP.
func hostIPField(pp pod.PublishedPort) string {
	return strings.TrimSuffix(pp.Field, ".hostPort") + ".hostIP"
}

func keyOverlaps(key string, pp pod.PublishedPort) bool {
	proto, rest, _ := strings.Cut(key, "/")
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return false
	}
	port, _ := strconv.Atoi(rest[i+1:])
	return pod.PublishedPort{Protocol: proto, HostIP: rest[:i], HostPort: int32(port)}.Overlaps(pp)
}

func (n *netstack) releasePorts(owner string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, o := range n.ports {
		if o == owner {
			delete(n.ports, k)
		}
	}
}

// holdPorts binds a socket to each published TCP and UDP port in the
// host's network namespace and keeps it while the pod has the port: a
// program of the host that holds the port already makes the pod's create
// fail, and none can take it later. Connections never reach these sockets
// (they are not listening; the DNAT takes the packets first).
func (n *netstack) holdPorts(pn *podNet, v6 bool) error {
	if len(pn.Ports) == 0 {
		return nil
	}
	h, err := n.hostNS()
	if err != nil {
		return err
	}
	return h.Do(func() error {
		for _, pp := range pn.Ports {
			var typ int
			switch pp.Protocol {
			case pod.ProtocolTCP:
				typ = unix.SOCK_STREAM
			case pod.ProtocolUDP:
				typ = unix.SOCK_DGRAM
			default:
				continue // SCTP: the books only
			}
			var addrs []netip.Addr
			if pp.HostIP != "" {
				addrs = []netip.Addr{netip.MustParseAddr(pp.HostIP)}
			} else {
				addrs = []netip.Addr{netip.IPv4Unspecified()}
				if v6 {
					addrs = append(addrs, netip.IPv6Unspecified())
				}
			}
			for _, a := range addrs {
				fd, err := bindPort(a, uint16(pp.HostPort), typ)
				if err != nil {
					closeHolds(pn)
					return fmt.Errorf("%s: %d/%s is in use on the host (%s): %w", pp.Field, pp.HostPort, strings.ToLower(pp.Protocol), err, pod.ErrConflict)
				}
				pn.holds = append(pn.holds, fd)
			}
		}
		return nil
	})
}

func bindPort(a netip.Addr, port uint16, typ int) (int, error) {
	family := unix.AF_INET
	var sa unix.Sockaddr
	if a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if family == unix.AF_INET6 {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", netip.AddrPortFrom(a, port), err)
	}
	return fd, nil
}

func closeHolds(pn *podNet) {
	for _, fd := range pn.holds {
		unix.Close(fd)
	}
	pn.holds = nil
}

// ready makes the bridge network's bridge, sysctls, table and DNS
// responder, once; bn.mu is held.
func (n *netstack) ready(bn *bridgeNet) error {
	if bn.ready {
		return nil
	}
	h, err := n.hostNS()
	if err != nil {
		return err
	}
	if err := n.checkOwner(h, bn); err != nil {
		return err
	}
	for _, sub := range []netip.Prefix{bn.br.Subnet, bn.br.Subnet6} {
		if !sub.IsValid() {
			continue
		}
		route, err := h.Overlap(sub, bn.br.Name)
		if err != nil {
			return fmt.Errorf("subnet %s: read the host's routes: %w", sub, err)
		}
		if route != "" {
			return fmt.Errorf("subnet %s overlaps the host's route %s: %w", sub, route, pod.ErrConflict)
		}
	}
	// Marked first: a crash from here on leaves something for the next
	// start to sweep.
	if err := os.MkdirAll(n.netDir(bn), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(n.upMarker(bn), nil, 0o600); err != nil {
		return err
	}
	if err := h.EnsureBridge(bn.br); err != nil {
		n.takeDown(bn)
		return err
	}
	if err := h.SetLinkAlias(bn.br.Name, n.owner()); err != nil {
		n.takeDown(bn)
		return err
	}
	if err := bn.firewall(func(fw *firewall.Firewall) error { return fw.Ensure() }); err != nil {
		n.takeDown(bn)
		return err
	}
	bn.ready = true
	if !n.opts.NoDNS {
		n.startDNS(h, bn)
	}
	return nil
}

// attachBridge gives the pod an address (its lease, kept across restarts)
// and a veth on the network's bridge, and publishes its ports.
func (n *netstack) attachBridge(p *Pod, bn *bridgeNet, pn *podNet, ports []pod.PublishedPort) (err error) {
	bn.mu.Lock()
	defer bn.mu.Unlock()
	if bn.removed {
		return fmt.Errorf("spec.network: network %q was removed: %w", bn.cfg.Name, pod.ErrNotFound)
	}
	if err := n.ready(bn); err != nil {
		return fmt.Errorf("network %q: %w", bn.cfg.Name, err)
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			if len(bn.users) == 0 {
				// The network's first pod failed: nothing of it stays.
				n.takeDown(bn)
			}
		}
	}()
	ip, err := bn.leases.Acquire(p.name, netip.Addr{})
	if errors.Is(err, network.ErrExhausted) {
		return fmt.Errorf("network %q: every address of %s is taken: %w: %w", bn.cfg.Name, bn.br.Subnet, err, pod.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("network %q: %w", bn.cfg.Name, err)
	}
	undo = append(undo, func() { _ = bn.leases.Release(p.name) })
	pn.IPs = append(pn.IPs, netip.PrefixFrom(ip, bn.br.Subnet.Bits()))
	gws := []netip.Addr{bn.br.GatewayAddr()}
	if bn.leases6 != nil {
		ip6, err := bn.leases6.Acquire(p.name, netip.Addr{})
		if errors.Is(err, network.ErrExhausted) {
			return fmt.Errorf("network %q: every address of %s is taken: %w: %w", bn.cfg.Name, bn.br.Subnet6, err, pod.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("network %q: %w", bn.cfg.Name, err)
		}
		undo = append(undo, func() { _ = bn.leases6.Release(p.name) })
		pn.IPs = append(pn.IPs, netip.PrefixFrom(ip6, bn.br.Subnet6.Bits()))
		gws = append(gws, bn.br.Gateway6Addr())
	}
	// A name of its own for each run: the previous run's veth may still be
	// dying with its namespace.
	pn.HostIf = network.VethName(fmt.Sprintf("%s/%s/%d", n.sv.opts.Root, p.name, time.Now().UnixNano()))
	h, _ := n.hostNS()
	if err := h.Attach(network.Attachment{Bridge: bn.br.Name, HostIf: pn.HostIf, NetNS: p.nsp.Net, Addrs: pn.IPs, Gateways: gws, MTU: bn.br.MTU}); err != nil {
		return fmt.Errorf("network %q: %w", bn.cfg.Name, err)
	}
	// The veth goes with the namespace; nothing to undo here.
	if len(ports) > 0 {
		if err := bn.firewall(func(fw *firewall.Firewall) error { return fw.Publish(p.name, mappings(ports, pn.IPs)) }); err != nil {
			return fmt.Errorf("network %q: publish ports: %w", bn.cfg.Name, err)
		}
		undo = append(undo, func() { _ = bn.firewall(func(fw *firewall.Firewall) error { return fw.Unpublish(p.name) }) })
	}
	bn.users[p.name] = true
	if bn.dnsAddr.IsValid() {
		// The responder forwards to the host's name servers; the pod keeps
		// the host's search domains and options after its network's name.
		rc, _ := dns.ReadResolvConf(n.opts.ResolvConf)
		pn.DNS = bn.dnsAddr
		pn.Search = append([]string{bn.cfg.Name}, rc.Search...)
		pn.Options = rc.Options
	}
	n.addNames(bn.cfg.Name, p, pn.addrs())
	return nil
}

// mappings are the firewall's DNAT rules for the pod's published ports,
// for each of its addresses.
func mappings(ports []pod.PublishedPort, ips []netip.Prefix) []firewall.Mapping {
	var ms []firewall.Mapping
	for _, pp := range ports {
		var hostIP netip.Addr
		if pp.HostIP != "" {
			hostIP = netip.MustParseAddr(pp.HostIP)
		}
		for _, ip := range ips {
			if hostIP.IsValid() && hostIP.Is4() != ip.Addr().Is4() {
				continue
			}
			ms = append(ms, firewall.Mapping{Protocol: strings.ToLower(pp.Protocol), HostIP: hostIP, HostPort: uint16(pp.HostPort), PodIP: ip.Addr(), PodPort: uint16(pp.ContainerPort)})
		}
	}
	return ms
}

// detachBridge undoes attachBridge but for the veth, which dies with the
// pod's network namespace; the last pod of a network takes the bridge and
// the table with it.
func (n *netstack) detachBridge(name string, bn *bridgeNet, pn *podNet, keep bool) {
	n.removeNames(bn.cfg.Name, name)
	if pn.HostIf != "" {
		// Off the bridge at once; the kernel destroys the veth with the
		// pod's namespace in the background.
		if h, err := n.hostNS(); err == nil {
			_ = h.Unplug(pn.HostIf)
		}
	}
	bn.mu.Lock()
	if len(pn.Ports) > 0 {
		if err := bn.firewall(func(fw *firewall.Firewall) error { return fw.Unpublish(name) }); err != nil {
			n.log.Warn().Err(err).Str("pod", name).Msg("could not remove the pod's published ports")
		}
	}
	if !keep {
		_ = bn.leases.Release(name)
		if bn.leases6 != nil {
			_ = bn.leases6.Release(name)
		}
	}
	delete(bn.users, name)
	last := len(bn.users) == 0 && bn.ready
	bn.mu.Unlock()
	if last {
		n.retiring.Add(1)
		go func() {
			defer n.retiring.Done()
			n.retire(bn)
		}()
	}
}

// retire takes down a network that no pod uses any more: the DNS
// responder, the table and the bridge. A pod that comes meanwhile finds
// the network made again.
func (n *netstack) retire(bn *bridgeNet) {
	bn.mu.Lock()
	defer bn.mu.Unlock()
	if len(bn.users) > 0 || !bn.ready {
		return
	}
	n.takeDown(bn)
}

// takeDown removes the network's kernel objects; bn.mu is held.
func (n *netstack) takeDown(bn *bridgeNet) {
	defer os.Remove(n.upMarker(bn))
	bn.ready = false
	if bn.dns != nil {
		_ = bn.dns.Shutdown()
		bn.dns, bn.dnsAddr = nil, netip.Addr{}
	}
	if err := bn.firewall(func(fw *firewall.Firewall) error { return fw.Delete() }); err != nil {
		n.log.Warn().Err(err).Str("network", bn.cfg.Name).Msg("could not remove the network's nftables table")
	}
	if h, err := n.hostNS(); err == nil {
		if err := h.RemoveBridge(bn.br.Name); err != nil {
			n.log.Warn().Err(err).Str("network", bn.cfg.Name).Msg("could not remove the network's bridge")
		}
	}
}

// attachCNI runs the CNI ADD of the pod's network.
func (n *netstack) attachCNI(p *Pod, pn *podNet, ports []pod.PublishedPort) error {
	config, err := n.cni.Config(pn.Network)
	if err != nil {
		return fmt.Errorf("network %q: %w", pn.Network, err)
	}
	ns := p.spec.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	id := fmt.Sprintf("podvisor-%s-%d", p.name, time.Now().UnixNano())
	a := &cniAttachment{Config: config, ContainerID: id, NetNS: p.nsp.Net, Args: cni.ArgsFor(ns, p.name, id, string(p.spec.Metadata.UID))}
	for _, pp := range ports {
		a.Ports = append(a.Ports, cni.PortMapping{HostPort: pp.HostPort, ContainerPort: pp.ContainerPort, Protocol: strings.ToLower(pp.Protocol), HostIP: pp.HostIP})
	}
	// Saved before ADD: a crash during ADD still leaves a DEL to run.
	pn.CNI = a
	if n.sv.opts.Persist {
		if err := store.WriteJSON(filepath.Join(p.dir, netFile), pn); err != nil {
			return fmt.Errorf("pod %q: cannot save its network state: %w", p.name, plainErr(err))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := n.cni.Add(ctx, config, cni.Attachment{ContainerID: id, NetNS: a.NetNS, Args: a.Args, PortMappings: a.Ports})
	if err != nil {
		return fmt.Errorf("network %q: %w", pn.Network, err)
	}
	pn.IPs = res.IPs
	return nil
}

func (n *netstack) cniDel(name string, a *cniAttachment) {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.cni.Del(ctx, a.Config, cni.Attachment{ContainerID: a.ContainerID, NetNS: a.NetNS, Args: a.Args, PortMappings: a.Ports}); err != nil {
		n.log.Warn().Err(err).Str("pod", name).Msg("CNI DEL failed")
	}
}

// detach undoes attach when the pod goes (or its create fails); with
// keep, the pod keeps its leases and its network file (the supervisor
// stops, and will recover the pod with the same addresses).
func (n *netstack) detach(p *Pod, pn *podNet, keep bool) {
	if n == nil || pn == nil {
		return
	}
	if pn.NetnsName != "" {
		if err := network.UnnameNetNS(n.opts.NetnsDir, pn.NetnsName, p.nsp.Net); err != nil {
			n.log.Warn().Err(err).Str("pod", p.name).Msg("could not remove the pod's name in the netns directory")
		}
	}
	closeHolds(pn)
	switch pn.Kind {
	case "bridge":
		n.mu.Lock()
		bn := n.nets[pn.Network]
		n.mu.Unlock()
		if bn != nil {
			n.detachBridge(p.name, bn, pn, keep)
		}
	case "cni":
		n.cniDel(p.name, pn.CNI)
		pn.CNI = nil
	}
	n.releasePorts(p.name)
	if !keep || pn.Kind == "cni" {
		_ = os.Remove(filepath.Join(p.dir, netFile))
	}
	if pn.NetnsName != "" {
		_ = os.Remove(filepath.Join(n.sv.opts.Root, "netns-names", pn.NetnsName))
	}
}

// readPodNet reads what a previous run of the pod had.
func readPodNet(dir string) *podNet {
	var pn podNet
	if err := store.ReadJSON(filepath.Join(dir, netFile), &pn); err != nil {
		return nil
	}
	return &pn
}

// sweep removes what pods that no longer exist left on the networks
// (after a crash): leases, published ports, names in the netns directory,
// veths on the bridges. live are the pods that exist.
func (n *netstack) sweep(alive func(string) bool, live map[string]*Pod) {
	if n == nil {
		return
	}
	n.mu.Lock()
	nets := make([]*bridgeNet, 0, len(n.nets))
	for _, bn := range n.nets {
		nets = append(nets, bn)
	}
	n.mu.Unlock()
	veths := map[string]bool{}
	for _, p := range live {
		if p.net != nil && p.net.HostIf != "" {
			veths[p.net.HostIf] = true
		}
	}
	for _, bn := range nets {
		if pathAbsent(n.upMarker(bn)) && !hasLeases(bn) {
			continue
		}
		foreign := false
		for _, l := range []*network.Leases{bn.leases, bn.leases6} {
			if l == nil {
				continue
			}
			all, err := l.List()
			if err != nil {
				continue
			}
			for ip, owner := range all {
				if !alive(owner) {
					n.log.Info().Str("network", bn.cfg.Name).Str("address", ip.String()).Str("pod", owner).Msg("lease of a pod that is gone: reclaimed")
					_ = l.Release(owner)
				} else if live[owner] == nil {
					foreign = true // another process of this root runs it (up)
				}
			}
		}
		_ = bn.firewall(func(fw *firewall.Firewall) error {
			if ok, err := fw.Exists(); err != nil || !ok {
				return err
			}
			pub, err := fw.Published()
			if err != nil {
				return err
			}
			for owner := range pub {
				if !alive(owner) {
					n.log.Info().Str("network", bn.cfg.Name).Str("pod", owner).Msg("published ports of a pod that is gone: removed")
					_ = fw.Unpublish(owner)
				}
			}
			return nil
		})
		bn.mu.Lock()
		used := len(bn.users) > 0 || foreign
		if !used {
			// Nothing of ours is on it: a bridge or table left by a crash
			// goes.
			if h, err := n.hostNS(); err == nil {
				if ok, _ := h.LinkExists(bn.br.Name); ok {
					bn.ready = true
				}
			}
			_ = bn.firewall(func(fw *firewall.Firewall) error {
				if ok, _ := fw.Exists(); ok {
					bn.ready = true
				}
				return nil
			})
			if bn.ready {
				n.takeDown(bn)
			}
		}
		bn.mu.Unlock()
		if used && !foreign {
			if h, err := n.hostNS(); err == nil {
				ports, _ := h.Ports(bn.br.Name)
				for _, ifc := range ports {
					if !veths[ifc] && strings.HasPrefix(ifc, "pv") {
						go func() { _ = h.Detach(ifc) }()
					}
				}
			}
		}
	}
	// Names in the netns directory, recorded by the pods' network files:
	// those of pods that are gone were swept with them (Remove) or, after a
	// crash, are found by their record.
	recDir := filepath.Join(n.sv.opts.Root, "netns-names")
	entries, _ := os.ReadDir(recDir)
	for _, e := range entries {
		if !alive(e.Name()) {
			_ = network.UnnameNetNS(n.opts.NetnsDir, e.Name(), "")
			_ = os.Remove(filepath.Join(recDir, e.Name()))
		}
	}
}

// addNames makes the pod's names resolvable on the network: <pod>,
// <pod>.<network>, its host name, and <hostname>.<subdomain> and its FQDN
// for pods with a subdomain.
func (n *netstack) addNames(network string, p *Pod, addrs []netip.Addr) {
	network = strings.ToLower(network)
	// Its own names first: they win over another pod's host name.
	own := []string{p.name, p.name + "." + network}
	other := []string{p.spec.Spec.Hostname, p.spec.Spec.Hostname + "." + network}
	if sub := p.spec.Spec.Subdomain; sub != "" {
		other = append(other, p.spec.Spec.Hostname+"."+sub, n.sv.fqdn(p.spec))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.names[network]
	if m == nil {
		m = map[string]map[string]dnsEntry{}
		n.names[network] = m
	}
	for i, list := range [][]string{own, other} {
		for _, name := range list {
			name = strings.ToLower(name)
			if m[name] == nil {
				m[name] = map[string]dnsEntry{}
			}
			if e, ok := m[name][p.name]; ok && e.own {
				continue
			}
			m[name][p.name] = dnsEntry{addrs: addrs, own: i == 0}
		}
	}
}

// dnsEntry is one pod's addresses under a name; own: the name is the
// pod's own (<pod>, <pod>.<network>), not its host name.
type dnsEntry struct {
	addrs []netip.Addr
	own   bool
}

func (n *netstack) removeNames(network, pod string) {
	network = strings.ToLower(network)
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.names[network]
	for name, owners := range m {
		delete(owners, pod)
		if len(owners) == 0 {
			delete(m, name)
		}
	}
}

// lookup answers the DNS responder of a network: the addresses under the
// name, those of the pod of that name if there is one, else of every pod
// whose host name it is.
func (n *netstack) lookup(network, name string) ([]netip.Addr, bool) {
	network = strings.ToLower(network)
	if name == "" {
		return nil, false // the root: the world's
	}
	n.mu.Lock()
	owners := n.names[network][name]
	var own, other []netip.Addr
	for _, e := range owners {
		if e.own {
			own = append(own, e.addrs...)
		} else {
			other = append(other, e.addrs...)
		}
	}
	n.mu.Unlock()
	if len(own) > 0 {
		return own, true
	}
	if len(other) > 0 {
		slices.SortFunc(other, func(a, b netip.Addr) int { return a.Compare(b) })
		return slices.Compact(other), true
	}
	// Names of the network's own zone, and single labels, are ours: an
	// unknown one is NXDOMAIN rather than a question for the world.
	return nil, !strings.Contains(name, ".") || strings.HasSuffix(name, "."+network)
}

func (n *netstack) reverse(network string, addr netip.Addr) ([]string, bool) {
	network = strings.ToLower(network)
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for name, owners := range n.names[network] {
		if !strings.HasSuffix(name, "."+network) {
			continue
		}
		for _, e := range owners {
			if e.own && slices.Contains(e.addrs, addr) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, len(out) > 0
}

// startDNS runs the network's DNS responder on its gateway, port 53 (UDP
// and TCP), in the host's network namespace. When the port is taken (a
// resolver of the host listening on every address), the pods get the
// host's name servers instead, and a warning says so.
func (n *netstack) startDNS(h *network.Host, bn *bridgeNet) {
	gw := bn.br.GatewayAddr()
	rc, err := dns.ReadResolvConf(n.opts.ResolvConf)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		n.log.Warn().Err(err).Msg("could not read the host's resolv.conf: the DNS responder forwards nowhere")
	}
	srv := &dns.Server{
		Lookup: func(_ netip.Addr, name string) ([]netip.Addr, bool) { return n.lookup(bn.cfg.Name, name) },
		Reverse: func(_ netip.Addr, addr netip.Addr) ([]string, bool) {
			return n.reverse(bn.cfg.Name, addr)
		},
		Upstreams: rc.Upstreams(gw),
		Logger:    n.log.With().Str("network", bn.cfg.Name).Logger(),
	}
	pc, ln, err := listenDNS(h, netip.AddrPortFrom(gw, 53))
	if err != nil {
		n.log.Warn().Err(err).Str("network", bn.cfg.Name).Msg("no DNS responder on the network's gateway: pods use the host's name servers and find each other by address only")
		return
	}
	bn.dns, bn.dnsAddr = srv, gw
	go func() {
		if err := srv.Serve(pc, ln); err != nil {
			n.log.Warn().Err(err).Str("network", bn.cfg.Name).Msg("DNS responder stopped")
		}
	}()
}

// close stops the DNS responders and closes the host namespace; the
// kernel objects stay for the pods that outlive this process.
func (n *netstack) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	pre := n.prefetched
	n.prefetched = nil
	n.mu.Unlock()
	if pre != nil {
		<-pre // its lookup may be opening n.host
	}
	n.retiring.Wait()
	n.mu.Lock()
	nets := make([]*bridgeNet, 0, len(n.nets))
	for _, bn := range n.nets {
		nets = append(nets, bn)
	}
	n.mu.Unlock()
	for _, bn := range nets {
		bn.mu.Lock()
		if bn.dns != nil {
			_ = bn.dns.Shutdown()
			bn.dns = nil
		}
		bn.mu.Unlock()
		bn.closeFirewall()
	}
	if n.host != nil {
		_ = n.host.Close()
	}
}

// listenDNS makes the DNS responder's UDP and TCP sockets on ap in the
// host's network namespace.
func listenDNS(h *network.Host, ap netip.AddrPort) (net.PacketConn, net.Listener, error) {
	var pc net.PacketConn
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		if pc, err = net.ListenPacket("udp", ap.String()); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", ap.String()); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	return pc, ln, err
}

// hasLeases reports whether a lease file of the network exists.
func hasLeases(bn *bridgeNet) bool {
	for _, l := range []*network.Leases{bn.leases, bn.leases6} {
		if l == nil {
			continue
		}
		entries, _ := os.ReadDir(l.Dir)
		for _, e := range entries {
			if _, err := netip.ParseAddr(e.Name()); err == nil {
				return true
			}
		}
	}
	return false
}

// firewall runs f with the network's nftables connection, opened at first
// use: a daemon whose pods use no bridge never opens one.
func (bn *bridgeNet) firewall(f func(*firewall.Firewall) error) error {
	bn.fwMu.Lock()
	defer bn.fwMu.Unlock()
	if bn.fw == nil {
		fw, err := firewall.Open(bn.fwCfg)
		if err != nil {
			return err
		}
		bn.fw = fw
	}
	return f(bn.fw)
}

func (bn *bridgeNet) closeFirewall() {
	bn.fwMu.Lock()
	defer bn.fwMu.Unlock()
	if bn.fw != nil {
		_ = bn.fw.Close()
		bn.fw = nil
	}
}

// owner is what the bridges of this supervisor carry as their alias: its
// root, so that two supervisors never share a bridge without knowing.
func (n *netstack) owner() string { return "podvisor:" + n.sv.opts.Root }

// checkOwner refuses a bridge that another supervisor (another root) has
// made: sharing it would hand out the same addresses twice and take it
// down under the other's pods.
func (n *netstack) checkOwner(h *network.Host, bn *bridgeNet) error {
	alias, exists, err := h.LinkAlias(bn.br.Name)
	if err != nil || !exists || alias == "" || alias == n.owner() {
		return err
	}
	if other, ok := strings.CutPrefix(alias, "podvisor:"); ok {
		return fmt.Errorf("bridge %s is the podvisor of root %s's: give this one a --bridge and a --pod-cidr of its own: %w", bn.br.Name, other, pod.ErrConflict)
	}
	return fmt.Errorf("bridge %s exists and is not podvisor's (alias %q): give this one a --bridge of its own: %w", bn.br.Name, alias, pod.ErrConflict)
}
