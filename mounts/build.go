package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks is how many symlinks a target may go through, as in the kernel.
const maxSymlinks = 40

// builder is the state of one view being built, on a locked thread that
// has its own mount namespace.
type builder struct {
	owned map[uint64]*ownedMount // tmpfs mounts made for this view, by device
	fds   []int                  // closed when the view is done
}

type ownedMount struct {
	fd       int  // the mount's root
	readOnly bool // to be made read-only once every mount is attached
	mirror   bool // a mirror (its copies need no fixing, see readOnlyCopies)
}

func (b *builder) keep(fd int) int {
	b.fds = append(b.fds, fd)
	return fd
}

func (b *builder) close() {
	for _, fd := range b.fds {
		unix.Close(fd)
	}
	b.fds = nil
}

// build runs on a locked thread that Go will discard: it makes the view in
// a new mount namespace, then goes back to the host's and pins the view.
func build(pin string, v View) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	b := &builder{owned: make(map[uint64]*ownedMount)}
	defer b.close()
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make the view a slave: %w", err)
	}

	// Clone the bind sources from the host's tree before anything changes.
	trees := make([]int, len(v.Mounts))
	dirs := make([]bool, len(v.Mounts))
	for i, m := range v.Mounts {
		if m.Tmpfs {
			continue
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, m.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("clone %s: %w", m.Source, err)
		}
		trees[i] = b.keep(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("stat %s: %w", m.Source, err)
		}
		dirs[i] = st.Mode&unix.S_IFMT == unix.S_IFDIR
		if m.ReadOnly {
			if err := setReadOnly(fd, true); err != nil {
				return fmt.Errorf("make %s read-only: %w", m.Source, err)
			}
		}
	}

	if v.ReadOnlyRoot {
		if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("make the root read-only: %w", err)
		}
	}
	if v.PrivateTmp {
		if err := b.attachTmpfs("/tmp", 0o1777, 0, false); err != nil {
			return err
		}
	}
	for i, m := range v.Mounts {
		var err error
		if m.Tmpfs {
			mode := m.Mode
			if mode == 0 {
				mode = 0o755
			}
			err = b.attachTmpfs(m.Target, mode, m.Size, m.ReadOnly)
		} else {
			err = b.attach(trees[i], dirs[i], m.Target)
		}
		if err != nil {
			return err
		}
	}
	for _, o := range b.owned {
		if o.readOnly {
			if err := setReadOnly(o.fd, false); err != nil {
				return fmt.Errorf("make a tmpfs read-only: %w", err)
			}
		}
	}
	if err := b.readOnlyCopies(); err != nil {
		return err
	}
	for _, h := range v.Hide {
		if err := unix.Unmount(h, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("hide %s: %w", h, err)
		}
	}

	ns, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the view's namespace: %w", err)
	}
	b.keep(ns)
	if err := unix.Setns(hostNS, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("setns back to the host's mount namespace: %w", err)
	}
	src := "/proc/thread-self/fd/" + strconv.Itoa(ns)
	if testRefusePin {
		err = unix.EINVAL
	} else {
		err = unix.Mount(src, pin, "", unix.MS_BIND, "")
	}
	if err == unix.EINVAL {
		// The pin's mount propagates (it is shared: seen now and then
		// under systemd, whose mounts are all shared, though PrepareDir
		// had made it private): a mount namespace file cannot be copied
		// to peers. Make the prepared directory's self-bind private again
		// and try once more.
		if dir, ok := preparedMount(filepath.Dir(pin)); ok && !testRefusePin {
			if perr := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); perr == nil {
				err = unix.Mount(src, pin, "", unix.MS_BIND, "")
			}
		}
	}
	if err == unix.EINVAL {
		// The kernel still refuses the pin (seen under systemd, for
		// reasons mountinfo does not show): the view is kept alive by a
		// descriptor of this process instead, which Create links the pin
		// to. It lives as long as the process; a view needs no more,
		// since a supervisor that starts again builds its views anew.
		held, derr := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
		if derr != nil {
			return fmt.Errorf("pin %s: %w (and keep its descriptor: %w)", pin, err, derr)
		}
		return &pinRefused{fd: held}
	}
	if err != nil {
		return fmt.Errorf("pin %s: %w", pin, err)
	}
	return nil
}

// testRefusePin makes build act as if the kernel refused every pin.
var testRefusePin bool

// pinRefused is build's answer when the view could not be bound on its
// pin: fd holds the view's namespace instead.
type pinRefused struct{ fd int }

func (e *pinRefused) Error() string { return "pin refused by the kernel" }

// preparedMount is the mount point at or above dir if it is a bind mount of
// itself (what PrepareDir makes), never "/".
func preparedMount(dir string) (string, bool) {
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if isMountPoint(d) {
			self, _, err := selfBind(d)
			return d, err == nil && self
		}
	}
	return "", false
}

