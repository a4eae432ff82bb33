// Package dns is a small DNS responder for pod networks, in the manner of
// podman's aardvark-dns: one Server runs on each pod bridge's gateway
// address (UDP and TCP port 53) in the host's network namespace.
//
// A Server answers the names that belong to podvisor (as its Lookup function
// says, for the client that asks) authoritatively and with TTL 0, since pods
// come and go: A and AAAA records of the asked family, NODATA (NOERROR with
// no answer) when the name has only addresses of the other family or the
// query is for another type, NXDOMAIN when the name has no address at all.
// PTR queries for full in-addr.arpa / ip6.arpa names go to the optional
// Reverse function. Every other query is forwarded unchanged (same message,
// same id) to the upstream resolvers, tried in order, over the transport the
// client used; the first usable answer is passed back as received (cut to
// the client's UDP size if an upstream ignored it). An upstream that does not
// answer within the timeout, or answers SERVFAIL or REFUSED, makes the next
// one be tried; when none does better the client gets that refusal, or
// SERVFAIL. A truncated UDP answer from upstream is passed on with TC set so that the
// client retries over TCP, which is then forwarded over TCP. EDNS0 in a
// query sets the UDP size of the answer.
//
// ReadResolvConf and ResolvConf.Upstreams turn the host's resolv.conf into
// upstream addresses, leaving out the bridge gateways so that a server never
// forwards to itself. Because a Server runs in the host's network namespace,
// loopback upstreams such as systemd-resolved's 127.0.0.53 work.
//
// The package does not decide which names exist (the caller's Lookup does,
// including every search-domain suffix), does not cache, does not validate
// DNSSEC, does not serve zone transfers, updates or NOTIFY, and does not
// make its sockets: the caller makes them in the right network namespace and
// hands them to Serve, which closes them when it stops. It knows nothing of
// pods.
package dns
