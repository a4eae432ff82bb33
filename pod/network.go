package pod

import (
	"fmt"
	"net/netip"
	"strings"
)

// IsNetworkName reports whether s can name a network: letters, digits,
// '_', '.' and '-', starting with a letter or digit, at most 64 bytes (as
// podman's and CNI's network names). The modes (bridge, none, pod, host)
// are names too, reserved.
func IsNetworkName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// PublishedPort is a process's port published on the host.
type PublishedPort struct {
	// Process is the name of the process that declared it.
	Process string `json:"process"`
	// Name is the port's name, if any.
	Name string `json:"name,omitempty"`
	// Protocol is TCP, UDP or SCTP.
	Protocol string `json:"protocol"`
	// HostIP is the host address it is published on; empty for every one.
	HostIP string `json:"hostIP,omitempty"`
	// HostPort is the port on the host.
	HostPort int32 `json:"hostPort"`
	// ContainerPort is the port in the pod.
	ContainerPort int32 `json:"containerPort"`
	// Field is the path of its hostPort in the spec, for error messages.
	Field string `json:"-"`
}

// String is the port as podman port prints it: "80/tcp -> 0.0.0.0:8080".
func (p PublishedPort) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%d/%s -> %s", p.ContainerPort, strings.ToLower(p.Protocol), netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(p.HostPort)))
}

// Key identifies what a published port takes on the host: its protocol,
// host address and port. Two pods cannot hold the same key.
func (p PublishedPort) Key() string {
	return fmt.Sprintf("%s/%s:%d", strings.ToLower(p.Protocol), p.HostIP, p.HostPort)
}

// Overlaps reports whether p and q take the same port on the host: same
// protocol and port, and the same address or one of them on every
// address.
func (p PublishedPort) Overlaps(q PublishedPort) bool {
	return strings.EqualFold(p.Protocol, q.Protocol) && p.HostPort == q.HostPort &&
		(p.HostIP == q.HostIP || p.HostIP == "" || q.HostIP == "")
}

// Published returns the ports the pod publishes on the host (hostPort set),
// of its init and app processes, in order. A pod on the host's network
// publishes nothing: its ports are the host's already.
func (s *Spec) Published() []PublishedPort {
	if !s.Network.Private() {
		return nil
	}
	var out []PublishedPort
	for li, list := range [][]Process{s.InitProcesses, s.Processes} {
		for i, pr := range list {
			for j, cp := range pr.Ports {
				if cp.HostPort == 0 {
					continue
				}
				proto := cp.Protocol
				if proto == "" {
					proto = ProtocolTCP
				}
				ip := cp.HostIP
				if a, err := netip.ParseAddr(ip); err == nil {
					if a.IsUnspecified() {
						ip = ""
					} else {
						ip = a.Unmap().String()
					}
				}
				field := fmt.Sprintf("spec.%s[%d].ports[%d].hostPort", []string{"initProcesses", "processes"}[li], i, j)
				out = append(out, PublishedPort{Process: pr.Name, Name: cp.Name, Protocol: proto, HostIP: ip, HostPort: cp.HostPort, ContainerPort: cp.ContainerPort, Field: field})
			}
		}
	}
	return out
}

// validatePublished checks the hostPort and hostIP of every process's
// ports against the pod's network.
func validatePublished(errs *ErrorList, s *Spec) {
	type seen struct {
		proc string
		p    PublishedPort
	}
	var all []seen
	for _, list := range []struct {
		field string
		ps    []Process
	}{{"spec.initProcesses", s.InitProcesses}, {"spec.processes", s.Processes}} {
		for i, pr := range list.ps {
			for j, cp := range pr.Ports {
				f := fmt.Sprintf("%s[%d].ports[%d]", list.field, i, j)
				if cp.HostIP != "" {
					a, err := netip.ParseAddr(cp.HostIP)
					switch {
					case err != nil || a.Zone() != "":
						errs.add(f+".hostIP", "%s is not an IP address", quote(cp.HostIP))
					case cp.HostPort == 0:
						errs.add(f+".hostIP", "only with hostPort")
					}
				}
				if cp.HostPort == 0 {
					continue
				}
				if cp.HostPort < 0 || cp.HostPort > 65535 {
					errs.add(f+".hostPort", "must be between 1 and 65535, got %d", cp.HostPort)
					continue
				}
				switch {
				case s.Network.Isolated():
					errs.add(f+".hostPort", "not with network %s: the pod has loopback only, nothing to publish into", quote(string(s.Network)))
					continue
				case s.Network == NetworkHost:
					// As Kubernetes: a hostNetwork pod's ports are the
					// host's; hostPort, if given, must be containerPort.
					if cp.HostPort != cp.ContainerPort {
						errs.add(f+".hostPort", "must equal containerPort (%d) with network host, got %d", cp.ContainerPort, cp.HostPort)
					}
					continue
				}
				proto := cp.Protocol
				if proto == "" {
					proto = ProtocolTCP
				}
				ip := ""
				if a, err := netip.ParseAddr(cp.HostIP); err == nil && !a.IsUnspecified() {
					ip = a.Unmap().String()
				}
				p := PublishedPort{Protocol: proto, HostIP: ip, HostPort: cp.HostPort}
				for _, o := range all {
					if o.p.Overlaps(p) {
						errs.add(f+".hostPort", "%d/%s is published already by process %s", cp.HostPort, strings.ToLower(proto), quote(o.proc))
						break
					}
				}
				all = append(all, seen{pr.Name, p})
			}
		}
	}
}
