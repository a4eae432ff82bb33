package network

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// ErrExhausted is returned, wrapped with the subnet named, by Acquire when
// every address of the subnet is leased or reserved.
var ErrExhausted = errors.New("no free address")

// ErrInUse is returned, wrapped with the owner holding it named, by Acquire
// when the address asked for is leased to another owner.
var ErrInUse = errors.New("address in use")

// ErrInvalid is returned, wrapped, by Acquire when the address asked for
// is outside the subnet or reserved, or the owner is not a valid name.
var ErrInvalid = errors.New("invalid address")

// lastFile is the name, in Dir, of the round-robin hint: a symlink whose
// target is the address last handed out. It is not an address, so List
// ignores it.
const lastFile = "last_reserved_ip"

// Leases hands out addresses of a subnet to owners, one file per address in
// Dir (a symlink named after the address whose target is the owner, made
// with symlink(2), which is atomic and exclusive, like CNI's host-local).
// Reserved: the network address, the gateway, the broadcast (IPv4) and any
// listed. An owner has at most one address per Leases. Safe for concurrent
// use within a process (mutex + in-memory index loaded from Dir on first
// use; a hint makes Acquire O(1) amortized, not a scan).
//
// The struct is used as a pointer (*Leases) made by the caller with
// Dir/Subnet set; the directory is created (0700) on first Acquire. The
// address last handed out is kept in Dir too (file last_reserved_ip), so
// that round-robin goes on where it was after a restart. Another process
// using the same Dir cannot take an address twice (symlink(2) is
// exclusive), but this process's index does not see its later changes
// except through List and address collisions.
type Leases struct {
	Dir      string
	Subnet   netip.Prefix
	Reserved []netip.Addr // besides network, gateway (first address) and broadcast

	mu       sync.Mutex
	loaded   bool
	subnet   netip.Prefix // Subnet masked
	reserved map[netip.Addr]bool
	byAddr   map[netip.Addr]string
	byOwner  map[string]netip.Addr
	last     netip.Addr
}

// init checks the configuration and loads Dir (once); create makes Dir when
// missing. Called with mu held.
func (l *Leases) init(create bool) error {
	if l.loaded {
		return nil
	}
	if l.Dir == "" {
		return errors.New("leases: no directory")
	}
	if !l.Subnet.IsValid() {
		return fmt.Errorf("leases in %s: invalid subnet %v", l.Dir, l.Subnet)
	}
	subnet := l.Subnet.Masked()
	if create {
		if err := os.MkdirAll(l.Dir, 0o700); err != nil {
			return fmt.Errorf("leases of %s: create directory: %w", subnet, err)
		}
	}
	leases, err := readLeases(l.Dir)
	if errors.Is(err, fs.ErrNotExist) && !create {
		// Nothing leased yet; load when the directory is made.
		return nil
	}
	if err != nil {
		return fmt.Errorf("leases of %s: %w", subnet, err)
	}
	l.subnet = subnet
	l.reserved = map[netip.Addr]bool{subnet.Addr(): true, subnet.Addr().Next(): true}
	if subnet.Addr().Is4() {
		l.reserved[lastAddr(subnet)] = true
	}
	for _, a := range l.Reserved {
		l.reserved[a.Unmap()] = true
	}
	l.byAddr = leases
	l.byOwner = make(map[string]netip.Addr, len(leases))
	addrs := make([]netip.Addr, 0, len(leases))
	for a := range leases {
		addrs = append(addrs, a)
	}
	// The lowest address wins if a broken Dir gives an owner several.
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	for _, a := range addrs {
		if _, ok := l.byOwner[leases[a]]; !ok {
			l.byOwner[leases[a]] = a
		}
	}
	if t, err := os.Readlink(filepath.Join(l.Dir, lastFile)); err == nil {
		if a, err := netip.ParseAddr(t); err == nil && subnet.Contains(a) {
			l.last = a
		}
	}
	l.loaded = true
	return nil
}

