package dns

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// pods is the Lookup of the tests: names under ".pod" are ours.
var pods = map[string][]netip.Addr{
	"web.pod":    {netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("fd00::2")},
	"v4only.pod": {netip.MustParseAddr("10.88.0.3")},
	"v6only.pod": {netip.MustParseAddr("fd00::3")},
	"mapped.pod": {netip.MustParseAddr("::ffff:10.88.0.4")},
	"gone.pod":   nil,
	"many.pod":   manyAddrs(60),
}

func manyAddrs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{10, 88, 1, byte(i + 1)})
	}
	return out
}

// recorder is a Lookup that remembers its calls.
type recorder struct {
	mu      sync.Mutex
	clients []netip.Addr
	names   []string
}

func (r *recorder) lookup(client netip.Addr, name string) ([]netip.Addr, bool) {
	r.mu.Lock()
	r.clients = append(r.clients, client)
	r.names = append(r.names, name)
	r.mu.Unlock()
	if !strings.HasSuffix(name, ".pod") {
		return nil, false
	}
	return pods[name], true
}

func (r *recorder) last() (netip.Addr, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.names) == 0 {
		return netip.Addr{}, ""
	}
	return r.clients[len(r.clients)-1], r.names[len(r.names)-1]
}

// serve starts s on loopback UDP and TCP sockets and returns their address
// (the same port for both); the server is shut down in t.Cleanup, which
// checks that Serve returned nil.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	pc, ln := listenPair(t)
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(pc, ln) }()
	t.Cleanup(func() {
		if err := s.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve has not returned 5s after Shutdown")
		}
	})
	return pc.LocalAddr().String()
}

// listenPair makes a UDP socket and a TCP listener on the same loopback
// port.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		return pc, ln
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// upstream starts a miekg server answering with h on a loopback UDP and TCP
// port, stopped in t.Cleanup.
func upstream(t testing.TB, h mdns.HandlerFunc) string {
	t.Helper()
	pc, ln := listenPair(t)
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			_ = srv.ActivateAndServe()
		}()
		<-started
		t.Cleanup(func() {
			_ = srv.Shutdown()
			<-exited
		})
	}
	return pc.LocalAddr().String()
}

// fixed is an upstream handler answering every question with one record:
// A 192.0.2.1 over UDP, 192.0.2.2 over TCP (TTL 300), PTR upstream.example.
func fixed(w mdns.ResponseWriter, r *mdns.Msg) {
	m := new(mdns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	q := r.Question[0]
	hdr := mdns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: mdns.ClassINET, Ttl: 300}
	switch q.Qtype {
	case mdns.TypeA:
		ip := net.IPv4(192, 0, 2, 1)
		if _, tcp := w.LocalAddr().(*net.TCPAddr); tcp {
			ip = net.IPv4(192, 0, 2, 2)
		}
		m.Answer = append(m.Answer, &mdns.A{Hdr: hdr, A: ip})
	case mdns.TypePTR:
		m.Answer = append(m.Answer, &mdns.PTR{Hdr: hdr, Ptr: "upstream.example."})
	}
	_ = w.WriteMsg(m)
}

// query asks addr over network ("udp" or "tcp") for name/qtype, with an
// EDNS0 UDP size when edns > 0.
func query(t testing.TB, network, addr, name string, qtype uint16, edns uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, mdns.TypeToString[qtype], err)
	}
	if r.Id != m.Id {
		t.Fatalf("answer id %d, query id %d", r.Id, m.Id)
	}
	return r
}

// answers renders the answer section as "type value ttl" lines.
func answers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		h := rr.Header()
		v := strings.TrimPrefix(rr.String(), h.String())
		out = append(out, mdns.TypeToString[h.Rrtype]+" "+v+" ttl="+strconv.Itoa(int(h.Ttl)))
	}
	return out
}

// wireLen is the size of m packed with name compression, as a server
// sends it.
func wireLen(m *mdns.Msg) int {
	m.Compress = true
	return m.Len()
}

