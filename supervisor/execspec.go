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
func environ(podName, hostname, home string, p *pod.Process, fields map[string]string) []string {
	env := []string{
		"PATH=" + pod.DefaultPath,
		"HOSTNAME=" + hostname,
		"HOME=" + home,
		"POD_NAME=" + podName,
		"PROCESS_NAME=" + p.Name,
	}
	index := map[string]int{"PATH": 0, "HOSTNAME": 1, "HOME": 2, "POD_NAME": 3, "PROCESS_NAME": 4}
	for _, e := range p.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			v = fields[e.ValueFrom.FieldRef.FieldPath]
		}
		kv := e.Name + "=" + v
		if i, ok := index[e.Name]; ok {
			env[i] = kv
			continue
		}
		index[e.Name] = len(env)
		env = append(env, kv)
	}
	// Values that name a variable set at start ($(POD_IP)) get its value.
	for i, e := range p.Env {
		if e.ValueFrom == nil && strings.Contains(e.Value, "$(") {
			if j, ok := index[e.Name]; ok && i >= 0 {
				env[j] = e.Name + "=" + expandRuntime([]string{e.Value}, p, env)[0]
			}
		}
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

// fieldValues are the pod's status fields that env valueFrom can name.
func fieldValues(podIPs []string, hostIP string) map[string]string {
	m := map[string]string{"status.hostIP": hostIP, "status.hostIPs": hostIP}
	if len(podIPs) > 0 {
		m["status.podIP"] = podIPs[0]
		m["status.podIPs"] = strings.Join(podIPs, ",")
	}
	return m
}

// expandRuntime expands, in args, the $(NAME) references to the variables
// of p that take their value at start (valueFrom), as Kubernetes expands
// command and args; other references stay as written.
func expandRuntime(args []string, p *pod.Process, env []string) []string {
	runtime := map[string]bool{}
	for _, e := range p.Env {
		if e.ValueFrom != nil {
			runtime[e.Name] = true
		}
	}
	if len(runtime) == 0 {
		return args
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = pod.Expand(a, func(name string) (string, bool) {
			if !runtime[name] {
				return "", false
			}
			return lookupEnv(env, name), true
		})
	}
	return out
}

// fields are the pod's status fields for env valueFrom.
func (p *Pod) fields() map[string]string { return netFields(p.net) }

func netFields(n *podNet) map[string]string {
	if n == nil {
		return fieldValues(nil, "")
	}
	var ips []string
	for _, a := range n.addrs() {
		ips = append(ips, a.String())
	}
	host := ""
	if n.HostIP.IsValid() {
		host = n.HostIP.String()
	}
	return fieldValues(ips, host)
}
