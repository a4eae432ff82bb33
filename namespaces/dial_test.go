package namespaces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newNetns makes a fresh pod-like set of namespaces (loopback up) under a
// temporary directory and returns its network namespace file.
func newNetns(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces (CI runs as root)")
	}
	base := filepath.Join(t.TempDir(), "ns")
	dir := filepath.Join(base, "pod")
	p, err := Create(dir, "dialtest", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Remove(dir); err != nil {
			t.Error(err)
		}
		if err := Release(base); err != nil {
			t.Error(err)
		}
	})
	return p.Net
}

func newDialer(t testing.TB, path string) *NetDialer {
	t.Helper()
	d, err := NewNetDialer(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// echo serves l: it writes greeting, then echoes, on every connection.
func echo(l net.Listener, greeting string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.WriteString(c, greeting)
			io.Copy(c, c)
		}()
	}
}

func roundTrip(t *testing.T, c net.Conn, greeting string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, len(greeting))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != greeting {
		t.Fatalf("greeting %q, %v", buf, err)
	}
	msg := []byte("ping through the namespace")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf = make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, msg) {
		t.Fatalf("echo %q, %v", buf, err)
	}
}

// threadsInNetns reports the threads of this process whose network
// namespace is not want (an inode).
func threadsNotIn(t *testing.T, want uint64) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, task := range tasks {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/task/"+task.Name()+"/ns/net", &st); err != nil {
			continue // the thread ended meanwhile
		}
		if st.Ino != want {
			bad = append(bad, task.Name())
		}
	}
	return bad
}

func TestNetDialerInNamespace(t *testing.T) {
	nsPath := newNetns(t)
	hostNet := inode(t, "/proc/self/ns/net")
	d := newDialer(t, nsPath)

	l, err := d.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	greeting := fmt.Sprintf("in-netns-%d", time.Now().UnixNano())
	go echo(l, greeting)
	addr := l.Addr().String()

	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("conn is a %T, want *net.TCPConn", c)
	}
	if c.RemoteAddr().String() != addr {
		t.Errorf("remote address %v, want %s", c.RemoteAddr(), addr)
	}
	roundTrip(t, c, greeting)
	c.Close()

	// "localhost" and tcp4 reach it too.
	for _, a := range []struct{ network, addr string }{
		{"tcp4", addr},
		{"tcp", strings.Replace(addr, "127.0.0.1", "localhost", 1)},
	} {
		c, err := d.DialContext(context.Background(), a.network, a.addr)
		if err != nil {
			t.Fatalf("%s %s: %v", a.network, a.addr, err)
		}
		roundTrip(t, c, greeting)
		c.Close()
	}

	// The host's network cannot reach the pod's loopback. (Should some
	// host process listen on the same port by chance, it is not ours.)
	if hc, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		hc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, len(greeting))
		n, _ := io.ReadFull(hc, buf)
		hc.Close()
		if string(buf[:n]) == greeting {
			t.Fatalf("the host reached the listener inside the namespace at %s", addr)
		}
	}

	// Many dials at once leave every thread of the process in the host's
	// network namespace, and the host's own listeners reachable.
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go echo(hl, "host")
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.DialContext(context.Background(), "tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			c.Close()
			hc, err := net.Dial("tcp", hl.Addr().String())
			if err != nil {
				errs <- fmt.Errorf("host dial after a namespace dial: %w", err)
				return
			}
			hc.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if bad := threadsNotIn(t, hostNet); len(bad) > 0 {
		t.Errorf("threads %v are not in the host's network namespace", bad)
	}
	if inode(t, "/proc/self/ns/net") != hostNet {
		t.Errorf("the process left the host's network namespace")
	}
}

func TestNetDialerIPv6AndWildcard(t *testing.T) {
	d := newDialer(t, newNetns(t))
	l, err := d.Listen("tcp", ":0") // dual-stack
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go echo(l, "dual")
	_, port, _ := net.SplitHostPort(l.Addr().String())
	c, err := d.DialContext(context.Background(), "tcp4", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, "dual")
	c.Close()
	c, err = d.DialContext(context.Background(), "tcp6", "[::1]:"+port)
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EAFNOSUPPORT) {
			t.Skipf("no IPv6 loopback in the namespace: %v", err)
		}
		t.Fatal(err)
	}
	roundTrip(t, c, "dual")
	c.Close()
	if _, err := d.DialContext(context.Background(), "tcp6", "127.0.0.1:"+port); err == nil {
		t.Errorf("tcp6 dialed an IPv4 address")
	}
}

