package pod_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/podvisor/podvisor/pod"
)

func TestNetworkValidation(t *testing.T) {
	procs := func(ports string) string {
		return "  processes:\n  - {name: a, command: [x], ports: [" + ports + "]}\n  - {name: b, command: [x], ports: [{containerPort: 81, hostPort: 8081}]}\n"
	}
	bad := []struct{ name, spec, want string }{
		{"bad network name", "  network: \"a b\"\n" + procs(""), `spec.network: unsupported value "a b"`},
		{"network name too long", "  network: " + strings.Repeat("n", 65) + "\n" + procs(""), "spec.network: unsupported value"},
		{"hostPort out of range", procs("{containerPort: 80, hostPort: 70000}"), "spec.processes[0].ports[0].hostPort: must be between 1 and 65535, got 70000"},
		{"hostPort with none", "  network: none\n" + procs("{containerPort: 80, hostPort: 8080}"), `spec.processes[0].ports[0].hostPort: not with network "none": the pod has loopback only, nothing to publish into`},
		{"hostPort with pod", "  network: pod\n" + procs("{containerPort: 80, hostPort: 8080}"), `spec.processes[0].ports[0].hostPort: not with network "pod"`},
		{"hostPort differs on host", "  network: host\n" + procs("{containerPort: 80, hostPort: 8080}"), "spec.processes[0].ports[0].hostPort: must equal containerPort (80) with network host, got 8080"},
		{"hostIP not an address", procs("{containerPort: 80, hostPort: 8080, hostIP: nope}"), `spec.processes[0].ports[0].hostIP: "nope" is not an IP address`},
		{"hostIP without hostPort", procs("{containerPort: 80, hostIP: 127.0.0.1}"), "spec.processes[0].ports[0].hostIP: only with hostPort"},
		{"same hostPort twice", procs("{containerPort: 80, hostPort: 8081}"), "spec.processes[1].ports[0].hostPort: 8081/tcp is published already by process \"a\""},
		{"every address and one address", procs("{containerPort: 80, hostPort: 8081, hostIP: 127.0.0.1}"), "spec.processes[1].ports[0].hostPort: 8081/tcp is published already"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pod.Load([]byte(withSpec(tt.spec)))
			if err == nil || !errors.Is(err, pod.ErrInvalid) {
				t.Fatalf("Load: %v, want invalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
	good := []struct{ name, spec string }{
		{"bridge", "  network: bridge\n" + procs("{containerPort: 80, hostPort: 8080}")},
		{"named network", "  network: my-net.1\n" + procs("{containerPort: 80, hostPort: 8080}")},
		{"same port, other protocol", procs("{containerPort: 81, hostPort: 8081, protocol: UDP}")},
		{"same port, two addresses", "  processes:\n  - {name: a, command: [x], ports: [{containerPort: 80, hostPort: 80, hostIP: 127.0.0.1}, {containerPort: 81, hostPort: 80, hostIP: 127.0.0.2}]}\n"},
		{"host network, equal ports", "  network: host\n  processes:\n  - {name: a, command: [x], ports: [{containerPort: 80, hostPort: 80}]}\n"},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pod.Load([]byte(withSpec(tt.spec))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPublished(t *testing.T) {
	p := mustLoad(t, withSpec("  processes:\n  - {name: web, command: [x], ports: [{name: http, containerPort: 80, hostPort: 8080}, {containerPort: 53, hostPort: 5353, protocol: UDP, hostIP: \"::ffff:127.0.0.1\"}, {containerPort: 9}]}\n"))
	got := p.Spec.Published()
	if len(got) != 2 {
		t.Fatalf("published %v, want 2 ports", got)
	}
	if s := got[0].String(); s != "80/tcp -> 0.0.0.0:8080" {
		t.Errorf("first: %q", s)
	}
	if s := got[1].String(); s != "53/udp -> 127.0.0.1:5353" || got[1].Process != "web" {
		t.Errorf("second: %q (%+v)", s, got[1])
	}
	host := mustLoad(t, withSpec("  network: host\n  processes:\n  - {name: web, command: [x], ports: [{containerPort: 80, hostPort: 80}]}\n"))
	if got := host.Spec.Published(); len(got) != 0 {
		t.Errorf("a host-network pod publishes %v", got)
	}
	for _, n := range []string{"podvisor", "a", "A-b_c.d", "9net"} {
		if !pod.IsNetworkName(n) {
			t.Errorf("IsNetworkName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "-a", "a/b", "a b", strings.Repeat("x", 65)} {
		if pod.IsNetworkName(n) {
			t.Errorf("IsNetworkName(%q) = true", n)
		}
	}
}

// A syntax error says that the file is YAML (the CLI puts the file's name
// in front): "yaml: line 3: ...".
func TestSyntaxErrorSaysYAML(t *testing.T) {
	_, err := pod.Load([]byte("apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: x\nspec: {}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "yaml: line ") {
		t.Errorf("syntax error: %v, want it to start with \"yaml: line \"", err)
	}
}
