// Package namespaces makes a pod's network, IPC and UTS namespaces
// persistent (bind-mounted files, like `ip netns add`), joins them from a
// locked OS thread so that a process forked there is born inside them, and
// removes them. NetDialer makes sockets inside a network namespace (on a
// thread that joins it only for the socket call), so that a program can
// dial or listen there from any goroutine.
//
// It knows nothing of pods or processes. Threads are the unit of namespace
// membership: every function that changes the calling thread's namespaces
// expects the caller to have called runtime.LockOSThread, and reports
// whether the thread could be put back; a thread that could not must not be
// unlocked (Go then discards it when its goroutine ends).
package namespaces
