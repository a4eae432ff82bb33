package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// BenchmarkPublishUnpublish measures Publish and then Unpublish of one
// pod's two ports while 100 other pods have two ports each in the table.
// It reports the medians (publish-p50-µs, unpublish-p50-µs) besides the
// mean of the pair (ns/op).
func BenchmarkPublishUnpublish(b *testing.B) {
	needRoot(b)
	ns := newNetNS(b)
	f := openFW(b, Config{Table: "podvisor_bench0", Bridge: "bench0", Subnet: netip.MustParsePrefix("10.97.0.0/16"), NetNS: nsPath(ns)})
	if err := f.Ensure(); err != nil {
		b.Fatal(err)
	}
	ports := func(i int) []Mapping {
		ip := netip.AddrFrom4([4]byte{10, 97, byte(i >> 8), byte(i)})
		return []Mapping{
			{Protocol: "tcp", HostPort: uint16(10000 + 2*i), PodIP: ip, PodPort: 80},
			{Protocol: "udp", HostPort: uint16(10001 + 2*i), PodIP: ip, PodPort: 53},
		}
	}
	for i := 1; i <= 100; i++ {
		if err := f.Publish(fmt.Sprintf("pod-%03d", i), ports(i)); err != nil {
			b.Fatal(err)
		}
	}
	ms := ports(200)
	var pub, unpub []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := f.Publish("pod-bench", ms); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := f.Unpublish("pod-bench"); err != nil {
			b.Fatal(err)
		}
		pub = append(pub, t1.Sub(t0))
		unpub = append(unpub, time.Since(t1))
	}
	b.StopTimer()
	b.ReportMetric(p50(pub), "publish-p50-µs")
	b.ReportMetric(p50(unpub), "unpublish-p50-µs")
	if got, err := f.Published(); err != nil || len(got) != 100 {
		b.Errorf("Published: %d owners, %v", len(got), err)
	}
}

func p50(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Microsecond)
}
