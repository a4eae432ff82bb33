package supervisor

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

// Names of pods on a network: a pod's own name wins over another pod's
// host name; removing a pod removes only its own entries.
func TestNetworkNames(t *testing.T) {
	n := &netstack{sv: &Supervisor{}, names: map[string]map[string]map[string]dnsEntry{}}
	mk := func(name, hostname string) *Pod {
		return &Pod{name: name, spec: &pod.Pod{Metadata: pod.Metadata{Name: name}, Spec: pod.Spec{Hostname: hostname}}}
	}
	a, b, c := netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.3"), netip.MustParseAddr("10.77.0.4")
	n.addNames("Net", mk("web", "web"), []netip.Addr{a})
	n.addNames("Net", mk("db", "web"), []netip.Addr{b}) // host name web, like the pod web
	n.addNames("Net", mk("cache", "shared"), []netip.Addr{c})
	for _, tc := range []struct {
		name string
		want []netip.Addr
		ours bool
	}{
		{"web", []netip.Addr{a}, true},
		{"web.net", []netip.Addr{a}, true},
		{"db", []netip.Addr{b}, true},
		{"shared", []netip.Addr{c}, true},
		{"nosuch", nil, true},
		{"nosuch.net", nil, true},
		{"example.com", nil, false},
		{"", nil, false},
	} {
		got, ours := n.lookup("Net", tc.name)
		if !slices.Equal(got, tc.want) || ours != tc.ours {
			t.Errorf("lookup(%q) = %v, %v; want %v, %v", tc.name, got, ours, tc.want, tc.ours)
		}
	}
	if names, ok := n.reverse("net", a); !ok || !slices.Equal(names, []string{"web.net"}) {
		t.Errorf("reverse(%s) = %v, %v", a, names, ok)
	}
	// The pod web goes: the name web is db's host name now.
	n.removeNames("net", "web")
	if got, _ := n.lookup("net", "web"); !slices.Equal(got, []netip.Addr{b}) {
		t.Errorf("after web left, web = %v, want db's %s", got, b)
	}
	n.removeNames("net", "db")
	if got, ours := n.lookup("net", "web"); got != nil || !ours {
		t.Errorf("after db left, web = %v, %v", got, ours)
	}
	if got, _ := n.lookup("net", "shared"); !slices.Equal(got, []netip.Addr{c}) {
		t.Errorf("shared = %v after other pods left", got)
	}
}
