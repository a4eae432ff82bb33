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

// SecureJoin returns the host path of sub inside root (say a volume's
// subPath), refusing what could leave root: sub must be relative and have no
// ".." component, and every symlink met on the way must stay beneath root
// (openat2 RESOLVE_BENEATH: absolute symlinks and symlinks climbing out with
// ".." are refused, as are /proc magic links). The returned path has root's
// symlinks resolved. Components at the end of sub that do not exist are
// appended as they are; a dangling symlink is refused.
//
// The result is only as stable as root's contents: if an untrusted process
// can rename or replace things under root, it may swap a component for a
// symlink between SecureJoin and the Create that binds the result.
func SecureJoin(root, sub string) (string, error) {
	if filepath.IsAbs(sub) {
		return "", fmt.Errorf("subpath %q is absolute", sub)
	}
	var comps []string
	for _, c := range strings.Split(sub, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", fmt.Errorf("subpath %q has a .. component", sub)
		default:
			comps = append(comps, c)
		}
	}
	rootfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootfd)
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	// Find the longest prefix of sub that exists.
	n := len(comps)
	fd := -1
	for ; n > 0; n-- {
		fd, err = unix.Openat2(rootfd, strings.Join(comps[:n], "/"), &how)
		if err == nil {
			break
		}
		if err != unix.ENOENT {
			return "", fmt.Errorf("subpath %q in %s: %w", sub, root, err)
		}
	}
	if n == 0 {
		fd, err = unix.Openat(rootfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", err
		}
	}
	defer unix.Close(fd)
	if n < len(comps) {
		// comps[n] is missing, or a dangling symlink.
		var st unix.Stat_t
		err := unix.Fstatat(fd, comps[n], &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case err == nil:
			return "", fmt.Errorf("subpath %q in %s: %s is a dangling symlink", sub, root, strings.Join(comps[:n+1], "/"))
		case !errors.Is(err, unix.ENOENT):
			return "", fmt.Errorf("subpath %q in %s: %w", sub, root, err)
		}
	}
	real, err := os.Readlink("/proc/thread-self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{real}, comps[n:]...)...), nil
}
