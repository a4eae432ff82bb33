package supervisor

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podvisor/podvisor/pod"
)

// identity is who a process runs as.
type identity struct {
	uid, gid uint32
	groups   []uint32
	home     string
}

// resolveUser turns "uid[:gid]" or "name[:group]" into ids. A numeric uid
// need not exist in the user database (as in Kubernetes' runAsUser); a name
// must. Without a group, a known user gets its primary and supplementary
// groups, and a uid unknown to the user database gets gid 0, as in Docker.
func resolveUser(spec string) (identity, error) {
	if spec == "" {
		return identity{home: homeOf("0")}, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	id := identity{home: "/"}
	var u *user.User
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		id.uid = uint32(n)
		u, _ = user.LookupId(name)
	} else {
		u, err = user.Lookup(name)
		if err != nil {
			return identity{}, fmt.Errorf("user %q: unknown user %q", spec, name)
		}
		n, _ := strconv.ParseUint(u.Uid, 10, 32)
		id.uid = uint32(n)
	}
	if u != nil {
		g, _ := strconv.ParseUint(u.Gid, 10, 32)
		id.gid = uint32(g)
		if u.HomeDir != "" {
			id.home = u.HomeDir
		}
		if gids, err := u.GroupIds(); err == nil {
			for _, s := range gids {
				if n, err := strconv.ParseUint(s, 10, 32); err == nil && uint32(n) != id.gid {
					id.groups = append(id.groups, uint32(n))
				}
			}
		}
	}
	if hasGroup {
		id.groups = nil
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			id.gid = uint32(n)
		} else {
			g, err := user.LookupGroup(group)
			if err != nil {
				return identity{}, fmt.Errorf("user %q: unknown group %q", spec, group)
			}
			n, _ := strconv.ParseUint(g.Gid, 10, 32)
			id.gid = uint32(n)
		}
	}
	return id, nil
}

func homeOf(uid string) string {
	if u, err := user.LookupId(uid); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return "/"
}

// environ builds a process's environment: the defaults, then its env, a
// later entry replacing an earlier one of the same name in place.
func environ(podName, hostname, home string, p *pod.Process) []string {
	env := []string{
		"PATH=" + pod.DefaultPath,
		"HOSTNAME=" + hostname,
		"HOME=" + home,
		"POD_NAME=" + podName,
		"PROCESS_NAME=" + p.Name,
	}
	index := map[string]int{"PATH": 0, "HOSTNAME": 1, "HOME": 2, "POD_NAME": 3, "PROCESS_NAME": 4}
	for _, e := range p.Env {
		kv := e.Name + "=" + e.Value
		if i, ok := index[e.Name]; ok {
			env[i] = kv
			continue
		}
		index[e.Name] = len(env)
		env = append(env, kv)
	}
	return env
}

func lookupEnv(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// lookPath finds the program to run: a name with a slash is taken as it is
// (relative to dir), any other is searched in the process's PATH.
func lookPath(file, dir string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if err := executable(path); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return path, nil
	}
	for _, d := range filepath.SplitList(lookupEnv(env, "PATH")) {
		if d == "" {
			d = "."
		}
		path := filepath.Join(d, file)
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if executable(path) == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in PATH %q", file, lookupEnv(env, "PATH"))
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("no such file")
		}
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("not executable")
	}
	return unix.Access(path, unix.X_OK)
}
