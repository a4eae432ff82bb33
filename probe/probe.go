package probe

import (
	"context"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DialFunc opens a connection, like net.Dialer.DialContext; network is
// "tcp". It decides in which network namespace the check runs.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Result is the outcome of one check.
type Result struct {
	// OK reports whether the check passed.
	OK bool
	// Output is a short human-readable message, on success as on failure
	// (e.g. "HTTP probe failed with statuscode: 503", or "dial tcp
	// 127.0.0.1:8080: connect: connection refused"); at most MaxOutput
	// bytes of valid UTF-8.
	Output string
}

// MaxOutput bounds Result.Output, in bytes.
const MaxOutput = 1024

// UserAgent is the User-Agent of HTTP checks that set none, and of gRPC
// checks.
const UserAgent = "podvisor-probe/1"

func ok(msg string) Result { return Result{OK: true, Output: bound(msg)} }

func fail(msg string) Result { return Result{Output: bound(msg)} }

// bound makes s valid UTF-8 of at most MaxOutput bytes, cut at a rune
// boundary and marked with "…" when it was longer.
func bound(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxOutput {
		return s
	}
	const ellipsis = "…"
	cut := MaxOutput - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// dialer is dial, or a plain net.Dialer (the host's network) when nil.
func dialer(dial DialFunc) DialFunc {
	if dial != nil {
		return dial
	}
	var d net.Dialer
	return d.DialContext
}

// hostPort is host:port, with 127.0.0.1 for an empty host.
func hostPort(host string, port int) string {
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
