package dns

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// HostResolvConf is where the host's resolver configuration usually is.
const HostResolvConf = "/etc/resolv.conf"

// ResolvConf is what a resolv.conf says.
type ResolvConf struct {
	Nameservers []string // addresses as written (IPv4 or IPv6, maybe with %zone)
	Search      []string
	Options     []string
}

// ReadResolvConf parses a resolv.conf: nameserver lines (addresses that do
// not parse as IP addresses are skipped, as the C library does), search and
// domain lines (the last of them wins; domain sets a one-domain search
// list), options lines (their options accumulate). Text from # or ; to the
// end of a line is a comment; other keywords are ignored.
func ReadResolvConf(path string) (ResolvConf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ResolvConf{}, fmt.Errorf("resolv.conf %q: read: %w", path, err)
	}
	return ParseResolvConf(data), nil
}

// ParseResolvConf parses the contents of a resolv.conf, as ReadResolvConf.
func ParseResolvConf(data []byte) ResolvConf {
	var rc ResolvConf
	for line := range strings.Lines(string(data)) {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				continue
			}
			if _, err := netip.ParseAddr(f[1]); err == nil {
				rc.Nameservers = append(rc.Nameservers, f[1])
			}
		case "search":
			rc.Search = append([]string(nil), f[1:]...)
		case "domain":
			if len(f) >= 2 {
				rc.Search = []string{f[1]}
			}
		case "options":
			rc.Options = append(rc.Options, f[1:]...)
		}
	}
	return rc
}

// Upstreams returns "addr:53" for each nameserver (IPv6 in brackets, zone
// kept), in order and without duplicates, skipping the ones in skip (the
// bridge gateways themselves, so the server never forwards to itself).
// Addresses are compared without zone, IPv4-mapped IPv6 as IPv4.
func (r ResolvConf) Upstreams(skip ...netip.Addr) []string {
	var out []string
	for _, ns := range r.Nameservers {
		a, err := netip.ParseAddr(ns)
		if err != nil {
			continue
		}
		bare := a.WithZone("").Unmap()
		if slices.ContainsFunc(skip, func(s netip.Addr) bool { return s.WithZone("").Unmap() == bare }) {
			continue
		}
		if a.Is4In6() && a.Zone() == "" {
			a = a.Unmap()
		}
		up := netip.AddrPortFrom(a, 53).String()
		if !slices.Contains(out, up) {
			out = append(out, up)
		}
	}
	return out
}
