// Package supervisor is podvisor's engine and its library entry point.
//
// A Supervisor keeps pods. Each pod has one owner goroutine that feeds what
// happens to the pod's lifecycle machine (pod.Machine) and carries out the
// actions it returns (start, signal, kill, run a hook or a probe) through a
// runtime: on Linux, packages namespaces and cgroups. The owner never
// blocks: probes, hooks, the output drain of an exited process and a
// draining cgroup run on goroutines of their own and report back.
//
// No goroutine or thread waits for a process. Two I/O loops, each one
// goroutine in epoll_wait, serve every process of every pod: the exit loop
// watches each process's pidfd and, when it exits, reaps exactly that
// process (waitid P_PIDFD), so no global wait4(-1) steals exit statuses;
// the output loop reads every process's stdout and stderr pipes, so that a
// log write stuck on a slow disk never holds up an exit, a restart or a
// stop. A sweep after each burst of SIGCHLD is the safety net for an exit
// the pidfd path did not report, and a stop cannot wait forever for one.
// Output is logged in kubelet's CRI format, rotated by size, with a fair
// share and a budget per stream; it is handed to the embedder's OutputFunc
// through a bounded queue and to log followers (FollowLogs), and read back
// with Pod.Logs. The supervisor is a child subreaper and reaps only the
// orphans of its pods; New marks the process's inherited file descriptors
// close-on-exec.
//
// Every process is born inside its pod's network, IPC and UTS namespaces
// and its own cgroup (a child of the pod's), and, when the pod has them, in
// its view of the filesystem (a mount namespace) and the pod's PID
// namespace (shareProcessNamespace): it is forked from a locked OS thread
// that has joined the namespaces and, on cgroup v1, the cgroups, and on
// cgroup v2 it is cloned straight into its cgroup (CLONE_INTO_CGROUP).
// Because namespace joins are per thread, importing this package locks the
// main goroutine to the main OS thread (runtime.LockOSThread in init), so
// that no goroutine that visits a pod namespace ever runs there. Exec runs
// a command inside a running pod the same way. Pods are put on networks
// (Options.Network): the default bridge network, bridge networks made with
// CreateNetwork, or CNI networks.
//
// With Options.Persist it keeps each pod's spec and state (desired state
// and status) in <Root>/pods/<pod>/spec.json and state.json, written
// atomically; Recover brings the pods back after a restart of the program
// and starts again those that should run, and Shutdown stops every pod and
// keeps those files for it. Processes are not adopted across a restart:
// what a crashed run left in a pod's cgroups is killed and the pod starts
// anew. Without Persist nothing outlives the program: Close removes every
// pod, and New removes what a crashed run left on the root.
//
// It does not serve an API, parse command lines, handle the program's
// signals (it watches SIGCHLD, and Exec relays signals to its command while
// it runs) or speak to systemd: those are the daemon's (package
// supervisor/daemon) and the CLI's jobs; Healthy is what a watchdog asks.
package supervisor