func TestAnswersOurs(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &Server{Lookup: rec.lookup})
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"web.pod.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.88.0.2 ttl=0"}},
		{"web.pod.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"AAAA fd00::2 ttl=0"}},
		{"web.pod.", mdns.TypeANY, mdns.RcodeSuccess, []string{"A 10.88.0.2 ttl=0", "AAAA fd00::2 ttl=0"}},
		{"mapped.pod.", mdns.TypeA, mdns.RcodeSuccess, []string{"A 10.88.0.4 ttl=0"}},
		{"v4only.pod.", mdns.TypeAAAA, mdns.RcodeSuccess, nil}, // NODATA
		{"v6only.pod.", mdns.TypeA, mdns.RcodeSuccess, nil},    // NODATA
		{"v6only.pod.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"AAAA fd00::3 ttl=0"}},
		{"web.pod.", mdns.TypeMX, mdns.RcodeSuccess, nil},   // NODATA: other type
		{"web.pod.", mdns.TypeTXT, mdns.RcodeSuccess, nil},  // NODATA: other type
		{"web.pod.", mdns.TypePTR, mdns.RcodeSuccess, nil},  // NODATA: PTR on a forward name
		{"gone.pod.", mdns.TypeA, mdns.RcodeNameError, nil}, // NXDOMAIN
		{"gone.pod.", mdns.TypeAAAA, mdns.RcodeNameError, nil},
		{"gone.pod.", mdns.TypeMX, mdns.RcodeNameError, nil},
		{"nosuch.pod.", mdns.TypeA, mdns.RcodeNameError, nil},
	} {
		t.Run(tc.name+mdns.TypeToString[tc.qtype], func(t *testing.T) {
			r := query(t, "udp", addr, tc.name, tc.qtype, 0)
			if r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if !r.Authoritative || !r.Response || !r.RecursionAvailable || !r.RecursionDesired {
				t.Errorf("flags AA=%v QR=%v RA=%v RD=%v, want all set", r.Authoritative, r.Response, r.RecursionAvailable, r.RecursionDesired)
			}
			if got := answers(r); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("answers %q, want %q", got, tc.want)
			}
			if len(r.Question) != 1 || r.Question[0].Name != tc.name {
				t.Errorf("question %v", r.Question)
			}
			if _, name := rec.last(); name != strings.TrimSuffix(tc.name, ".") {
				t.Errorf("Lookup got %q", name)
			}
		})
	}
}

func TestCaseInsensitive(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &Server{Lookup: rec.lookup})
	r := query(t, "udp", addr, "WeB.PoD.", mdns.TypeA, 0)
	if _, name := rec.last(); name != "web.pod" {
		t.Errorf("Lookup got %q, want web.pod", name)
	}
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("answer %v", r)
	}
	// The answer keeps the case asked (0x20 randomisation checks it).
	if got := r.Answer[0].Header().Name; got != "WeB.PoD." {
		t.Errorf("answer name %q, want WeB.PoD.", got)
	}
}

func TestLookupClientAddr(t *testing.T) {
	rec := &recorder{}
	addr := serve(t, &Server{Lookup: rec.lookup})
	want := netip.MustParseAddr("127.0.0.1")
	for _, network := range []string{"udp", "tcp"} {
		query(t, network, addr, "web.pod.", mdns.TypeA, 0)
		if client, _ := rec.last(); client != want {
			t.Errorf("%s: Lookup's client %v, want %v", network, client, want)
		}
	}
}

func TestTCP(t *testing.T) {
	rec := &recorder{}
	up := upstream(t, fixed)
	addr := serve(t, &Server{Lookup: rec.lookup, Upstreams: []string{up}})
	r := query(t, "tcp", addr, "web.pod.", mdns.TypeAAAA, 0)
	if got := answers(r); len(got) != 1 || got[0] != "AAAA fd00::2 ttl=0" || !r.Authoritative {
		t.Errorf("ours over TCP: %q AA=%v", got, r.Authoritative)
	}
	r = query(t, "tcp", addr, "gone.pod.", mdns.TypeA, 0)
	if r.Rcode != mdns.RcodeNameError {
		t.Errorf("NXDOMAIN over TCP: rcode %s", mdns.RcodeToString[r.Rcode])
	}
	// Forwarded over TCP: the upstream answers 192.0.2.2 only over TCP.
	r = query(t, "tcp", addr, "example.com.", mdns.TypeA, 0)
	if got := answers(r); len(got) != 1 || got[0] != "A 192.0.2.2 ttl=300" {
		t.Errorf("forwarded over TCP: %q", got)
	}
	// Several queries on one connection.
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	co, err := c.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	for _, name := range []string{"web.pod.", "v4only.pod.", "example.org."} {
		m := new(mdns.Msg).SetQuestion(name, mdns.TypeA)
		r, _, err := c.ExchangeWithConn(m, co)
		if err != nil || len(r.Answer) != 1 {
			t.Errorf("query %s on a kept TCP connection: %v %v", name, err, r)
		}
	}
}

