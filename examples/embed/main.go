// Command embed runs a two-process pod through podvisor's Go library,
// waits for it to end and exits 0 when it succeeded. It honours
// PODVISOR_ROOT (default /run/podvisor) and PODVISOR_CGROUP_PARENT (default
// podvisor), and needs root.
//
//	sudo go run ./examples/embed
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
)

const spec = `
apiVersion: podvisor/v1
kind: Pod
metadata:
  name: embedded
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  processes:
  - name: writer
    command: [sh, -c, "echo hello from $POD_NAME/$PROCESS_NAME on $(hostname)"]
  - name: counter
    command: [sh, -c, "for i in 1 2 3; do echo tick $i; sleep 0.1; done"]
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run() error {
	p, err := pod.Load([]byte(spec))
	if err != nil {
		return err
	}
	sv, err := supervisor.New(supervisor.Options{
		Root:         os.Getenv("PODVISOR_ROOT"),
		CgroupParent: os.Getenv("PODVISOR_CGROUP_PARENT"),
		// The pods' network: the bridge podvisor0 unless
		// PODVISOR_DEFAULT_NETWORK says otherwise (none: loopback only).
		Network: supervisor.NetworkOptions{Default: pod.NetworkMode(os.Getenv("PODVISOR_DEFAULT_NETWORK"))},
		Logger:  zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: true}).With().Timestamp().Logger(),
		Output: func(l supervisor.Line) {
			fmt.Printf("%s/%s | %s\n", l.Pod, l.Process, l.Text)
		},
	})
	if err != nil {
		return err
	}
	defer sv.Close(context.Background())

	running, err := sv.Create(p)
	if err != nil {
		return err
	}
	if err := running.Start(); err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	st, err := running.Wait(ctx)
	if err != nil {
		// Interrupted: stop the pod politely before leaving.
		_ = running.Stop(context.Background(), nil)
		return err
	}
	fmt.Printf("pod %s ended %s\n", st.Name, st.Phase)
	if st.Phase != pod.PhaseSucceeded {
		return fmt.Errorf("pod %s: %s", st.Phase, st.Message)
	}
	return nil
}
