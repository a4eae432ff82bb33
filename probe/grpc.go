package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// The gRPC health protocol (grpc.health.v1.Health/Check) spoken by hand
// over Go's own HTTP/2 client in cleartext (prior knowledge, as gRPC
// without TLS): one unary call whose request and response are one-field
// protobuf messages. The gRPC library would add some 4 MB to the binary
// and several hundred kB to every podvisor process's memory (its
// package initialisation), for this one call.

// Health statuses of grpc.health.v1.HealthCheckResponse.
var healthStatus = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

// gRPC status codes the check tells apart.
const (
	codeOK               = 0
	codeDeadlineExceeded = 4
	codeNotFound         = 5
	codeUnimplemented    = 12
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
	d := dialer(dial)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	// The connection is closed when the check returns, whatever became of
	// the call: the transport keeps a connection whose stream was cut off
	// (a timeout) out of CloseIdleConnections' reach.
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	tr := &http.Transport{
		Protocols: &protos,
		Proxy:     nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d(ctx, network, addr)
			if err == nil {
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
			return c, err
		},
	}
	defer tr.CloseIdleConnections()
	u := url.URL{Scheme: "http", Host: hostPort(host, port), Path: "/grpc.health.v1.Health/Check"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(frame(request(service))))
	if err != nil {
		return fail(fmt.Sprintf("gRPC probe: %v", err))
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fail(grpcTransportError(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Sprintf("gRPC probe failed: HTTP status %d", resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fail(grpcTransportError(ctx, err))
	}
	// The status is in the trailers, or in the headers of a response
	// without a message ("trailers-only").
	code, msg := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if code == "" {
		code, msg = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if m, err := url.PathUnescape(msg); err == nil {
		msg = m
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return fail(fmt.Sprintf("gRPC probe failed: no grpc-status in the response (%q)", code))
	}
	switch n {
	case codeOK:
	case codeUnimplemented:
		return fail(fmt.Sprintf("gRPC probe: the server does not implement the health protocol (grpc.health.v1.Health): %s", msg))
	case codeNotFound:
		return fail(fmt.Sprintf("gRPC probe: service %q unknown to the server: %s", service, msg))
	case codeDeadlineExceeded:
		return fail(fmt.Sprintf("gRPC probe timed out: %s", msg))
	default:
		return fail(fmt.Sprintf("gRPC probe failed: code = %d desc = %s", n, msg))
	}
	st, err := response(body)
	if err != nil {
		return fail(fmt.Sprintf("gRPC probe failed: %v", err))
	}
	name := healthStatus[st]
	if name == "" {
		name = strconv.FormatUint(st, 10)
	}
	if st != 1 {
		return fail(fmt.Sprintf("gRPC probe: service %q unhealthy (responded with %s)", service, name))
	}
	return ok(fmt.Sprintf("gRPC probe: service %q SERVING", service))
}

func grpcTransportError(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("gRPC probe timed out: %v", err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("gRPC probe failed: %v", err)
}

// request encodes grpc.health.v1.HealthCheckRequest{service}: field 1, a
// string (left out when empty, as protobuf does).
func request(service string) []byte {
	if service == "" {
		return nil
	}
	b := []byte{1<<3 | 2}
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// frame puts a message in gRPC's length-prefixed framing, uncompressed.
func frame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// response decodes the status (field 1, a varint) of the framed
// grpc.health.v1.HealthCheckResponse in body; a missing field is 0
// (UNKNOWN).
func response(body []byte) (uint64, error) {
	if len(body) < 5 {
		return 0, errors.New("no response message")
	}
	if body[0] != 0 {
		return 0, errors.New("compressed response message")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if uint64(len(body)-5) < uint64(n) {
		return 0, errors.New("truncated response message")
	}
	msg := body[5 : 5+n]
	var status uint64
	for len(msg) > 0 {
		tag, k := binary.Uvarint(msg)
		if k <= 0 {
			return 0, errors.New("malformed response message")
		}
		msg = msg[k:]
		switch tag & 7 {
		case 0: // varint
			v, k := binary.Uvarint(msg)
			if k <= 0 {
				return 0, errors.New("malformed response message")
			}
			msg = msg[k:]
			if tag>>3 == 1 {
				status = v
			}
		case 1: // 64-bit
			if len(msg) < 8 {
				return 0, errors.New("malformed response message")
			}
			msg = msg[8:]
		case 2: // length-delimited
			l, k := binary.Uvarint(msg)
			if k <= 0 || uint64(len(msg)-k) < l {
				return 0, errors.New("malformed response message")
			}
			msg = msg[k+int(l):]
		case 5: // 32-bit
			if len(msg) < 4 {
				return 0, errors.New("malformed response message")
			}
			msg = msg[4:]
		default:
			return 0, fmt.Errorf("malformed response message (wire type %d)", tag&7)
		}
	}
	return status, nil
}
