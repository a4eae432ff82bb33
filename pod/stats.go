package pod

import "time"

// PodStats are a pod's resource figures at one instant, read from its
// cgroups (and its veth), as `podvisor stats` shows them.
type PodStats struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace,omitempty"`
	// Time is when the figures were read; CPU use is the difference of
	// two readings' CPUSeconds over the difference of their times.
	Time             time.Time      `json:"time"`
	CPUSeconds       float64        `json:"cpuSeconds"`
	MemoryBytes      uint64         `json:"memoryBytes"`
	MemoryLimitBytes uint64         `json:"memoryLimitBytes"`
	Pids             uint64         `json:"pids"`
	RxBytes          uint64         `json:"rxBytes"`
	TxBytes          uint64         `json:"txBytes"`
	Processes        []ProcessStats `json:"processes"`
}

// ProcessStats are one process's figures (its cgroup's).
type ProcessStats struct {
	Name        string  `json:"name"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	MemoryBytes uint64  `json:"memoryBytes"`
	Pids        uint64  `json:"pids"`
}
