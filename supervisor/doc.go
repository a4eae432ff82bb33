// Package supervisor is podvisor's engine and its library entry point.
//
// A Supervisor keeps pods. Each pod has one owner goroutine that holds its
// state and applies the decisions of package pod (what to start, restart or
// stop next, and when) through packages namespaces and cgroups; each OS
// process has one waiter, woken through its pidfd by Go's poller, so no
// thread blocks in wait and no global wait4(-1) steals exit statuses. The
// supervisor is a child subreaper and reaps only the orphans of its pods.
//
// Every process is born inside its pod's network, IPC and UTS namespaces
// and its own cgroup (a child of the pod's): it is forked from a locked OS
// thread that has joined the namespaces and, on cgroup v1, the cgroups, and
// on cgroup v2 it is cloned straight into its cgroup (CLONE_INTO_CGROUP).
// Because namespace joins are per thread, importing this package locks the
// main goroutine to the main OS thread (runtime.LockOSThread in init), so
// that no goroutine that visits a pod namespace ever runs there.
//
// The package does not persist state, serve an API or parse command lines:
// those are the daemon's and the CLI's jobs.
package supervisor
