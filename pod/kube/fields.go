package kube

import (
	"strings"
	"sync"
)

// Disposition says what podvisor does with a field of a Kubernetes
// manifest.
type Disposition int

// The dispositions of the field table.
const (
	// Honoured: the field means in podvisor what it means in Kubernetes
	// (Note says how). A value podvisor cannot honour is refused by name.
	Honoured Disposition = iota + 1
	// NoEffect: accepted, without effect on a single host; a notice says
	// so when the field is set (to a value other than Kubernetes' default).
	NoEffect
	// Ignored: about images, which podvisor does not use; one notice per
	// pod lists what was ignored.
	Ignored
	// Refused: podvisor cannot honour it; setting it (to a value other than
	// Kubernetes' default) is an error naming the field and why, or a
	// warning with Options.IgnoreUnsupported.
	Refused
)

// String is the disposition's name in the field table.
func (d Disposition) String() string {
	switch d {
	case Honoured:
		return "honoured"
	case NoEffect:
		return "no effect"
	case Ignored:
		return "ignored"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Field is one row of the field table: a field of the Kubernetes API and
// what podvisor does with it.
//
// Path is the field's path with "[]" for list elements, and with a short
// name for the structures that appear in several places: "metadata" is the
// ObjectMeta of any object and of a pod template, "spec" the PodSpec of a
// Pod or of a template, "container" an entry of spec.containers or
// spec.initContainers, "probe" a liveness, readiness or startup probe,
// "hook" a lifecycle.postStart or preStop handler, "template" the pod
// template of a workload and "selector" its label selector. The fields of
// an object itself are under its kind ("Deployment.spec.replicas").
//
// A row that is not Honoured covers the field's whole subtree.
type Field struct {
	Path        string
	Disposition Disposition
	// Note says how the field is honoured, or why it has no effect or is
	// refused.
	Note string
	// Default is Kubernetes' default value of the field, as JSON: a field
	// set to it draws neither a notice nor a refusal. Empty for none.
	Default string
	// Section groups the rows in docs/kubernetes.md.
	Section string
}

func h(path, note string) Field  { return Field{Path: path, Disposition: Honoured, Note: note} }
func ig(path, note string) Field { return Field{Path: path, Disposition: Ignored, Note: note} }

func ne(path, note string, def ...string) Field {
	return Field{Path: path, Disposition: NoEffect, Note: note, Default: strings.Join(def, "")}
}

func rf(path, note string, def ...string) Field {
	return Field{Path: path, Disposition: Refused, Note: note, Default: strings.Join(def, "")}
}

// Reasons shared by several rows.
const (
	whyScheduling  = "scheduling: the pod runs on this host"
	whyServerSet   = "set by the API server"
	whyCloudDisk   = "a cloud or vendor disk: not supported on a single host; attach it to the host and use hostPath"
	whyNetworkFS   = "network storage: not supported on a single host; mount it on the host and use hostPath"
	whyFileOwner   = "per-file owners are not supported; fsGroup owns the files"
	whyOutputOnly  = "output only: podvisor reports its own status, as podvisor inspect --kube prints it"
	whyRollout     = "rollouts: podvisor runs the template's one pod"
	whyHistory     = "rollout history"
	whyWindowsOnly = "Windows only"
)

// section is one part of the field table.
type section struct {
	title string
	rows  []Field
}

// sections is the field table, in the order of docs/kubernetes.md. It is
// built at its first use, not at every start of podvisor.
var sections = sync.OnceValue(sectionList)

func sectionList() []section {
	return []section{
		{"Objects", []Field{
			h("apiVersion", "v1 (Pod, List, ConfigMap, Secret), apps/v1 (Deployment, ReplicaSet, StatefulSet, DaemonSet), batch/v1 (Job); a podvisor/v1 document is a podvisor pod file"),
			h("kind", "Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job: one pod each; List: its items; ConfigMap, Secret: data for env and volumes; any other kind is skipped with a notice"),
			h("Pod.metadata", "the pod's metadata"),
			h("Pod.spec", "the pod's spec"),
			ne("Pod.status", whyOutputOnly),
			ne("List.metadata", "list metadata: set by the API server"),
			h("List.items", "each item is read as a document of its own (Lists may nest)"),
		}},
		{"Metadata", []Field{
			h("metadata.name", "the pod's name: a lowercase RFC 1123 subdomain of at most 253 characters; a workload's pod is named after the workload"),
			h("metadata.generateName", "when name is empty: the name is this prefix (cut to 58 characters) and 5 random characters"),
			h("metadata.namespace", "default \"default\"; kept for the downward API and the status; ConfigMaps and Secrets are looked up in it"),
			ne("metadata.selfLink", whyServerSet),
			ne("metadata.uid", whyServerSet+": podvisor gives each pod a new uid, except a node agent's Pod, named by the podvisor.io/name annotation, which keeps its own"),
			ne("metadata.resourceVersion", whyServerSet),
			ne("metadata.generation", whyServerSet),
			ne("metadata.creationTimestamp", whyServerSet+"; kubectl's creationTimestamp: null is unset"),
			ne("metadata.deletionTimestamp", whyServerSet),
			ne("metadata.deletionGracePeriodSeconds", whyServerSet),
			h("metadata.labels", "kept (pod.Metadata.Labels); the downward API reads them; a workload's pod has its template's"),
			h("metadata.annotations", "kept (pod.Metadata.Annotations); the downward API reads them; a workload's pod has its template's; the AppArmor and seccomp annotations are read as the securityContext fields they stand for (see Security); podvisor.io/name names the podvisor pod when it must differ from metadata.name (a node agent's <namespace>.<name>)"),
			ne("metadata.ownerReferences", "garbage collection by the API server"),
			ne("metadata.finalizers", "deletion by the API server"),
			ne("metadata.managedFields", "server-side apply bookkeeping"),
		}},
		{"Pod spec", []Field{
			h("spec.volumes", "→ spec.volumes (see Volumes)"),
			h("spec.initContainers", "→ spec.initProcesses, in order; one with restartPolicy: Always is a sidecar"),
			h("spec.containers", "→ spec.processes; at least one"),
			rf("spec.ephemeralContainers", "ephemeral containers are added to a running pod through the API (kubectl debug)"),
			h("spec.restartPolicy", "→ spec.restartPolicy (Always, OnFailure, Never)"),
			h("spec.terminationGracePeriodSeconds", "→ spec.terminationGracePeriodSeconds"),
			h("spec.activeDeadlineSeconds", "→ spec.activeDeadlineSeconds: the pod is stopped and Failed with reason DeadlineExceeded"),
			h("spec.dnsPolicy", "→ spec.dnsPolicy: None makes /etc/resolv.conf from dnsConfig alone; ClusterFirst, ClusterFirstWithHostNet and Default start from the host's"),
			ne("spec.nodeSelector", whyScheduling),
			h("spec.serviceAccountName", "kept for the downward API (spec.serviceAccountName); no token is mounted"),
			h("spec.serviceAccount", "deprecated alias of serviceAccountName"),
			ne("spec.automountServiceAccountToken", "there is no API server: no token is ever mounted"),
			ne("spec.nodeName", whyScheduling+", whose name the downward API's spec.nodeName gives, or the Pod's own when it has one"),
			h("spec.hostNetwork", "→ spec.network: host; the pod's host name is the host's (Options.NodeName, lowercased), as kubelet gives it, unless spec.hostname is set; when the host's name is not a valid pod host name, the pod keeps its default (metadata.name) and a notice says so"),
			h("spec.hostPID", "→ spec.hostPID. hostPID: true is podvisor's default; hostPID: false (the Kubernetes default) is not a PID namespace per container: processes see the host's processes unless shareProcessNamespace: true gives the pod one"),
			h("spec.hostIPC", "→ spec.hostIPC"),
			h("spec.shareProcessNamespace", "→ spec.shareProcessNamespace: a PID namespace for the pod"),
			h("spec.securityContext", "→ spec.securityContext (see Security)"),
			ig("spec.imagePullSecrets", "podvisor pulls no image"),
			h("spec.hostname", "→ spec.hostname (default metadata.name, cut to 63 characters as kubelet does)"),
			h("spec.subdomain", "→ spec.subdomain"),
			ne("spec.affinity", whyScheduling),
			ne("spec.schedulerName", whyScheduling, `"default-scheduler"`),
			ne("spec.tolerations", whyScheduling),
			h("spec.hostAliases", "→ spec.hostAliases: lines of the pod's /etc/hosts"),
			h("spec.hostAliases[].ip", "→ ip"),
			h("spec.hostAliases[].hostnames", "→ hostnames"),
			ne("spec.priorityClassName", "priority and preemption are scheduling: the pod runs on this host"),
			ne("spec.priority", "priority and preemption are scheduling: the pod runs on this host", "0"),
			h("spec.dnsConfig", "→ spec.dnsConfig: added to the pod's /etc/resolv.conf"),
			h("spec.dnsConfig.nameservers", "→ nameservers"),
			h("spec.dnsConfig.searches", "→ searches"),
			h("spec.dnsConfig.options", "→ options"),
			h("spec.dnsConfig.options[].name", "→ name"),
			h("spec.dnsConfig.options[].value", "→ value"),
			ne("spec.readinessGates", "their conditions are set by a cluster's controllers: the pod's Ready condition does not wait for them"),
			rf("spec.runtimeClassName", "the processes run on the host under podvisor: no other runtime or sandbox can be chosen"),
			h("spec.enableServiceLinks", "accepted: there are no Services, so no service variables are added either way"),
			ne("spec.preemptionPolicy", "preemption is scheduling: the pod runs on this host", `"PreemptLowerPriority"`),
			ne("spec.overhead", "RuntimeClass overhead: scheduling"),
			ne("spec.topologySpreadConstraints", whyScheduling),
			h("spec.setHostnameAsFQDN", "→ spec.setHostnameAsFQDN"),
			h("spec.os", "checked"),
			h("spec.os.name", "must be linux: any other value is refused"),
			h("spec.hostUsers", "true or unset: the host's user namespace, as podvisor always runs; false (a user namespace) is refused"),
			ne("spec.schedulingGates", "the pod is not held back: there is no scheduler to release it"),
			rf("spec.resourceClaims", "dynamic resource allocation needs a cluster's resource drivers"),
			h("spec.resources", "pod-level resources → spec.resources: the pod's cgroup"),
			h("spec.resources.limits", "cpu, memory → spec.resources.limits; pids (podvisor's own: a whole number of processes, at least 1) → spec.resources.limits.pids; any other resource is refused by name"),
			h("spec.resources.requests", "cpu, memory → spec.resources.requests (CPU weight, memory.low, QoS class); a request defaults to its limit, as in Kubernetes; any other resource is refused by name"),
			rf("spec.resources.claims", "dynamic resource allocation needs a cluster's resource drivers"),
			h("spec.hostnameOverride", "→ spec.hostname (it wins over hostname and subdomain; not with setHostnameAsFQDN or hostNetwork)"),
			ne("spec.schedulingGroup", "group scheduling: the pod runs on this host"),
			ne("spec.evictionResponders", "evictions come from a cluster's Eviction API"),
		}},
		{"Volumes", []Field{
			h("spec.volumes[].name", "→ name: a lowercase RFC 1123 label, unique in the pod"),
			h("spec.volumes[].hostPath", "→ hostPath: the host's file or directory, bind-mounted"),
			h("spec.volumes[].hostPath.path", "→ path: absolute, without \"..\""),
			h("spec.volumes[].hostPath.type", "→ type: checked before the pod starts (DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice)"),
			h("spec.volumes[].emptyDir", "→ emptyDir: a directory of the pod, removed with it (a volume with no source is one too, as in Kubernetes)"),
			h("spec.volumes[].emptyDir.medium", "→ medium: \"\" (disk, under podvisor's root) or Memory (a tmpfs); HugePages is refused"),
			h("spec.volumes[].emptyDir.sizeLimit", "→ sizeLimit: the tmpfs size, or the most its files may hold on disk"),
			rf("spec.volumes[].emptyDir.mode", "an emptyDir's mode other than 0777 is not supported", "511"),
			rf("spec.volumes[].gcePersistentDisk", whyCloudDisk),
			rf("spec.volumes[].awsElasticBlockStore", whyCloudDisk),
			rf("spec.volumes[].gitRepo", "deprecated in Kubernetes: clone the repository in an init container into an emptyDir"),
			h("spec.volumes[].secret", "→ files with medium Memory: the Secret's keys as files on a tmpfs, resolved at load"),
			h("spec.volumes[].secret.secretName", "the Secret, from the same file or Options.Secrets (--secret FILE)"),
			h("spec.volumes[].secret.items", "only these keys, at these paths (default: every key, at its name)"),
			h("spec.volumes[].secret.items[].key", "a key of the Secret; a missing key is an error unless optional"),
			h("spec.volumes[].secret.items[].path", "relative, without \"..\""),
			h("spec.volumes[].secret.items[].mode", "the file's mode (default defaultMode)"),
			rf("spec.volumes[].secret.items[].user", whyFileOwner),
			h("spec.volumes[].secret.defaultMode", "default 0644"),
			h("spec.volumes[].secret.optional", "a missing Secret or key is left out instead of an error"),
			rf("spec.volumes[].secret.defaultUser", whyFileOwner),
			rf("spec.volumes[].nfs", whyNetworkFS),
			rf("spec.volumes[].iscsi", whyNetworkFS),
			rf("spec.volumes[].glusterfs", whyNetworkFS),
			rf("spec.volumes[].persistentVolumeClaim", "not supported on a single host: PersistentVolumeClaims are bound by a cluster; use hostPath or emptyDir"),
			rf("spec.volumes[].rbd", whyNetworkFS),
			rf("spec.volumes[].flexVolume", "needs kubelet's volume plugins"),
			rf("spec.volumes[].cinder", whyCloudDisk),
			rf("spec.volumes[].cephfs", whyNetworkFS),
			rf("spec.volumes[].flocker", whyNetworkFS),
			h("spec.volumes[].downwardAPI", "→ files: the pod's fields as files, resolved at load"),
			h("spec.volumes[].downwardAPI.items", "the files"),
			h("spec.volumes[].downwardAPI.items[].path", "relative, without \"..\""),
			h("spec.volumes[].downwardAPI.items[].fieldRef", "metadata.name, namespace, uid, labels, annotations (key=\"value\" lines, sorted), labels['k'], annotations['k']"),
			h("spec.volumes[].downwardAPI.items[].fieldRef.apiVersion", "v1 only"),
			h("spec.volumes[].downwardAPI.items[].fieldRef.fieldPath", "as fieldRef"),
			h("spec.volumes[].downwardAPI.items[].resourceFieldRef", "a container's limits or requests (cpu, memory, ephemeral-storage); an unset limit is the host's"),
			h("spec.volumes[].downwardAPI.items[].resourceFieldRef.containerName", "required"),
			h("spec.volumes[].downwardAPI.items[].resourceFieldRef.resource", "limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage"),
			h("spec.volumes[].downwardAPI.items[].resourceFieldRef.divisor", "default 1; the value is rounded up as kubelet does"),
			h("spec.volumes[].downwardAPI.items[].mode", "the file's mode (default defaultMode)"),
			rf("spec.volumes[].downwardAPI.items[].user", whyFileOwner),
			h("spec.volumes[].downwardAPI.defaultMode", "default 0644"),
			rf("spec.volumes[].downwardAPI.defaultUser", whyFileOwner),
			rf("spec.volumes[].fc", whyNetworkFS),
			rf("spec.volumes[].azureFile", whyCloudDisk),
			h("spec.volumes[].configMap", "→ files: the ConfigMap's keys (data and binaryData) as files, resolved at load"),
			h("spec.volumes[].configMap.name", "the ConfigMap, from the same file or Options.ConfigMaps (--configmap FILE)"),
			h("spec.volumes[].configMap.items", "only these keys, at these paths (default: every key, at its name)"),
			h("spec.volumes[].configMap.items[].key", "a key of the ConfigMap; a missing key is an error unless optional"),
			h("spec.volumes[].configMap.items[].path", "relative, without \"..\""),
			h("spec.volumes[].configMap.items[].mode", "the file's mode (default defaultMode)"),
			rf("spec.volumes[].configMap.items[].user", whyFileOwner),
			h("spec.volumes[].configMap.defaultMode", "default 0644"),
			h("spec.volumes[].configMap.optional", "a missing ConfigMap or key is left out instead of an error"),
			rf("spec.volumes[].configMap.defaultUser", whyFileOwner),
			rf("spec.volumes[].vsphereVolume", whyCloudDisk),
			rf("spec.volumes[].quobyte", whyNetworkFS),
			rf("spec.volumes[].azureDisk", whyCloudDisk),
			rf("spec.volumes[].photonPersistentDisk", whyCloudDisk),
			h("spec.volumes[].projected", "→ files: the files of its sources in one directory (medium Memory when a Secret is among them)"),
			h("spec.volumes[].projected.sources", "configMap, secret and downwardAPI sources; two files at one path are an error"),
			h("spec.volumes[].projected.sources[].secret", "as a secret volume"),
			h("spec.volumes[].projected.sources[].secret.name", "the Secret"),
			h("spec.volumes[].projected.sources[].secret.items", "as a secret volume's items"),
			h("spec.volumes[].projected.sources[].secret.items[].key", "as a secret volume's"),
			h("spec.volumes[].projected.sources[].secret.items[].path", "as a secret volume's"),
			h("spec.volumes[].projected.sources[].secret.items[].mode", "as a secret volume's"),
			rf("spec.volumes[].projected.sources[].secret.items[].user", whyFileOwner),
			h("spec.volumes[].projected.sources[].secret.optional", "as a secret volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI", "as a downwardAPI volume"),
			h("spec.volumes[].projected.sources[].downwardAPI.items", "as a downwardAPI volume's items"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].path", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].fieldRef", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].fieldRef.apiVersion", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].fieldRef.fieldPath", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].resourceFieldRef", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].resourceFieldRef.containerName", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].resourceFieldRef.resource", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].resourceFieldRef.divisor", "as a downwardAPI volume's"),
			h("spec.volumes[].projected.sources[].downwardAPI.items[].mode", "as a downwardAPI volume's"),
			rf("spec.volumes[].projected.sources[].downwardAPI.items[].user", whyFileOwner),
			h("spec.volumes[].projected.sources[].configMap", "as a configMap volume"),
			h("spec.volumes[].projected.sources[].configMap.name", "the ConfigMap"),
			h("spec.volumes[].projected.sources[].configMap.items", "as a configMap volume's items"),
			h("spec.volumes[].projected.sources[].configMap.items[].key", "as a configMap volume's"),
			h("spec.volumes[].projected.sources[].configMap.items[].path", "as a configMap volume's"),
			h("spec.volumes[].projected.sources[].configMap.items[].mode", "as a configMap volume's"),
			rf("spec.volumes[].projected.sources[].configMap.items[].user", whyFileOwner),
			h("spec.volumes[].projected.sources[].configMap.optional", "as a configMap volume's"),
			rf("spec.volumes[].projected.sources[].serviceAccountToken", "there is no API server to issue service account tokens"),
			rf("spec.volumes[].projected.sources[].clusterTrustBundle", "ClusterTrustBundles are objects of a cluster's API"),
			rf("spec.volumes[].projected.sources[].podCertificate", "pod certificates are issued by a cluster's signers"),
			h("spec.volumes[].projected.defaultMode", "default 0644"),
			rf("spec.volumes[].projected.defaultUser", whyFileOwner),
			rf("spec.volumes[].portworxVolume", whyCloudDisk),
			rf("spec.volumes[].scaleIO", whyCloudDisk),
			rf("spec.volumes[].storageos", whyCloudDisk),
			rf("spec.volumes[].csi", "CSI drivers need a cluster's volume plugins"),
			rf("spec.volumes[].ephemeral", "generic ephemeral volumes are PersistentVolumeClaims made by a cluster"),
			rf("spec.volumes[].image", "podvisor does not use images: an image cannot be mounted"),
		}},
		{"Containers", []Field{
			h("container.name", "→ name: a lowercase RFC 1123 label, unique across containers and initContainers"),
			ig("container.image", "podvisor runs host programs: command (or args) is the command line"),
			h("container.command", "→ command, $(VAR) expanded; with no image, command and args are the whole command line"),
			h("container.args", "→ args, $(VAR) expanded; args alone are the whole command line; neither is an error"),
			h("container.workingDir", "→ workingDir: absolute"),
			h("container.ports", "→ ports"),
			h("container.ports[].name", "→ name"),
			h("container.ports[].hostPort", "→ hostPort: published on the host (nftables DNAT from every host address, 127.0.0.1 included, and from other pods); with hostNetwork it must equal containerPort and publishes nothing"),
			h("container.ports[].containerPort", "→ containerPort"),
			h("container.ports[].protocol", "→ protocol"),
			h("container.ports[].hostIP", "→ hostIP: the host address hostPort is published on (only with hostPort)"),
			h("container.envFrom", "every key of a ConfigMap's data or a Secret, before env; keys that are not valid variable names are skipped with a notice"),
			h("container.envFrom[].prefix", "prepended to each key"),
			h("container.envFrom[].configMapRef", "a ConfigMap"),
			h("container.envFrom[].configMapRef.name", "its name; missing: an error unless optional"),
			h("container.envFrom[].configMapRef.optional", "a missing ConfigMap adds nothing"),
			h("container.envFrom[].secretRef", "a Secret"),
			h("container.envFrom[].secretRef.name", "its name; missing: an error unless optional"),
			h("container.envFrom[].secretRef.optional", "a missing Secret adds nothing"),
			h("container.env", "→ env, resolved at load; later entries win"),
			h("container.env[].name", "→ name"),
			h("container.env[].value", "→ value, with $(VAR) of earlier variables expanded ($$ escapes, unknown references stay)"),
			h("container.env[].valueFrom", "resolved at load"),
			h("container.env[].valueFrom.fieldRef", "metadata.name, namespace, uid, labels['k'], annotations['k'], spec.nodeName (Options.NodeName), spec.serviceAccountName, status.hostIP and hostIPs (Options.HostIP), status.podIP and podIPs (the pod's address, set when its processes start; the host's address with hostNetwork)"),
			h("container.env[].valueFrom.fieldRef.apiVersion", "v1 only"),
			h("container.env[].valueFrom.fieldRef.fieldPath", "as fieldRef"),
			h("container.env[].valueFrom.resourceFieldRef", "limits or requests of cpu, memory, ephemeral-storage, divided by divisor and rounded up; an unset limit is the pod's, else the host's"),
			h("container.env[].valueFrom.resourceFieldRef.containerName", "default this container"),
			h("container.env[].valueFrom.resourceFieldRef.resource", "limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage"),
			h("container.env[].valueFrom.resourceFieldRef.divisor", "default 1"),
			h("container.env[].valueFrom.configMapKeyRef", "a key of a ConfigMap"),
			h("container.env[].valueFrom.configMapKeyRef.name", "missing: an error unless optional"),
			h("container.env[].valueFrom.configMapKeyRef.key", "missing: an error unless optional"),
			h("container.env[].valueFrom.configMapKeyRef.optional", "a missing ConfigMap or key leaves the variable unset"),
			h("container.env[].valueFrom.secretKeyRef", "a key of a Secret"),
			h("container.env[].valueFrom.secretKeyRef.name", "missing: an error unless optional"),
			h("container.env[].valueFrom.secretKeyRef.key", "missing: an error unless optional"),
			h("container.env[].valueFrom.secretKeyRef.optional", "a missing Secret or key leaves the variable unset"),
			rf("container.env[].valueFrom.fileKeyRef", "read at the start from a file an init container writes: not supported"),
			h("container.resources", "→ resources"),
			h("container.resources.limits", "cpu, memory, ephemeral-storage → resources.limits; hugepages-* and extended resources (nvidia.com/gpu) are refused by name, and so is pids: podvisor's pids limit is the pod's (spec.resources.limits)"),
			h("container.resources.requests", "cpu, memory, ephemeral-storage → resources.requests; a request defaults to its limit, as in Kubernetes; must not exceed the limit"),
			rf("container.resources.claims", "dynamic resource allocation needs a cluster's resource drivers"),
			ne("container.resizePolicy", "in-place resize: there is no API to resize a running pod"),
			h("container.restartPolicy", "→ restartPolicy: on an init container, Always makes a sidecar"),
			h("container.restartPolicyRules", "→ restartPolicyRules"),
			h("container.restartPolicyRules[].action", "→ action"),
			h("container.restartPolicyRules[].exitCodes", "→ exitCodes"),
			h("container.restartPolicyRules[].exitCodes.operator", "→ operator"),
			h("container.restartPolicyRules[].exitCodes.values", "→ values"),
			h("container.volumeMounts", "→ volumeMounts: the volume at mountPath in this process's view"),
			h("container.volumeMounts[].name", "a volume of the pod"),
			h("container.volumeMounts[].readOnly", "→ readOnly"),
			h("container.volumeMounts[].recursiveReadOnly", "Disabled; IfPossible gets a notice (the mount is read-only, its submounts are not); Enabled is refused"),
			h("container.volumeMounts[].mountPath", "→ mountPath: absolute, unique in the container"),
			h("container.volumeMounts[].subPath", "→ subPath: relative, without \"..\""),
			h("container.volumeMounts[].mountPropagation", "None; HostToContainer gets a notice (the pod's mount namespace receives the host's mounts as a whole); Bidirectional is refused: no mount propagates from a pod to the host"),
			h("container.volumeMounts[].subPathExpr", "→ subPathExpr, kept as written: expanded with the process's environment at start"),
			rf("container.volumeMounts[].bindMountOptions", "bind mount options are not supported"),
			rf("container.volumeDevices", "raw block devices come from PersistentVolumeClaims"),
			h("container.livenessProbe", "→ livenessProbe"),
			h("container.readinessProbe", "→ readinessProbe"),
			h("container.startupProbe", "→ startupProbe"),
			h("container.lifecycle", "→ lifecycle"),
			h("container.lifecycle.postStart", "→ lifecycle.postStart"),
			h("container.lifecycle.preStop", "→ lifecycle.preStop"),
			h("container.lifecycle.stopSignal", "→ lifecycle.stopSignal"),
			ne("container.terminationMessagePath", "no termination message is read from a file", `"/dev/termination-log"`),
			ne("container.terminationMessagePolicy", "no termination message is read from a file", `"File"`),
			ig("container.imagePullPolicy", "podvisor pulls no image"),
			h("container.securityContext", "→ securityContext (see Security); every process of a manifest has one, so it starts with the container runtimes' default capabilities"),
			h("container.stdin", "→ stdin: an open pipe"),
			ne("container.stdinOnce", "podvisor holds the stdin pipe: there are no attach sessions to close it"),
			h("container.tty", "→ tty: a pseudo-terminal"),
		}},
		{"Probes and hooks", []Field{
			h("probe.exec", "→ exec: run in the process's namespaces, as its user"),
			h("probe.exec.command", "→ command"),
			h("probe.httpGet", "→ httpGet"),
			h("probe.httpGet.path", "→ path"),
			h("probe.httpGet.port", "→ port: a number or a port name"),
			h("probe.httpGet.host", "→ host (default loopback in the pod's network)"),
			h("probe.httpGet.scheme", "→ scheme"),
			h("probe.httpGet.httpHeaders", "→ httpHeaders"),
			h("probe.httpGet.httpHeaders[].name", "→ name"),
			h("probe.httpGet.httpHeaders[].value", "→ value"),
			rf("probe.httpGet.protocol", "HTTP/2 (h2c) probes are not supported", `"HTTP1"`),
			h("probe.tcpSocket", "→ tcpSocket"),
			h("probe.tcpSocket.port", "→ port"),
			h("probe.tcpSocket.host", "→ host"),
			h("probe.grpc", "→ grpc"),
			h("probe.grpc.port", "→ port"),
			h("probe.grpc.service", "→ service"),
			rf("probe.grpc.mode", "TLS gRPC probes are not supported", `"Plaintext"`),
			h("probe.initialDelaySeconds", "→ initialDelaySeconds"),
			h("probe.timeoutSeconds", "→ timeoutSeconds"),
			h("probe.periodSeconds", "→ periodSeconds"),
			h("probe.successThreshold", "→ successThreshold"),
			h("probe.failureThreshold", "→ failureThreshold"),
			h("probe.terminationGracePeriodSeconds", "→ terminationGracePeriodSeconds"),
			h("hook.exec", "→ exec"),
			h("hook.exec.command", "→ command"),
			h("hook.httpGet", "→ httpGet"),
			h("hook.httpGet.path", "→ path"),
			h("hook.httpGet.port", "→ port"),
			h("hook.httpGet.host", "→ host"),
			h("hook.httpGet.scheme", "→ scheme"),
			h("hook.httpGet.httpHeaders", "→ httpHeaders"),
			h("hook.httpGet.httpHeaders[].name", "→ name"),
			h("hook.httpGet.httpHeaders[].value", "→ value"),
			rf("hook.httpGet.protocol", "HTTP/2 (h2c) hooks are not supported", `"HTTP1"`),
			h("hook.tcpSocket", "→ tcpSocket"),
			h("hook.tcpSocket.port", "→ port"),
			h("hook.tcpSocket.host", "→ host"),
			h("hook.sleep", "→ sleep"),
			h("hook.sleep.seconds", "→ seconds"),
		}},
		{"Security", []Field{
			rf("spec.securityContext.seLinuxOptions", "SELinux labels are not applied"),
			ne("spec.securityContext.windowsOptions", whyWindowsOnly),
			h("spec.securityContext.runAsUser", "→ runAsUser"),
			h("spec.securityContext.runAsGroup", "→ runAsGroup"),
			h("spec.securityContext.runAsNonRoot", "→ runAsNonRoot: a process that would run as root does not start (CreateContainerConfigError)"),
			h("spec.securityContext.supplementalGroups", "→ supplementalGroups"),
			h("spec.securityContext.supplementalGroupsPolicy", "Merge (the groups of the user's /etc/group entries are added); Strict is refused"),
			h("spec.securityContext.fsGroup", "→ fsGroup: owns the pod's emptyDir and files volumes, joins every process's groups"),
			h("spec.securityContext.sysctls", "→ sysctls: namespaced ones only (net.* without hostNetwork; kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* without hostIPC); others are refused"),
			h("spec.securityContext.sysctls[].name", "→ name"),
			h("spec.securityContext.sysctls[].value", "→ value"),
			ne("spec.securityContext.fsGroupChangePolicy", "the volumes fsGroup owns are made for the pod; hostPath volumes are never changed"),
			h("spec.securityContext.seccompProfile", "→ seccompProfile; when unset, the annotation seccomp.security.alpha.kubernetes.io/pod stands for it, as the API server reads it: runtime/default and docker/default are RuntimeDefault, unconfined is Unconfined, localhost/<profile> is refused as Localhost is"),
			h("spec.securityContext.seccompProfile.type", "RuntimeDefault (the container runtimes' default filter) or Unconfined; Localhost is refused: profile files are not supported"),
			h("spec.securityContext.seccompProfile.localhostProfile", "only with type Localhost, which is refused"),
			h("spec.securityContext.appArmorProfile", "Unconfined only: RuntimeDefault and Localhost are refused (AppArmor profiles are not applied)"),
			h("spec.securityContext.appArmorProfile.type", "Unconfined"),
			h("spec.securityContext.appArmorProfile.localhostProfile", "refused with type Localhost"),
			ne("spec.securityContext.seLinuxChangePolicy", "no SELinux relabelling is done"),
			h("container.securityContext.capabilities", "→ capabilities: added to and dropped from the container runtimes' default set"),
			h("container.securityContext.capabilities.add", "→ add"),
			h("container.securityContext.capabilities.drop", "→ drop"),
			h("container.securityContext.privileged", "→ privileged: every capability"),
			rf("container.securityContext.seLinuxOptions", "SELinux labels are not applied"),
			ne("container.securityContext.windowsOptions", whyWindowsOnly),
			h("container.securityContext.runAsUser", "→ runAsUser"),
			h("container.securityContext.runAsGroup", "→ runAsGroup"),
			h("container.securityContext.runAsNonRoot", "→ runAsNonRoot"),
			h("container.securityContext.readOnlyRootFilesystem", "→ readOnlyRootFilesystem: the host's tree read-only in the process's view; volumes and /tmp writable"),
			h("container.securityContext.allowPrivilegeEscalation", "→ allowPrivilegeEscalation: false sets no_new_privs"),
			h("container.securityContext.procMount", "Default; Unmasked is refused"),
			h("container.securityContext.seccompProfile", "→ seccompProfile; when unset, the annotation container.seccomp.security.alpha.kubernetes.io/<container> stands for it, as for the pod's"),
			h("container.securityContext.seccompProfile.type", "RuntimeDefault (the container runtimes' default filter) or Unconfined; Localhost is refused: profile files are not supported"),
			h("container.securityContext.seccompProfile.localhostProfile", "only with type Localhost, which is refused"),
			h("container.securityContext.appArmorProfile", "Unconfined only: RuntimeDefault and Localhost are refused (AppArmor profiles are not applied); when unset, the annotation container.apparmor.security.beta.kubernetes.io/<container> stands for it, as the API server reads it: unconfined is accepted, runtime/default and localhost/<profile> are refused at the annotation's path"),
			h("container.securityContext.appArmorProfile.type", "Unconfined"),
			h("container.securityContext.appArmorProfile.localhostProfile", "refused with type Localhost"),
		}},
		{"Workloads", []Field{
			h("Deployment.metadata", "the pod's name and namespace (the Deployment's own labels and annotations stay its own)"),
			h("Deployment.spec", "its template is the pod"),
			ne("Deployment.spec.replicas", "podvisor runs one pod per workload, whatever the count", "1"),
			h("Deployment.spec.selector", "required; must match the template's labels"),
			h("Deployment.spec.template", "the pod: its metadata and spec (restartPolicy Always)"),
			ne("Deployment.spec.strategy", whyRollout),
			ne("Deployment.spec.minReadySeconds", whyRollout),
			ne("Deployment.spec.revisionHistoryLimit", whyHistory, "10"),
			ne("Deployment.spec.paused", whyRollout),
			ne("Deployment.spec.progressDeadlineSeconds", whyRollout, "600"),
			ne("Deployment.status", whyOutputOnly),
			h("ReplicaSet.metadata", "the pod's name and namespace"),
			h("ReplicaSet.spec", "its template is the pod"),
			ne("ReplicaSet.spec.replicas", "podvisor runs one pod per workload, whatever the count", "1"),
			ne("ReplicaSet.spec.minReadySeconds", whyRollout),
			h("ReplicaSet.spec.selector", "required; must match the template's labels"),
			h("ReplicaSet.spec.template", "the pod (restartPolicy Always)"),
			ne("ReplicaSet.status", whyOutputOnly),
			h("StatefulSet.metadata", "the pod's name and namespace"),
			h("StatefulSet.spec", "its template is the pod"),
			ne("StatefulSet.spec.replicas", "podvisor runs one pod per workload, whatever the count", "1"),
			h("StatefulSet.spec.selector", "required; must match the template's labels"),
			h("StatefulSet.spec.template", "the pod (restartPolicy Always)"),
			rf("StatefulSet.spec.volumeClaimTemplates", "PersistentVolumeClaims: not supported on a single host"),
			h("StatefulSet.spec.serviceName", "the pod's subdomain when its template sets none, as the StatefulSet controller does"),
			ne("StatefulSet.spec.podManagementPolicy", "one pod: there is no order to keep", `"OrderedReady"`),
			ne("StatefulSet.spec.updateStrategy", whyRollout),
			ne("StatefulSet.spec.revisionHistoryLimit", whyHistory, "10"),
			ne("StatefulSet.spec.minReadySeconds", whyRollout),
			ne("StatefulSet.spec.persistentVolumeClaimRetentionPolicy", "there are no PersistentVolumeClaims"),
			ne("StatefulSet.spec.ordinals", "the pod is named after the StatefulSet, without an ordinal"),
			ne("StatefulSet.status", whyOutputOnly),
			h("DaemonSet.metadata", "the pod's name and namespace"),
			h("DaemonSet.spec", "its template is the pod (this host is the one node)"),
			h("DaemonSet.spec.selector", "required; must match the template's labels"),
			h("DaemonSet.spec.template", "the pod (restartPolicy Always)"),
			ne("DaemonSet.spec.updateStrategy", whyRollout),
			ne("DaemonSet.spec.minReadySeconds", whyRollout),
			ne("DaemonSet.spec.revisionHistoryLimit", whyHistory, "10"),
			ne("DaemonSet.status", whyOutputOnly),
			h("Job.metadata", "the pod's name and namespace"),
			h("Job.spec", "its template is the pod"),
			ne("Job.spec.parallelism", "podvisor runs one pod per Job", "1"),
			ne("Job.spec.completions", "podvisor runs one pod per Job: the Job is done when it succeeds", "1"),
			h("Job.spec.activeDeadlineSeconds", "the pod's activeDeadlineSeconds, unless its template's is smaller"),
			ne("Job.spec.podFailurePolicy", "podvisor makes no new pod after a failure"),
			ne("Job.spec.successPolicy", "one pod: the Job succeeds with it"),
			ne("Job.spec.backoffLimit", "podvisor makes no new pod after a failure; OnFailure restarts in place, with back-off", "6"),
			ne("Job.spec.backoffLimitPerIndex", "podvisor makes no new pod after a failure"),
			ne("Job.spec.maxFailedIndexes", "podvisor makes no new pod after a failure"),
			h("Job.spec.selector", "must match the template's labels when given"),
			ne("Job.spec.manualSelector", "selectors are checked either way"),
			h("Job.spec.template", "the pod (restartPolicy OnFailure or Never)"),
			ne("Job.spec.ttlSecondsAfterFinished", "an ended pod stays until podvisor rm"),
			ne("Job.spec.completionMode", "one pod, without an index", `"NonIndexed"`),
			h("Job.spec.suspend", "false; true is refused: a suspended Job runs no pod"),
			ne("Job.spec.podReplacementPolicy", "podvisor makes no new pod"),
			ne("Job.spec.managedBy", "podvisor runs the pod itself"),
			ne("Job.spec.scheduling", whyScheduling),
			ne("Job.status", whyOutputOnly),
			h("template.metadata", "the pod's labels and annotations (its name, generateName and namespace have no effect: the pod is named after the workload)"),
			h("template.spec", "the pod's spec"),
			h("selector.matchLabels", "each label must be the template's"),
			h("selector.matchExpressions", "In, NotIn, Exists, DoesNotExist against the template's labels"),
			h("selector.matchExpressions[].key", "a label key"),
			h("selector.matchExpressions[].operator", "In, NotIn, Exists or DoesNotExist"),
			h("selector.matchExpressions[].values", "for In and NotIn"),
		}},
		{"ConfigMaps and Secrets", []Field{
			h("ConfigMap.metadata", "name and namespace identify it (a ConfigMap without a namespace serves every namespace)"),
			h("ConfigMap.data", "text keys: files of configMap volumes, values of configMapKeyRef and envFrom"),
			h("ConfigMap.binaryData", "binary keys: files of configMap volumes (not env)"),
			ne("ConfigMap.immutable", "the data is read once, at load"),
			h("Secret.metadata", "name and namespace identify it (a Secret without a namespace serves every namespace)"),
			h("Secret.data", "base64 values: files of secret volumes, values of secretKeyRef and envFrom"),
			h("Secret.stringData", "plain values, over data's of the same key"),
			h("Secret.type", "any type: its keys are the data"),
			ne("Secret.immutable", "the data is read once, at load"),
		}},
	}
}

// table indexes the rows by path.
var table = sync.OnceValue(func() map[string]*Field {
	m := map[string]*Field{}
	secs := sections()
	for si := range secs {
		s := &secs[si]
		for i := range s.rows {
			f := &s.rows[i]
			f.Section = s.title
			if m[f.Path] != nil {
				panic("kube: field table: duplicate path " + f.Path)
			}
			m[f.Path] = f
		}
	}
	return m
})

// Fields returns the field table: every field of the Kubernetes objects
// podvisor reads, with its disposition, in the order of
// docs/kubernetes.md.
func Fields() []Field {
	var out []Field
	for _, s := range sections() {
		out = append(out, s.rows...)
	}
	return out
}

// Lookup returns the table's row for a path in the table's form
// ("container.command"), or false.
func Lookup(path string) (Field, bool) {
	f, ok := table()[path]
	if !ok {
		return Field{}, false
	}
	return *f, true
}