// readLeases reads every lease in dir: symlinks named after an address.
func readLeases(dir string) (map[netip.Addr]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := make(map[netip.Addr]string, len(entries))
	for _, e := range entries {
		a, err := netip.ParseAddr(e.Name())
		if err != nil || e.Type()&fs.ModeSymlink == 0 || a.String() != e.Name() {
			continue
		}
		owner, err := os.Readlink(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		m[a] = owner
	}
	return m, nil
}

// lastAddr returns the last address of p (masked).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		hostBits := len(b)*8 - p.Bits() - (len(b)-1-i)*8
		switch {
		case hostBits >= 8:
			b[i] = 0xff
		case hostBits > 0:
			b[i] |= byte(1<<hostBits - 1)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// checkOwner checks that owner can be a symlink's target.
func checkOwner(owner string) error {
	if owner == "" || len(owner) > 4000 || strings.ContainsRune(owner, 0) {
		return fmt.Errorf("invalid lease owner %q: %w", owner, ErrInvalid)
	}
	return nil
}

// Acquire returns owner's existing lease if it has one; else want if valid
// (ErrInUse naming the owner holding it, ErrInvalid if outside the subnet or
// reserved); else the next free address (round-robin from the last one
// handed out, like host-local). ErrExhausted when none is free.
func (l *Leases) Acquire(owner string, want netip.Addr) (netip.Addr, error) {
	if err := checkOwner(owner); err != nil {
		return netip.Addr{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.init(true); err != nil {
		return netip.Addr{}, err
	}
	if a, ok := l.byOwner[owner]; ok {
		return a, nil
	}
	if want.IsValid() {
		return l.acquireWanted(owner, want.Unmap())
	}
	// Walk from the hint. Every address passed over is reserved or leased,
	// so a free one, if any, comes within used+1 steps, or the walk has
	// gone round the whole subnet.
	limit := uint64(len(l.reserved) + len(l.byAddr) + 1)
	if size := subnetSize(l.subnet); size < limit {
		limit = size
	}
	a := l.last
	if !a.IsValid() {
		a = l.subnet.Addr() // so that the first one is network+1 (skipped: gateway)
	}
	for i := uint64(0); i < limit; i++ {
		a = a.Next()
		if !a.IsValid() || !l.subnet.Contains(a) {
			a = l.subnet.Addr()
		}
		if l.reserved[a] {
			continue
		}
		if _, taken := l.byAddr[a]; taken {
			continue
		}
		ok, err := l.take(owner, a)
		if err != nil {
			return netip.Addr{}, err
		}
		if ok {
			return a, nil
		}
		// Taken by another process meanwhile (take indexed it): go on.
		limit++
	}
	return netip.Addr{}, fmt.Errorf("lease for %q: subnet %s: %w", owner, l.subnet, ErrExhausted)
}

func (l *Leases) acquireWanted(owner string, want netip.Addr) (netip.Addr, error) {
	switch {
	case !l.subnet.Contains(want):
		return netip.Addr{}, fmt.Errorf("lease %s for %q: not in subnet %s: %w", want, owner, l.subnet, ErrInvalid)
	case l.reserved[want]:
		return netip.Addr{}, fmt.Errorf("lease %s for %q: reserved in subnet %s: %w", want, owner, l.subnet, ErrInvalid)
	}
	if holder, ok := l.byAddr[want]; ok {
		return netip.Addr{}, fmt.Errorf("lease %s for %q: held by %q: %w", want, owner, holder, ErrInUse)
	}
	ok, err := l.take(owner, want)
	if err != nil {
		return netip.Addr{}, err
	}
	if !ok {
		return netip.Addr{}, fmt.Errorf("lease %s for %q: held by %q: %w", want, owner, l.byAddr[want], ErrInUse)
	}
	return want, nil
}

// take makes the lease file of a for owner. false when the file exists
// (another process's): then it is indexed. Called with mu held.
func (l *Leases) take(owner string, a netip.Addr) (bool, error) {
	p := filepath.Join(l.Dir, a.String())
	err := os.Symlink(owner, p)
	if errors.Is(err, fs.ErrExist) {
		holder, rerr := os.Readlink(p)
		if rerr != nil {
			return false, fmt.Errorf("lease %s for %q: read %s: %w", a, owner, p, rerr)
		}
		if holder == owner {
			err = nil // made by another process for the same owner: ours
		} else {
			l.byAddr[a] = holder
			if _, ok := l.byOwner[holder]; !ok {
				l.byOwner[holder] = a
			}
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("lease %s for %q: %w", a, owner, err)
	}
	l.byAddr[a] = owner
	l.byOwner[owner] = a
	l.last = a
	l.saveLast(a)
	return true, nil
}

// saveLast records the round-robin hint in Dir, atomically (a symlink
// renamed over the old one). A failure only loses the hint.
func (l *Leases) saveLast(a netip.Addr) {
	tmp := filepath.Join(l.Dir, "."+lastFile+".tmp")
	_ = os.Remove(tmp)
	if os.Symlink(a.String(), tmp) != nil {
		return
	}
	if os.Rename(tmp, filepath.Join(l.Dir, lastFile)) != nil {
		_ = os.Remove(tmp)
	}
}

// subnetSize is the number of addresses of p, capped at MaxUint64.
func subnetSize(p netip.Prefix) uint64 {
	host := p.Addr().BitLen() - p.Bits()
	if host >= 64 {
		return math.MaxUint64
	}
	return 1 << host
}

// Release removes owner's lease; none is not an error. A lease file that
// another owner holds now (made by another process) is left.
func (l *Leases) Release(owner string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.init(false); err != nil {
		return err
	}
	if !l.loaded {
		return nil
	}
	a, ok := l.byOwner[owner]
	if !ok {
		return nil
	}
	p := filepath.Join(l.Dir, a.String())
	holder, err := os.Readlink(p)
	switch {
	case err == nil && holder == owner:
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("release lease %s of %q: %w", a, owner, err)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("release lease %s of %q: %w", a, owner, err)
	}
	delete(l.byOwner, owner)
	if l.byAddr[a] == owner {
		delete(l.byAddr, a)
	}
	return nil
}

// Lookup returns owner's lease.
func (l *Leases) Lookup(owner string) (netip.Addr, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.init(false); err != nil {
		return netip.Addr{}, false, err
	}
	a, ok := l.byOwner[owner]
	return a, ok, nil
}

// List returns every lease (address → owner), read from Dir. A missing
// Dir has none.
func (l *Leases) List() (map[netip.Addr]string, error) {
	m, err := readLeases(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[netip.Addr]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leases of %s: %w", l.Subnet, err)
	}
	return m, nil
}