func TestForward(t *testing.T) {
	rec := &recorder{}
	up := upstream(t, fixed)
	addr := serve(t, &Server{Lookup: rec.lookup, Upstreams: []string{up}})
	r := query(t, "udp", addr, "Example.COM.", mdns.TypeA, 0)
	if r.Authoritative || r.Rcode != mdns.RcodeSuccess {
		t.Errorf("forwarded answer AA=%v rcode %s", r.Authoritative, mdns.RcodeToString[r.Rcode])
	}
	if got := answers(r); len(got) != 1 || got[0] != "A 192.0.2.1 ttl=300" {
		t.Errorf("forwarded answer %q, want the upstream's record with its TTL", got)
	}
	if _, name := rec.last(); name != "example.com" {
		t.Errorf("Lookup got %q", name)
	}
	// No Lookup at all: everything is forwarded.
	addr2 := serve(t, &Server{Upstreams: []string{up}})
	if got := answers(query(t, "udp", addr2, "web.pod.", mdns.TypeA, 0)); len(got) != 1 || got[0] != "A 192.0.2.1 ttl=300" {
		t.Errorf("without Lookup: %q", got)
	}
}

// deadAddr is a loopback address:port where nothing listens (UDP or TCP).
func deadAddr(t testing.TB) string {
	pc, ln := listenPair(t)
	a := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	return a
}

// blackhole is a loopback UDP socket and TCP listener (on the same port)
// that never answer, closed in t.Cleanup. The kernel completes TCP
// handshakes without Accept.
func blackhole(t testing.TB) string {
	pc, ln := listenPair(t)
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
	})
	return pc.LocalAddr().String()
}

func TestForwardFailover(t *testing.T) {
	up := upstream(t, fixed)
	servfail := upstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		_ = w.WriteMsg(new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure))
	})
	for _, tc := range []struct {
		name  string
		first string
	}{
		{"refused", deadAddr(t)},
		{"timeout", blackhole(t)},
		{"servfail", servfail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, &Server{Upstreams: []string{tc.first, up}, Timeout: 300 * time.Millisecond})
			for _, network := range []string{"udp", "tcp"} {
				r := query(t, network, addr, "example.com.", mdns.TypeA, 0)
				if len(r.Answer) != 1 || r.Rcode != mdns.RcodeSuccess {
					t.Errorf("%s: answer %v, want the second upstream's", network, r)
				}
			}
		})
	}
}

func TestForwardAllFail(t *testing.T) {
	servfail := upstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		_ = w.WriteMsg(new(mdns.Msg).SetRcode(r, mdns.RcodeRefused))
	})
	for _, tc := range []struct {
		name  string
		ups   []string
		rcode int
	}{
		{"none", nil, mdns.RcodeServerFailure},
		{"dead", []string{deadAddr(t), blackhole(t)}, mdns.RcodeServerFailure},
		// An upstream's own refusal is passed on when no one does better.
		{"refused", []string{deadAddr(t), servfail}, mdns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, &Server{Upstreams: tc.ups, Timeout: 200 * time.Millisecond})
			for _, network := range []string{"udp", "tcp"} {
				r := query(t, network, addr, "example.com.", mdns.TypeA, 1232)
				if r.Rcode != tc.rcode || len(r.Answer) != 0 {
					t.Errorf("%s: rcode %s, %d answers; want %s", network, mdns.RcodeToString[r.Rcode], len(r.Answer), mdns.RcodeToString[tc.rcode])
				}
			}
		})
	}
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSetUpstreams(t *testing.T) {
	var log syncBuffer
	dead := deadAddr(t)
	s := &Server{Upstreams: []string{dead}, Logger: zerolog.New(&log)}
	addr := serve(t, s)
	if r := query(t, "udp", addr, "example.com.", mdns.TypeA, 0); r.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("rcode %s before SetUpstreams", mdns.RcodeToString[r.Rcode])
	}
	if l := log.String(); !strings.Contains(l, "no upstream resolver answered") || !strings.Contains(l, dead) {
		t.Errorf("log after all upstreams failed: %q", l)
	}
	s.SetUpstreams([]string{upstream(t, fixed)})
	if r := query(t, "udp", addr, "example.com.", mdns.TypeA, 0); len(r.Answer) != 1 {
		t.Fatalf("answer %v after SetUpstreams", r)
	}
}

