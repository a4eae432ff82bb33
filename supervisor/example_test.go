package supervisor_test

import (
	"context"
	"fmt"
	"os"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
)

// Run a one-process pod to completion and print what it wrote. Needs root.
func Example() {
	root, _ := os.MkdirTemp("", "podvisor-example-")
	defer os.RemoveAll(root)

	spec, err := pod.Load([]byte(`
apiVersion: podvisor/v1
kind: Pod
metadata: {name: example}
spec:
  restartPolicy: Never
  processes:
  - name: app
    command: [sh, -c, "echo hello from $HOSTNAME"]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	sv, err := supervisor.New(supervisor.Options{
		Root:         root,
		CgroupParent: fmt.Sprintf("podvisor-example-%d", os.Getpid()),
		// Loopback only; the zero NetworkOptions put pods on the bridge
		// podvisor0 with addresses of 10.77.0.0/16.
		Network: supervisor.NetworkOptions{Default: pod.NetworkNone},
		Output: func(l supervisor.Line) {
			fmt.Printf("%s | %s\n", l.Process, l.Text)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sv.Close(context.Background())

	p, err := sv.Create(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Start(); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := p.Wait(context.Background())
	fmt.Println(st.Phase, st.Processes[0].Reason, *st.Processes[0].ExitCode)
	// Output:
	// app | hello from example
	// Succeeded Completed 0
}
