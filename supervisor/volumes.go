package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/mounts"
	"github.com/podvisor/podvisor/pod"
)

// The host side of a pod's filesystem views:
//
//	<root>/pods/<pod>/tmp             the pod's /tmp (privateTmp)
//	<root>/pods/<pod>/volumes/<name>  emptyDir and files volumes on disk
//	<root>/mnt/<pod>/run/             a tmpfs: hosts, resolv.conf,
//	                                  hostname (its /etc files) and shm/,
//	                                  its /dev/shm (unless hostIPC: POSIX
//	                                  shared memory is files)
//	<root>/mnt/<pod>/volumes/<name>   a tmpfs for a volume of medium Memory
//
// <root>/mnt is a shared mount of its own, and every view hides it and
// <root>/ns: a view holds no copy of other pods' mounts, and the pods made
// later do not add any to it.
//	<root>/views/<pod>/<n>            the views (pinned mount namespaces);
//	                                  processes with the same mounts share one

// podFiles are a pod's files that its views show.
type podFiles struct {
	dir    string            // <root>/pods/<pod>
	mnt    string            // <root>/mnt/<pod>: its tmpfs mounts
	hide   []string          // what views hide: <root>/ns, <root>/mnt
	vols   map[string]string // volume name → host path
	tmpfs  []string          // tmpfs mounted in the host's namespace, to unmount
	views  []string          // pins, in <root>/views/<pod>
	byProc map[string]string // process name → its view's pin
	made   []string          // files and directories made, in order
	capped []cappedDir       // emptyDirs on disk with a size limit
}

// cappedDir is an emptyDir on disk and the most it may hold.
type cappedDir struct {
	name, dir string
	limit     int64
	text      string // the limit as written
}

// emptyDirLimit is the most an emptyDir may hold: its sizeLimit, else the
// pod's ephemeral-storage limit, else the sum of its processes' (when one
// sets it); 0 when none.
func emptyDirLimit(sp *pod.Spec, v *pod.EmptyDirVolume) (int64, string) {
	if l := v.SizeLimit; l != nil {
		return l.Value(), l.String()
	}
	if l := sp.Resources.Limits.EphemeralStorage; l != nil {
		return l.Value(), l.String()
	}
	var sum int64
	for _, list := range [][]pod.Process{sp.InitProcesses, sp.Processes} {
		for i := range list {
			if l := list[i].Resources.Limits.EphemeralStorage; l != nil {
				sum += l.Value()
			}
		}
	}
	if sum > 0 {
		return sum, strconv.FormatInt(sum, 10)
	}
	return 0, ""
}

// watchStorage measures the pod's capped emptyDirs until the pod goes, and
// reports the first over its limit as an eviction (the machine ignores it
// unless the pod runs).
func (p *Pod) watchStorage() {
	t := time.NewTicker(storageCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			if msg := p.files.overLimit(); msg != "" {
				p.log.Warn().Str("reason", pod.ReasonEvicted).Msg(msg)
				p.post(pod.Input{Kind: pod.InEvict, Message: msg})
			}
		}
	}
}

// storageCheckEvery is how often the emptyDirs with a limit are measured,
// as kubelet's eviction manager does (every 10 s).
var storageCheckEvery = 10 * time.Second

// overLimit is the first emptyDir over its limit, as kubelet's eviction
// message says it, or "".
func (f *podFiles) overLimit() string {
	for _, c := range f.capped {
		if used := diskUsage(c.dir); used > c.limit {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", c.name, c.text)
		}
	}
	return ""
}

// diskUsage is the space the files under dir take (their blocks), not
// crossing into other filesystems.
func diskUsage(dir string) int64 {
	var root unix.Stat_t
	if unix.Lstat(dir, &root) != nil {
		return 0
	}
	var total int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		if st.Dev != root.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}