func TestPTR(t *testing.T) {
	rev := func(client, a netip.Addr) ([]string, bool) {
		switch a.String() {
		case "10.88.0.2":
			return []string{"web.pod"}, true
		case "fd00::2":
			return []string{"web.pod", "web.alt."}, true
		case "10.88.0.9":
			return nil, true
		}
		return nil, false
	}
	up := upstream(t, fixed)
	addr := serve(t, &Server{Lookup: (&recorder{}).lookup, Reverse: rev, Upstreams: []string{up}})
	for _, tc := range []struct {
		ip    string
		rcode int
		want  []string
		aa    bool
	}{
		{"10.88.0.2", mdns.RcodeSuccess, []string{"PTR web.pod. ttl=0"}, true},
		{"fd00::2", mdns.RcodeSuccess, []string{"PTR web.pod. ttl=0", "PTR web.alt. ttl=0"}, true},
		{"10.88.0.9", mdns.RcodeNameError, nil, true},
		{"192.0.2.7", mdns.RcodeSuccess, []string{"PTR upstream.example. ttl=300"}, false},
	} {
		name, err := mdns.ReverseAddr(tc.ip)
		if err != nil {
			t.Fatal(err)
		}
		for _, network := range []string{"udp", "tcp"} {
			r := query(t, network, addr, strings.ToUpper(name), mdns.TypePTR, 0)
			if got := answers(r); r.Rcode != tc.rcode || r.Authoritative != tc.aa || strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%s PTR %s: rcode %s AA=%v %q; want %s AA=%v %q", network, tc.ip,
					mdns.RcodeToString[r.Rcode], r.Authoritative, got, mdns.RcodeToString[tc.rcode], tc.aa, tc.want)
			}
		}
	}
	// Without Reverse, PTR queries are forwarded.
	addr2 := serve(t, &Server{Upstreams: []string{up}})
	if got := answers(query(t, "udp", addr2, "2.0.88.10.in-addr.arpa.", mdns.TypePTR, 0)); len(got) != 1 || got[0] != "PTR upstream.example. ttl=300" {
		t.Errorf("without Reverse: %q", got)
	}
}

func TestTruncationPassThrough(t *testing.T) {
	// The upstream answers truncated (TC, no records) over UDP, in full
	// (100 records) over TCP.
	up := upstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if _, tcp := w.LocalAddr().(*net.TCPAddr); !tcp {
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		for i := range 100 {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
				A:   net.IPv4(198, 51, 100, byte(i)),
			})
		}
		_ = w.WriteMsg(m)
	})
	addr := serve(t, &Server{Upstreams: []string{up}})
	r := query(t, "udp", addr, "big.example.", mdns.TypeA, 0)
	if !r.Truncated || r.Rcode != mdns.RcodeSuccess {
		t.Errorf("over UDP: TC=%v rcode %s, want TC set", r.Truncated, mdns.RcodeToString[r.Rcode])
	}
	r = query(t, "tcp", addr, "big.example.", mdns.TypeA, 0)
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("over TCP: TC=%v %d answers, want 100", r.Truncated, len(r.Answer))
	}

	// An upstream whose truncated answer is cut in the middle of a record.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(mdns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			m := new(mdns.Msg).SetReply(req)
			m.Truncated = true
			for i := range 3 {
				m.Answer = append(m.Answer, &mdns.A{
					Hdr: mdns.RR_Header{Name: req.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
					A:   net.IPv4(198, 51, 100, byte(i)),
				})
			}
			p, _ := m.Pack()
			_, _ = pc.WriteTo(p[:len(p)-3], from)
		}
	}()
	addr = serve(t, &Server{Upstreams: []string{pc.LocalAddr().String()}})
	r = query(t, "udp", addr, "cut.example.", mdns.TypeA, 0)
	if !r.Truncated || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("answer cut mid-record: TC=%v rcode %s, %d answers; want TC, NOERROR, none", r.Truncated, mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

// TestForwardCutToClientSize: an upstream that ignores the 512-byte limit
// of a query without EDNS0 is cut back to it, with TC set.
func TestForwardCutToClientSize(t *testing.T) {
	up := upstream(t, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		for i := range 60 {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
				A:   net.IPv4(198, 51, 100, byte(i)),
			})
		}
		_ = w.WriteMsg(m)
	})
	addr := serve(t, &Server{Upstreams: []string{up}})
	r := query(t, "udp", addr, "big.example.", mdns.TypeA, 0)
	if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) == 60 || wireLen(r) > 512 {
		t.Errorf("TC=%v, %d answers, %d bytes; want TC, some answers, <= 512 bytes", r.Truncated, len(r.Answer), wireLen(r))
	}
	r = query(t, "udp", addr, "big.example.", mdns.TypeA, 4096)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("with EDNS0 4096: TC=%v, %d answers", r.Truncated, len(r.Answer))
	}
}