// readOnlyCopies makes read-only the copies of a read-only tmpfs that a
// mirror made later brought along (a mirror binds the entries of the
// directory it covers, mounts inside them included, while they are still
// writable): every visible mount of such a tmpfs's device.
func (b *builder) readOnlyCopies() error {
	ro := map[string]bool{}
	for dev, o := range b.owned {
		// A mirror is read-only from the start of its life in the tree
		// for every entry it binds; only a Mount's tmpfs, writable until
		// every mount is attached, can have been copied writable.
		if o.readOnly && !o.mirror {
			ro[fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))] = true
		}
	}
	if len(ro) == 0 {
		return nil
	}
	mi, err := readMountInfo()
	if err != nil {
		return err
	}
	for _, m := range mi {
		if !ro[m.dev] {
			continue
		}
		fd, err := unix.Open(m.point, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue // covered, or not reachable from the view's root
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err == nil && fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)) == m.dev {
			err = setReadOnly(fd, false)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("make a copy of a read-only tmpfs read-only at %s: %w", m.point, err)
		}
	}
	return nil
}

func setReadOnly(fd int, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(fd, "", uint(flags), &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}

// newTmpfs makes a detached tmpfs mount.
func newTmpfs(source string, mode uint32, size int64, uid, gid int) (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fs)
	opts := [][2]string{{"source", source}, {"mode", strconv.FormatUint(uint64(mode), 8)}}
	if size > 0 {
		opts = append(opts, [2]string{"size", strconv.FormatInt(size, 10)})
	}
	if uid >= 0 {
		opts = append(opts, [2]string{"uid", strconv.Itoa(uid)}, [2]string{"gid", strconv.Itoa(gid)})
	}
	for _, o := range opts {
		if err := unix.FsconfigSetString(fs, o[0], o[1]); err != nil {
			return -1, fmt.Errorf("tmpfs option %s=%s: %w", o[0], o[1], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, fmt.Errorf("create tmpfs: %w", err)
	}
	fd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return fd, nil
}

// own records fd, the root of a tmpfs made for this view. A tmpfs is known
// by its device number, which no other filesystem has, so that a bind of
// it (a mirror of its parent binds it) is known too.
func (b *builder) own(fd int, readOnly bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	b.owned[st.Dev] = &ownedMount{fd: b.keep(fd), readOnly: readOnly}
	return nil
}

// markMirror marks the owned tmpfs fd as a mirror.
func (b *builder) markMirror(fd int) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil {
		if o := b.owned[st.Dev]; o != nil {
			o.mirror = true
		}
	}
}

func (b *builder) attachTmpfs(target string, mode uint32, size int64, readOnly bool) error {
	fd, err := newTmpfs("podvisor", mode, size, -1, -1)
	if err != nil {
		return fmt.Errorf("tmpfs on %s: %w", target, err)
	}
	if err := b.own(fd, readOnly); err != nil {
		unix.Close(fd)
		return err
	}
	return b.attach(fd, true, target)
}

// attach mounts tree, a detached mount, on target, creating it in the view
// if it is missing.
func (b *builder) attach(tree int, isDir bool, target string) error {
	fd, missing, err := resolve(target)
	if err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	defer func() { unix.Close(fd) }()
	if len(missing) > 0 {
		nfd, err := b.create(fd, missing, isDir)
		if err != nil {
			return fmt.Errorf("create target %s in the view: %w", target, err)
		}
		unix.Close(fd)
		fd = nfd
	} else {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("target %s: %w", target, err)
		}
		if (st.Mode&unix.S_IFMT == unix.S_IFDIR) != isDir {
			if isDir {
				return fmt.Errorf("target %s: a directory cannot be mounted on a file", target)
			}
			return fmt.Errorf("target %s: a file cannot be mounted on a directory", target)
		}
	}
	if err := unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount on %s: %w", target, err)
	}
	return nil
}

// trusted reports whether a symlink may be followed: owned by root, in a
// directory owned by root that group and others cannot write.
func trusted(link, dir *unix.Stat_t) bool {
	return link.Uid == 0 && dir.Uid == 0 && dir.Mode&0o022 == 0
}

