// Package kubenode is podvisor's node agent: it registers a Node with a
// Kubernetes API server (through virtual-kubelet's node and nodeutil
// packages) and runs the Pods bound to that node as podvisor pods, as a
// client of the podvisor daemon over its API socket.
//
// The daemon stays the one owner of the host's pods: the agent translates
// (a Pod becomes a podvisor pod through the same translation as `podvisor
// run` of a manifest, its ConfigMaps and Secrets read from the API server
// and sent with it), watches the daemon's pod statuses to push each one
// back in Kubernetes' shape on every change, keeps mounted ConfigMaps,
// Secrets and service account tokens up to date, and serves the kubelet
// API (logs, exec) from the daemon's logs and podvisor's exec. The agent can stop, crash, restart
// or be upgraded without touching a pod: at start it matches the daemon's
// pods marked with its node's name back to their Pod objects, and removes
// those whose Pod is gone.
//
// Each Pod becomes the podvisor pod <namespace>.<name> (the
// podvisor.io/name annotation), marked with the podvisor.io/node
// annotation.
//
// It does not pull images (there are none), attach to a running process,
// forward ports, or serve the stats summary; volumes that need a CSI
// driver are refused by the translation.
package kubenode
