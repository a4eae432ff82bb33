package supervisor

import (
	"testing"
	"time"

	"github.com/podvisor/podvisor/network"
	"github.com/podvisor/podvisor/pod"
)

// A supervisor without persistence looks the host's address up while it
// makes its first pod (prefetchHostIP): that pod and the next both report
// the host's primary address, as network.Host.PrimaryIP finds it.
func TestHostIPOfFirstPods(t *testing.T) {
	sv := newTestSupervisor(t)
	h, err := network.OpenHost("")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ip, ok, err := h.PrimaryIP()
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	if ok {
		want = ip.String()
	}
	for range 2 {
		spec := load(t, "apiVersion: podvisor/v1\nkind: Pod\nmetadata: {name: "+podName(t)+"}\nspec:\n  network: none\n  restartPolicy: Never\n  processes:\n  - {name: a, command: [/bin/true]}\n")
		p := createAndStart(t, sv, spec)
		st := waitPhase(t, p, 20*time.Second, pod.PhaseSucceeded)
		if st.HostIP != want {
			t.Errorf("pod %s: hostIP %q, want %q", st.Name, st.HostIP, want)
		}
	}
}
