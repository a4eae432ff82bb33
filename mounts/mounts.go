package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// View is what one process sees: the host's mount tree with these changes,
// applied in this order: ReadOnlyRoot, then PrivateTmp, then Mounts.
type View struct {
	// PrivateTmp mounts a fresh tmpfs (mode 1777, nosuid, nodev) on /tmp:
	// nothing of the host's /tmp, submounts included, is visible.
	PrivateTmp bool
	// ReadOnlyRoot makes every mount of the host's tree read-only in the
	// view (mount_setattr AT_RECURSIVE MOUNT_ATTR_RDONLY on "/"), /proc,
	// /sys, /dev and /dev/shm included: writing /proc/self/oom_score_adj or
	// making POSIX shared memory fails with EROFS; device nodes such as
	// /dev/null stay writable (the kernel checks only regular files,
	// directories and symlinks). It is applied before PrivateTmp and the
	// Mounts, which stay writable unless they say ReadOnly. To keep a host
	// path writable, bind it onto itself (Mount{Target: "/dev/shm", Source:
	// "/dev/shm"}): bind sources are taken before the tree turns read-only.
	ReadOnlyRoot bool
	// Mounts are attached in order; a later one may lie inside an earlier.
	Mounts []Mount
	// Hide are paths whose mounts, with everything mounted below them, are
	// detached from the view once it is built: directories of the caller's
	// own (namespace pins, tmpfs of other pods) that the process does not
	// need, so that the view holds no copy of them and mounts made there
	// later do not propagate into it. A path that is not a mount point in
	// the view is ignored. Sources of Mounts under them are taken before.
	Hide []string
}

// Mount is one bind or tmpfs mount of a View.
//
// Target is an absolute path in the view, without ".." components. It is
// resolved in the view component by component, as the kernel would, except
// that a symlink is followed only if it is trusted: owned by root and in a
// directory owned by root that group and others cannot write (so /var/run
// -> /run is followed, a link a non-root process planted is not, and Create
// fails). Symlinks are followed by their text, so /proc magic links are
// plain paths in the view. A missing target, and its missing parents, are
// made in the view only (see the package documentation): a directory, or
// an empty file when Source is not a directory.
type Mount struct {
	// Target is where the mount appears in the view.
	Target string
	// Source is the host path of a bind mount, file or directory; it is
	// trusted and opened as is, following symlinks, before the view changes
	// (so a source under /tmp is the host's even with PrivateTmp). The bind
	// is recursive: the source's submounts come along. Empty with Tmpfs.
	Source string
	// Tmpfs mounts a fresh tmpfs (nosuid, nodev) instead of a bind.
	Tmpfs bool
	// Size limits a tmpfs, in bytes; 0 is the kernel's default (half of RAM).
	Size int64
	// Mode is the permission bits of a tmpfs's root directory; 0 means 0755.
	// Kubernetes gives an emptyDir 0777.
	Mode uint32
	// ReadOnly makes the mount read-only, with the submounts a bind brings
	// (mounts attached later inside it keep their own state).
	ReadOnly bool
}

// Host mount namespace, opened while the runtime runs package
// initialization on the main thread, which Go keeps in the process's
// original namespaces.
var hostNS, hostErr = openHostNS()

func openHostNS() (int, error) {
	fd, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open host mount namespace: %w", err)
	}
	return fd, nil
}

func (v View) validate() error {
	for i, m := range v.Mounts {
		if err := checkTarget(m.Target); err != nil {
			return fmt.Errorf("mount %d: %w", i, err)
		}
		switch {
		case m.Tmpfs && m.Source != "":
			return fmt.Errorf("mount %d on %s: a tmpfs has no source", i, m.Target)
		case !m.Tmpfs && !filepath.IsAbs(m.Source):
			return fmt.Errorf("mount %d on %s: source %q is not an absolute path", i, m.Target, m.Source)
		case m.Size < 0 || !m.Tmpfs && m.Size != 0:
			return fmt.Errorf("mount %d on %s: bad size %d", i, m.Target, m.Size)
		case m.Mode&^0o7777 != 0 || !m.Tmpfs && m.Mode != 0:
			return fmt.Errorf("mount %d on %s: bad mode %#o", i, m.Target, m.Mode)
		}
	}
	return nil
}

