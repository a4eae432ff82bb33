// Package supervisor is podvisor's engine and its library entry point.
//
// A Supervisor keeps pods. Each pod has one owner goroutine that feeds what
// happens to the pod's lifecycle machine (pod.Machine) and carries out the
// actions it returns (start, signal, kill, run a hook or a probe) through a
// runtime: on Linux, packages namespaces and cgroups. The owner never
// blocks: probes, hooks, the output drain of an exited process and a
// draining cgroup run on goroutines of their own and report back. One I/O
// loop (a goroutine in epoll_wait) serves every process's pidfd and output
// pipes: exits are reaped through the pidfd (waitid P_PIDFD), so no thread
// blocks in wait and no global wait4(-1) steals exit statuses; a sweep
// after each burst of SIGCHLD is the safety net for an exit the pidfd path
// did not report, and a stop cannot wait forever for one. Output is logged
// in kubelet's CRI format with a fair share and a budget per stream, and
// handed to the embedder's OutputFunc through a bounded queue. The
// supervisor is a child subreaper and reaps only the orphans of its pods;
// New marks the process's inherited file descriptors close-on-exec.
//
// Every process is born inside its pod's network, IPC and UTS namespaces
// and its own cgroup (a child of the pod's): it is forked from a locked OS
// thread that has joined the namespaces and, on cgroup v1, the cgroups, and
// on cgroup v2 it is cloned straight into its cgroup (CLONE_INTO_CGROUP).
// Because namespace joins are per thread, importing this package locks the
// main goroutine to the main OS thread (runtime.LockOSThread in init), so
// that no goroutine that visits a pod namespace ever runs there.
//
// With Options.Persist it keeps each pod's spec and state on disk and
// recovers them (Recover); it does not serve an API or parse command
// lines: those are the daemon's and the CLI's jobs.
package supervisor
