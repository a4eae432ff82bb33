package probe

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

var hostDial DialFunc = (&net.Dialer{}).DialContext

func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func hostAndPort(t testing.TB, rawURL string) (string, int) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return u.Hostname(), port
}

// closedPort is a loopback port with nothing listening.
func closedPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// settled waits until the number of goroutines is back to at most n.
func settled(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testServer(t *testing.T) (host string, port int) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/moved-bad", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/unavailable", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		var bad []string
		if r.Host != "probe.example" {
			bad = append(bad, "Host "+r.Host)
		}
		if v := r.Header.Values("X-Custom"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
			bad = append(bad, fmt.Sprintf("X-Custom %q", v))
		}
		if ua := r.UserAgent(); ua != UserAgent {
			bad = append(bad, "User-Agent "+ua)
		}
		if r.Header.Get("Accept") != "*/*" {
			bad = append(bad, "Accept "+r.Header.Get("Accept"))
		}
		if r.Close != true { // "Connection: close": no keep-alive
			bad = append(bad, "keep-alive")
		}
		if r.URL.RawQuery != "full=1" {
			bad = append(bad, "query "+r.URL.RawQuery)
		}
		if len(bad) > 0 {
			http.Error(w, strings.Join(bad, "; "), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/agent", func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() != "custom/2" || r.Header.Get("Accept") != "" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 64; i++ { // 4 MiB, far more than a check reads
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return hostAndPort(t, srv.URL)
}

func TestHTTPGet(t *testing.T) {
	host, port := testServer(t)
	for _, c := range []struct {
		name    string
		req     HTTPRequest
		ok      bool
		output  string // a substring of Output
		maxTime time.Duration
	}{
		{name: "200", req: HTTPRequest{Path: "/ok"}, ok: true, output: "HTTP probe succeeded with statuscode: 200"},
		{name: "503", req: HTTPRequest{Path: "/unavailable"}, output: "HTTP probe failed with statuscode: 503"},
		{name: "404", req: HTTPRequest{Path: "/none"}, output: "HTTP probe failed with statuscode: 404"},
		{name: "same-host redirect followed", req: HTTPRequest{Path: "/moved"}, ok: true, output: "statuscode: 200"},
		{name: "same-host redirect to a failure", req: HTTPRequest{Path: "/moved-bad"}, output: "statuscode: 503"},
		{name: "other-host redirect passes unfollowed", req: HTTPRequest{Path: "/elsewhere"}, ok: true, output: "statuscode: 302"},
		{name: "redirect loop", req: HTTPRequest{Path: "/loop"}, output: "stopped after 10 redirects"},
		{name: "headers", req: HTTPRequest{Scheme: "http", Path: "/headers?full=1", Headers: []Header{
			{"Host", "probe.example"}, {"X-Custom", "one"}, {"x-custom", "two"},
		}}, ok: true},
		{name: "user agent replaced, accept removed", req: HTTPRequest{Path: "agent", Headers: []Header{
			{"User-Agent", "custom/2"}, {"Accept", ""},
		}}, ok: true},
		{name: "big body", req: HTTPRequest{Path: "/big"}, ok: true, output: "200"},
		{name: "timeout", req: HTTPRequest{Path: "/slow"}, output: "context deadline exceeded", maxTime: time.Second},
		{name: "refused", req: HTTPRequest{Port: closedPort(t), Path: "/ok"}, output: "connection refused"},
		{name: "bad scheme", req: HTTPRequest{Scheme: "ftp"}, output: "unsupported scheme"},
		{name: "bad port", req: HTTPRequest{Port: 70000}, output: "out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.req.Host == "" {
				c.req.Host = host
			}
			if c.req.Port == 0 {
				c.req.Port = port
			}
			start := time.Now()
			// A generous deadline (the v2 VM runs under emulation), but for
			// the case that is about the deadline.
			deadline := 5 * time.Second
			if c.maxTime != 0 {
				deadline = 300 * time.Millisecond
			}
			r := HTTPGet(withTimeout(t, deadline), hostDial, c.req)
			took := time.Since(start)
			if r.OK != c.ok || !strings.Contains(r.Output, c.output) {
				t.Errorf("got %+v, want OK %v and output with %q", r, c.ok, c.output)
			}
			if c.maxTime != 0 && took > c.maxTime {
				t.Errorf("took %v", took)
			}
			t.Logf("%v in %v", r, took)
		})
	}
	// An empty host is 127.0.0.1, and a nil dial is the host's network.
	if r := HTTPGet(withTimeout(t, 2*time.Second), nil, HTTPRequest{Port: port, Path: "/ok"}); !r.OK {
		t.Errorf("default host and dial: %+v", r)
	}
}