func checkTarget(t string) error {
	if !filepath.IsAbs(t) {
		return fmt.Errorf("target %q is not an absolute path", t)
	}
	for _, c := range strings.Split(t, "/") {
		if c == ".." {
			return fmt.Errorf("target %q has a .. component", t)
		}
	}
	if filepath.Clean(t) == "/" {
		return fmt.Errorf("target %q is the root", t)
	}
	return nil
}

// Create builds a new mount namespace showing v and pins it on pin, a file
// it creates (mode 0444) in an existing directory that PrepareDir has made
// ready: the mount holding the pin must not be shared, or the kernel
// refuses to bind a mount namespace there (EINVAL: the bind would
// propagate into the view itself). Should the kernel refuse the bind all
// the same (seen under systemd), the view is held by a descriptor of this
// process instead and pin is a symlink to it (/proc/PID/fd/N), which opens
// the view as the bound pin does; Remove closes it. pin must not exist
// (Remove a stale one first). On error nothing is left: the namespace dies with the thread that
// built it. Create may run concurrently with itself and with Enter.
//
// The pin is bound from the host's mount namespace, after the building
// thread went back there: the kernel lets a namespace hold a pin only of a
// namespace younger than itself, so a view cannot pin itself. Views do not hold copies of other
// views' pins (the kernel skips mount namespace files when it copies a
// tree), but do hold slave copies of other namespace files, such as the
// pods' network namespaces, which go when the host unmounts them if they
// lie under a shared mount, as the namespaces package's do.
//
// Create must be called from a thread in the host's mount namespace (any
// goroutine that has not locked a thread into a view).
func Create(pin string, v View) error {
	if hostErr != nil {
		return hostErr
	}
	if err := v.validate(); err != nil {
		return err
	}
	// The building thread binds the pin after setns, which moves its
	// working directory to "/".
	pin, err := filepath.Abs(pin)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(pin, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread's mount namespace, root and working
		// directory are changed, so Go discards it when this goroutine ends.
		runtime.LockOSThread()
		errc <- build(pin, v)
	}()
	err = <-errc
	var refused *pinRefused
	if errors.As(err, &refused) {
		// The pin becomes a link to the descriptor that holds the view:
		// opening the pin, from this process or a child, opens the view.
		err = os.Remove(pin)
		if err == nil {
			err = os.Symlink(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), refused.fd), pin)
		}
		if err != nil {
			unix.Close(refused.fd)
			_ = os.Remove(pin)
			return fmt.Errorf("pin %s by a descriptor: %w", pin, err)
		}
		heldMu.Lock()
		held[pin] = refused.fd
		heldMu.Unlock()
		return nil
	}
	if err != nil {
		_ = unix.Unmount(pin, unix.MNT_DETACH)
		_ = os.Remove(pin)
		return err
	}
	return nil
}

// held are the views that Create could not bind on their pins, by pin: the
// descriptors that keep them, which Remove closes.
var (
	heldMu sync.Mutex
	held   = map[string]int{}
)

// Remove unmounts and deletes pin. Processes still in the view keep it; the
// namespace goes when the last of them exits. A missing pin is not an error.
func Remove(pin string) error {
	var errs []error
	if abs, err := filepath.Abs(pin); err == nil {
		heldMu.Lock()
		if fd, ok := held[abs]; ok {
			unix.Close(fd)
			delete(held, abs)
		}
		heldMu.Unlock()
	}
	if err := unix.Unmount(pin, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		errs = append(errs, fmt.Errorf("unmount %s: %w", pin, err))
	}
	if err := os.Remove(pin); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Exists reports whether pin is a pinned mount namespace.
func Exists(pin string) bool {
	fd, err := unix.Open(pin, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return isMountNS(fd)
}

func isMountNS(fd int) bool {
	var fs unix.Statfs_t
	if unix.Fstatfs(fd, &fs) != nil || fs.Type != unix.NSFS_MAGIC {
		return false
	}
	t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	return err == nil && t == unix.CLONE_NEWNS
}

// Enter moves the calling thread, which the caller has locked, into the
// mount namespace pinned on pin: a process it then forks (exec.Cmd.Start) is
// born in the view, with "/" of the view as working directory (set
// exec.Cmd.Dir for another). Paths the thread resolves, exec.LookPath
// included, are the view's until leave.
//
// The thread must be in the host's mount namespace (views do not nest).
// leave moves the thread back into the host's mount namespace and the
// working directory it had; if leave fails, the thread's state is unknown
// and it must stay locked until its goroutine ends. If Enter fails the
// thread is still in the host's namespace.
func Enter(pin string) (leave func() error, err error) {
	if hostErr != nil {
		return nil, hostErr
	}
	return enter(pin, hostNS)
}

// enter is Enter with back, the namespace leave goes back to, for tests.
func enter(pin string, back int) (leave func() error, err error) {
	fd, err := unix.Open(pin, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: pin, Err: err}
	}
	defer unix.Close(fd)
	if !isMountNS(fd) {
		return nil, fmt.Errorf("%s is not a pinned mount namespace", pin)
	}
	var cur, hst unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/mnt", &cur); err != nil {
		return nil, err
	}
	if err := unix.Fstat(hostNS, &hst); err != nil {
		return nil, err
	}
	if cur.Ino != hst.Ino || cur.Dev != hst.Dev {
		return nil, errors.New("mounts: Enter from a thread that is not in the host's mount namespace")
	}
	cwd, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open working directory: %w", err)
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		unix.Close(cwd)
		return nil, fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		unix.Close(cwd)
		return nil, fmt.Errorf("setns %s: %w", pin, err)
	}
	called := false
	return func() error {
		if called {
			return errors.New("mounts: leave called twice")
		}
		called = true
		defer unix.Close(cwd)
		if err := unix.Setns(back, unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("setns back to the host's mount namespace: %w", err)
		}
		if err := unix.Fchdir(cwd); err != nil {
			return fmt.Errorf("restore working directory: %w", err)
		}
		return nil
	}, nil
}

