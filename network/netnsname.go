package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// netnsDirMu serializes making a names directory a shared mount point, so
// that two calls at once do not both bind it onto itself.
var netnsDirMu sync.Mutex

// NameNetNS makes dir/name a bind mount of the namespace file nsPath, as
// `ip netns add` does in /run/netns (so `ip netns exec NAME` and `ip netns
// list` see it): dir is created and, like iproute2 does, made a mount point
// of itself with shared propagation if it is not one. If dir/name exists
// already (another program's namespace), it returns false and nil: the
// caller warns and skips; it never overwrites.
//
// Like iproute2's netns_add: mkdir dir (0755, with its parents); mount --make-shared dir
// (MS_SHARED|MS_REC), and when that fails with EINVAL (dir is not a mount
// point), bind dir onto itself (MS_BIND|MS_REC) and try again; create
// dir/name exclusively (O_CREAT|O_EXCL, mode 0) and bind-mount nsPath on
// it. If dir/name is already a mount of the very namespace of nsPath (a
// second call), it returns true and nil. nsPath must be a network
// namespace file.
func NameNetNS(dir, name, nsPath string) (named bool, err error) {
	fail := func(op string, err error) (bool, error) {
		return false, fmt.Errorf("name network namespace %s as %q in %s: %s: %w", nsPath, name, dir, op, err)
	}
	if err := checkNetNSName(name); err != nil {
		return fail("check", err)
	}
	fd, err := openNetNS(nsPath)
	if err != nil {
		return fail("open", err)
	}
	var nsSt unix.Stat_t
	err = unix.Fstat(fd, &nsSt)
	unix.Close(fd)
	if err != nil {
		return fail("stat", err)
	}
	if err := makeSharedDir(dir); err != nil {
		return fail("prepare directory", err)
	}
	p := filepath.Join(dir, name)
	f, err := unix.Open(p, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EEXIST) {
		if same, _ := sameNamespace(p, &nsSt); same {
			return true, nil
		}
		return false, nil
	}
	if err != nil {
		return fail("create", &os.PathError{Op: "open", Path: p, Err: err})
	}
	unix.Close(f)
	if err := unix.Mount(nsPath, p, "none", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(p)
		return fail("bind mount", &os.PathError{Op: "mount", Path: p, Err: err})
	}
	return true, nil
}

// checkNetNSName checks a name for dir/name: one path element.
func checkNetNSName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid network namespace name %q", name)
	}
	return nil
}

// makeSharedDir makes dir, and makes it a mount point with shared
// propagation, as iproute2 does for /run/netns.
func makeSharedDir(dir string) error {
	netnsDirMu.Lock()
	defer netnsDirMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	madeMount := false
	for {
		err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if err != unix.EINVAL || madeMount {
			return &os.PathError{Op: "mount --make-shared", Path: dir, Err: err}
		}
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return &os.PathError{Op: "mount --bind", Path: dir, Err: err}
		}
		madeMount = true
	}
}

// sameNamespace reports whether path is a mounted namespace file (nsfs,
// not through a symlink) of the namespace whose stat is ns.
func sameNamespace(path string, ns *unix.Stat_t) (bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK || !isNsfs(path) {
		return false, nil
	}
	return st.Dev == ns.Dev && st.Ino == ns.Ino, nil
}

// isNsfs reports whether path is on nsfs (a mounted namespace file).
func isNsfs(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.NSFS_MAGIC
}

// isNetNSFile reports whether path is a mounted network namespace file
// (not a symlink).
func isNetNSFile(path string) bool {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK || !isNsfs(path) {
		return false
	}
	fd, err := openNetNS(path)
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// UnnameNetNS undoes NameNetNS: only if dir/name is a mount of the same
// namespace as nsPath (compare the namespace inodes/devices via stat of
// both); then unmount (MNT_DETACH) and remove the file. Missing is not an
// error.
//
// When dir/name is something else (another program's namespace, a plain
// file, a symlink), it is left alone and UnnameNetNS returns nil: the name
// was not, or is no longer, ours. A missing nsPath (other than "") is an
// error.
//
// If nsPath no longer exists, pass "": dir/name is then removed when it is
// a mount of a network namespace, any network namespace, since there is
// nothing to compare it with. Pass "" only for a name that only this
// program makes (one derived from its own identifiers), never for a name
// that another program may have taken since.
func UnnameNetNS(dir, name, nsPath string) error {
	fail := func(op string, err error) error {
		return fmt.Errorf("unname network namespace %q in %s: %s: %w", name, dir, op, err)
	}
	if err := checkNetNSName(name); err != nil {
		return fail("check", err)
	}
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fail("stat", err)
	}
	if nsPath == "" {
		if !isNetNSFile(p) {
			return nil
		}
	} else {
		var nsSt unix.Stat_t
		if err := unix.Stat(nsPath, &nsSt); err != nil {
			return fail("stat "+nsPath, err)
		}
		same, err := sameNamespace(p, &nsSt)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil
			}
			return fail("stat", err)
		}
		if !same {
			return nil
		}
	}
	// Stacked mounts (several NameNetNS by other means) are all taken off.
	for i := 0; i < 16 && isNsfs(p); i++ {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			if err == unix.EINVAL || err == unix.ENOENT {
				break
			}
			return fail("unmount", &os.PathError{Op: "umount", Path: p, Err: err})
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail("remove", err)
	}
	return nil
}