// resolve walks path from the thread's root without letting the kernel
// follow any symlink. It returns an O_PATH descriptor of the deepest
// existing file on the way and the components after it that are missing.
func resolve(path string) (fd int, missing []string, err error) {
	cur, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	defer func() {
		if err != nil {
			unix.Close(cur)
		}
	}()
	todo := strings.Split(path, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		if c == "" || c == "." {
			continue
		}
		if len(missing) > 0 {
			if c == ".." {
				missing = missing[:len(missing)-1]
			} else {
				missing = append(missing, c)
			}
			continue
		}
		next, err := unix.Openat(cur, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT {
			missing = []string{c}
			continue
		}
		if err != nil {
			return -1, nil, fmt.Errorf("%s: %w", c, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(cur)
			cur = next
			continue
		}
		// A symlink: follow it by its text, if it is trusted.
		link, err := readlink(next, "")
		unix.Close(next)
		if err != nil {
			return -1, nil, err
		}
		var dst unix.Stat_t
		if err := unix.Fstat(cur, &dst); err != nil {
			return -1, nil, err
		}
		if !trusted(&st, &dst) {
			return -1, nil, fmt.Errorf("symlink %s -> %s is not trusted (owner %d, directory owner %d, mode %#o)", c, link, st.Uid, dst.Uid, dst.Mode&0o7777)
		}
		if links++; links > maxSymlinks {
			return -1, nil, unix.ELOOP
		}
		if strings.HasPrefix(link, "/") {
			root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, nil, err
			}
			unix.Close(cur)
			cur = root
		}
		todo = append(strings.Split(link, "/"), todo...)
	}
	return cur, missing, nil
}

func readlink(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", fmt.Errorf("readlink %s: %w", name, err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// create makes the missing path under dir, an O_PATH descriptor of an
// existing directory, in the view only, and returns an O_PATH descriptor of
// its last component: a directory, or an empty file if !isDir.
func (b *builder) create(dir int, missing []string, isDir bool) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return -1, unix.ENOTDIR
	}
	if b.owned[st.Dev] != nil {
		return makePath(dir, missing, isDir)
	}
	return b.mirror(dir, &st, missing, isDir)
}

// makePath creates the missing path under dir.
func makePath(dir int, missing []string, isDir bool) (int, error) {
	cur, err := unix.Openat(dir, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for i, name := range missing {
		if i == len(missing)-1 && !isDir {
			err = touchAt(cur, name)
		} else {
			err = unix.Mkdirat(cur, name, 0o755)
		}
		if err != nil {
			unix.Close(cur)
			return -1, fmt.Errorf("make %s: %w", name, err)
		}
		next, err := unix.Openat(cur, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

func touchAt(dir int, name string) error {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// mirror covers dir (whose stat is st) with a read-only tmpfs that looks
// like it, plus the missing path, and returns the missing path's last
// component. Each entry of dir is bound (recursively, its submounts
// included) onto a placeholder of its own, except symlinks, which are
// copied.
func (b *builder) mirror(dir int, st *unix.Stat_t, missing []string, isDir bool) (int, error) {
	mfd, err := newTmpfs("podvisor-mirror", st.Mode&0o7777, 0, int(st.Uid), int(st.Gid))
	if err != nil {
		return -1, err
	}
	if err := b.own(mfd, true); err != nil {
		unix.Close(mfd)
		return -1, err
	}
	b.markMirror(mfd)
	names, err := readDirNames(dir)
	if err != nil {
		return -1, err
	}
	// Attached first, then filled: a mount can be attached inside a
	// detached one only since Linux 6.x (6.1 answers EINVAL). dir still
	// reaches the directory below the mirror, whose entries are bound.
	root, err := isRoot(dir)
	if err == nil {
		err = unix.MoveMount(mfd, "", dir, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	}
	if err == nil && root {
		// Stacked on the root: the thread's root still is the mount below,
		// so move into the mirror (setns into the view lands on it anyway).
		if err = unix.Fchdir(mfd); err == nil {
			err = unix.Chroot(".")
		}
	}
	if err != nil {
		return -1, fmt.Errorf("mount the mirror: %w", err)
	}
	for _, name := range names {
		if err := mirrorEntry(dir, mfd, name); err != nil {
			return -1, fmt.Errorf("mirror %s: %w", name, err)
		}
	}
	target, err := makePath(mfd, missing, isDir)
	if err != nil {
		return -1, err
	}
	return target, nil
}

func readDirNames(dir int) ([]string, error) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "dir")
	defer f.Close()
	return f.Readdirnames(-1)
}

func mirrorEntry(dir, mfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // gone since it was listed
		}
		return err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		link, err := readlink(dir, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(link, mfd, name); err != nil {
			return err
		}
		return unix.Fchownat(mfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
	case unix.S_IFDIR:
		if err := unix.Mkdirat(mfd, name, 0o755); err != nil {
			return err
		}
	default:
		if err := touchAt(mfd, name); err != nil {
			return err
		}
	}
	t, err := unix.OpenTree(dir, name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	defer unix.Close(t)
	if err := unix.MoveMount(t, "", mfd, name, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

// isRoot reports whether fd is the calling thread's root directory.
func isRoot(fd int) (bool, error) {
	var a, r unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID|unix.STATX_INO, &a); err != nil {
		return false, err
	}
	if err := unix.Statx(unix.AT_FDCWD, "/", 0, unix.STATX_MNT_ID|unix.STATX_INO, &r); err != nil {
		return false, err
	}
	return a.Mnt_id == r.Mnt_id && a.Ino == r.Ino, nil
}
