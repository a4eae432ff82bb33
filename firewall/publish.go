package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Mapping is one published port: connections to HostPort on the host go to
// PodIP:PodPort.
type Mapping struct {
	Protocol string     // "tcp", "udp" or "sctp"
	HostIP   netip.Addr // zero: every local address of the host namespace
	HostPort uint16
	PodIP    netip.Addr
	PodPort  uint16
}

// String shows m as "tcp 192.0.2.1:8080->10.88.0.2:80", or with "*" for a
// zero HostIP.
func (m Mapping) String() string {
	host := "*:" + strconv.Itoa(int(m.HostPort))
	if m.HostIP.IsValid() {
		host = netip.AddrPortFrom(m.HostIP, m.HostPort).String()
	}
	return m.Protocol + " " + host + "->" + netip.AddrPortFrom(m.PodIP, m.PodPort).String()
}

// MaxOwnerLen is the longest owner Publish accepts, in bytes (a rule's user
// data is at most 256 bytes).
const MaxOwnerLen = 128

func protoNumber(p string) (byte, bool) {
	switch p {
	case "tcp":
		return unix.IPPROTO_TCP, true
	case "udp":
		return unix.IPPROTO_UDP, true
	case "sctp":
		return unix.IPPROTO_SCTP, true
	}
	return 0, false
}

func protoName(n byte) (string, bool) {
	switch n {
	case unix.IPPROTO_TCP:
		return "tcp", true
	case unix.IPPROTO_UDP:
		return "udp", true
	case unix.IPPROTO_SCTP:
		return "sctp", true
	}
	return "", false
}

// normalize checks m and returns it with unmapped, zone-less addresses;
// skip is true when HostIP is of another family than PodIP.
func (m Mapping) normalize() (_ Mapping, skip bool, err error) {
	if _, ok := protoNumber(m.Protocol); !ok {
		return m, false, fmt.Errorf("mapping %s: protocol %q: want tcp, udp or sctp", m, m.Protocol)
	}
	if !m.PodIP.IsValid() || m.PodIP.IsUnspecified() {
		return m, false, fmt.Errorf("mapping %s: no pod address", m)
	}
	if m.HostPort == 0 || m.PodPort == 0 {
		return m, false, fmt.Errorf("mapping %s: port 0", m)
	}
	m.PodIP = m.PodIP.Unmap().WithZone("")
	if m.HostIP.IsValid() {
		m.HostIP = m.HostIP.Unmap().WithZone("")
		if m.HostIP.IsUnspecified() {
			// 0.0.0.0 or ::, as a user would write "every address"
			if m.HostIP.Is4() != m.PodIP.Is4() {
				return m, true, nil
			}
			m.HostIP = netip.Addr{}
		} else if m.HostIP.Is4() != m.PodIP.Is4() {
			return m, true, nil
		}
	}
	return m, false, nil
}

// User data TLV types. 0 is the comment nft shows; the others are
// podvisor's (nft ignores types it does not know).
const (
	udComment = 0
	udOwner   = 0xe0
	udMapping = 0xe1

	udMaxLen       = 256 // NFT_USERDATA_MAXLEN
	mappingVersion = 1
)

// encodeUserData makes a rule's user data: owner, mapping, and a comment
// for nft as room permits.
func encodeUserData(owner string, m Mapping) []byte {
	mb := encodeMapping(m)
	b := make([]byte, 0, udMaxLen)
	b = append(b, udOwner, byte(len(owner)))
	b = append(b, owner...)
	b = append(b, udMapping, byte(len(mb)))
	b = append(b, mb...)
	room := udMaxLen - len(b) - 2 - 1 // TLV header, NUL
	if room > 255-1 {
		room = 255 - 1
	}
	comment := truncate("podvisor "+owner+" "+m.String(), room)
	b = append(b, udComment, byte(len(comment)+1))
	b = append(b, comment...)
	return append(b, 0)
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// encodeMapping: version, protocol number, host address length (0, 4, 16)
// and bytes, host port, pod address length and bytes, pod port.
func encodeMapping(m Mapping) []byte {
	p, _ := protoNumber(m.Protocol)
	b := []byte{mappingVersion, p}
	var host []byte
	if m.HostIP.IsValid() {
		host = m.HostIP.AsSlice()
	}
	b = append(b, byte(len(host)))
	b = append(b, host...)
	b = binary.BigEndian.AppendUint16(b, m.HostPort)
	pod := m.PodIP.AsSlice()
	b = append(b, byte(len(pod)))
	b = append(b, pod...)
	return binary.BigEndian.AppendUint16(b, m.PodPort)
}

func decodeMapping(b []byte) (Mapping, bool) {
	var m Mapping
	if len(b) < 3 || b[0] != mappingVersion {
		return m, false
	}
	var ok bool
	if m.Protocol, ok = protoName(b[1]); !ok {
		return m, false
	}
	b = b[2:]
	addr := func() (netip.Addr, bool) {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return netip.Addr{}, false
		}
		n := int(b[0])
		a, ok := netip.AddrFromSlice(b[1 : 1+n])
		b = b[1+n:]
		return a, ok || n == 0
	}
	port := func() (uint16, bool) {
		if len(b) < 2 {
			return 0, false
		}
		p := binary.BigEndian.Uint16(b)
		b = b[2:]
		return p, true
	}
	var ok1, ok2, ok3, ok4 bool
	m.HostIP, ok1 = addr()
	m.HostPort, ok2 = port()
	m.PodIP, ok3 = addr()
	m.PodPort, ok4 = port()
	return m, ok1 && ok2 && ok3 && ok4 && m.PodIP.IsValid() && len(b) == 0
}