func TestEDNS0(t *testing.T) {
	addr := serve(t, &Server{Lookup: (&recorder{}).lookup})
	// 60 A records do not fit in 512 bytes.
	r := query(t, "udp", addr, "many.pod.", mdns.TypeA, 0)
	if !r.Truncated || wireLen(r) > 512 || r.IsEdns0() != nil {
		t.Errorf("without EDNS0: TC=%v, %d bytes, OPT %v; want TC, <= 512 bytes, no OPT", r.Truncated, wireLen(r), r.IsEdns0())
	}
	r = query(t, "udp", addr, "many.pod.", mdns.TypeA, 4096)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("with EDNS0 4096: TC=%v, %d answers", r.Truncated, len(r.Answer))
	}
	if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != ednsSize {
		t.Errorf("with EDNS0: answer's OPT %v, want one with size %d", opt, ednsSize)
	}
	r = query(t, "tcp", addr, "many.pod.", mdns.TypeA, 0)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("over TCP: TC=%v, %d answers", r.Truncated, len(r.Answer))
	}
	// EDNS version 1: BADVERS.
	m := new(mdns.Msg).SetQuestion("web.pod.", mdns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeBadVers || len(r.Answer) != 0 {
		t.Errorf("EDNS version 1: rcode %s, %d answers; want BADVERS", mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

func TestNotQuery(t *testing.T) {
	addr := serve(t, &Server{Lookup: (&recorder{}).lookup})
	m := new(mdns.Msg).SetNotify("web.pod.")
	r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeNotImplemented {
		t.Errorf("NOTIFY: rcode %s, want NOTIMP", mdns.RcodeToString[r.Rcode])
	}
}

// settle waits until the number of goroutines is at most n, failing the
// test (with every stack) if it is not within 5s.
func settle(t *testing.T, n int) {
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

func TestShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	// Everything is made in a subtest, whose cleanups (the upstreams) run
	// before the goroutines are counted.
	t.Run("serve", func(t *testing.T) {
		up := upstream(t, fixed)
		hole := blackhole(t)
		s := &Server{Lookup: (&recorder{}).lookup, Upstreams: []string{hole, up}, Timeout: 10 * time.Second}
		pc, ln := listenPair(t)
		addr := pc.LocalAddr().String()
		errc := make(chan error, 1)
		go func() { errc <- s.Serve(pc, ln) }()
		t.Cleanup(func() { _ = s.Shutdown() }) // if the test fails early
		for _, network := range []string{"udp", "tcp"} {
			query(t, network, addr, "web.pod.", mdns.TypeA, 0)
		}
		// A TCP client that stays connected, and queries stuck on the
		// blackhole upstream (10s timeout) over UDP and TCP.
		idle, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		var clients sync.WaitGroup
		rcodes := make(chan int, 2)
		for _, network := range []string{"udp", "tcp"} {
			clients.Go(func() {
				m := new(mdns.Msg).SetQuestion("stuck.example.", mdns.TypeA)
				r, _, err := (&mdns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(m, addr)
				if err != nil {
					t.Errorf("%s query in flight at Shutdown: %v", network, err)
					return
				}
				rcodes <- r.Rcode
			})
		}
		time.Sleep(200 * time.Millisecond)

		start := time.Now()
		if err := s.Shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Shutdown took %v with forwards in flight", d)
		}
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Serve returned %v after Shutdown, want nil", err)
			}
		case <-time.After(time.Second): // Serve has returned, its goroutine may not have sent yet
			t.Errorf("Serve has not returned when Shutdown did")
		}
		clients.Wait()
		close(rcodes)
		for rc := range rcodes {
			if rc != mdns.RcodeServerFailure {
				t.Errorf("query in flight at Shutdown: rcode %s, want SERVFAIL", mdns.RcodeToString[rc])
			}
		}
		if err := s.Shutdown(); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		// The sockets are closed: the port can be bound again.
		pc2, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("UDP socket not closed: %v", err)
		} else {
			pc2.Close()
		}
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("TCP listener not closed: %v", err)
		} else {
			ln2.Close()
		}
		// Serve after Shutdown returns at once.
		pc3, ln3 := listenPair(t)
		if err := s.Serve(pc3, ln3); err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	})
	settle(t, before)
}

