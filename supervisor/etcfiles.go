package supervisor

// The pod's /etc/hosts and /etc/resolv.conf, as kubelet writes them.

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/podvisor/podvisor/pod"
)

// hostsFile is the pod's /etc/hosts, as kubelet writes it: its names on
// its own addresses (127.0.1.1 for a pod with loopback only).
func (s *Supervisor) hostsFile(spec *pod.Pod, pn *podNet) []byte {
	var b strings.Builder
	sp := &spec.Spec
	if sp.Network == pod.NetworkHost {
		host, _ := os.ReadFile("/etc/hosts")
		b.Write(host)
		if len(host) > 0 && host[len(host)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("# podvisor-managed hosts file.\n")
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
		names := sp.Hostname
		if fqdn := s.fqdn(spec); fqdn != sp.Hostname {
			names = fqdn + "\t" + sp.Hostname
		}
		addrs := pn.addrs()
		if len(addrs) == 0 || pn.Kind == "host" {
			b.WriteString("127.0.1.1\t" + names + "\n")
		}
		for _, a := range addrs {
			if pn.Kind != "host" {
				b.WriteString(a.String() + "\t" + names + "\n")
			}
		}
	}
	if len(sp.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range sp.HostAliases {
			b.WriteString(a.IP + "\t" + strings.Join(a.Hostnames, "\t") + "\n")
		}
	}
	return []byte(b.String())
}

// resolvFile is the pod's /etc/resolv.conf: the host's (unless dnsPolicy
// is None) merged with dnsConfig, as kubelet merges them. A pod on a
// network with a DNS responder has it as its only name server (it
// forwards to the host's) and the network's name first in its search list.
func resolvFile(sp *pod.Spec, pn *podNet) ([]byte, error) {
	var servers, searches, options []string
	// ClusterFirst (Kubernetes' default) and the empty policy use the
	// network's responder; Default means the host's resolvers, as kubelet
	// gives a pod the node's.
	own := sp.DNSPolicy != "None" && sp.DNSPolicy != "Default" && pn != nil && pn.DNS.IsValid()
	if own {
		servers = append(servers, pn.DNS.String())
		searches = append(searches, pn.Search...)
		options = append(options, pn.Options...)
	}
	if sp.DNSPolicy != "None" && !own {
		host, err := os.ReadFile("/etc/resolv.conf")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read the host's resolv.conf: %w", err)
		}
		if sp.Network.Private() && onlyLoopbackServers(host) {
			// A name server on the host's loopback (systemd-resolved's
			// 127.0.0.53) cannot be reached from the pod's own network:
			// take the servers it forwards to, as docker and podman do.
			if up, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
				host = up
			}
		}
		for _, l := range strings.Split(string(host), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
				continue
			}
			switch f[0] {
			case "nameserver":
				if sp.Network.Private() && isLoopback(f[1]) {
					continue // unreachable from the pod's network
				}
				servers = append(servers, f[1])
			case "search", "domain":
				searches = append(searches, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if c := sp.DNSConfig; c != nil {
		servers = append(servers, c.Nameservers...)
		searches = append(searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			// A pod's option replaces the host's of the same name.
			options = slices.DeleteFunc(options, func(h string) bool {
				n, _, _ := strings.Cut(h, ":")
				return n == o.Name
			})
			options = append(options, opt)
		}
	}
	servers = dedupe(servers)
	if len(servers) > 3 {
		servers = servers[:3]
	}
	searches = dedupe(searches)
	if len(searches) > 32 {
		searches = searches[:32]
	}
	var b strings.Builder
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(searches) > 0 {
		b.WriteString("search " + strings.Join(searches, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(dedupe(options), " ") + "\n")
	}
	return []byte(b.String()), nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func isLoopback(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.IsLoopback()
}

// onlyLoopbackServers reports whether every nameserver of a resolv.conf is
// on the loopback (and there is one).
func onlyLoopbackServers(conf []byte) bool {
	n := 0
	for _, l := range strings.Split(string(conf), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if !isLoopback(f[1]) {
				return false
			}
			n++
		}
	}
	return n > 0
}
