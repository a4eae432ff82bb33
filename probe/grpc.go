package probe

import (
	"context"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// GRPC calls grpc.health.v1.Health/Check for service (empty: the server as
// a whole) on host:port, in plaintext (no TLS, as in Kubernetes), through
// dial. An empty host means 127.0.0.1. It passes only when the answer is
// SERVING; NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, an RPC error (a server
// without the health service, an unknown service, a refused connection)
// and a timeout fail, with the status or the error in Output. ctx bounds
// the whole check, connection included; the connection is closed before
// GRPC returns. A nil dial uses the host's network.
func GRPC(ctx context.Context, dial DialFunc, host string, port int, service string) Result {
	addr := hostPort(host, port)
	d := dialer(dial)
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return d(ctx, "tcp", a)
		}),
		grpc.WithNoProxy(),
		grpc.WithUserAgent(UserAgent),
		grpc.WithDisableServiceConfig(),
		grpc.WithDisableRetry(),
	)
	if err != nil {
		return fail(fmt.Sprintf("gRPC probe: %v", err))
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fail(grpcError(ctx, service, err))
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return fail(fmt.Sprintf("gRPC probe: service %q unhealthy (responded with %s)", service, st))
	}
	return ok(fmt.Sprintf("gRPC probe: service %q SERVING", service))
}

func grpcError(ctx context.Context, service string, err error) string {
	s, _ := status.FromError(err)
	switch {
	case s.Code() == codes.Unimplemented:
		return fmt.Sprintf("gRPC probe: the server does not implement the health protocol (grpc.health.v1.Health): %s", s.Message())
	case s.Code() == codes.NotFound:
		return fmt.Sprintf("gRPC probe: service %q unknown to the server: %s", service, s.Message())
	case s.Code() == codes.DeadlineExceeded || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("gRPC probe timed out: %s", s.Message())
	}
	return fmt.Sprintf("gRPC probe failed: code = %s desc = %s", s.Code(), s.Message())
}
