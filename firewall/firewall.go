package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Config describes one bridge network's table.
type Config struct {
	Table    string       // nft table name (family inet), e.g. "podvisor_podvisor0"; letters, digits, '_' only
	Bridge   string       // the bridge's link name
	Subnet   netip.Prefix // IPv4 pod subnet
	Subnet6  netip.Prefix // optional IPv6 pod subnet
	Internal bool         // no masquerade out, no forwarding off the bridge (an internal network)
	NetNS    string       // path of the network namespace to program ("" = the process's own)
}

// Chain names in the table.
const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainHostports   = "hostports"
	chainPostrouting = "postrouting"
	chainInput       = "input"
	chainForward     = "forward"
)

// Firewall is an open netlink connection to nftables in one network
// namespace, for one table. Its methods are safe for concurrent use (they
// are serialised).
type Firewall struct {
	cfg   Config
	nsfd  int // the network namespace file, or -1
	opts  []nftables.ConnOption
	table *nftables.Table

	mu     sync.Mutex // serialises operations; guards conn, nl and closed
	conn   *nftables.Conn
	nl     *netlink.Conn // for rule dumps (see listRules); dialled on demand
	closed bool
}

// TableName returns a valid table name for a bridge: "podvisor_" + the
// bridge name with every character not [A-Za-z0-9_] made '_'.
func TableName(bridge string) string {
	var b strings.Builder
	b.WriteString("podvisor_")
	for _, r := range bridge {
		if validNameRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func validNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

// validate checks c and returns it normalised (masked prefixes).
func (c Config) validate() (Config, error) {
	if c.Table == "" {
		return c, errors.New("empty table name")
	}
	if len(c.Table) > 200 {
		return c, fmt.Errorf("table name %q: longer than 200 bytes", c.Table)
	}
	for _, r := range c.Table {
		if !validNameRune(r) {
			return c, fmt.Errorf("table name %q: only letters, digits and '_' are allowed", c.Table)
		}
	}
	if c.Bridge == "" || len(c.Bridge) >= unix.IFNAMSIZ || strings.ContainsAny(c.Bridge, "/ \x00") {
		return c, fmt.Errorf("bridge name %q: not a valid link name", c.Bridge)
	}
	if c.Subnet.IsValid() {
		if !c.Subnet.Addr().Is4() {
			return c, fmt.Errorf("subnet %s: not IPv4", c.Subnet)
		}
		c.Subnet = c.Subnet.Masked()
	}
	if c.Subnet6.IsValid() {
		if !c.Subnet6.Addr().Is6() || c.Subnet6.Addr().Is4In6() {
			return c, fmt.Errorf("subnet6 %s: not IPv6", c.Subnet6)
		}
		c.Subnet6 = netip.PrefixFrom(c.Subnet6.Addr().WithZone(""), c.Subnet6.Bits()).Masked()
	}
	if !c.Subnet.IsValid() && !c.Subnet6.IsValid() {
		return c, errors.New("no subnet: Subnet or Subnet6 is needed")
	}
	return c, nil
}

// Open connects to nftables in c.NetNS (nftables.New with WithNetNSFd when
// NetNS is set) for c.Table; it changes nothing. The namespace file stays
// open until Close.
func Open(c Config) (*Firewall, error) {
	c, err := c.validate()
	if err != nil {
		return nil, fmt.Errorf("firewall table %q: open: %w", c.Table, err)
	}
	f := &Firewall{
		cfg:   c,
		nsfd:  -1,
		table: &nftables.Table{Name: c.Table, Family: nftables.TableFamilyINet},
	}
	if c.NetNS != "" {
		fd, err := unix.Open(c.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("firewall table %q: open network namespace: %w", c.Table, &os.PathError{Op: "open", Path: c.NetNS, Err: err})
		}
		if t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
			unix.Close(fd)
			if err == nil {
				err = errors.New("not a network namespace")
			}
			return nil, fmt.Errorf("firewall table %q: open network namespace: %w", c.Table, &os.PathError{Op: "open", Path: c.NetNS, Err: err})
		}
		f.nsfd = fd
		f.opts = append(f.opts, nftables.WithNetNSFd(fd))
	}
	conn, err := nftables.New(append(f.opts, nftables.AsLasting())...)
	if err != nil {
		if f.nsfd >= 0 {
			unix.Close(f.nsfd)
		}
		return nil, fmt.Errorf("firewall table %q: open netlink connection: %w", c.Table, err)
	}
	f.conn = conn
	return f, nil
}

// Config returns the firewall's configuration (with its prefixes masked).
func (f *Firewall) Config() Config { return f.cfg }

// Close closes the netlink connection and the namespace file. The rules
// stay. Close is idempotent; other methods fail after it.
func (f *Firewall) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	err := f.conn.CloseLasting()
	if cerr := f.closeDumpConn(); cerr != nil && err == nil {
		err = cerr
	}
	if f.nsfd >= 0 {
		if cerr := unix.Close(f.nsfd); cerr != nil && err == nil {
			err = cerr
		}
		f.nsfd = -1
	}
	if err != nil {
		return fmt.Errorf("firewall table %q: close: %w", f.cfg.Table, err)
	}
	return nil
}

