package namespaces

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

// Kinds are the namespaces a pod has, by file name and clone flag.
var kinds = []struct {
	name string
	flag int
}{
	{"net", unix.CLONE_NEWNET},
	{"ipc", unix.CLONE_NEWIPC},
	{"uts", unix.CLONE_NEWUTS},
}

// Paths are a pod's namespace files. Net is empty when the pod uses the
// host's network.
type Paths struct {
	Net string
	IPC string
	UTS string
}

func (p Paths) byName(name string) string {
	switch name {
	case "net":
		return p.Net
	case "ipc":
		return p.IPC
	default:
		return p.UTS
	}
}

// Options say which namespaces Create makes and how it sets them up.
type Options struct {
	// Hostname is set in the new UTS namespace.
	Hostname string
	// HostNet: no network namespace (the host's is used).
	HostNet bool
	// HostIPC: no IPC namespace (the host's is used).
	HostIPC bool
	// Sysctls are written in the new namespaces (/proc/sys seen from
	// them): only parameters that are per network or IPC namespace make
	// sense here. Names use dots ("net.ipv4.ip_forward") or slashes.
	Sysctls []Sysctl
}

// Sysctl is one kernel parameter and its value.
type Sysctl struct {
	Name, Value string
}

// Create makes new namespaces and bind-mounts them on files in dir (which it
// creates, mode 0700, as dir's parent when missing): dir/net (unless
// hostNet), dir/ipc and dir/uts. The new UTS namespace gets hostname; the
// new network namespace has loopback up. The parent of dir is made a
// shared bind mount of itself first, so that unmounts propagate to copies
// of it in other mount namespaces. On error nothing is left.
func Create(dir, hostname string, hostNet bool) (p Paths, err error) {
	return CreateWith(dir, Options{Hostname: hostname, HostNet: hostNet})
}

// CreateWith is Create with every option: the IPC namespace too may be the
// host's, and sysctls are set in the new namespaces. On error nothing is
// left.
func CreateWith(dir string, o Options) (p Paths, err error) {
	hostname, hostNet := o.Hostname, o.HostNet
	if err := ensureSharedMount(filepath.Dir(dir)); err != nil {
		return Paths{}, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return Paths{}, err
	}
	defer func() {
		if err != nil {
			_ = Remove(dir)
		}
	}()
	flags := unix.CLONE_NEWUTS
	p = Paths{UTS: filepath.Join(dir, "uts")}
	if !o.HostIPC {
		flags |= unix.CLONE_NEWIPC
		p.IPC = filepath.Join(dir, "ipc")
	}
	if !hostNet {
		flags |= unix.CLONE_NEWNET
		p.Net = filepath.Join(dir, "net")
	}
	for _, k := range kinds {
		if f := p.byName(k.name); f != "" {
			if err := touch(f); err != nil {
				return Paths{}, err
			}
		}
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err, restored := createOnThread(p, flags, hostname, o.Sysctls)
		if restored {
			runtime.UnlockOSThread()
		}
		// Not restored: the goroutine ends locked and Go discards the thread.
		errc <- err
	}()
	if err := <-errc; err != nil {
		return Paths{}, err
	}
	return p, nil
}

func touch(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	return f.Close()
}

// createOnThread runs on a locked thread: unshare, configure, bind-mount, and
// join the host namespaces again.
func createOnThread(p Paths, flags int, hostname string, sysctls []Sysctl) (err error, restored bool) {
	host, err := hostNamespaces()
	if err != nil {
		return err, true
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err), true
	}
	defer func() {
		if rerr := host.enter(flags); rerr != nil {
			err = errors.Join(err, rerr)
			return
		}
		restored = true
	}()
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("sethostname %q: %w", hostname, err), false
	}
	if p.Net != "" {
		if err := loopbackUp(); err != nil {
			return err, false
		}
	}
	for _, sc := range sysctls {
		if err := writeSysctl(sc); err != nil {
			return err, false
		}
	}
	for _, k := range kinds {
		if f := p.byName(k.name); f != "" {
			src := "/proc/thread-self/ns/" + k.name
			if err := unix.Mount(src, f, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s on %s: %w", src, f, err), false
			}
		}
	}
	return nil, false
}

// writeSysctl sets a kernel parameter as seen from the calling thread's
// namespaces.
func writeSysctl(sc Sysctl) error {
	name := sc.Name
	if !strings.Contains(name, "/") {
		name = strings.ReplaceAll(name, ".", "/")
	}
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return fmt.Errorf("sysctl %q: invalid name", sc.Name)
	}
	path := "/proc/sys/" + name
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sysctl %s: no such parameter in this kernel", sc.Name)
		}
		return fmt.Errorf("sysctl %s: %w", sc.Name, err)
	}
	_, err = f.WriteString(sc.Value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sysctl %s=%q: %w", sc.Name, sc.Value, err)
	}
	return nil
}