func TestHTTPSDoesNotVerify(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the plain HTTP attempt below
	srv.StartTLS()
	defer srv.Close()
	host, port := hostAndPort(t, srv.URL)
	r := HTTPGet(withTimeout(t, 2*time.Second), hostDial, HTTPRequest{Scheme: "HTTPS", Host: host, Port: port, Path: "/"})
	if !r.OK {
		t.Errorf("HTTPS with a self-signed certificate: %+v", r)
	}
	// Plain HTTP to a TLS server fails.
	if r := HTTPGet(withTimeout(t, 2*time.Second), hostDial, HTTPRequest{Host: host, Port: port}); r.OK {
		t.Errorf("HTTP to an HTTPS server passed: %+v", r)
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			// The check closes its end at once: the server reads EOF.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		accepted <- err
	}()
	port := l.Addr().(*net.TCPAddr).Port
	if r := TCP(withTimeout(t, time.Second), hostDial, "127.0.0.1", port); !r.OK {
		t.Errorf("open port: %+v", r)
	}
	if err := <-accepted; err != io.EOF {
		t.Errorf("the check's connection was not closed at once: %v", err)
	}
	r := TCP(withTimeout(t, time.Second), hostDial, "127.0.0.1", closedPort(t))
	if r.OK || !strings.Contains(r.Output, "connection refused") {
		t.Errorf("closed port: %+v", r)
	}
	if r := TCP(withTimeout(t, time.Second), nil, "", port); !r.OK {
		t.Errorf("default host and dial: %+v", r)
	}
}

func grpcServer(t testing.TB, withHealth bool) (*health.Server, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	hs := health.NewServer()
	if withHealth {
		healthpb.RegisterHealthServer(s, hs)
	}
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return hs, l.Addr().(*net.TCPAddr).Port
}

func TestGRPC(t *testing.T) {
	hs, port := grpcServer(t, true)
	check := func(service string, wantOK bool, want string) {
		t.Helper()
		r := GRPC(withTimeout(t, 2*time.Second), hostDial, "127.0.0.1", port, service)
		if r.OK != wantOK || !strings.Contains(r.Output, want) {
			t.Errorf("service %q: got %+v, want OK %v and output with %q", service, r, wantOK, want)
		}
	}
	check("", true, "SERVING") // the server as a whole
	hs.SetServingStatus("app", healthpb.HealthCheckResponse_SERVING)
	check("app", true, "SERVING")
	hs.SetServingStatus("app", healthpb.HealthCheckResponse_NOT_SERVING)
	check("app", false, "NOT_SERVING")
	hs.SetServingStatus("app", healthpb.HealthCheckResponse_UNKNOWN)
	check("app", false, "UNKNOWN")
	hs.SetServingStatus("app", healthpb.HealthCheckResponse_SERVING)
	check("app", true, "SERVING")
	check("nope", false, "unknown service")
	hs.Shutdown() // every service NOT_SERVING
	check("app", false, "NOT_SERVING")

	_, noHealth := grpcServer(t, false)
	r := GRPC(withTimeout(t, 2*time.Second), hostDial, "127.0.0.1", noHealth, "")
	if r.OK || !strings.Contains(r.Output, "does not implement the health protocol") {
		t.Errorf("server without the health service: %+v", r)
	}

	// Refused: fails at once, not at the deadline.
	start := time.Now()
	r = GRPC(withTimeout(t, 5*time.Second), nil, "", closedPort(t), "")
	if r.OK || !strings.Contains(r.Output, "connection refused") || time.Since(start) > 2*time.Second {
		t.Errorf("closed port: %+v after %v", r, time.Since(start))
	}

	// A server that accepts and says nothing: the check ends at its deadline.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start = time.Now()
	r = GRPC(withTimeout(t, 300*time.Millisecond), hostDial, "127.0.0.1", l.Addr().(*net.TCPAddr).Port, "")
	if took := time.Since(start); r.OK || took > time.Second {
		t.Errorf("mute server: %+v after %v", r, took)
	}
	t.Logf("mute server: %+v", r)
}

