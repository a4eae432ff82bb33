package supervisor

import (
	"time"

	"github.com/podvisor/podvisor/pod"
)

// podRuntime is what the engine asks of the system: the pod's mechanism
// under its policy. The Linux runtime (linuxRuntime) forks into the pod's
// namespaces and cgroups and watches exits through pidfds; tests use a
// fake one. Calls come from the owner goroutine and must not block:
// results that take time are posted back to the pod as inputs.
type podRuntime interface {
	// prepare readies the pod for a run (the exec cgroup renewed).
	prepare()
	// start starts run of process i; its exit is posted as InExited.
	start(i, run int) (pid int, at time.Time, err error)
	// signal sends sig to run of process i, if it still runs.
	signal(i, run, sig int)
	// killProcess SIGKILLs everything in process i's cgroup.
	killProcess(i int)
	// killPod SIGKILLs everything in the pod's cgroup.
	killPod()
	// abandon stops watching run of process i, taken for dead.
	abandon(i, run int)
	// runHook runs a hook of run of process i and posts InHookDone.
	runHook(i, run int, h pod.HookKind, timeout time.Duration)
	// runProbe runs a probe of run of process i and posts InProbeResult.
	runProbe(i, run int, k pod.ProbeKind, timeout time.Duration)
	// drain SIGKILLs what is left in the pod's cgroup; done reports an
	// empty cgroup at once, else InCgroupEmpty is posted later.
	drain() (tasks int, done bool)
}
