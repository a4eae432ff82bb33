package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// Lookup answers a name for a client. name is lowercase, without the
// trailing dot. ours reports whether the name belongs to podvisor (then the
// server answers authoritatively: the addresses of the asked family, NOERROR
// with no answer (NODATA) when there are only addresses of the other family,
// NXDOMAIN when none); when ours is false the query is forwarded upstream.
//
// It is called from many goroutines at once and must not block for long.
type Lookup func(client netip.Addr, name string) (addrs []netip.Addr, ours bool)

// Reverse answers a PTR query for addr (client as for Lookup): the names
// (without trailing dot); ok false means the query is forwarded upstream.
// ok true with no names answers NXDOMAIN.
//
// It is called from many goroutines at once and must not block for long.
type Reverse func(client netip.Addr, addr netip.Addr) (names []string, ok bool)

// DefaultTimeout is the time given to one upstream attempt when
// Server.Timeout is 0.
const DefaultTimeout = 2 * time.Second

// ednsSize is the UDP payload size the server advertises in its own answers
// to EDNS0 queries (the DNS flag day 2020 value).
const ednsSize = 1232

// forwardUDPSize is the receive buffer for upstream UDP answers to queries
// without EDNS0 (an upstream that ignores the 512-byte limit is cut back to
// it by truncation rather than lost).
const forwardUDPSize = 4096

// Server is a DNS responder. Set its fields, then call Serve once; the
// fields must not be changed after that (use SetUpstreams to change the
// upstreams of a running server).
type Server struct {
	// Lookup says which names are podvisor's and their addresses. A nil
	// Lookup makes no name ours: everything is forwarded.
	Lookup Lookup
	// Reverse answers PTR queries; optional (nil forwards them all).
	Reverse Reverse
	// Upstreams are the "host:port" addresses of the resolvers to forward
	// to, tried in order; none means SERVFAIL for names that are not ours.
	Upstreams []string
	// Timeout is the time given to each upstream attempt; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Logger receives forwarding failures (debug, and a warning at most
	// every 10s when every upstream failed); the zero value logs nothing.
	Logger zerolog.Logger

	mu      sync.Mutex
	state   int
	ctx     context.Context // cancelled when the server stops
	cancel  context.CancelFunc
	done    chan struct{} // closed when Serve returns
	runners []*runner

	ups       atomic.Pointer[[]string]
	udpClient *mdns.Client
	tcpClient *mdns.Client
	lastWarn  atomic.Int64 // unix nanoseconds of the last "all upstreams failed" warning
}

const (
	stateIdle = iota
	stateServing
	stateClosed
)

// runner is one miekg dns.Server (UDP or TCP) of a Server.
type runner struct {
	name    string // "udp 10.88.0.1:53", for errors
	srv     *mdns.Server
	started chan struct{} // closed when srv listens
	exited  chan struct{} // closed when ActivateAndServe returned
	err     error         // what ActivateAndServe returned, read after exited
}

// SetUpstreams replaces the upstream resolvers ("host:port", tried in order)
// of a server, running or not; it is safe to call while queries are being
// answered (a query already being forwarded keeps the old list). Once it has
// been called, the Upstreams field is no longer read.
func (s *Server) SetUpstreams(upstreams []string) {
	ups := append([]string(nil), upstreams...)
	s.ups.Store(&ups)
}

