// Package pod holds podvisor's vocabulary: the pod spec as users write it,
// its defaults and validation (every error names a field path), the status
// types the engine reports, and the pure lifecycle rules — which restart
// policy applies, whether an exit is restarted, how long the back-off is,
// what phase a pod is in.
//
// The package makes no system calls, starts no goroutines and reads no clock:
// every rule is a function of the spec, the history it is given and the
// durations passed in, so it can be tested exhaustively and fast. The engine
// that applies these decisions to real processes lives in package supervisor.
package pod
