package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/podvisor/podvisor/namespaces"
)

// Checks through a NetDialer reach servers inside a fresh network
// namespace, which the host's network cannot reach.
func TestProbesInNetworkNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace (CI runs as root)")
	}
	base := filepath.Join(t.TempDir(), "ns")
	dir := filepath.Join(base, "pod")
	p, err := namespaces.Create(dir, "probetest", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := namespaces.Remove(dir); err != nil {
			t.Error(err)
		}
		if err := namespaces.Release(base); err != nil {
			t.Error(err)
		}
	})
	d, err := namespaces.NewNetDialer(p.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// HTTP on 127.0.0.1 and gRPC on all addresses, inside the namespace.
	hl, err := d.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	})}
	go hsrv.Serve(hl)
	defer hsrv.Close()
	gl, err := d.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	gsrv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gsrv, hs)
	go gsrv.Serve(gl)
	defer gsrv.Stop()
	hport := hl.Addr().(*net.TCPAddr).Port
	gport := gl.Addr().(*net.TCPAddr).Port

	ctx := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	if r := HTTPGet(ctx(), d.DialContext, HTTPRequest{Port: hport, Path: "/healthz"}); !r.OK {
		t.Errorf("HTTP in the namespace: %+v", r)
	}
	if r := HTTPGet(ctx(), d.DialContext, HTTPRequest{Host: "localhost", Port: hport, Path: "/missing"}); r.OK || !strings.Contains(r.Output, "404") {
		t.Errorf("HTTP 404 in the namespace: %+v", r)
	}
	if r := TCP(ctx(), d.DialContext, "127.0.0.1", hport); !r.OK {
		t.Errorf("TCP in the namespace: %+v", r)
	}
	if r := GRPC(ctx(), d.DialContext, "127.0.0.1", gport, ""); !r.OK {
		t.Errorf("gRPC in the namespace: %+v", r)
	}
	if r := GRPC(ctx(), d.DialContext, "::1", gport, ""); !r.OK && !strings.Contains(r.Output, "address not available") {
		t.Errorf("gRPC over IPv6 in the namespace: %+v", r)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if r := GRPC(ctx(), d.DialContext, "127.0.0.1", gport, ""); r.OK {
		t.Errorf("gRPC NOT_SERVING in the namespace passed: %+v", r)
	}
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	// Without the NetDialer, the same checks run in the host's network and
	// fail (unless some host process listens on the same port by chance).
	for _, port := range []int{hport, gport} {
		if c, err := net.Dial("tcp", hostPort("127.0.0.1", port)); err == nil {
			c.Close()
			t.Logf("port %d is in use on the host too: not checking that the host misses it", port)
			continue
		}
		if r := HTTPGet(ctx(), nil, HTTPRequest{Port: port, Path: "/healthz"}); r.OK || !strings.Contains(r.Output, "connection refused") {
			t.Errorf("HTTP from the host: %+v", r)
		}
		if r := TCP(ctx(), nil, "127.0.0.1", port); r.OK {
			t.Errorf("TCP from the host: %+v", r)
		}
		if r := GRPC(ctx(), nil, "127.0.0.1", port, ""); r.OK || !strings.Contains(r.Output, "connection refused") {
			t.Errorf("gRPC from the host: %+v", r)
		}
	}
}

// The cost of checks through a NetDialer into a namespace, on its loopback.
func BenchmarkProbesInNetworkNamespace(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates a network namespace")
	}
	base := filepath.Join(b.TempDir(), "ns")
	dir := filepath.Join(base, "pod")
	p, err := namespaces.Create(dir, "probebench", false)
	if err != nil {
		b.Fatal(err)
	}
	defer namespaces.Release(base)
	defer namespaces.Remove(dir)
	d, err := namespaces.NewNetDialer(p.Net)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	l, err := d.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(l)
	defer srv.Close()
	gl, err := d.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gsrv := grpc.NewServer()
	healthpb.RegisterHealthServer(gsrv, health.NewServer())
	go gsrv.Serve(gl)
	defer gsrv.Stop()
	port := l.Addr().(*net.TCPAddr).Port
	gport := gl.Addr().(*net.TCPAddr).Port
	for _, bc := range []struct {
		name  string
		check func(context.Context) Result
	}{
		{"HTTPGet", func(ctx context.Context) Result {
			return HTTPGet(ctx, d.DialContext, HTTPRequest{Port: port, Path: "/healthz"})
		}},
		{"TCP", func(ctx context.Context) Result { return TCP(ctx, d.DialContext, "127.0.0.1", port) }},
		{"GRPC", func(ctx context.Context) Result { return GRPC(ctx, d.DialContext, "127.0.0.1", gport, "") }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if r := bc.check(ctx); !r.OK {
					b.Fatal(r)
				}
				cancel()
			}
		})
	}
}