func (s *Server) upstreams() []string {
	if p := s.ups.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// Serve answers on pc (UDP) and ln (TCP, may be nil) until Shutdown; it
// returns nil after Shutdown. The sockets are the caller's (made in the
// right network namespace); Serve closes them when it returns. If a socket
// fails on its own, Serve stops answering on both and returns the error.
// Either socket may be nil, not both. A Server serves once: a Serve called
// after Shutdown (or after an earlier Serve returned) closes the sockets and
// returns nil at once; a second Serve while one runs is an error (and
// leaves its sockets alone).
func (s *Server) Serve(pc net.PacketConn, ln net.Listener) error {
	if pc == nil && ln == nil {
		return errors.New("dns server: serve: no UDP socket and no TCP listener")
	}
	s.mu.Lock()
	switch s.state {
	case stateServing:
		s.mu.Unlock()
		return errors.New("dns server: serve: already serving")
	case stateClosed:
		s.mu.Unlock()
		closeSockets(pc, ln)
		return nil
	}
	s.state = stateServing
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	if s.ups.Load() == nil {
		s.SetUpstreams(s.Upstreams)
	}
	t := s.timeout()
	s.udpClient = &mdns.Client{Net: "udp", Timeout: t, UDPSize: forwardUDPSize}
	s.tcpClient = &mdns.Client{Net: "tcp", Timeout: t}
	if pc != nil {
		s.runners = append(s.runners, s.newRunner("udp "+pc.LocalAddr().String(), &mdns.Server{
			PacketConn: pc,
			Handler:    &handler{s: s},
			// Queries are small, but one cut at 512 bytes (large EDNS0
			// options) would be dropped as malformed.
			UDPSize: mdns.DefaultMsgSize,
		}))
	}
	if ln != nil {
		s.runners = append(s.runners, s.newRunner("tcp "+ln.Addr().String(), &mdns.Server{
			Listener: ln,
			Handler:  &handler{s: s, tcp: true},
		}))
	}
	runners := s.runners
	s.mu.Unlock()

	exits := make(chan *runner, len(runners))
	for _, r := range runners {
		go func() {
			r.err = r.srv.ActivateAndServe()
			close(r.exited)
			exits <- r
		}()
	}
	var err error
	first := <-exits
	if s.ctx.Err() == nil {
		// A socket failed on its own: stop the other one too.
		if first.err == nil {
			first.err = errors.New("stopped")
		}
		err = fmt.Errorf("dns server: serve %s: %w", first.name, first.err)
		s.stop(runners)
	}
	for range len(runners) - 1 {
		<-exits
	}
	closeSockets(pc, ln)
	s.mu.Lock()
	s.state = stateClosed
	s.mu.Unlock()
	close(s.done)
	return err
}

func (s *Server) newRunner(name string, srv *mdns.Server) *runner {
	r := &runner{name: name, srv: srv, started: make(chan struct{}), exited: make(chan struct{})}
	srv.NotifyStartedFunc = func() { close(r.started) }
	return r
}

// Shutdown stops Serve and waits for it to return; queries being forwarded
// are cut short and answered SERVFAIL. It is idempotent, and may be called
// before Serve (which then returns at once). It always returns nil.
func (s *Server) Shutdown() error {
	s.mu.Lock()
	prev := s.state
	s.state = stateClosed
	runners, done := s.runners, s.done
	s.mu.Unlock()
	if prev == stateServing {
		s.stop(runners)
	}
	if done != nil {
		<-done
	}
	return nil
}

// stop cancels the forwards in flight and shuts every runner down, waiting
// for each to have started (or ended) first: a miekg server that has not
// started yet cannot be shut down.
func (s *Server) stop(runners []*runner) {
	s.cancel()
	for _, r := range runners {
		select {
		case <-r.started:
		case <-r.exited:
		}
		select {
		case <-r.exited:
			continue
		default:
		}
		// Its error ("server not started") only means it ended meanwhile.
		_ = r.srv.Shutdown()
	}
}

func closeSockets(pc net.PacketConn, ln net.Listener) {
	if pc != nil {
		_ = pc.Close()
	}
	if ln != nil {
		_ = ln.Close()
	}
}

// handler answers the queries of one transport.
type handler struct {
	s   *Server
	tcp bool
}

// ServeDNS implements mdns.Handler.
func (h *handler) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	s := h.s
	if req.Opcode != mdns.OpcodeQuery || len(req.Question) != 1 {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeNotImplemented)
		s.write(w, req, m, h.tcp)
		return
	}
	q := req.Question[0]
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		s.forward(w, req, h.tcp)
		return
	}
	client := clientAddr(w.RemoteAddr())
	name := canonicalName(q.Name)
	if q.Qtype == mdns.TypePTR && s.Reverse != nil {
		if addr, ok := parseReverseName(name); ok {
			names, ok := s.Reverse(client, addr)
			if !ok {
				s.forward(w, req, h.tcp)
				return
			}
			s.write(w, req, ptrAnswer(req, names), h.tcp)
			return
		}
	}
	if s.Lookup != nil {
		if addrs, ours := s.Lookup(client, name); ours {
			s.write(w, req, addrAnswer(req, addrs), h.tcp)
			return
		}
	}
	s.forward(w, req, h.tcp)
}

