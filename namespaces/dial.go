package namespaces

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NetDialer opens TCP connections and listeners inside one network
// namespace, from any goroutine, without moving the caller's thread: each
// socket is created on a short-lived locked thread that joins the namespace
// for the socket(2) call only and goes back to the host's network namespace
// at once. A socket belongs for good to the namespace it was created in, so
// connect, bind, listen, reads and writes then work from any thread, through
// Go's net package and its poller.
//
// The zero NetDialer, like one made from an empty path, uses the host's
// network (a plain net.Dialer and net.Listen). A NetDialer is safe for
// concurrent use.
type NetDialer struct {
	mu     sync.RWMutex // held for reading while fd is in use
	fd     int          // the network namespace file, when ns
	ns     bool
	closed bool
	path   string
}

// NewNetDialer opens the network namespace file at path (a bind-mounted
// namespace such as Paths.Net, or /proc/PID/ns/net) and keeps it open until
// Close. An empty path means the host's network. Joining a namespace needs
// CAP_SYS_ADMIN.
func NewNetDialer(path string) (*NetDialer, error) {
	if path == "" {
		return &NetDialer{}, nil
	}
	if _, err := hostNamespaces(); err != nil {
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		unix.Close(fd)
		if err == nil {
			err = errors.New("not a network namespace")
		}
		return nil, &os.PathError{Op: "open network namespace", Path: path, Err: err}
	}
	return &NetDialer{fd: fd, ns: true, path: path}, nil
}

// Close closes the namespace file; later dials and listens fail with
// net.ErrClosed. Connections and listeners already made are not affected.
// Close on a host-network NetDialer does nothing.
func (d *NetDialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ns || d.closed {
		return nil
	}
	d.closed = true
	return unix.Close(d.fd)
}

// String is the namespace file's path, or "host" for the host's network.
func (d *NetDialer) String() string {
	if !d.ns {
		return "host"
	}
	return d.path
}

// DialContext connects to address in the dialer's network namespace, with
// the signature of net.Dialer.DialContext, so that it can serve as
// http.Transport.DialContext or, wrapped, as a gRPC context dialer.
//
// The network is "tcp", "tcp4" or "tcp6". The host in address is an IP
// literal (an IPv6 zone must be numeric: interface names are not resolved
// inside the namespace), "localhost" or empty (both meaning 127.0.0.1 and
// ::1, in that order for "tcp"), or any other name, which is resolved with
// the host's resolver, not with the namespace's /etc/resolv.conf or DNS
// servers. When a name has several addresses they are tried in turn, IPv4
// first, and the first error is returned. ctx bounds the whole dial; once
// connected, ctx no longer matters.
//
// Errors are *net.OpError values like those of net.Dialer: a refused
// connection matches syscall.ECONNREFUSED with errors.Is, an expired ctx
// deadline is a timeout (os.ErrDeadlineExceeded, net.Error.Timeout).
func (d *NetDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if !d.ns {
		var nd net.Dialer
		return nd.DialContext(ctx, network, address)
	}
	addrs, err := resolve(ctx, "dial", network, address)
	if err != nil {
		return nil, err
	}
	var first error
	for _, ap := range addrs {
		c, err := d.dialOne(ctx, network, ap)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// Dial is DialContext without a deadline.
func (d *NetDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// Listen announces on address in the dialer's network namespace, like
// net.Listen: network is "tcp", "tcp4" or "tcp6"; an empty or unspecified
// host listens on all addresses (for "tcp" on a dual-stack [::], or on
// 0.0.0.0 without IPv6); a port 0 picks a free one (see the listener's Addr). Host names resolve as for
// DialContext and the first address is used. The listening socket has
// SO_REUSEADDR, as with net.Listen.
func (d *NetDialer) Listen(network, address string) (net.Listener, error) {
	if !d.ns {
		return net.Listen(network, address)
	}
	addrs, err := resolve(context.Background(), "listen", network, address)
	if err != nil {
		return nil, err
	}
	ap, v6only := addrs[0], network == "tcp6"
	// Like net.Listen, "tcp" on a wildcard address is dual-stack.
	wildcard := ap.Addr().IsUnspecified()
	if wildcard && network == "tcp" {
		ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
	}
	l, err := d.listen(ap, v6only)
	if err != nil && wildcard && network == "tcp" && errors.Is(err, unix.EAFNOSUPPORT) {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		l, err = d.listen(ap, false)
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	return l, nil
}

// listenerBacklog is the listen(2) backlog; the kernel caps it at the
// namespace's net.core.somaxconn.
const listenerBacklog = 4096

func (d *NetDialer) listen(ap netip.AddrPort, v6only bool) (net.Listener, error) {
	family, sa := sockaddr(ap)
	fd, err := d.socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, err
	}
	fail := func(op string, err error) (net.Listener, error) {
		unix.Close(fd)
		return nil, os.NewSyscallError(op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt", err)
	}
	if family == unix.AF_INET6 {
		v := 0
		if v6only {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, listenerBacklog); err != nil {
		return fail("listen", err)
	}
	f := os.NewFile(uintptr(fd), "netns-listener")
	defer f.Close()
	return net.FileListener(f) // a dup of fd, registered with the poller
}

// dialOne connects to one address. Like net.Dialer it retries, twice, a
// connection that the kernel made to itself (a local port picked equal to
// the remote one, with nothing listening).
func (d *NetDialer) dialOne(ctx context.Context, network string, ap netip.AddrPort) (net.Conn, error) {
	for try := 0; ; try++ {
		c, err := d.connect(ctx, ap)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
		}
		if try < 2 && c.LocalAddr().String() == c.RemoteAddr().String() {
			c.Close()
			continue
		}
		return c, nil
	}
}

func (d *NetDialer) connect(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, mapContextErr(err)
	}
	family, sa := sockaddr(ap)
	fd, err := d.socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// From here on f owns fd.
	err = unix.Connect(fd, sa)
	f := os.NewFile(uintptr(fd), "netns-socket") // non-blocking: registered with the poller
	defer f.Close()
	switch err {
	case nil, unix.EISCONN:
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		if err := waitConnected(ctx, f); err != nil {
			return nil, err
		}
	default:
		return nil, os.NewSyscallError("connect", err)
	}
	return net.FileConn(f) // a dup of fd, registered with the poller
}

// waitConnected waits, in the poller, until the non-blocking connect on f
// is over, or ctx is done.
func waitConnected(ctx context.Context, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if err := f.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	var cerr error
	werr := rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			cerr = os.NewSyscallError("getsockopt", err)
			return true
		}
		switch e := syscall.Errno(v); e {
		case 0, unix.EISCONN:
			// Writable without an error may also be a spurious wake-up:
			// connected only when there is a peer.
			_, err := unix.Getpeername(int(fd))
			return err == nil
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		default:
			cerr = os.NewSyscallError("connect", e)
			return true
		}
	})
	if werr != nil {
		if err := ctx.Err(); err != nil {
			return mapContextErr(err)
		}
		return werr
	}
	return cerr
}

