package supervisor

import (
	"context"
	"testing"
	"time"
)

// BenchmarkExecCheck: one exec probe (`true`) of a running process, in the
// supervisor: fork into the pod's namespaces and the process's cgroup,
// wait, collect the output.
func BenchmarkExecCheck(b *testing.B) {
	sv := benchSupervisor(b)
	p, err := sv.Create(benchLoad(b, podYAML("bexec", `
  processes:
  - name: a
    command: [sleep, "1000"]
`)))
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	defer sv.Remove(context.Background(), "bexec", RemoveOptions{Force: true})
	time.Sleep(100 * time.Millisecond)
	pr := p.procs[0]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok, msg := p.execCheck(ctx, pr, []string{"true"})
		cancel()
		if !ok {
			b.Fatal(msg)
		}
	}
}
