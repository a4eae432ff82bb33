// Package server is the daemon side of podvisor's API (package
// supervisor/api): the HTTP handlers that turn requests under /v1 into
// calls of a supervisor.Supervisor, and the check of each peer's
// credentials (root or a member of the API group; ConnContext records them
// on each connection).
//
// POST /v1/pods reads its body with manifest.LoadOnHost (podvisor/v1 or
// Kubernetes manifests, with ConfigMap and Secret files as multipart parts,
// and this host's facts for a Kubernetes manifest); a body
// of several pods needs ?all=true and is created all or none.
//
// Server keeps the last events for GET /v1/events, answers errors with the
// codes and statuses of api.Classify, and streams logs and events as JSON
// lines; the wire types it does not take from package pod are package
// api's. It does not listen, own the socket, set timeouts or recover pods:
// those are the daemon's (package supervisor/daemon), which serves
// Server.Handler on its socket with ConnContext. Clients import package
// api only, which links neither this package nor the engine.
package server