// mapContextErr turns an expired deadline into the error net.Dialer gives:
// a timeout (it prints "i/o timeout").
func mapContextErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return err
}

// socket creates a socket in the dialer's network namespace.
func (d *NetDialer) socket(family, sotype int) (int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return -1, net.ErrClosed
	}
	host, err := hostNamespaces()
	if err != nil {
		return -1, err
	}
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err, restored := socketOnThread(d.fd, host.fds[0], family, sotype)
		if restored {
			runtime.UnlockOSThread()
		}
		// Not restored: the goroutine ends locked and Go discards the thread.
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// socketOnThread runs on a locked thread: join the namespace nsfd, create
// the socket, join hostfd again.
func socketOnThread(nsfd, hostfd, family, sotype int) (fd int, err error, restored bool) {
	if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
		return -1, os.NewSyscallError("setns", err), true // a failed setns changes nothing
	}
	fd, serr := unix.Socket(family, sotype, 0)
	if err := unix.Setns(hostfd, unix.CLONE_NEWNET); err != nil {
		if serr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("back to the host network namespace: %w", os.NewSyscallError("setns", err)), false
	}
	if serr != nil {
		return -1, os.NewSyscallError("socket", serr), true
	}
	return fd, nil, true
}

// resolve turns "host:port" into the addresses to try, for tcp, tcp4 or
// tcp6. Errors are *net.OpError values with op.
func resolve(ctx context.Context, op, network, address string) ([]netip.AddrPort, error) {
	fail := func(err error) ([]netip.AddrPort, error) {
		return nil, &net.OpError{Op: op, Net: network, Err: err}
	}
	var want string // the resolver's network
	switch network {
	case "tcp":
		want = "ip"
	case "tcp4":
		want = "ip4"
	case "tcp6":
		want = "ip6"
	default:
		return fail(net.UnknownNetworkError(network))
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return fail(err)
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, portStr)
	if err != nil {
		return fail(err)
	}
	var ips []netip.Addr
	switch h := strings.ToLower(host); {
	case h == "" && op == "listen":
		ips = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	case h == "" || h == "localhost" || h == "localhost.":
		ips = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	default:
		if ip, err := netip.ParseAddr(host); err == nil {
			if z := ip.Zone(); z != "" {
				if _, err := strconv.ParseUint(z, 10, 32); err != nil {
					return fail(&net.AddrError{Err: "IPv6 zone must be an interface number inside a network namespace", Addr: host})
				}
			}
			ips = []netip.Addr{ip}
			break
		}
		// Not a literal: the host's resolver.
		ips, err = net.DefaultResolver.LookupNetIP(ctx, want, host)
		if err != nil {
			return fail(err)
		}
	}
	var v4, v6 []netip.AddrPort
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Is4() && want != "ip6" {
			v4 = append(v4, netip.AddrPortFrom(ip, uint16(port)))
		}
		if ip.Is6() && want != "ip4" {
			v6 = append(v6, netip.AddrPortFrom(ip, uint16(port)))
		}
	}
	all := append(v4, v6...)
	if len(all) == 0 {
		return fail(&net.AddrError{Err: "no suitable address found", Addr: host})
	}
	return all, nil
}

func sockaddr(ap netip.AddrPort) (family int, sa unix.Sockaddr) {
	if ap.Addr().Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	sa6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if z := ap.Addr().Zone(); z != "" {
		n, _ := strconv.ParseUint(z, 10, 32)
		sa6.ZoneId = uint32(n)
	}
	return unix.AF_INET6, sa6
}
