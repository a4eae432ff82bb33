// Package api is podvisor's daemon API as its clients see it: HTTP/1.1 and
// JSON over a unix socket, with versioned paths under /v1. Client is the Go
// client the CLI uses; the package also holds the wire types that are not
// in package pod (VersionInfo, ErrorBody, LogsOptions, CreateOptions), the
// error codes and their mapping to pod's error classes both ways (Classify,
// Error), and Started, the condition a request with ?wait=true waits for.
// The bodies themselves are pod's types: pod.Status, pod.Pod,
// pod.LogEntry, pod.Event.
//
// POST /v1/pods takes podvisor/v1 pod files and Kubernetes manifests
// (several pods with ?all=true, created all or none; CreateAll), and sends
// the notices and warnings of a manifest's translation back as Warning
// headers (299 - "notice: ..."), which WarningHeader writes and
// ParseWarnings reads. Package supervisor/api/manifest reads those files
// for the server and the CLI alike.
//
// Errors travel as {"error": "...", "code": "NotFound|AlreadyExists|
// Invalid|Conflict|Internal"} with status 404, 409, 400, 409 or 500, and the
// client turns them back into errors that match pod.ErrNotFound and the
// other classes with errors.Is. The protocol is documented in docs/api.md.
//
// The package imports neither the engine (package supervisor) nor
// namespaces or cgroups: a program that only talks to a daemon links none
// of them. The server side, the HTTP handlers that turn requests into
// calls of a supervisor.Supervisor, is package supervisor/api/server.
package api
