// Package kube turns Kubernetes manifests into podvisor pods.
//
// Load reads the YAML (block or flow style) or JSON a user gives kubectl
// apply: v1 Pods; the pod templates of apps/v1 Deployments, ReplicaSets,
// StatefulSets and DaemonSets and of batch/v1 Jobs (one pod each, named
// after the object); v1 Lists of these; ConfigMaps and Secrets, the data
// of env and volumes. Other kinds (Service, Ingress, ...) are skipped
// with a notice. podvisor/v1 documents in the same file go through
// pod.Load unchanged.
//
// Decoding is strict: every field of the Kubernetes API is known, and an
// unknown field (with a "did you mean" for a near miss), a duplicate key
// or a value of the wrong type is an error naming its path in the
// manifest. What podvisor does with each field is one table (Fields): a
// field is honoured, accepted without effect on a single host (a notice),
// ignored (images: a notice), or refused with the reason (an error, or a
// warning with Options.IgnoreUnsupported). docs/kubernetes.md prints the
// table.
//
// The annotations that still stand for securityContext fields (AppArmor
// per container, the legacy seccomp ones) are read into those fields, as
// the API server reads them, and refused like them.
//
// The translation resolves at load what kubelet resolves at a
// container's start: env (values with $(VAR) expanded as Kubernetes does,
// the downward API, resourceFieldRef, ConfigMap and Secret keys, envFrom),
// command and args ($(VAR) expanded), and the files of configMap, secret,
// downwardAPI and projected volumes (they become pod.FilesVolume). A
// subPathExpr is kept as written, for the engine to expand. Each pod it
// returns has its defaults set and passes pod.Validate; problems found
// there are reported at the manifest's paths.
//
// PodStatus turns a pod and its pod.Status back into a v1 Pod with
// Kubernetes' status; QOSClass computes the QoS class.
//
// The package is pure: it reads no file and asks the host nothing (the
// host's name, address and size come in Options), starts no goroutine and
// reads no clock. The only randomness, of generateName suffixes and uids,
// comes from Options.Rand (crypto/rand when nil) or Options.NewUID.
package kube