// errClosed is returned by operations on a closed Firewall.
var errClosed = errors.New("firewall closed")

// lock takes f.mu and fails when f is closed; on success the caller unlocks.
func (f *Firewall) lock(op string) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.wrap(op, errClosed)
	}
	return nil
}

func (f *Firewall) wrap(op string, err error) error {
	return fmt.Errorf("firewall table inet %s: %s: %w", f.cfg.Table, op, err)
}

// resetConn replaces the lasting netlink connection after an error, which
// may have left unread replies on the socket. If a new one cannot be made,
// the old Conn goes on with a netlink socket per operation.
func (f *Firewall) resetConn() {
	_ = f.conn.CloseLasting()
	if c, err := nftables.New(append(f.opts, nftables.AsLasting())...); err == nil {
		f.conn = c
	}
}

// flush sends the batch, resetting the connection on error.
func (f *Firewall) flush() error {
	if err := f.conn.Flush(); err != nil {
		f.resetConn()
		return err
	}
	return nil
}

// Exists reports whether the table exists.
func (f *Firewall) Exists() (bool, error) {
	if err := f.lock("exists"); err != nil {
		return false, err
	}
	defer f.mu.Unlock()
	ok, err := f.exists()
	if err != nil {
		return false, f.wrap("list table", err)
	}
	return ok, nil
}

func (f *Firewall) exists() (bool, error) {
	_, err := f.conn.ListTableOfFamily(f.cfg.Table, nftables.TableFamilyINet)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	f.resetConn()
	return false, err
}

// Delete removes the whole table with its chains and rules; a missing table
// is not an error.
func (f *Firewall) Delete() error {
	if err := f.lock("delete"); err != nil {
		return err
	}
	defer f.mu.Unlock()
	f.conn.DelTable(f.table)
	if err := f.flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return f.wrap("delete table", err)
	}
	return nil
}

// baseChain describes one of the table's chains.
type baseChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
}

var baseChains = []baseChain{
	{chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
	{chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
	{chainPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
	{chainInput, nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter},
	{chainForward, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter},
}

func (f *Firewall) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: f.table}
}

// Ensure makes the table, its chains and its base rules if missing, and
// refills the base chains from the Config (so a changed Internal or subnet
// takes effect), all in one atomic batch. It keeps the chain hostports and
// so the published ports: a restarted daemon can Ensure and then reconcile
// with Published, Publish and Unpublish. Ensure is idempotent.
//
// A base chain found with another type, hook or priority (an older layout)
// is deleted and made again.
func (f *Firewall) Ensure() error {
	if err := f.lock("ensure"); err != nil {
		return err
	}
	defer f.mu.Unlock()

	existing := map[string]*nftables.Chain{}
	chains, err := f.conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		f.resetConn()
		return f.wrap("ensure: list chains", err)
	}
	for _, c := range chains {
		if c.Table != nil && c.Table.Name == f.cfg.Table {
			existing[c.Name] = c
		}
	}

	cc := f.conn
	cc.AddTable(f.table)
	accept := nftables.ChainPolicyAccept
	for _, bc := range baseChains {
		if old, ok := existing[bc.name]; ok && !sameHook(old, bc) {
			cc.DelChain(f.chain(bc.name))
		}
	}
	// hostports first: the base chains jump to it. Never flushed here.
	cc.AddChain(f.chain(chainHostports))
	for _, bc := range baseChains {
		c := &nftables.Chain{
			Name:     bc.name,
			Table:    f.table,
			Type:     bc.typ,
			Hooknum:  bc.hook,
			Priority: bc.priority,
		}
		if bc.typ == nftables.ChainTypeFilter {
			c.Policy = &accept
		}
		cc.AddChain(c)
		cc.FlushChain(c)
		for _, exprs := range baseRules(f.cfg, bc.name) {
			cc.AddRule(&nftables.Rule{Table: f.table, Chain: c, Exprs: exprs})
		}
	}
	if err := f.flush(); err != nil {
		return f.wrap("ensure", err)
	}
	return nil
}

// sameHook reports whether an existing chain has bc's type, hook and
// priority.
func sameHook(c *nftables.Chain, bc baseChain) bool {
	return c.Type == bc.typ &&
		c.Hooknum != nil && *c.Hooknum == *bc.hook &&
		c.Priority != nil && *c.Priority == *bc.priority
}
