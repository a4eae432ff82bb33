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
	fields map[string]string // status fields for env valueFrom (subPathExpr)
	byProc map[string]string // process name → its view's pin
	made   []string          // files and directories made, in order
	capped []cappedDir       // emptyDirs on disk with a size limit
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
func (s *Supervisor) buildFiles(spec *pod.Pod, dir string, pn *podNet) (*podFiles, func(), error) {
	f := &podFiles{dir: dir, mnt: s.mntDir(spec.Metadata.Name), vols: map[string]string{}, byProc: map[string]string{},
		hide: []string{filepath.Join(s.opts.Root, "ns"), filepath.Join(s.opts.Root, "mnt")}}
	// Undone by what f records (no mountinfo to read, no directory to
	// list: a create that failed for want of file descriptors must still
	// leave nothing).
	f.fields = netFields(pn)
	undo := func() { _ = s.removeFiles(spec.Metadata.Name, f, true) }
	if err := s.makeFiles(spec, f, pn); err != nil {
		undo()
		return nil, nil, err
	}
	return f, undo, nil
}

func (s *Supervisor) makeFiles(spec *pod.Pod, f *podFiles, pn *podNet) error {
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
	if err := os.WriteFile(filepath.Join(run, "hosts"), s.hostsFile(spec, pn), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(run, "hostname"), []byte(s.kernelHostname(spec)+"\n"), 0o644); err != nil {
		return err
	}
	resolv, err := resolvFile(sp, pn)
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
	if err := mounts.ReleaseDir(vdir); err != nil {
		errs = append(errs, err)
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
