package api

import "github.com/podvisor/podvisor/pod"

// VersionInfo answers GET /v1/version.
type VersionInfo struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
	GoVersion  string `json:"goVersion"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// Started reports whether a pod that was started is done starting; see
// pod.Status.Launched. A request with ?wait=true (create, start, restart)
// is answered once the pod's status satisfies it.
func Started(s *pod.Status) bool { return s.Launched() }
