package supervisor

// What each process sees: its view of the filesystem.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/podvisor/podvisor/mounts"
	"github.com/podvisor/podvisor/pod"
)

// hostHasHostname reports whether the host has an /etc/hostname file.
func hostHasHostname() bool {
	fi, err := os.Stat("/etc/hostname")
	return err == nil && fi.Mode().IsRegular()
}

// viewOf is what process pr sees: the pod's /tmp, /etc/hosts and
// resolv.conf, then its volumeMounts, parents before children.
func (f *podFiles) viewOf(spec *pod.Pod, pr *pod.Process) (mounts.View, error) {
	sp := &spec.Spec
	v := mounts.View{Hide: f.hide}
	if sc := pr.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil {
		v.ReadOnlyRoot = *sc.ReadOnlyRootFilesystem
	}
	if *sp.PrivateTmp {
		v.Mounts = append(v.Mounts, mounts.Mount{Target: "/tmp", Source: filepath.Join(f.dir, "tmp")})
	}
	v.Mounts = append(v.Mounts,
		mounts.Mount{Target: "/etc/hosts", Source: filepath.Join(f.mnt, "run", "hosts"), ReadOnly: v.ReadOnlyRoot},
		mounts.Mount{Target: "/etc/resolv.conf", Source: filepath.Join(f.mnt, "run", "resolv.conf"), ReadOnly: v.ReadOnlyRoot})
	if hostHasHostname() {
		// As a container's: the pod's name, where the host keeps its own
		// (not made when the host has none: that would cost a mirror of
		// /etc for every pod).
		v.Mounts = append(v.Mounts, mounts.Mount{Target: "/etc/hostname", Source: filepath.Join(f.mnt, "run", "hostname"), ReadOnly: v.ReadOnlyRoot})
	}
	switch {
	case !sp.HostIPC:
		v.Mounts = append(v.Mounts, mounts.Mount{Target: "/dev/shm", Source: filepath.Join(f.mnt, "run", "shm")})
	case v.ReadOnlyRoot:
		v.Mounts = append(v.Mounts, mounts.Mount{Target: "/dev/shm", Source: "/dev/shm"})
	}
	if v.ReadOnlyRoot {
		// As in a container, /proc stays writable (oom_score_adj, ...).
		v.Mounts = append(v.Mounts, mounts.Mount{Target: "/proc", Source: "/proc"})
	}
	env := environ(spec.Metadata.Name, sp.Hostname, "", pr, f.fields)
	lookup := func(n string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, val, _ := strings.Cut(env[i], "="); k == n {
				return val, true
			}
		}
		return "", false
	}
	var vm []mounts.Mount
	for i, m := range pr.VolumeMounts {
		src := f.vols[m.Name]
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = pod.Expand(m.SubPathExpr, lookup)
			if strings.Contains(sub, "$(") || path.IsAbs(sub) || slices.Contains(strings.Split(sub, "/"), "..") {
				return v, fmt.Errorf("volumeMounts[%d].subPathExpr: %q expands to %q, not a path inside the volume", i, m.SubPathExpr, sub)
			}
		}
		if sub != "" {
			p, err := f.subPath(src, sub)
			if err != nil {
				return v, fmt.Errorf("volumeMounts[%d].subPath %q: %w", i, sub, err)
			}
			src = p
		}
		vm = append(vm, mounts.Mount{Target: path.Clean(m.MountPath), Source: src, ReadOnly: m.ReadOnly})
	}
	// Parents first, as kubelet orders them, so /data/logs lands inside
	// /data rather than under it.
	slices.SortStableFunc(vm, func(a, b mounts.Mount) int {
		return strings.Count(a.Target, "/") - strings.Count(b.Target, "/")
	})
	v.Mounts = append(v.Mounts, vm...)
	return v, nil
}

// subPath is sub inside the volume at root, made (a directory) when it does
// not exist yet, as kubelet does; it never leaves the volume.
func (f *podFiles) subPath(root, sub string) (string, error) {
	p, err := mounts.SecureJoin(root, sub)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		if err := f.mkdirAll(p, 0o755); err != nil {
			return "", err
		}
		// Made through symlinks that changed meanwhile? Resolve again.
		q, err := mounts.SecureJoin(root, sub)
		if err != nil || q != p {
			return "", fmt.Errorf("the path changed while it was made")
		}
	}
	return p, nil
}
