package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newLeases(t testing.TB, subnet string, reserved ...string) *Leases {
	l := &Leases{Dir: filepath.Join(t.TempDir(), "leases"), Subnet: netip.MustParsePrefix(subnet)}
	for _, r := range reserved {
		l.Reserved = append(l.Reserved, netip.MustParseAddr(r))
	}
	return l
}

func mustAcquire(t testing.TB, l *Leases, owner string, want netip.Addr) netip.Addr {
	t.Helper()
	a, err := l.Acquire(owner, want)
	if err != nil {
		t.Fatalf("Acquire(%q, %v): %v", owner, want, err)
	}
	return a
}

func TestLeasesBasic(t *testing.T) {
	l := newLeases(t, "10.77.0.0/24")
	// Nothing yet, no directory made by reads.
	if _, ok, err := l.Lookup("a"); ok || err != nil {
		t.Errorf("Lookup before = %v, %v", ok, err)
	}
	if err := l.Release("a"); err != nil {
		t.Error(err)
	}
	if m, err := l.List(); err != nil || len(m) != 0 {
		t.Errorf("List before = %v, %v", m, err)
	}
	if _, err := os.Stat(l.Dir); !os.IsNotExist(err) {
		t.Error("directory made before Acquire")
	}

	a := mustAcquire(t, l, "a", netip.Addr{})
	if a != netip.MustParseAddr("10.77.0.2") {
		t.Errorf("first lease %s, want 10.77.0.2 (network and gateway reserved)", a)
	}
	if st, err := os.Stat(l.Dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v", st.Mode(), err)
	}
	if target, err := os.Readlink(filepath.Join(l.Dir, "10.77.0.2")); err != nil || target != "a" {
		t.Errorf("lease file: %q, %v", target, err)
	}
	// Reuse by owner, even when asking for another address.
	if again := mustAcquire(t, l, "a", netip.Addr{}); again != a {
		t.Errorf("owner got %s then %s", a, again)
	}
	if again := mustAcquire(t, l, "a", netip.MustParseAddr("10.77.0.50")); again != a {
		t.Errorf("owner with a lease asking for another got %s", again)
	}
	b := mustAcquire(t, l, "b", netip.Addr{})
	if b != netip.MustParseAddr("10.77.0.3") {
		t.Errorf("second lease %s", b)
	}
	if got, ok, err := l.Lookup("b"); err != nil || !ok || got != b {
		t.Errorf("Lookup(b) = %s, %v, %v", got, ok, err)
	}
	// A wanted address.
	w := netip.MustParseAddr("10.77.0.100")
	if got := mustAcquire(t, l, "c", w); got != w {
		t.Errorf("wanted %s, got %s", w, got)
	}
	_, err := l.Acquire("d", w)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("wanted address in use: %v", err)
	}
	for _, bad := range []string{"10.77.0.0", "10.77.0.1", "10.77.0.255", "10.78.0.5", "fd00::5"} {
		if _, err := l.Acquire("d", netip.MustParseAddr(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Acquire(%s) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := l.Acquire("", netip.Addr{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty owner: %v", err)
	}
	// Round-robin: after .100 comes .101, not a released low address.
	if err := l.Release("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(l.Dir, "10.77.0.2")); !os.IsNotExist(err) {
		t.Error("lease file left after Release")
	}
	if _, ok, _ := l.Lookup("a"); ok {
		t.Error("Lookup after Release")
	}
	if err := l.Release("a"); err != nil {
		t.Errorf("Release twice: %v", err)
	}
	if e := mustAcquire(t, l, "e", netip.Addr{}); e != netip.MustParseAddr("10.77.0.101") {
		t.Errorf("round-robin gave %s, want 10.77.0.101", e)
	}
	m, err := l.List()
	want := map[netip.Addr]string{b: "b", w: "c", netip.MustParseAddr("10.77.0.101"): "e"}
	if err != nil || fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("List = %v, %v; want %v", m, err, want)
	}
}

func TestLeasesReserved(t *testing.T) {
	l := newLeases(t, "10.77.0.0/29", "10.77.0.3", "10.77.0.5")
	var got []string
	for i := 0; ; i++ {
		a, err := l.Acquire(fmt.Sprint("o", i), netip.Addr{})
		if errors.Is(err, ErrExhausted) {
			if !strings.Contains(err.Error(), "10.77.0.0/29") {
				t.Errorf("exhaustion does not name the subnet: %v", err)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	if want := "[10.77.0.2 10.77.0.4 10.77.0.6]"; fmt.Sprint(got) != want {
		t.Errorf("leases %v, want %s", got, want)
	}
	if _, err := l.Acquire("x", netip.MustParseAddr("10.77.0.3")); !errors.Is(err, ErrInvalid) {
		t.Errorf("reserved address: %v", err)
	}
}

func TestLeasesExhaustionAndWrap(t *testing.T) {
	l := newLeases(t, "10.77.0.0/29") // .2 to .6: five
	for i := 0; i < 5; i++ {
		mustAcquire(t, l, fmt.Sprint("o", i), netip.Addr{})
	}
	if _, err := l.Acquire("o5", netip.Addr{}); !errors.Is(err, ErrExhausted) {
		t.Fatalf("sixth lease: %v", err)
	}
	// Owners with a lease still get it when the subnet is full.
	if a := mustAcquire(t, l, "o0", netip.Addr{}); a != netip.MustParseAddr("10.77.0.2") {
		t.Errorf("o0 got %s", a)
	}
	l.Release("o3") // 10.77.0.5
	if a := mustAcquire(t, l, "o5", netip.Addr{}); a != netip.MustParseAddr("10.77.0.5") {
		t.Errorf("after wrap got %s, want 10.77.0.5", a)
	}
	l.Release("o1") // 10.77.0.3
	if a := mustAcquire(t, l, "o6", netip.Addr{}); a != netip.MustParseAddr("10.77.0.3") {
		t.Errorf("after wrap got %s, want 10.77.0.3", a)
	}
}

func TestLeasesReload(t *testing.T) {
	l := newLeases(t, "10.77.0.0/16")
	for i := 0; i < 10; i++ {
		mustAcquire(t, l, fmt.Sprint("o", i), netip.Addr{})
	}
	l.Release("o4")
	// A new Leases value on the same directory, as after a restart.
	l2 := &Leases{Dir: l.Dir, Subnet: l.Subnet}
	for i := 0; i < 10; i++ {
		want, ok1, _ := l.Lookup(fmt.Sprint("o", i))
		got, ok2, err := l2.Lookup(fmt.Sprint("o", i))
		if err != nil || ok1 != ok2 || got != want {
			t.Errorf("o%d: reloaded %s %v %v, want %s %v", i, got, ok2, err, want, ok1)
		}
	}
	// Round-robin goes on after the last one handed out (10.77.0.11).
	if a := mustAcquire(t, l2, "new", netip.Addr{}); a != netip.MustParseAddr("10.77.0.12") {
		t.Errorf("after reload got %s, want 10.77.0.12", a)
	}
	// Owners keep their address.
	if a := mustAcquire(t, l2, "o3", netip.Addr{}); a != netip.MustParseAddr("10.77.0.5") {
		t.Errorf("o3 got %s", a)
	}
	// The hint file does not show as a lease.
	m, _ := l2.List()
	if len(m) != 10 {
		t.Errorf("List has %d leases: %v", len(m), m)
	}
}

// TestLeasesTwoValuesOneDir: two Leases on one directory (two processes)
// never hand out one address twice.
func TestLeasesTwoValuesOneDir(t *testing.T) {
	l1 := newLeases(t, "10.77.0.0/24")
	l2 := &Leases{Dir: l1.Dir, Subnet: l1.Subnet}
	mustAcquire(t, l1, "warm", netip.Addr{}) // makes the directory; both then load it
	mustAcquire(t, l2, "warm2", netip.Addr{})
	seen := map[netip.Addr]string{}
	for i := 0; i < 50; i++ {
		for j, l := range []*Leases{l1, l2} {
			owner := fmt.Sprintf("l%d-%d", j, i)
			a := mustAcquire(t, l, owner, netip.Addr{})
			if prev, dup := seen[a]; dup {
				t.Fatalf("%s handed out to %s and %s", a, prev, owner)
			}
			seen[a] = owner
		}
	}
	if _, err := l2.Acquire("x", netip.MustParseAddr("10.77.0.2")); !errors.Is(err, ErrInUse) {
		t.Errorf("want an address the other holds: %v", err)
	}
}

func TestLeasesConcurrent(t *testing.T) {
	l := newLeases(t, "10.77.0.0/22") // 1021 usable
	const n = 64
	const per = 15
	var (
		mu   sync.Mutex
		seen = map[netip.Addr]string{}
		wg   sync.WaitGroup
	)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				owner := fmt.Sprintf("g%d-%d", g, i)
				a, err := l.Acquire(owner, netip.Addr{})
				if err != nil {
					t.Error(err)
					return
				}
				if b, _ := l.Acquire(owner, netip.Addr{}); b != a {
					t.Errorf("%s: %s then %s", owner, a, b)
				}
				mu.Lock()
				if prev, dup := seen[a]; dup {
					t.Errorf("%s handed out to %s and %s", a, prev, owner)
				}
				seen[a] = owner
				mu.Unlock()
				if i%3 == 0 {
					if err := l.Release(owner); err != nil {
						t.Error(err)
					}
					mu.Lock()
					delete(seen, a)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	m, err := l.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != len(seen) {
		t.Errorf("List has %d leases, want %d", len(m), len(seen))
	}
	for a, o := range seen {
		if m[a] != o {
			t.Errorf("%s: List says %q, want %q", a, m[a], o)
		}
	}
	// Exhaust what is left, concurrently.
	var got sync.Map
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				owner := fmt.Sprintf("x%d-%d", g, i)
				a, err := l.Acquire(owner, netip.Addr{})
				if errors.Is(err, ErrExhausted) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if prev, dup := got.LoadOrStore(a, owner); dup {
					t.Errorf("%s handed out to %s and %s", a, prev, owner)
				}
			}
		}()
	}
	wg.Wait()
	m, _ = l.List()
	if len(m) != 1021 {
		t.Errorf("%d leases after exhaustion, want 1021", len(m))
	}
}

func TestLeasesIPv6(t *testing.T) {
	l := newLeases(t, "fd77:1::/64", "fd77:1::2")
	a := mustAcquire(t, l, "a", netip.Addr{})
	if a != netip.MustParseAddr("fd77:1::3") {
		t.Errorf("first v6 lease %s, want fd77:1::3 (::, ::1 and ::2 reserved)", a)
	}
	if _, err := os.Readlink(filepath.Join(l.Dir, "fd77:1::3")); err != nil {
		t.Error(err)
	}
	// The last address of a v6 subnet is not a broadcast: it can be had.
	last := netip.MustParseAddr("fd77:1::ffff:ffff:ffff:ffff")
	if got := mustAcquire(t, l, "b", last); got != last {
		t.Errorf("got %s", got)
	}
	// Round-robin wraps to the start from the end.
	if got := mustAcquire(t, l, "c", netip.Addr{}); got != netip.MustParseAddr("fd77:1::4") {
		t.Errorf("after the last address got %s", got)
	}
	if _, err := l.Acquire("d", netip.MustParseAddr("10.0.0.1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("v4 in a v6 subnet: %v", err)
	}
	// A small v6 subnet gets exhausted: /126 has ::1 to ::3, ::1 reserved.
	s := newLeases(t, "fd77:2::/126")
	mustAcquire(t, s, "x", netip.Addr{})
	mustAcquire(t, s, "y", netip.Addr{})
	if _, err := s.Acquire("z", netip.Addr{}); !errors.Is(err, ErrExhausted) {
		t.Errorf("/126: %v", err)
	}
	m, _ := l.List()
	if len(m) != 3 || m[last] != "b" {
		t.Errorf("List = %v", m)
	}
}

func TestLeasesBadConfig(t *testing.T) {
	if _, err := (&Leases{Subnet: netip.MustParsePrefix("10.0.0.0/24")}).Acquire("a", netip.Addr{}); err == nil {
		t.Error("no Dir accepted")
	}
	if _, err := (&Leases{Dir: t.TempDir()}).Acquire("a", netip.Addr{}); err == nil {
		t.Error("no Subnet accepted")
	}
}

func BenchmarkLeasesAcquireRelease(b *testing.B) {
	l := newLeases(b, "10.77.0.0/16")
	for i := 0; i < 20000; i++ { // a busy subnet
		mustAcquire(b, l, fmt.Sprint("busy", i), netip.Addr{})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := fmt.Sprint("o", i)
		mustAcquire(b, l, o, netip.Addr{})
		if err := l.Release(o); err != nil {
			b.Fatal(err)
		}
	}
}
