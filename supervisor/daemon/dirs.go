package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Modes of the daemon's directories: private to root, or passable (not
// listable) by the API group where the group must reach the socket.
const (
	privateDir = 0o700
	passDir    = 0o710
)

// secureRoot makes the daemon's directories private, tightening those that
// exist: the root, pods/, each pod's directory and its logs/, ns/ and each
// pod's namespace directory, and quarantine/ become 0700. The root becomes
// 0710 with group gid instead when gid >= 0 (the socket is inside the root
// and the API group must pass). A root that is not owned by this process's
// user, or that has the sticky bit (a shared directory such as /tmp), is
// left as it is, with a warning.
func secureRoot(root string, gid int, log zerolog.Logger) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		log.Warn().Err(err).Msg("cannot check the root's mode")
		return
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&unix.S_ISVTX != 0 {
		log.Warn().Str("root", root).Msg("the root is shared (not ours, or sticky): its mode is left as it is")
	} else if gid >= 0 {
		tighten(root, passDir, gid, log)
	} else {
		tighten(root, privateDir, -1, log)
	}
	for _, sub := range []string{"pods", "ns", "quarantine"} {
		dir := filepath.Join(root, sub)
		if !tighten(dir, privateDir, -1, log) {
			continue
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			tighten(filepath.Join(dir, e.Name()), privateDir, -1, log)
			if sub == "pods" {
				tighten(filepath.Join(dir, e.Name(), "logs"), privateDir, -1, log)
			}
		}
	}
}

// tighten gives the directory dir the mode (and the group gid, when >= 0)
// and reports whether dir is a directory.
func tighten(dir string, mode uint32, gid int, log zerolog.Logger) bool {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false
	}
	if gid >= 0 && int(st.Gid) != gid {
		if err := os.Lchown(dir, -1, gid); err != nil {
			log.Warn().Err(err).Str("dir", dir).Msg("cannot set the directory's group")
		}
	}
	if st.Mode&0o7777 != mode {
		if err := os.Chmod(dir, os.FileMode(mode)); err != nil {
			log.Warn().Err(err).Str("dir", dir).Msg("cannot make the directory private")
			return true
		}
		if st.Mode&0o077 & ^mode != 0 {
			log.Info().Str("dir", dir).Str("was", fmt.Sprintf("%#o", st.Mode&0o7777)).Str("now", fmt.Sprintf("%#o", mode)).Msg("made a directory private")
		}
	}
	return true
}

// inside reports whether path is in dir or below.
func inside(path, dir string) bool {
	path, err1 := filepath.Abs(path)
	dir, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// mkdirSocketDir makes the socket's directory and its missing parents:
// 0710 with group gid when gid >= 0 (so the API group can reach the
// socket), else 0700. Existing directories are left as they are.
func mkdirSocketDir(dir string, gid int) error {
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		made = append(made, d)
	}
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return err
	}
	if gid < 0 {
		return nil
	}
	for _, d := range made {
		if err := os.Chown(d, -1, gid); err != nil {
			return err
		}
		if err := os.Chmod(d, passDir); err != nil {
			return err
		}
	}
	return nil
}