// loopbackUp sets IFF_UP on lo in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// sharedMu serializes ensureSharedMount: two pods created at once must not
// both bind the directory onto itself.
var sharedMu sync.Mutex

// ensureSharedMount makes dir a mount point of its own with shared
// propagation, as `ip netns` does for /run/netns.
func ensureSharedMount(dir string) error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if IsMountPoint(dir) {
		return nil
	}
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	return nil
}

// IsMountPoint reports whether dir is the root of a mount.
func IsMountPoint(dir string) bool {
	var st, pst unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &st) != nil {
		return false
	}
	if unix.Statx(unix.AT_FDCWD, filepath.Join(dir, ".."), 0, unix.STATX_MNT_ID, &pst) != nil {
		return false
	}
	return st.Mnt_id != pst.Mnt_id || st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// IsNamespace reports whether path is a mounted namespace file.
func IsNamespace(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.NSFS_MAGIC
}

// Remove unmounts and deletes the namespace files in dir and dir itself.
// Missing files are not an error.
func Remove(dir string) error {
	var errs []error
	for _, k := range kinds {
		f := filepath.Join(dir, k.name)
		if err := unix.Unmount(f, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("unmount %s: %w", f, err))
		}
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Release unmounts the shared bind mount Create made of base (the parent
// of the pods' namespace directories) if no namespace directory is left in
// it. It is for tidy shutdowns and tests with temporary roots.
func Release(base string) error {
	entries, err := os.ReadDir(base)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	if len(entries) > 0 {
		return nil
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	// More than one layer if an older run stacked binds: take them all.
	for i := 0; i < 16 && IsMountPoint(base); i++ {
		if err := unix.Unmount(base, unix.MNT_DETACH); err != nil {
			return err
		}
	}
	return nil
}

// handles are open namespace files.
type handles struct {
	fds [3]int // net, ipc, uts; -1 when absent
}

func openHandles(p Paths) (*handles, error) {
	h := &handles{fds: [3]int{-1, -1, -1}}
	for i, k := range kinds {
		f := p.byName(k.name)
		if f == "" {
			continue
		}
		fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			h.close()
			return nil, &os.PathError{Op: "open", Path: f, Err: err}
		}
		h.fds[i] = fd
	}
	return h, nil
}

func (h *handles) close() {
	for i, fd := range h.fds {
		if fd >= 0 {
			unix.Close(fd)
			h.fds[i] = -1
		}
	}
}

// enter joins the namespaces in flags that h has.
func (h *handles) enter(flags int) error {
	for i, k := range kinds {
		if h.fds[i] < 0 || flags&k.flag == 0 {
			continue
		}
		if err := unix.Setns(h.fds[i], k.flag); err != nil {
			return fmt.Errorf("setns %s: %w", k.name, err)
		}
	}
	return nil
}

var (
	host    *handles
	hostErr error
)

// hostNamespaces are the namespaces this process started in, opened while
// the runtime runs package initialization on the main thread: opened later,
// /proc/self/ns (the main thread's) could name a namespace that a locked
// goroutine left the main thread in.
func hostNamespaces() (*handles, error) {
	return host, hostErr
}

func init() {
	host, hostErr = openHandles(Paths{Net: "/proc/thread-self/ns/net", IPC: "/proc/thread-self/ns/ipc", UTS: "/proc/thread-self/ns/uts"})
}

// Handle holds a pod's namespace files open for fast, repeated joins.
type Handle struct {
	h     *handles
	flags int
}

// Open opens the namespace files of p.
func Open(p Paths) (*Handle, error) {
	if _, err := hostNamespaces(); err != nil {
		return nil, err
	}
	h, err := openHandles(p)
	if err != nil {
		return nil, err
	}
	flags := 0
	for i, k := range kinds {
		if h.fds[i] >= 0 {
			flags |= k.flag
		}
	}
	return &Handle{h: h, flags: flags}, nil
}

// Enter moves the calling thread, which the caller has locked, into the
// namespaces. The returned function moves it back into the host's. If Enter
// or the returned function fails, the thread's namespaces are unknown and
// it must stay locked until its goroutine ends.
func (n *Handle) Enter() (restore func() error, err error) {
	host, err := hostNamespaces()
	if err != nil {
		return nil, err
	}
	restore = func() error { return host.enter(n.flags) }
	if err := n.h.enter(n.flags); err != nil {
		if rerr := restore(); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	return restore, nil
}

// Close closes the namespace files.
func (n *Handle) Close() { n.h.close() }