// parseUserData returns the owner and mapping of a published-port rule;
// ok is false for a rule that is not one.
func parseUserData(ud []byte) (owner string, m Mapping, ok bool) {
	var haveOwner, haveMapping bool
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return "", m, false
		}
		v := ud[2 : 2+n]
		switch typ {
		case udOwner:
			owner, haveOwner = string(v), true
		case udMapping:
			m, haveMapping = decodeMapping(v)
		}
		ud = ud[2+n:]
	}
	return owner, m, haveOwner && haveMapping
}

func checkOwner(owner string) error {
	if owner == "" {
		return errors.New("empty owner")
	}
	if len(owner) > MaxOwnerLen {
		return fmt.Errorf("owner %.32q...: longer than %d bytes", owner, MaxOwnerLen)
	}
	return nil
}

// hostportRules lists the rules of the chain hostports. A missing table is
// reported with missing true and no error.
func (f *Firewall) hostportRules() (rules []ruleRef, missing bool, err error) {
	rules, err = f.listRules(chainHostports)
	if err == nil {
		return rules, false, nil
	}
	if errors.Is(err, unix.ENOENT) {
		// the table, or only the chain (a table not made by Ensure)?
		if ok, xerr := f.exists(); xerr == nil && !ok {
			return nil, true, nil
		}
	}
	return nil, false, err
}

// Publish adds DNAT rules to chain hostports for owner's mappings, each rule
// tagged with owner in its user data. The rule of a mapping is
// [ip daddr HostIP] meta l4proto P th dport HostPort dnat ip to PodIP:PodPort
// (ip6 for IPv6 addresses). Mappings with a HostIP of another family than
// PodIP are skipped (an unspecified HostIP, 0.0.0.0 or ::, counts as zero
// for its own family). Publish of an owner that has rules already replaces
// them, atomically (one batch); publishing no mappings removes them.
//
// An invalid mapping (unknown protocol, port 0, no pod address) or owner
// (empty or longer than MaxOwnerLen) fails the whole call before anything
// changes. The table must exist (see Ensure). Publish does not look for
// conflicts with other owners' ports: the first rule in the chain wins.
func (f *Firewall) Publish(owner string, ms []Mapping) error {
	if err := checkOwner(owner); err != nil {
		return f.wrap("publish", err)
	}
	var add []Mapping
	for _, m := range ms {
		m, skip, err := m.normalize()
		if err != nil {
			return f.wrap(fmt.Sprintf("publish %q", owner), err)
		}
		if !skip {
			add = append(add, m)
		}
	}
	if err := f.lock("publish"); err != nil {
		return err
	}
	defer f.mu.Unlock()
	return f.replace(fmt.Sprintf("publish %q", owner), owner, add)
}

// Unpublish deletes every rule tagged with owner in one batch. An owner
// without rules, or a missing table, is not an error.
func (f *Firewall) Unpublish(owner string) error {
	if err := f.lock("unpublish"); err != nil {
		return err
	}
	defer f.mu.Unlock()
	return f.replace(fmt.Sprintf("unpublish %q", owner), owner, nil)
}

// replace deletes owner's rules and adds add's, in one batch. A rule
// deleted meanwhile by someone else fails the batch with ENOENT: then it
// lists again and retries.
func (f *Firewall) replace(op, owner string, add []Mapping) error {
	var err error
	for try := 0; try < 3; try++ {
		rules, missing, lerr := f.hostportRules()
		if lerr != nil {
			return f.wrap(op+": list chain hostports", lerr)
		}
		if missing {
			if len(add) == 0 {
				return nil
			}
			return f.wrap(op, fmt.Errorf("table missing (Ensure first): %w", unix.ENOENT))
		}
		n := 0
		c := f.chain(chainHostports)
		for _, r := range rules {
			if o, _, ok := parseUserData(r.userData); ok && o == owner && r.handle != 0 {
				// DelRule fails only for a zero handle, excluded here
				_ = f.conn.DelRule(&nftables.Rule{Table: f.table, Chain: c, Handle: r.handle})
				n++
			}
		}
		if n == 0 && len(add) == 0 {
			return nil
		}
		for _, m := range add {
			f.conn.AddRule(&nftables.Rule{Table: f.table, Chain: c, Exprs: dnatRule(m), UserData: encodeUserData(owner, m)})
		}
		if err = f.flush(); err == nil || !errors.Is(err, unix.ENOENT) {
			break
		}
	}
	if err != nil {
		return f.wrap(op, err)
	}
	return nil
}

// Published returns the published mappings in the table by owner, in rule
// order, read back from the rules' user data (rules without podvisor's user
// data are ignored). A missing table has none.
func (f *Firewall) Published() (map[string][]Mapping, error) {
	if err := f.lock("published"); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	rules, _, err := f.hostportRules()
	if err != nil {
		return nil, f.wrap("published: list chain hostports", err)
	}
	out := map[string][]Mapping{}
	for _, r := range rules {
		if o, m, ok := parseUserData(r.userData); ok {
			out[o] = append(out[o], m)
		}
	}
	return out, nil
}
