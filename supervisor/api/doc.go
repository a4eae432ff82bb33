// Package api is podvisor's daemon API: HTTP/1.1 and JSON over a unix
// socket, with versioned paths under /v1. Server turns requests into calls
// of a supervisor.Supervisor; Client is the Go client the CLI uses.
//
// Errors travel as {"error": "...", "code": "NotFound|AlreadyExists|
// Invalid|Conflict|Internal"} with status 404, 409, 400, 409 or 500, and the
// client turns them back into errors that match pod.ErrNotFound and the
// other classes with errors.Is. The protocol is documented in docs/api.md.
package api