func TestNetDialerErrors(t *testing.T) {
	nsPath := newNetns(t)
	d := newDialer(t, nsPath)
	ctx := context.Background()

	l, err := d.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = d.DialContext(ctx, "tcp", addr)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial a closed port: %v, want connection refused", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || !strings.Contains(err.Error(), "dial tcp "+addr) {
		t.Errorf("error %q is not a dial *net.OpError naming %s", err, addr)
	}
	// Only loopback exists in the namespace.
	if _, err := d.DialContext(ctx, "tcp", "192.0.2.1:80"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("dial off the namespace's loopback: %v, want network unreachable", err)
	}
	for _, a := range [][2]string{{"udp", "127.0.0.1:1"}, {"tcp", "nohostport"}, {"tcp", "[fe80::1%eth0]:80"}, {"tcp4", "[::1]:80"}} {
		if _, err := d.DialContext(ctx, a[0], a[1]); err == nil {
			t.Errorf("dial %s %s: no error", a[0], a[1])
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.DialContext(cctx, "tcp", addr); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a canceled context: %v", err)
	}

	if _, err := NewNetDialer(filepath.Join(filepath.Dir(nsPath), "uts")); err == nil {
		t.Errorf("a UTS namespace file was taken for a network namespace")
	}
	if _, err := NewNetDialer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("a missing file was accepted")
	}
	if _, err := NewNetDialer("/etc/hostname"); err == nil {
		t.Errorf("a plain file was accepted")
	}

	d2, err := NewNetDialer(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	d2.Close()
	if _, err := d2.DialContext(ctx, "tcp", addr); !errors.Is(err, net.ErrClosed) {
		t.Errorf("dial after Close: %v, want net.ErrClosed", err)
	}
	if _, err := d2.Listen("tcp", "127.0.0.1:0"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listen after Close: %v, want net.ErrClosed", err)
	}
}

// A SYN that nobody answers: the dial ends at the context's deadline, as a
// timeout, and a cancel ends it at once.
func TestNetDialerTimeout(t *testing.T) {
	d := newDialer(t, newNetns(t))
	// A listener with a backlog of 0 that never accepts: once its queue is
	// full, the kernel drops new SYNs and the dialer waits in SYN_SENT.
	fd, err := d.socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("the backlog never filled")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			held = append(held, c)
			continue
		}
		took := time.Since(start)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("error %q (%T) is not a timeout", err, err)
		}
		if took < 250*time.Millisecond || took > 2*time.Second {
			t.Errorf("the dial took %v for a 300ms deadline", took)
		}
		t.Logf("after %d queued connections: %v in %v", i, err, took)
		break
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if _, err := d.DialContext(ctx, "tcp", addr); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled dial: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a canceled dial took %v", took)
	}
}

func TestNetDialerHostNetwork(t *testing.T) {
	for _, d := range []*NetDialer{{}, newDialer(t, "")} {
		if d.String() != "host" {
			t.Errorf("String %q", d.String())
		}
		l, err := d.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go echo(l, "host")
		if _, err := net.Dial("tcp", l.Addr().String()); err != nil {
			t.Errorf("a host-network listener is not on the host: %v", err)
		}
		c, err := d.DialContext(context.Background(), "tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, "host")
		c.Close()
		l.Close()
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
}

// As http.Transport.DialContext: an HTTP server inside the namespace.
func TestNetDialerHTTP(t *testing.T) {
	d := newDialer(t, newNetns(t))
	l, err := d.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the pod")
	})}
	go srv.Serve(l)
	defer srv.Close()
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from the pod" {
		t.Errorf("body %q", body)
	}
}

// The cost of a dial through the namespace (a thread joins it for the
// socket call) against a plain dial, on loopback.
func BenchmarkNetDialer(b *testing.B) {
	nsPath := newNetns(b)
	for _, bc := range []struct{ name, path string }{{"netns", nsPath}, {"host", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			d := newDialer(b, bc.path)
			l, err := d.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, err := d.DialContext(ctx, "tcp", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
