package supervisor

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/podvisor/podvisor/namespaces"
)

// Network benchmarks (make bench; figures in docs/benchmarks.md): the cost
// of a pod's network at start and stop (bridge against none), 100 pods on
// one bridge, and TCP throughput through the bridge and through a
// published port against loopback. Everything runs in a network namespace
// the benchmark makes, standing for the host.

func benchNetSupervisor(b *testing.B) (*Supervisor, *netEnv) {
	b.Helper()
	env := newNetEnv(b)
	sv, err := New(Options{Root: b.TempDir(), CgroupParent: fmt.Sprintf("podvisor-bench-%d-%d", os.Getpid(), testSeq.Add(1)), Logger: zerolog.Nop(), Network: env.opts})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sv.Close(context.Background()) })
	return sv, env
}

const benchNetPod = `
  terminationGracePeriodSeconds: 5
  %s
  processes:
  - {name: a, command: [sleep, "100"]%s}
  - {name: b, command: [sleep, "100"]}
  - {name: c, command: [sleep, "100"]}
`

// BenchmarkPodUpDownBridge is BenchmarkPodUpDown on the bridge network
// (with a pod that stays there, so that the bridge and table are made
// once), with none for comparison, and on the bridge with a published port.
func BenchmarkPodUpDownBridge(b *testing.B) {
	for _, c := range []struct{ name, network, ports string }{
		{"none", "network: none", ""},
		{"bridge", "network: bridge", ""},
		{"bridge+hostPort", "network: bridge", ", ports: [{containerPort: 80, hostPort: %d}]"},
	} {
		b.Run(c.name, func(b *testing.B) {
			sv, _ := benchNetSupervisor(b)
			anchor := benchLoad(b, podYAML("anchor", fmt.Sprintf(benchNetPod, "network: bridge", "")))
			if _, err := sv.Create(anchor); err != nil {
				b.Fatal(err)
			}
			var up, down []time.Duration
			for i := 0; i < b.N; i++ {
				name := fmt.Sprintf("bench-net-%d", i)
				ports := c.ports
				if ports != "" {
					ports = fmt.Sprintf(ports, 30000+i%1000)
				}
				spec := benchLoad(b, podYAML(name, fmt.Sprintf(benchNetPod, c.network, ports)))
				t0 := time.Now()
				p, err := sv.Create(spec)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Start(); err != nil {
					b.Fatal(err)
				}
				if _, err := p.WaitFor(context.Background(), allRunning(3)); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := sv.Remove(context.Background(), name, RemoveOptions{Force: true}); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				up, down = append(up, t1.Sub(t0)), append(down, t2.Sub(t1))
			}
			b.ReportMetric(ms(median(up)), "ms/up")
			b.ReportMetric(ms(median(down)), "ms/down")
		})
	}
}

// BenchmarkBridge100Pods: 100 pods of one process on one bridge, each
// publishing a port, made and started one after the other, then removed:
// the figures are the median up and down of a pod, and the 100th pod's up.
func BenchmarkBridge100Pods(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sv, _ := benchNetSupervisor(b)
		var up, down []time.Duration
		for j := 0; j < 100; j++ {
			name := fmt.Sprintf("p%d", j)
			spec := benchLoad(b, podYAML(name, fmt.Sprintf("\n  terminationGracePeriodSeconds: 5\n  processes:\n  - {name: a, command: [sleep, \"100\"], ports: [{containerPort: 80, hostPort: %d}]}\n", 31000+j)))
			t0 := time.Now()
			p, err := sv.Create(spec)
			if err != nil {
				b.Fatal(err)
			}
			if err := p.Start(); err != nil {
				b.Fatal(err)
			}
			if _, err := p.WaitFor(context.Background(), allRunning(1)); err != nil {
				b.Fatal(err)
			}
			up = append(up, time.Since(t0))
		}
		for j := 0; j < 100; j++ {
			t0 := time.Now()
			if err := sv.Remove(context.Background(), fmt.Sprintf("p%d", j), RemoveOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
			down = append(down, time.Since(t0))
		}
		b.ReportMetric(ms(median(up)), "ms/up")
		b.ReportMetric(ms(up[99]), "ms/up-100th")
		b.ReportMetric(ms(median(down)), "ms/down")
	}
}

// BenchmarkTCPThroughput: 256 MiB through one TCP connection, pod → pod
// over the bridge, host → a published port (DNAT to the pod), and on the
// host's loopback, in the same run.
func BenchmarkTCPThroughput(b *testing.B) {
	sv, env := benchNetSupervisor(b)
	hp := 40000 + rand.IntN(10000)
	a, err := sv.Create(benchLoad(b, podYAML("a", fmt.Sprintf(benchNetPod, "network: bridge", ""))))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := sv.Create(benchLoad(b, podYAML("srv", fmt.Sprintf(benchNetPod, "network: bridge", fmt.Sprintf(", ports: [{containerPort: 5001, hostPort: %d}]", hp)))))
	if err != nil {
		b.Fatal(err)
	}
	dA, err := namespaces.NewNetDialer(a.Status().Namespaces.Net)
	if err != nil {
		b.Fatal(err)
	}
	defer dA.Close()
	dS, err := namespaces.NewNetDialer(srv.Status().Namespaces.Net)
	if err != nil {
		b.Fatal(err)
	}
	defer dS.Close()
	sink := func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}
	lnPod, err := dS.Listen("tcp", ":5001")
	if err != nil {
		b.Fatal(err)
	}
	defer lnPod.Close()
	go sink(lnPod)
	lnHost, err := env.dialer.Listen("tcp", "127.0.0.1:5002")
	if err != nil {
		b.Fatal(err)
	}
	defer lnHost.Close()
	go sink(lnHost)
	srvIP := netip.MustParseAddr(srv.Status().PodIP)
	const size = 256 << 20
	buf := make([]byte, 256<<10)
	send := func(d *namespaces.NetDialer, addr string) float64 {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		t0 := time.Now()
		for n := 0; n < size; n += len(buf) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		return float64(size) / (1 << 20) / time.Since(t0).Seconds()
	}
	for i := 0; i < b.N; i++ {
		b.ReportMetric(send(dA, netip.AddrPortFrom(srvIP, 5001).String()), "MiB/s-pod-pod")
		b.ReportMetric(send(env.dialer, fmt.Sprintf("127.0.0.1:%d", hp)), "MiB/s-host-hostPort")
		b.ReportMetric(send(env.dialer, "127.0.0.1:5002"), "MiB/s-loopback")
	}
}
