package pod

// Volume is a named directory (or set of files) that processes mount with
// volumeMounts. Exactly one source is set.
type Volume struct {
	// Name is an RFC 1123 label, unique in the pod.
	Name string `json:"name"`
	// EmptyDir is a directory made for the pod and removed with it.
	EmptyDir *EmptyDirVolume `json:"emptyDir,omitempty"`
	// HostPath is a file or directory of the host, bind-mounted.
	HostPath *HostPathVolume `json:"hostPath,omitempty"`
	// Files is a directory of files whose contents the spec holds: what a
	// Kubernetes configMap, secret, downwardAPI or projected volume becomes
	// (a podvisor extension; podvisor/v1 files may use it directly).
	Files *FilesVolume `json:"files,omitempty"`
}

// EmptyDirVolume is a directory made empty at the pod's build, shared by
// the processes that mount it, and removed with the pod.
type EmptyDirVolume struct {
	// Medium is "" (a directory under podvisor's root, on disk) or "Memory"
	// (a tmpfs).
	Medium string `json:"medium,omitempty"`
	// SizeLimit caps it: the tmpfs size for Memory; on disk, the sum of its
	// files, over which the pod is stopped (as kubelet evicts it).
	SizeLimit *Quantity `json:"sizeLimit,omitempty"`
}

// The emptyDir media.
const (
	MediumDefault = ""
	MediumMemory  = "Memory"
)

// HostPathVolume is a path of the host. Type checks it before the pod
// starts, as Kubernetes does.
type HostPathVolume struct {
	// Path is absolute.
	Path string `json:"path"`
	// Type is "" (no check), DirectoryOrCreate, Directory, FileOrCreate,
	// File, Socket, CharDevice or BlockDevice.
	Type string `json:"type,omitempty"`
}

// The hostPath types, as in Kubernetes.
const (
	HostPathUnset             = ""
	HostPathDirectoryOrCreate = "DirectoryOrCreate"
	HostPathDirectory         = "Directory"
	HostPathFileOrCreate      = "FileOrCreate"
	HostPathFile              = "File"
	HostPathSocket            = "Socket"
	HostPathCharDev           = "CharDevice"
	HostPathBlockDev          = "BlockDevice"
)

// FilesVolume is a directory of files written by podvisor at the pod's
// build.
type FilesVolume struct {
	// Items are the files, at paths relative to the volume.
	Items []FileItem `json:"items"`
	// Medium "Memory" keeps the files on a tmpfs (secrets always are);
	// otherwise they are written under podvisor's root.
	Medium string `json:"medium,omitempty"`
}

// FileItem is one file of a FilesVolume.
type FileItem struct {
	// Path is relative, without "..", and unique in the volume.
	Path string `json:"path"`
	// Data is the file's content as text.
	Data string `json:"data,omitempty"`
	// BinaryData is the file's content as bytes (base64), for content that
	// is not UTF-8 text; set instead of Data.
	BinaryData []byte `json:"binaryData,omitempty"`
	// Mode is the file's permission bits. Default 0644.
	Mode *int32 `json:"mode,omitempty"`
}

// VolumeMount puts a volume into a process's view of the filesystem.
type VolumeMount struct {
	// Name is a volume of the pod.
	Name string `json:"name"`
	// MountPath is where the process sees it: an absolute path. A path that
	// does not exist on the host is made in the process's view only.
	MountPath string `json:"mountPath"`
	// ReadOnly mounts it read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
	// SubPath mounts a path inside the volume instead of its root.
	SubPath string `json:"subPath,omitempty"`
	// SubPathExpr is SubPath with $(VAR) references to the process's
	// environment, expanded at start.
	SubPathExpr string `json:"subPathExpr,omitempty"`
}

// HostAlias adds host names for an IP to the pod's /etc/hosts.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames,omitempty"`
}

// DNSConfig is added to (or makes) the pod's /etc/resolv.conf.
type DNSConfig struct {
	Nameservers []string       `json:"nameservers,omitempty"`
	Searches    []string       `json:"searches,omitempty"`
	Options     []DNSConfigOpt `json:"options,omitempty"`
}

// DNSConfigOpt is one resolver option ("ndots", "2").
type DNSConfigOpt struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}
