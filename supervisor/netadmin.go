package supervisor

// The networks a user makes and removes (`podvisor network create|rm`),
// and what `network ls|inspect` shows.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/store"
)

// autoSubnets is where CreateNetwork picks a subnet when none is given:
// the first /24 of it that no network of this supervisor and no route of
// the host overlaps.
var autoSubnets = netip.MustParsePrefix("10.78.0.0/16")

// reservedNetworkNames are the modes, and the default network's name.
var reservedNetworkNames = []string{string(pod.NetworkBridge), string(pod.NetworkNone), string(pod.NetworkPod), string(pod.NetworkHost), DefaultNetworkName}

// Networks returns the supervisor's bridge networks (the default one
// first, then by name) and the CNI networks of its configuration
// directory, each with the pods on it.
func (s *Supervisor) Networks() ([]NetworkConfig, error) {
	n := s.net
	n.mu.Lock()
	nets := make([]*bridgeNet, 0, len(n.nets))
	for _, bn := range n.nets {
		nets = append(nets, bn)
	}
	n.mu.Unlock()
	var out []NetworkConfig
	for _, bn := range nets {
		bn.mu.Lock()
		c := bn.cfg
		if bn.dnsAddr.IsValid() {
			c.DNS = bn.dnsAddr.String()
		}
		bn.mu.Unlock()
		out = append(out, c)
	}
	cniNets, cerr := n.cni.Networks()
	for _, cn := range cniNets {
		if slices.ContainsFunc(out, func(c NetworkConfig) bool { return c.Name == cn.Name }) {
			continue // a bridge network of that name wins
		}
		out = append(out, NetworkConfig{Name: cn.Name, Driver: "cni", File: cn.File, Plugins: cn.Plugins})
	}
	byNet := map[string][]string{}
	for _, p := range s.List() {
		if p.net != nil {
			byNet[p.net.Network] = append(byNet[p.net.Network], p.name)
		}
	}
	for i := range out {
		out[i].Pods = byNet[out[i].Name]
		sort.Strings(out[i].Pods)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Default != out[j].Default {
			return out[i].Default
		}
		return out[i].Name < out[j].Name
	})
	if cerr != nil {
		s.opts.Logger.Warn().Err(cerr).Msg("some CNI network configurations could not be read")
	}
	return out, nil
}

// Network returns one network by name.
func (s *Supervisor) Network(name string) (NetworkConfig, error) {
	all, err := s.Networks()
	if err != nil {
		return NetworkConfig{}, err
	}
	for _, c := range all {
		if c.Name == name {
			return c, nil
		}
	}
	return NetworkConfig{}, fmt.Errorf("network %q: %w", name, pod.ErrNotFound)
}

// CreateNetwork makes a bridge network for pods to join by name
// (spec.network). Name, and optionally Bridge (default: the default
// bridge's name with the next free number), Subnet (default: a free /24 of
// 10.78.0.0/16), Gateway (default: the subnet's first address), Subnet6,
// Gateway6 and Internal are taken from c. The bridge itself is made when
// the first pod joins. The network is saved in <root>/networks/NAME.json.
func (s *Supervisor) CreateNetwork(c NetworkConfig) (NetworkConfig, error) {
	n := s.net
	switch {
	case !pod.IsNetworkName(c.Name):
		return c, fmt.Errorf("name: %q is not a network name (letters, digits, '_', '.', '-', starting with a letter or digit, at most 64 characters): %w", c.Name, pod.ErrInvalid)
	case slices.Contains(reservedNetworkNames, c.Name):
		return c, fmt.Errorf("name: %q is reserved: %w", c.Name, pod.ErrInvalid)
	}
	n.admin.Lock()
	defer n.admin.Unlock()
	n.mu.Lock()
	_, exists := n.nets[c.Name]
	var used []NetworkConfig
	for _, bn := range n.nets {
		used = append(used, bn.cfg)
	}
	n.mu.Unlock()
	if exists {
		return c, fmt.Errorf("network %q: %w", c.Name, pod.ErrAlreadyExists)
	}
	if _, err := n.cni.Config(c.Name); err == nil {
		return c, fmt.Errorf("network %q: a CNI network of that name exists in %s: %w", c.Name, n.cniConfDir(), pod.ErrAlreadyExists)
	}
	h, err := n.hostNS()
	if err != nil {
		return c, err
	}
	c.Driver, c.Default, c.DNS, c.Pods, c.File, c.Plugins = "bridge", false, "", nil, "", nil
	taken := func(p netip.Prefix) (string, error) {
		for _, u := range used {
			for _, sub := range []string{u.Subnet, u.Subnet6} {
				if q, err := netip.ParsePrefix(sub); err == nil && q.Overlaps(p) {
					return fmt.Sprintf("network %q (%s)", u.Name, q), nil
				}
			}
		}
		route, err := h.Overlap(p, "")
		if route != "" {
			route = "the host's route " + route
		}
		return route, err
	}
	if c.Subnet == "" {
		for i := 0; i < 256 && c.Subnet == ""; i++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 78, byte(i), 0}), 24)
			if what, err := taken(p); err != nil {
				return c, err
			} else if what == "" {
				c.Subnet = p.String()
			}
		}
		if c.Subnet == "" {
			return c, fmt.Errorf("subnet: every /24 of %s is taken: give one with --subnet: %w", autoSubnets, pod.ErrConflict)
		}
	} else {
		p, err := netip.ParsePrefix(c.Subnet)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
			return c, fmt.Errorf("subnet: %q is not an IPv4 subnet of at most /30: %w", c.Subnet, pod.ErrInvalid)
		}
		if what, err := taken(p.Masked()); err != nil {
			return c, err
		} else if what != "" {
			return c, fmt.Errorf("subnet: %s overlaps %s: %w", p.Masked(), what, pod.ErrConflict)
		}
	}
	if c.Subnet6 != "" {
		p, err := netip.ParsePrefix(c.Subnet6)
		if err != nil || p.Addr().Is4() || p.Bits() > 126 {
			return c, fmt.Errorf("subnet6: %q is not an IPv6 subnet of at most /126: %w", c.Subnet6, pod.ErrInvalid)
		}
		if what, err := taken(p.Masked()); err != nil {
			return c, err
		} else if what != "" {
			return c, fmt.Errorf("subnet6: %s overlaps %s: %w", p.Masked(), what, pod.ErrConflict)
		}
	} else if c.Gateway6 != "" {
		return c, fmt.Errorf("gateway6: only with subnet6: %w", pod.ErrInvalid)
	}
	if c.Bridge == "" {
		c.Bridge = nextBridge(n.opts.Bridge, used, func(name string) bool {
			ok, _ := h.LinkExists(name)
			return ok
		})
	} else {
		if len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, "/ \t\n:") {
			return c, fmt.Errorf("bridge: %q is not a link name (at most 15 bytes, no '/', ':' or space): %w", c.Bridge, pod.ErrInvalid)
		}
		for _, u := range used {
			if u.Bridge == c.Bridge {
				return c, fmt.Errorf("bridge: %q is network %q's: %w", c.Bridge, u.Name, pod.ErrConflict)
			}
		}
		if ok, _ := h.LinkExists(c.Bridge); ok {
			return c, fmt.Errorf("bridge: a link named %q exists on the host: %w", c.Bridge, pod.ErrConflict)
		}
	}
	c.CreatedAt = time.Now().UTC().Truncate(time.Second)
	// Validated (gateways too) by add, before anything is saved.
	if err := n.add(c); err != nil {
		return c, err
	}
	n.mu.Lock()
	bn := n.nets[c.Name]
	n.mu.Unlock()
	if err := os.MkdirAll(n.netsDir(), 0o700); err == nil {
		err = store.WriteJSON(filepath.Join(n.netsDir(), c.Name+".json"), bn.cfg)
		if err != nil {
			n.forget(c.Name)
			return c, fmt.Errorf("network %q: cannot save it: %w", c.Name, plainErr(err))
		}
	} else {
		n.forget(c.Name)
		return c, err
	}
	s.opts.Logger.Info().Str("network", c.Name).Str("bridge", bn.cfg.Bridge).Str("subnet", bn.cfg.Subnet).Bool("internal", c.Internal).Msg("network created")
	return bn.cfg, nil
}