// authoritative starts an answer of ours to req.
func authoritative(req *mdns.Msg) *mdns.Msg {
	return &mdns.Msg{
		MsgHdr: mdns.MsgHdr{
			Id:                 req.Id,
			Response:           true,
			Opcode:             req.Opcode,
			Authoritative:      true,
			RecursionDesired:   req.RecursionDesired,
			RecursionAvailable: true,
			CheckingDisabled:   req.CheckingDisabled,
		},
		Question: req.Question[:1:1], // shared, read only
	}
}

// addrAnswer answers req, a query for a name of ours, from its addresses.
func addrAnswer(req *mdns.Msg, addrs []netip.Addr) *mdns.Msg {
	m := authoritative(req)
	q := req.Question[0]
	wantA := q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY
	wantAAAA := q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY
	exists := false
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		exists = true
		a = a.Unmap()
		switch {
		case a.Is4() && wantA:
			v := a.As4()
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET},
				A:   net.IP(v[:]),
			})
		case a.Is6() && wantAAAA:
			v := a.As16()
			m.Answer = append(m.Answer, &mdns.AAAA{
				Hdr:  mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET},
				AAAA: net.IP(v[:]),
			})
		}
	}
	if !exists {
		m.Rcode = mdns.RcodeNameError
	}
	return m
}

// ptrAnswer answers req, a PTR query that Reverse claimed, with names.
func ptrAnswer(req *mdns.Msg, names []string) *mdns.Msg {
	m := authoritative(req)
	q := req.Question[0]
	for _, n := range names {
		if n == "" {
			continue
		}
		m.Answer = append(m.Answer, &mdns.PTR{
			Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET},
			Ptr: mdns.Fqdn(n),
		})
	}
	if len(m.Answer) == 0 {
		m.Rcode = mdns.RcodeNameError
	}
	return m
}

// write sends m, an answer of ours to req, with an OPT record if req had
// one (BADVERS for an EDNS version other than 0), cut to the client's UDP
// size.
func (s *Server) write(w mdns.ResponseWriter, req, m *mdns.Msg, tcp bool) {
	if opt := req.IsEdns0(); opt != nil {
		if opt.Version() != 0 {
			m.Answer = nil
			m.Rcode = mdns.RcodeBadVers
		}
		m.SetEdns0(ednsSize, false)
	}
	s.send(w, req, m, tcp)
}

// send cuts m to the size the client can take (setting TC if records had to
// go) and writes it.
func (s *Server) send(w mdns.ResponseWriter, req, m *mdns.Msg, tcp bool) {
	size := mdns.MaxMsgSize
	if !tcp {
		size = mdns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
	}
	m.Truncate(size)
	if err := w.WriteMsg(m); err != nil {
		s.Logger.Debug().Err(err).Stringer("client", w.RemoteAddr()).Msg("dns: write answer")
	}
}

// forward asks the upstreams in order and passes the first usable answer
// on; an answer SERVFAIL or REFUSED makes the next upstream be tried, and is
// passed on when no upstream does better; SERVFAIL when none answered, or
// when the server stops meanwhile.
func (s *Server) forward(w mdns.ResponseWriter, req *mdns.Msg, tcp bool) {
	ups := s.upstreams()
	var fallback *mdns.Msg
	for _, up := range ups {
		if s.ctx.Err() != nil {
			break
		}
		r, err := s.exchange(req, up, tcp)
		if err != nil {
			if s.ctx.Err() == nil {
				s.Logger.Debug().Err(err).Str("name", req.Question[0].Name).Msg("dns: forward")
			}
			continue
		}
		if r.Rcode == mdns.RcodeServerFailure || r.Rcode == mdns.RcodeRefused {
			if fallback == nil {
				fallback = r
			}
			continue
		}
		s.send(w, req, r, tcp)
		return
	}
	if fallback != nil {
		s.send(w, req, fallback, tcp)
		return
	}
	if len(ups) > 0 && s.ctx.Err() == nil {
		s.warnAllFailed(ups)
	}
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	s.write(w, req, m, tcp)
}

