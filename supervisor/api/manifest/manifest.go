// Package manifest reads the pod files that podvisor's CLI (validate, up,
// run, create) and its daemon's API (POST /v1/pods) take: podvisor/v1 pod
// files and Kubernetes manifests, through one function, Load, so that both
// read a file the same way. It also gathers the facts about the host that
// a Kubernetes manifest's downward API and resourceFieldRefs read
// (HostFacts: the host's name, address, CPU count, memory and disk), which
// package pod/kube, pure, does not look up itself.
//
// Notices and warnings (kube.Result) become lines with Lines: "notice: "
// or "warning: " and the text, as the CLI prints them on stderr and the
// API sends them in Warning headers.
package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/pod/kube"
)

// Load reads a pod file: podvisor/v1, or Kubernetes manifests (several
// documents, ConfigMaps and Secrets among them, other kinds skipped), as
// kube.Load reads them, with o's data and host facts.
//
// A file of one podvisor/v1 document (and no ConfigMap or Secret data in
// o) is read by pod.Load itself, so its errors are exactly those of a
// podvisor/v1 file; anything else goes through kube.Load.
func Load(data []byte, o kube.Options) (*kube.Result, error) {
	if podvisorFile(data, o) {
		return loadPodvisor(data)
	}
	return kube.Load(data, o)
}

// LoadOnHost is Load with the facts of this host (HostFacts(root)) in o.
// They are looked up only for a file that kube.Load reads: a podvisor/v1
// file does not pay for them (the host's interfaces, memory and disk).
func LoadOnHost(data []byte, root string, o kube.Options) (*kube.Result, error) {
	if podvisorFile(data, o) {
		return loadPodvisor(data)
	}
	HostFacts(root).fill(&o)
	return kube.Load(data, o)
}

// podvisorFile reports whether data is one podvisor/v1 document, with no
// ConfigMap or Secret data in o: pod.Load reads it alone.
func podvisorFile(data []byte, o kube.Options) bool {
	return len(o.ConfigMaps) == 0 && len(o.Secrets) == 0 && !kube.IsKubernetes(data) && documents(data) <= 1
}

func loadPodvisor(data []byte) (*kube.Result, error) {
	p, err := pod.Load(data)
	if err != nil {
		return nil, err
	}
	return &kube.Result{Pods: []*pod.Pod{p}}, nil
}

// documents counts data's YAML documents, up to 2; a file that does not
// parse counts as one (pod.Load then says why).
func documents(data []byte) int {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for n < 2 {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return max(n, 1)
		}
		n++
	}
	return n
}

// Notice and warning prefixes of Lines.
const (
	NoticePrefix  = "notice: "
	WarningPrefix = "warning: "
)

// Lines are a load's notices then its warnings, one line each, with their
// prefix: "notice: skipped Service \"web\": podvisor runs pods only",
// "warning: pod \"web\": spec.volumes[0].persistentVolumeClaim: ...".
func Lines(r *kube.Result) []string {
	if r == nil {
		return nil
	}
	out := make([]string, 0, len(r.Notices)+len(r.Warnings))
	for _, n := range r.Notices {
		out = append(out, NoticePrefix+n)
	}
	for _, w := range r.Warnings {
		out = append(out, WarningPrefix+w)
	}
	return out
}

// Facts are what a Kubernetes manifest may read of the host.
type Facts struct {
	// NodeName is the host name (spec.nodeName).
	NodeName string
	// HostIP is the host's primary IPv4 address (status.hostIP): the first
	// global unicast IPv4 address of an interface that is up and not a
	// loopback, in the kernel's order of interfaces; "" when there is none.
	HostIP string
	// CPU is the number of CPUs podvisor may use (runtime.NumCPU).
	CPU int
	// Memory is the host's memory in bytes (MemTotal of /proc/meminfo);
	// 0 when unknown.
	Memory int64
	// EphemeralStorage is the size in bytes of the file system that holds
	// podvisor's root (where emptyDirs live); 0 when unknown.
	EphemeralStorage int64
}

// HostFacts looks the facts up. root is podvisor's root directory; when it
// does not exist yet, the nearest existing parent (at worst "/") is
// measured.
func HostFacts(root string) Facts {
	f := Facts{CPU: runtime.NumCPU(), HostIP: hostIP(), Memory: memTotal(), EphemeralStorage: diskSize(root)}
	f.NodeName, _ = os.Hostname()
	return f
}

// Options are kube.Options with the facts set.
func (f Facts) Options() kube.Options {
	var o kube.Options
	f.fill(&o)
	return o
}

// fill sets the host's fields of o to the facts, leaving the others.
func (f Facts) fill(o *kube.Options) {
	o.NodeName, o.HostIP = f.NodeName, f.HostIP
	o.NodeCPU, o.NodeMemory, o.NodeEphemeralStorage = f.CPU, f.Memory, f.EphemeralStorage
}

// Options are kube.Options with the facts of this host (HostFacts(root)).
func Options(root string) kube.Options { return HostFacts(root).Options() }

func hostIP() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip4 := n.IP.To4(); ip4 != nil && ip4.IsGlobalUnicast() {
				return ip4.String()
			}
		}
	}
	return ""
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0
		}
		if len(fields) > 1 && fields[1] != "kB" {
			return 0
		}
		return kb * 1024
	}
	return 0
}

func diskSize(root string) int64 {
	dir := root
	if dir == "" {
		dir = "/"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil {
			// Blocks counts fragments of Frsize bytes (Bsize on old
			// kernels, where Frsize is 0).
			bs := int64(st.Frsize)
			if bs <= 0 {
				bs = int64(st.Bsize)
			}
			return int64(st.Blocks) * bs
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return 0
		}
		dir = parent
	}
}