// mkdirAll is os.MkdirAll that records each directory it makes.
func (f *podFiles) mkdirAll(path string, mode fs.FileMode) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: path, Err: unix.ENOTDIR}
		}
		return nil
	}
	if parent := filepath.Dir(path); parent != path {
		if err := f.mkdirAll(parent, mode); err != nil {
			return err
		}
	}
	if err := os.Mkdir(path, mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	f.made = append(f.made, path)
	return nil
}

// writeFile is os.WriteFile that records the file.
func (f *podFiles) writeFile(path string, data []byte, mode fs.FileMode) error {
	f.made = append(f.made, path)
	return os.WriteFile(path, data, mode)
}

// removeMade removes what was made, last first, by name: no file
// descriptor needed. A directory that holds more (a process's files) is
// left for os.RemoveAll.
func (f *podFiles) removeMade() { f.removeMadeUnder("") }

// removeMadeUnder is removeMade for what lies under dir ("": everything).
func (f *podFiles) removeMadeUnder(dir string) {
	kept := f.made[:0]
	for i := len(f.made) - 1; i >= 0; i-- {
		p := f.made[i]
		if dir == "" || p == dir || strings.HasPrefix(p, dir+"/") {
			_ = os.Remove(p)
		}
	}
	for _, p := range f.made {
		if dir != "" && p != dir && !strings.HasPrefix(p, dir+"/") {
			kept = append(kept, p)
		}
	}
	f.made = kept
}

func (s *Supervisor) viewsDir(name string) string { return filepath.Join(s.opts.Root, "views", name) }

func (s *Supervisor) mntDir(name string) string { return filepath.Join(s.opts.Root, "mnt", name) }

// buildFiles makes the pod's volumes, /tmp, /etc/hosts and resolv.conf and
// one view per distinct set of mounts of its processes. undo removes what
// it made, also when it fails half-way.
func (s *Supervisor) buildFiles(spec *pod.Pod, dir string) (*podFiles, func(), error) {
	f := &podFiles{dir: dir, mnt: s.mntDir(spec.Metadata.Name), vols: map[string]string{}, byProc: map[string]string{},
		hide: []string{filepath.Join(s.opts.Root, "ns"), filepath.Join(s.opts.Root, "mnt")}}
	// Undone by what f records (no mountinfo to read, no directory to
	// list: a create that failed for want of file descriptors must still
	// leave nothing).
	undo := func() { _ = s.removeFiles(spec.Metadata.Name, f, true) }
	if err := s.makeFiles(spec, f); err != nil {
		undo()
		return nil, nil, err
	}
	return f, undo, nil
}

func (s *Supervisor) makeFiles(spec *pod.Pod, f *podFiles) error {
	dir := f.dir
	sp := &spec.Spec
	// First: a tmpfs mounted below <root>/mnt before it is a mount of its
	// own would be copied into it, and the copy below left behind.
	if err := mounts.ShareDir(filepath.Dir(f.mnt)); err != nil {
		return err
	}
	if err := s.makeVolumes(spec, f); err != nil {
		return err
	}
	if *sp.PrivateTmp {
		tmp := filepath.Join(dir, "tmp")
		if err := f.mkdirAll(tmp, 0o1777); err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o1777|fs.ModeSticky); err != nil {
			return err
		}
	}
	// One small tmpfs holds the pod's /etc/hosts, resolv.conf and
	// /dev/shm: made and removed at memory speed, whatever the disk.
	run := filepath.Join(f.mnt, "run")
	if err := f.mkdirAll(run, 0o755); err != nil {
		return err
	}
	if err := f.mountTmpfs(run, shmSize+runExtra, "0755"); err != nil {
		return err
	}
	if !sp.HostIPC {
		if err := os.Mkdir(filepath.Join(run, "shm"), 0o1777); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(run, "shm"), 0o1777|fs.ModeSticky); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(run, "hosts"), s.hostsFile(spec), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(run, "hostname"), []byte(s.kernelHostname(spec)+"\n"), 0o644); err != nil {
		return err
	}
	resolv, err := resolvFile(sp)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(run, "resolv.conf"), resolv, 0o644); err != nil {
		return err
	}
	vdir := s.viewsDir(spec.Metadata.Name)
	if err := mounts.PrepareDir(filepath.Dir(vdir)); err != nil {
		return err
	}
	if err := os.MkdirAll(vdir, 0o700); err != nil {
		return err
	}
	seen := map[string]string{}
	for _, list := range [][]pod.Process{sp.InitProcesses, sp.Processes} {
		for i := range list {
			pr := &list[i]
			v, err := f.viewOf(spec, pr)
			if err != nil {
				return err
			}
			key := fmt.Sprintf("%+v", v)
			pin, ok := seen[key]
			if !ok {
				pin = filepath.Join(vdir, strconv.Itoa(len(f.views)))
				f.views = append(f.views, pin)
				if err := mounts.Create(pin, v); err != nil {
					return fmt.Errorf("process %q: its view of the filesystem: %w", pr.Name, err)
				}
				seen[key] = pin
			}
			f.byProc[pr.Name] = pin
		}
	}
	return nil
}

