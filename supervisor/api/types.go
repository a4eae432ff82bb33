package api

import (
	"time"

	"github.com/podvisor/podvisor/pod"
)

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

// Network describes a network (GET /v1/networks and /v1/networks/{name};
// the body of POST /v1/networks gives name and, optionally, bridge,
// subnet, gateway, subnet6, gateway6 and internal).
type Network struct {
	// Name is what a pod's spec.network says to join it.
	Name string `json:"name"`
	// Driver is "bridge" (podvisor's own) or "cni".
	Driver string `json:"driver"`
	// Bridge is the bridge's link name.
	Bridge string `json:"bridge,omitempty"`
	// Subnet and Gateway (IPv4), Subnet6 and Gateway6 (IPv6).
	Subnet   string `json:"subnet,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
	Subnet6  string `json:"subnet6,omitempty"`
	Gateway6 string `json:"gateway6,omitempty"`
	// Internal: no masquerade, no forwarding off the bridge.
	Internal bool `json:"internal,omitempty"`
	// Default marks the default network.
	Default bool `json:"default,omitempty"`
	// DNS is the address of the network's DNS responder, when it runs.
	DNS string `json:"dns,omitempty"`
	// File and Plugins describe a CNI network.
	File    string   `json:"file,omitempty"`
	Plugins []string `json:"plugins,omitempty"`
	// Pods are the pods on the network.
	Pods []string `json:"pods,omitempty"`
	// CreatedAt is when the network was made.
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// The types of a PodChange.
const (
	// PodChanged: the pod is new or its status changed.
	PodChanged = "Changed"
	// PodRemoved: the pod was removed; Status holds its name alone.
	PodRemoved = "Removed"
)

// PodChange is one line of GET /v1/pods?watch=true: first every pod's
// status, then each change as it comes (a pod's status is sent once however
// often it changed between two lines).
type PodChange struct {
	Type   string     `json:"type"`
	Status pod.Status `json:"status"`
}

// FilesRefreshed answers POST /v1/pods/{name}/files: the files volumes
// whose files changed.
type FilesRefreshed struct {
	Volumes []string `json:"volumes"`
}
