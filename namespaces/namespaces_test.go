package namespaces

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates namespaces and mounts (CI runs as root)")
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestCreateEnterRemove(t *testing.T) {
	requireRoot(t)
	base := filepath.Join(t.TempDir(), "ns")
	dir := filepath.Join(base, "pod")
	p, err := Create(dir, "nshost", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.Net, p.IPC, p.UTS} {
		if !IsNamespace(f) {
			t.Errorf("%s is not a mounted namespace", f)
		}
	}
	if !IsMountPoint(base) {
		t.Errorf("%s should be a bind mount of its own", base)
	}
	hostNet := inode(t, "/proc/self/ns/net")
	if inode(t, p.Net) == hostNet {
		t.Fatal("the pod's network namespace is the host's")
	}

	h, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	type seen struct {
		net, uts uint64
		host     string
		loUp     bool
		err      error
	}
	ch := make(chan seen)
	go func() {
		runtime.LockOSThread()
		restore, err := h.Enter()
		if err != nil {
			ch <- seen{err: err}
			return
		}
		var s seen
		var st unix.Stat_t
		unix.Stat("/proc/thread-self/ns/net", &st)
		s.net = st.Ino
		unix.Stat("/proc/thread-self/ns/uts", &st)
		s.uts = st.Ino
		var u unix.Utsname
		unix.Uname(&u)
		s.host = unix.ByteSliceToString(u.Nodename[:])
		if lo, err := net.InterfaceByName("lo"); err == nil {
			s.loUp = lo.Flags&net.FlagUp != 0
		}
		if err := restore(); err != nil {
			s.err = err
			ch <- s
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		ch <- s
	}()
	s := <-ch
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.net != inode(t, p.Net) || s.uts != inode(t, p.UTS) {
		t.Errorf("Enter did not join the pod's namespaces")
	}
	if s.host != "nshost" {
		t.Errorf("hostname %q", s.host)
	}
	if !s.loUp {
		t.Errorf("loopback is down in the pod's network namespace")
	}
	if inode(t, "/proc/self/ns/net") != hostNet {
		t.Errorf("the process left the host's network namespace")
	}

	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there", dir)
	}
	if err := Release(base); err != nil {
		t.Fatal(err)
	}
	if IsMountPoint(base) {
		t.Errorf("%s still mounted", base)
	}
}

func TestHostNetworkAndFailure(t *testing.T) {
	requireRoot(t)
	base := filepath.Join(t.TempDir(), "ns")
	p, err := Create(filepath.Join(base, "h"), "h", true)
	if err != nil {
		t.Fatal(err)
	}
	if p.Net != "" {
		t.Errorf("host network pod got a net namespace file %q", p.Net)
	}
	if _, err := os.Stat(filepath.Join(base, "h", "net")); err == nil {
		t.Errorf("net file made for a host network pod")
	}
	// A bad hostname fails, and nothing is left of that attempt.
	if _, err := Create(filepath.Join(base, "bad"), string(make([]byte, 100)), false); err == nil {
		t.Errorf("an over-long hostname was accepted")
	}
	if _, err := os.Stat(filepath.Join(base, "bad")); !os.IsNotExist(err) {
		t.Errorf("failed Create left %s", filepath.Join(base, "bad"))
	}
	if err := Remove(filepath.Join(base, "h")); err != nil {
		t.Fatal(err)
	}
	if err := Release(base); err != nil {
		t.Fatal(err)
	}
}

// TestSysctlsAndHostIPC: sysctls land in the pod's namespaces and not the
// host's; with HostIPC no IPC namespace is made; a sysctl the kernel lacks
// fails the Create and leaves nothing.
func TestSysctlsAndHostIPC(t *testing.T) {
	requireRoot(t)
	base := filepath.Join(t.TempDir(), "ns")
	defer Release(base)
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hostPing := read("/proc/sys/net/ipv4/ping_group_range")
	hostShm := read("/proc/sys/kernel/shm_rmid_forced")
	p, err := CreateWith(filepath.Join(base, "s"), Options{Hostname: "s", Sysctls: []Sysctl{
		{Name: "net.ipv4.ping_group_range", Value: "0 2147483647"},
		{Name: "kernel/shm_rmid_forced", Value: "1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(filepath.Join(base, "s"))
	h, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	type got struct {
		ping, shm string
		err       error
	}
	c := make(chan got)
	go func() {
		runtime.LockOSThread()
		leave, err := h.Enter()
		if err != nil {
			c <- got{err: err}
			return
		}
		var g got
		b, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
		g.ping = string(b)
		b, _ = os.ReadFile("/proc/sys/kernel/shm_rmid_forced")
		g.shm = string(b)
		if err := leave(); err == nil {
			runtime.UnlockOSThread()
		}
		c <- g
	}()
	g := <-c
	if g.err != nil {
		t.Fatal(g.err)
	}
	if g.ping != "0\t2147483647\n" || g.shm != "1\n" {
		t.Errorf("in the pod: ping_group_range %q, shm_rmid_forced %q", g.ping, g.shm)
	}
	if read("/proc/sys/net/ipv4/ping_group_range") != hostPing || read("/proc/sys/kernel/shm_rmid_forced") != hostShm {
		t.Error("a pod's sysctl changed the host's")
	}

	q, err := CreateWith(filepath.Join(base, "hipc"), Options{Hostname: "h", HostIPC: true})
	if err != nil {
		t.Fatal(err)
	}
	if q.IPC != "" || !pathMissing(filepath.Join(base, "hipc", "ipc")) {
		t.Errorf("host IPC pod got an IPC namespace file: %+v", q)
	}
	if err := Remove(filepath.Join(base, "hipc")); err != nil {
		t.Fatal(err)
	}

	if _, err := CreateWith(filepath.Join(base, "bad"), Options{Hostname: "b", Sysctls: []Sysctl{{Name: "net.ipv4.no_such_knob", Value: "1"}}}); err == nil || !strings.Contains(err.Error(), "no such parameter") {
		t.Errorf("unknown sysctl: %v", err)
	}
	if !pathMissing(filepath.Join(base, "bad")) {
		t.Error("a failed Create left its directory")
	}
}

func pathMissing(p string) bool {
	_, err := os.Lstat(p)
	return os.IsNotExist(err)
}