// dirMu serializes PrepareDir and ReleaseDir.
var dirMu sync.Mutex

// PrepareDir makes dir (created, mode 0700, with its parents when missing)
// a place where Create can pin views: a bind mount of itself whose
// propagation is private. It does nothing when dir already is such a mount
// (say from an earlier run); when dir is a mount that is shared or not a
// bind of itself, it stacks a private self-bind on top, leaving the mount
// below as it was. Call it once before the first Create in dir.
func PrepareDir(dir string) error {
	dirMu.Lock()
	defer dirMu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	self, shared, err := selfBind(dir)
	if err != nil {
		return err
	}
	if self && !shared {
		return nil
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return fmt.Errorf("make %s private: %w", dir, err)
	}
	return nil
}

// ReleaseDir undoes PrepareDir when dir holds no file any more: it
// unmounts the private self-bind on top of dir, if there is one. It is for
// tidy shutdowns and tests.
func ReleaseDir(dir string) error {
	dirMu.Lock()
	defer dirMu.Unlock()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return nil
	}
	self, shared, err := selfBind(dir)
	if err != nil || !self || shared {
		return err
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether path is the root of a mount.
func isMountPoint(path string) bool {
	var st unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, path, 0, 0, &st) != nil {
		return false
	}
	return st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// selfBind reports whether the topmost mount on dir (an absolute path
// without symlinks) is a bind mount of dir onto itself, and whether that
// mount is shared.
func selfBind(dir string) (self, shared bool, err error) {
	if !isMountPoint(dir) {
		return false, false, nil
	}
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &st); err != nil {
		return false, false, &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	mi, err := readMountInfo()
	if err != nil {
		return false, false, err
	}
	m, ok := mi[int(st.Mnt_id)]
	if !ok {
		return false, false, fmt.Errorf("mount %d of %s not in mountinfo", st.Mnt_id, dir)
	}
	p, ok := mi[m.parent]
	if !ok || m.point != dir || p.dev != m.dev {
		return false, m.shared(), nil
	}
	rel, err := filepath.Rel(p.point, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return false, m.shared(), nil
	}
	return filepath.Join(p.root, rel) == m.root, m.shared(), nil
}

// ShareDir makes dir (created, mode 0700, with its parents, when missing) a
// mount of its own with shared propagation, unless it is a mount point
// already: what is mounted below it can then be hidden from views as a
// whole (View.Hide), and its unmounts reach every copy that other mount
// namespaces made of it.
func ShareDir(dir string) error {
	dirMu.Lock()
	defer dirMu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if isMountPoint(dir) {
		return nil
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	return nil
}

// ReleaseSharedDir undoes ShareDir once dir holds nothing: it unmounts the
// self-bind on dir, if dir is one. It is for tidy shutdowns and tests.
func ReleaseSharedDir(dir string) error {
	dirMu.Lock()
	defer dirMu.Unlock()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if len(entries) > 0 {
		return nil
	}
	self, _, err := selfBind(dir)
	if err != nil || !self {
		return err
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}