func TestShutdownBeforeServe(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &Server{}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	pc, ln := listenPair(t)
	done := make(chan error, 1)
	go func() { done <- s.Serve(pc, ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve after Shutdown did not return")
	}
	if _, err := pc.WriteTo([]byte{0}, pc.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("UDP socket after Serve returned: write error %v, want net.ErrClosed", err)
	}
	settle(t, before)
}

func TestShutdownRace(t *testing.T) {
	// Shutdown right after Serve is started, before the sockets listen.
	before := runtime.NumGoroutine()
	for range 50 {
		s := &Server{}
		pc, ln := listenPair(t)
		done := make(chan error, 1)
		go func() { done <- s.Serve(pc, ln) }()
		if err := s.Shutdown(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after Shutdown")
		}
	}
	settle(t, before)
}

func TestServeErrors(t *testing.T) {
	s := &Server{}
	if err := s.Serve(nil, nil); err == nil {
		t.Error("Serve(nil, nil) succeeded")
	}
	// UDP only.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(pc, nil) }()
	query(t, "udp", pc.LocalAddr().String(), "example.com.", mdns.TypeA, 0)
	pc2, ln2 := listenPair(t)
	defer pc2.Close()
	defer ln2.Close()
	if err := s.Serve(pc2, ln2); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Errorf("second Serve: %v", err)
	}
	// A socket failing on its own stops Serve with its error.
	pc.Close()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "udp 127.0.0.1") {
			t.Errorf("Serve after its socket closed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its socket was closed")
	}
	if err := s.Shutdown(); err != nil {
		t.Error(err)
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"web.pod.": "web.pod", "WeB.PoD.": "web.pod", "web.pod": "web.pod", ".": "", "": "", "ÄB.x.": "Äb.x",
	} {
		if got := canonicalName(in); got != want {
			t.Errorf("canonicalName(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { canonicalName("web.pod.") }); n != 0 {
		t.Errorf("canonicalName of a lowercase name allocates %v times", n)
	}
}

func TestParseReverseName(t *testing.T) {
	for _, ip := range []string{"10.88.0.2", "0.0.0.0", "255.255.255.255", "fd00::2", "2001:db8:1:2:3:4:5:6", "::"} {
		name, err := mdns.ReverseAddr(ip)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseReverseName(strings.TrimSuffix(name, "."))
		if !ok || got != netip.MustParseAddr(ip) {
			t.Errorf("parseReverseName(%q) = %v, %v; want %s", name, got, ok, ip)
		}
	}
	for _, bad := range []string{
		"in-addr.arpa", "88.10.in-addr.arpa", "1.2.0.88.10.in-addr.arpa", "256.0.88.10.in-addr.arpa",
		"02.0.88.10.in-addr.arpa", "x.0.88.10.in-addr.arpa", ".0.88.10.in-addr.arpa",
		"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.ip6.arpa", // 31 nibbles
		"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
		"20.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.ip6.arpa",
		"web.pod", "",
	} {
		if got, ok := parseReverseName(bad); ok {
			t.Errorf("parseReverseName(%q) = %v, want not ok", bad, got)
		}
	}
}

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		a    net.Addr
		want string
	}{
		{&net.UDPAddr{IP: net.ParseIP("10.88.0.2"), Port: 5353}, "10.88.0.2"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.88.0.2"), Port: 1}, "10.88.0.2"},
		{&net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "pv0"}, "fe80::1"},
		{&net.IPAddr{IP: net.ParseIP("fd00::2")}, "invalid IP"},
		{nil, "invalid IP"},
	} {
		if got := clientAddr(tc.a).String(); got != tc.want {
			t.Errorf("clientAddr(%v) = %s, want %s", tc.a, got, tc.want)
		}
	}
}

// BenchmarkLookupUDP measures a query/answer round trip over loopback UDP
// for a name that is ours (allocations of client and server together; the
// client side is one packed query reused).
func BenchmarkLookupUDP(b *testing.B) {
	addr := serve(b, &Server{Lookup: func(client netip.Addr, name string) ([]netip.Addr, bool) {
		if name == "web.pod" {
			return pods["web.pod"], true
		}
		return nil, false
	}})
	q, err := new(mdns.Msg).SetQuestion("web.pod.", mdns.TypeA).Pack()
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(q); err != nil {
			b.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		if n < 12 || buf[3]&0xf != 0 || buf[7] != 1 {
			b.Fatalf("bad answer % x", buf[:n])
		}
	}
}