// nextBridge is the first name base1, base2, ... (after base's trailing
// digits) that no network uses and no link has.
func nextBridge(base string, used []NetworkConfig, exists func(string) bool) string {
	stem := strings.TrimRight(base, "0123456789")
	start := 1
	if d := base[len(stem):]; d != "" {
		start, _ = strconv.Atoi(d)
		start++
	}
	for i := start; ; i++ {
		name := stem + strconv.Itoa(i)
		if len(name) > 15 {
			name = name[len(name)-15:]
		}
		if slices.ContainsFunc(used, func(c NetworkConfig) bool { return c.Bridge == name }) || exists(name) {
			continue
		}
		return name
	}
}

// forget unregisters a network.
func (n *netstack) forget(name string) {
	n.mu.Lock()
	bn := n.nets[name]
	delete(n.nets, name)
	n.mu.Unlock()
	if bn != nil {
		bn.closeFirewall()
	}
}

// RemoveNetwork removes a network made with CreateNetwork; it fails while
// pods are on it, naming them.
func (s *Supervisor) RemoveNetwork(name string) error {
	n := s.net
	n.admin.Lock()
	defer n.admin.Unlock()
	n.mu.Lock()
	bn := n.nets[name]
	n.mu.Unlock()
	if bn == nil {
		if _, err := n.cni.Config(name); err == nil {
			return fmt.Errorf("network %q is a CNI network: remove its file from %s: %w", name, n.cniConfDir(), pod.ErrInvalid)
		}
		return fmt.Errorf("network %q: %w", name, pod.ErrNotFound)
	}
	if bn.cfg.Default {
		return fmt.Errorf("network %q is the default network: %w", name, pod.ErrInvalid)
	}
	var on []string
	for _, p := range s.List() {
		if p.net != nil && p.net.Network == name {
			on = append(on, p.name)
		}
	}
	if len(on) > 0 {
		sort.Strings(on)
		return fmt.Errorf("network %q is used by pods %s: remove them first: %w", name, strings.Join(on, ", "), pod.ErrConflict)
	}
	bn.mu.Lock()
	if len(bn.users) > 0 {
		// A pod joined meanwhile.
		bn.mu.Unlock()
		return fmt.Errorf("network %q is used by pods: remove them first: %w", name, pod.ErrConflict)
	}
	if err := os.Remove(filepath.Join(n.netsDir(), name+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		bn.mu.Unlock()
		return fmt.Errorf("network %q: %w", name, err)
	}
	bn.removed = true
	if bn.ready {
		n.takeDown(bn)
	}
	bn.mu.Unlock()
	n.forget(name)
	_ = os.RemoveAll(filepath.Join(n.netsDir(), name))
	s.opts.Logger.Info().Str("network", name).Msg("network removed")
	return nil
}