// removeFiles unmounts and removes a pod's views and tmpfs volumes; with
// all, its files too (the pod goes).
func (s *Supervisor) removeFiles(name string, f *podFiles, all bool) error {
	var errs []error
	vdir := s.viewsDir(name)
	var pins []string
	if f != nil {
		pins = f.views
	} else {
		entries, _ := os.ReadDir(vdir)
		for _, e := range entries {
			pins = append(pins, filepath.Join(vdir, e.Name()))
		}
	}
	for _, pin := range pins {
		if err := mounts.Remove(pin); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(vdir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if f != nil {
		for _, t := range f.tmpfs {
			if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
				errs = append(errs, fmt.Errorf("unmount %s: %w", t, err))
			}
		}
		f.tmpfs = nil
	}
	if all {
		if f != nil {
			f.removeMade()
		}
		for _, p := range []string{filepath.Join(s.podDir(name), "volumes"), filepath.Join(s.podDir(name), "tmp")} {
			if f == nil {
				// Never remove through a mount left behind by a crash.
				unmountUnder(p)
			}
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// The tmpfs mount points go in any case: they are not state.
	mnt := s.mntDir(name)
	if f == nil {
		unmountUnder(mnt)
	} else {
		f.removeMadeUnder(mnt)
	}
	if err := os.RemoveAll(mnt); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir (tmpfs volumes left by
// a crashed podvisor), deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var under []string
	for _, l := range strings.Split(string(b), "\n") {
		fields := strings.Fields(l)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			under = append(under, mp)
		}
	}
	slices.SortFunc(under, func(a, b string) int { return len(b) - len(a) })
	for _, mp := range under {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// makeVolumes makes each volume's host side.
func (s *Supervisor) makeVolumes(spec *pod.Pod, f *podFiles) error {
	sp := &spec.Spec
	var fsGroup *int64
	if sc := sp.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	volDir := filepath.Join(f.dir, "volumes")
	for i := range sp.Volumes {
		v := &sp.Volumes[i]
		field := fmt.Sprintf("spec.volumes[%d]", i)
		switch {
		case v.HostPath != nil:
			if err := checkHostPath(v.HostPath); err != nil {
				return &pod.FieldError{Field: field + ".hostPath.path", Detail: err.Error()}
			}
			f.vols[v.Name] = v.HostPath.Path
		case v.EmptyDir != nil:
			d := filepath.Join(volDir, v.Name)
			if v.EmptyDir.Medium == pod.MediumMemory {
				d = filepath.Join(f.mnt, "volumes", v.Name)
			}
			if err := f.mkdirAll(d, 0o777); err != nil {
				return err
			}
			limit, text := emptyDirLimit(sp, v.EmptyDir)
			if v.EmptyDir.Medium != pod.MediumMemory && limit > 0 {
				f.capped = append(f.capped, cappedDir{name: v.Name, dir: d, limit: limit, text: text})
			}
			if v.EmptyDir.Medium == pod.MediumMemory {
				size := limit
				if l := sp.Resources.Limits.Memory; size == 0 && l != nil {
					size = l.Value()
				}
				if err := f.mountTmpfs(d, size, "0777"); err != nil {
					return fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
			mode := fs.FileMode(0o777)
			if fsGroup != nil {
				mode |= fs.ModeSetgid
				if err := os.Chown(d, -1, int(*fsGroup)); err != nil {
					return err
				}
			}
			if err := os.Chmod(d, mode); err != nil {
				return err
			}
			f.vols[v.Name] = d
		case v.Files != nil:
			d := filepath.Join(volDir, v.Name)
			if v.Files.Medium == pod.MediumMemory {
				d = filepath.Join(f.mnt, "volumes", v.Name)
			}
			if err := f.mkdirAll(d, 0o755); err != nil {
				return err
			}
			if v.Files.Medium == pod.MediumMemory {
				if err := f.mountTmpfs(d, 0, "0755"); err != nil {
					return fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
			if err := f.writeFiles(d, v.Files, fsGroup); err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
			f.vols[v.Name] = d
		}
	}
	return nil
}

// hostHasHostname reports whether the host has an /etc/hostname file.
func hostHasHostname() bool {
	fi, err := os.Stat("/etc/hostname")
	return err == nil && fi.Mode().IsRegular()
}

// shmSize is a pod's /dev/shm, as the container runtimes size it; runExtra
// is room for its /etc files beside it.
const (
	shmSize  = 64 << 20
	runExtra = 1 << 20
)

func (f *podFiles) mountTmpfs(dir string, size int64, mode string) error {
	opts := "mode=" + mode
	if size > 0 {
		opts += ",size=" + strconv.FormatInt(size, 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
	}
	f.tmpfs = append(f.tmpfs, dir)
	return nil
}

// writeFiles writes a files volume: directories 0755, files with their
// mode (default 0644); with fsGroup, owned by that group.
func (f *podFiles) writeFiles(dir string, v *pod.FilesVolume, fsGroup *int64) error {
	gid := -1
	if fsGroup != nil {
		gid = int(*fsGroup)
		if err := os.Chown(dir, -1, gid); err != nil {
			return err
		}
	}
	for _, it := range v.Items {
		p := filepath.Join(dir, filepath.FromSlash(path.Clean(it.Path)))
		if err := f.mkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if it.Mode != nil {
			mode = fs.FileMode(*it.Mode)
		}
		if gid >= 0 {
			// As kubelet's ownership change of a read-only volume: the
			// fsGroup may read every file.
			mode |= 0o440
		}
		data := []byte(it.Data)
		if it.BinaryData != nil {
			data = it.BinaryData
		}
		tmp := p + ".podvisor-tmp"
		f.made = append(f.made, p)
		if err := f.writeFile(tmp, data, 0o600); err != nil {
			return err
		}
		if gid >= 0 {
			if err := os.Chown(tmp, -1, gid); err != nil {
				return err
			}
		}
		if err := os.Chmod(tmp, mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	if gid >= 0 {
		// Directories: the fsGroup's, setgid, as kubelet leaves them.
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if err := os.Chown(p, -1, gid); err != nil {
				return err
			}
			return os.Chmod(p, 0o755|fs.ModeSetgid)
		})
	}
	return nil
}

// checkHostPath checks (and for the ...OrCreate types makes) a hostPath
// volume's path, as kubelet does before it mounts one.
func checkHostPath(h *pod.HostPathVolume) error {
	fi, err := os.Stat(h.Path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return err
	}
	want := func(ok bool, what string) error {
		if missing {
			return fmt.Errorf("%s does not exist (type %s)", h.Path, h.Type)
		}
		if !ok {
			return fmt.Errorf("%s is not a %s (type %s)", h.Path, what, h.Type)
		}
		return nil
	}
	switch h.Type {
	case pod.HostPathUnset:
		// No check; a missing path is made a directory, as the container
		// runtimes do for a bind mount's source.
		if missing {
			return os.MkdirAll(h.Path, 0o755)
		}
		return nil
	case pod.HostPathDirectoryOrCreate:
		if missing {
			return os.MkdirAll(h.Path, 0o755)
		}
		return want(fi.IsDir(), "directory")
	case pod.HostPathDirectory:
		return want(!missing && fi.IsDir(), "directory")
	case pod.HostPathFileOrCreate:
		if missing {
			f, err := os.OpenFile(h.Path, os.O_RDONLY|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return want(fi.Mode().IsRegular(), "regular file")
	case pod.HostPathFile:
		return want(!missing && fi.Mode().IsRegular(), "regular file")
	case pod.HostPathSocket:
		return want(!missing && fi.Mode()&fs.ModeSocket != 0, "socket")
	case pod.HostPathCharDev:
		return want(!missing && fi.Mode()&fs.ModeCharDevice != 0, "character device")
	case pod.HostPathBlockDev:
		return want(!missing && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0, "block device")
	}
	return fmt.Errorf("unknown type %q", h.Type)
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
	env := environ(spec.Metadata.Name, sp.Hostname, "", pr)
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

// hostsFile is the pod's /etc/hosts, as kubelet writes it; the pod's own
// address is 127.0.1.1 until pods have addresses of their own.
func (s *Supervisor) hostsFile(spec *pod.Pod) []byte {
	var b strings.Builder
	sp := &spec.Spec
	if sp.Network == pod.NetworkHost {
		host, _ := os.ReadFile("/etc/hosts")
		b.Write(host)
		if len(host) > 0 && host[len(host)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("# podvisor-managed hosts file.\n")
		b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
		names := sp.Hostname
		if fqdn := s.fqdn(spec); fqdn != sp.Hostname {
			names = fqdn + "\t" + sp.Hostname
		}
		b.WriteString("127.0.1.1\t" + names + "\n")
	}
	if len(sp.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range sp.HostAliases {
			b.WriteString(a.IP + "\t" + strings.Join(a.Hostnames, "\t") + "\n")
		}
	}
	return []byte(b.String())
}

// resolvFile is the pod's /etc/resolv.conf: the host's (unless dnsPolicy
// is None) merged with dnsConfig, as kubelet merges them.
func resolvFile(sp *pod.Spec) ([]byte, error) {
	var servers, searches, options []string
	if sp.DNSPolicy != "None" {
		host, err := os.ReadFile("/etc/resolv.conf")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read the host's resolv.conf: %w", err)
		}
		for _, l := range strings.Split(string(host), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
				continue
			}
			switch f[0] {
			case "nameserver":
				servers = append(servers, f[1])
			case "search", "domain":
				searches = append(searches, f[1:]...)
			case "options":
				options = append(options, f[1:]...)
			}
		}
	}
	if c := sp.DNSConfig; c != nil {
		servers = append(servers, c.Nameservers...)
		searches = append(searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			// A pod's option replaces the host's of the same name.
			options = slices.DeleteFunc(options, func(h string) bool {
				n, _, _ := strings.Cut(h, ":")
				return n == o.Name
			})
			options = append(options, opt)
		}
	}
	servers = dedupe(servers)
	if len(servers) > 3 {
		servers = servers[:3]
	}
	searches = dedupe(searches)
	if len(searches) > 32 {
		searches = searches[:32]
	}
	var b strings.Builder
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(searches) > 0 {
		b.WriteString("search " + strings.Join(searches, " ") + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(dedupe(options), " ") + "\n")
	}
	return []byte(b.String()), nil
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