// exchange sends req to one upstream and reads its answer, giving up after
// the server's timeout or when the server stops.
func (s *Server) exchange(req *mdns.Msg, upstream string, tcp bool) (*mdns.Msg, error) {
	c := s.udpClient
	if tcp {
		c = s.tcpClient
	}
	co, err := c.DialContext(s.ctx, upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: dial: %w", upstream, err)
	}
	// The exchange only heeds a context's deadline, not its cancellation:
	// closing the connection ends it when the server stops.
	stop := context.AfterFunc(s.ctx, func() { _ = co.Close() })
	r, _, err := c.ExchangeWithConnContext(s.ctx, req, co)
	stop()
	_ = co.Close()
	if err != nil {
		if r != nil && r.Truncated && r.Id == req.Id && !tcp {
			// A truncated answer cut mid-record: pass the header on,
			// the client retries over TCP.
			r.Answer, r.Ns, r.Extra = nil, nil, nil
			return r, nil
		}
		return nil, fmt.Errorf("upstream %s: exchange: %w", upstream, err)
	}
	return r, nil
}

// warnAllFailed logs that no upstream answered, at most every 10 seconds.
func (s *Server) warnAllFailed(ups []string) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last < int64(10*time.Second) || !s.lastWarn.CompareAndSwap(last, now) {
		return
	}
	s.Logger.Warn().Strs("upstreams", ups).Msg("dns: no upstream resolver answered; answering SERVFAIL")
}

// clientAddr is the IP address of a query's sender, without zone, an
// IPv4-mapped IPv6 address unmapped.
func clientAddr(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.AddrPort().Addr()
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	default:
		if a == nil {
			return netip.Addr{}
		}
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		ip = ap.Addr()
	}
	return ip.Unmap().WithZone("")
}

// canonicalName lowercases name (ASCII only, as DNS does) and drops its
// trailing dot; it allocates only when there is an upper-case letter.
func canonicalName(name string) string {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}

// parseReverseName parses a full reverse name, lowercase and without the
// trailing dot ("4.3.2.1.in-addr.arpa", or 32 nibbles then "ip6.arpa"),
// into its address.
func parseReverseName(name string) (netip.Addr, bool) {
	const v4, v6 = ".in-addr.arpa", ".ip6.arpa"
	switch {
	case len(name) > len(v4) && name[len(name)-len(v4):] == v4:
		rest := name[:len(name)-len(v4)]
		var b [4]byte
		for i := 3; i >= 0; i-- {
			label := rest
			if i > 0 {
				dot := indexByte(rest, '.')
				if dot < 0 {
					return netip.Addr{}, false
				}
				label, rest = rest[:dot], rest[dot+1:]
			} else {
				rest = ""
			}
			v, ok := parseOctet(label)
			if !ok {
				return netip.Addr{}, false
			}
			b[i] = v
		}
		return netip.AddrFrom4(b), true
	case len(name) == 32*2+len(v6)-1 && name[len(name)-len(v6):] == v6:
		var b [16]byte
		for i := 0; i < 32; i++ {
			if name[2*i+1] != '.' {
				return netip.Addr{}, false
			}
			n, ok := hexNibble(name[2*i])
			if !ok {
				return netip.Addr{}, false
			}
			// The first label is the lowest nibble of the last byte.
			k := 31 - i
			if k%2 == 0 {
				b[k/2] |= n << 4
			} else {
				b[k/2] |= n
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// parseOctet parses a decimal 0-255 without leading zeros.
func parseOctet(s string) (byte, bool) {
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
