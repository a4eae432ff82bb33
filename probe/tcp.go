package probe

import (
	"context"
)

// TCP checks that a TCP connection to host:port opens, through dial, and
// closes it at once. An empty host means 127.0.0.1. ctx bounds the
// attempt; a nil dial uses the host's network.
func TCP(ctx context.Context, dial DialFunc, host string, port int) Result {
	addr := hostPort(host, port)
	c, err := dialer(dial)(ctx, "tcp", addr)
	if err != nil {
		return fail(err.Error())
	}
	c.Close()
	return ok("TCP probe succeeded: connected to " + addr)
}
