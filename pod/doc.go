// Package pod holds podvisor's vocabulary and the pod lifecycle: the pod
// spec as users write it, its defaults and validation (every error names a
// field path), the status, event and log entry types (the bodies of the
// daemon's API, so that its clients need no other package of podvisor's),
// and the lifecycle as a pure state machine (Machine): from the spec, the
// state it holds, one input (a process exited, a probe failed, a stop was
// asked) and the time given, the next state and the actions to take
// (start, signal, kill, run a hook or a probe, publish an event).
//
// The package makes no system calls, starts no goroutines and reads no clock:
// every rule is a function of the spec, the state and the time passed in, so
// it can be tested exhaustively and fast. The engine that carries the
// actions out on real processes lives in package supervisor.
package pod
