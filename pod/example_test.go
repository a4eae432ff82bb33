package pod_test

import (
	"errors"
	"fmt"

	"github.com/podvisor/podvisor/pod"
)

func ExampleLoad() {
	p, err := pod.Load([]byte(`
apiVersion: podvisor/v1
kind: Pod
metadata: {name: web}
spec:
  resources:
    limits: {cpu: 500m, memory: 256Mi}
  processes:
  - name: app
    command: [sh, -c, "echo hi"]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.Spec
	fmt.Printf("hostname: %s network: %q\n", s.Hostname, s.Network)
	fmt.Println("restartPolicy:", s.RestartPolicy, "grace:", *s.TerminationGracePeriodSeconds)
	fmt.Println("backoff:", s.RestartBackoff.InitialDelay, s.RestartBackoff.MaxDelay, s.RestartBackoff.ResetAfter)
	fmt.Println("cpu millicores:", s.Resources.Limits.CPU.Milli(), "memory bytes:", s.Resources.Limits.Memory.Value())
	app := s.Processes[0]
	fmt.Printf("%s: %q in %s, stop with %s\n", app.Name, app.Argv(), app.WorkingDir, app.StopSignal)

	_, err = pod.Load([]byte(`
apiVersion: podvisor/v1
kind: Pod
metadata: {name: Web_Server}
spec:
  hostname: web
  processes:
  - name: app
    comand: [sh]
`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, pod.ErrInvalid))
	// Output:
	// hostname: web network: ""
	// restartPolicy: Always grace: 30
	// backoff: 10s 5m0s 10m0s
	// cpu millicores: 500 memory bytes: 268435456
	// app: ["sh" "-c" "echo hi"] in /, stop with SIGTERM
	// spec.processes[0].comand: unknown field "comand"
	// metadata.name: "Web_Server" is not a lowercase RFC 1123 subdomain
	// spec.processes[0].command: required: at least the program
	// true
}

func ExampleSpec_Decide() {
	spec := pod.Spec{RestartPolicy: pod.RestartAlways}
	app := &pod.Process{Name: "app"}
	streak := 0
	for range 4 {
		// The process crashes a second after each start.
		d := spec.Decide(app, false, pod.Exit{Code: 1}, 1e9, streak)
		fmt.Println(d.Restart, d.Delay)
		streak = d.Streak
	}
	// Output:
	// true 0s
	// true 10s
	// true 20s
	// true 40s
}

func ExampleParseSignal() {
	for _, s := range []string{"TERM", "SIGKILL", "15", "SIGFOO"} {
		n, ok := pod.ParseSignal(s)
		fmt.Println(s, n, ok)
	}
	// Output:
	// TERM 15 true
	// SIGKILL 9 true
	// 15 15 true
	// SIGFOO 0 false
}
