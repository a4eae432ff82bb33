package namespaces

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
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