// Checks leave nothing behind: no goroutine, hence no connection.
func TestNoLeftovers(t *testing.T) {
	host, port := testServer(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	thost, tport := hostAndPort(t, srv.URL)
	_, gport := grpcServer(t, true)
	refused := closedPort(t)
	// A server that accepts and never answers, each connection until the
	// client closes it: checks against it time out.
	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close()
	go func() {
		for {
			c, err := ml.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	mute := ml.Addr().(*net.TCPAddr).Port
	run := func() {
		short := withTimeout(t, 50*time.Millisecond)
		GRPC(short, hostDial, host, mute, "")
		short = withTimeout(t, 50*time.Millisecond)
		HTTPGet(short, hostDial, HTTPRequest{Host: host, Port: mute})
		ctx := withTimeout(t, 5*time.Second)
		HTTPGet(ctx, hostDial, HTTPRequest{Host: host, Port: port, Path: "/moved"})
		HTTPGet(ctx, hostDial, HTTPRequest{Host: host, Port: port, Path: "/big"})
		HTTPGet(ctx, hostDial, HTTPRequest{Scheme: "https", Host: thost, Port: tport})
		HTTPGet(ctx, hostDial, HTTPRequest{Host: host, Port: refused})
		TCP(ctx, hostDial, host, port)
		GRPC(ctx, hostDial, host, gport, "")
		GRPC(ctx, hostDial, host, refused, "")
	}
	run() // lazily started goroutines of the servers and packages
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		run()
	}
	settled(t, before)
}

func TestOutputBound(t *testing.T) {
	long := strings.Repeat("é", MaxOutput) // 2 bytes each
	got := bound(long)
	if len(got) > MaxOutput || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("bound: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if bound("short") != "short" || bound("bad\xffutf8") != "bad\uFFFDutf8" {
		t.Errorf("bound changed a short string")
	}
	// A failing status with a huge body still gives a short Output.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, strings.Repeat("y", 100<<10))
	}))
	defer srv.Close()
	h, p := hostAndPort(t, srv.URL)
	if r := HTTPGet(withTimeout(t, 2*time.Second), hostDial, HTTPRequest{Host: h, Port: p}); r.OK || len(r.Output) > MaxOutput {
		t.Errorf("%+v", r)
	}
}

func BenchmarkHTTPGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	host, port := hostAndPort(b, srv.URL)
	req := HTTPRequest{Host: host, Port: port, Path: "/healthz"}
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if r := HTTPGet(ctx, hostDial, req); !r.OK {
			b.Fatal(r)
		}
		cancel()
	}
}

func BenchmarkTCP(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
	port := l.Addr().(*net.TCPAddr).Port
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if r := TCP(ctx, hostDial, "127.0.0.1", port); !r.OK {
			b.Fatal(r)
		}
		cancel()
	}
}

func BenchmarkGRPC(b *testing.B) {
	_, port := grpcServer(b, true)
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if r := GRPC(ctx, hostDial, "127.0.0.1", port, ""); !r.OK {
			b.Fatal(r)
		}
		cancel()
	}
}
