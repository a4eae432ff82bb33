// Package probe runs one Kubernetes-style network check — an HTTP GET, a
// TCP connect, or a gRPC health check — and reports whether it passed.
//
// Every check goes through a DialFunc that the caller gives, which decides
// where the connection is made: a plain net.Dialer for the host's network,
// or a dialer that creates its sockets inside a pod's network namespace
// (namespaces.NetDialer.DialContext). The check's time limit is the
// deadline of its context; without one, a check may wait as long as the
// peer lets it, so callers should always set one (Kubernetes'
// timeoutSeconds).
//
// A check never returns a Go error: every failure, from a refused
// connection to a timeout or an unhealthy status, is a Result with OK false
// and a short, bounded message in Output. A check keeps nothing once it
// returns: no idle connections, no goroutines left waiting.
//
// The package knows nothing of pods, processes, schedules, thresholds or
// restarts: running checks periodically, counting successes and failures,
// and acting on them (readiness, restarts) is the caller's business. Exec
// checks (running a command in the pod) are not network checks and are not
// here either.
package probe
