package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podvisor/podvisor/namespaces"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// needRoot skips t unless it runs as root.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes network namespaces, links and mounts (run as root)")
	}
}

// pinNetNS makes a new network namespace pinned by a bind mount on path
// (a file it creates). The namespace lives until unpinNetNS.
func pinNetNS(path string) error {
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		return err
	}
	errc := make(chan error, 1)
	goLockedOffMain(func() bool {
		err, restored := pinOnThread(path)
		errc <- err
		return restored
	})
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func pinOnThread(path string) (err error, restored bool) {
	back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err, true
	}
	defer unix.Close(back)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %w", err), true
	}
	merr := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
	if err := unix.Setns(back, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns back: %w", err), false
	}
	if merr != nil {
		return fmt.Errorf("bind mount %s: %w", path, merr), true
	}
	return nil, true
}

// unpinNetNS drops the pin: the namespace goes when nothing else holds it.
func unpinNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return err
	}
	return os.Remove(path)
}

// newNetNS makes a network namespace for t, removed at its end.
func newNetNS(t testing.TB, name string) string {
	t.Helper()
	needRoot(t)
	p := filepath.Join(t.TempDir(), name)
	if err := pinNetNS(p); err != nil {
		t.Fatalf("make network namespace %s: %v", p, err)
	}
	t.Cleanup(func() {
		if err := unpinNetNS(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove network namespace %s: %v", p, err)
		}
	})
	return p
}

// newHost makes a "host" network namespace and opens it.
func newHost(t testing.TB) (*Host, string) {
	t.Helper()
	p := newNetNS(t, "host")
	h, err := OpenHost(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, p
}

// nsHandle is a netlink handle in the namespace at path, for checks.
func nsHandle(t testing.TB, path string) *netlink.Handle {
	t.Helper()
	fd, err := openNetNS(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	nlh, err := handleIn(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nlh.Close)
	return nlh
}

// uniq is a short random suffix for names.
func uniq() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// readSysctl reads a parameter under /proc/sys (name with slashes) as seen
// from the calling thread's network namespace.
func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	return strings.TrimSpace(string(b)), err
}

// dialer is a NetDialer for the namespace at path.
func dialer(t testing.TB, path string) *namespaces.NetDialer {
	t.Helper()
	d, err := namespaces.NewNetDialer(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// proveTCP listens on addr in the namespace to, connects to it from the
// namespace from and exchanges a greeting: connectivity without ping.
func proveTCP(t testing.TB, from, to string, addr netip.Addr) {
	t.Helper()
	network := "tcp4"
	if addr.Is6() {
		network = "tcp6"
	}
	l, err := dialer(t, to).Listen(network, netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, to, err)
	}
	defer l.Close()
	greeting := "hello from " + addr.String()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, greeting)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialer(t, from).DialContext(ctx, network, l.Addr().String())
	if err != nil {
		t.Fatalf("connect from %s to %s: %v", from, l.Addr(), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != greeting {
		t.Fatalf("from %s to %s: read %q, %v", from, l.Addr(), b, err)
	}
}

// addDummy adds an up link with addresses in the namespace of nlh: a veth
// (the kernel may lack the dummy driver) whose peer, name+"p", is up too so
// that it has a carrier.
func addDummy(t testing.TB, nlh *netlink.Handle, name string, addrs ...string) netlink.Link {
	t.Helper()
	la := netlink.NewLinkAttrs()
	la.Name = name
	if err := nlh.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: name + "p"}); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	if peer, err := nlh.LinkByName(name + "p"); err != nil || nlh.LinkSetUp(peer) != nil {
		t.Fatalf("set %sp up: %v", name, err)
	}
	l, err := nlh.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		p := netip.MustParsePrefix(a)
		addr := &netlink.Addr{IPNet: prefixToIPNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := nlh.AddrAdd(l, addr); err != nil {
			t.Fatalf("add %s to %s: %v", a, name, err)
		}
	}
	if err := nlh.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return l
}

func mustIPNet(s string) *net.IPNet {
	return prefixToIPNet(netip.MustParsePrefix(s))
}
