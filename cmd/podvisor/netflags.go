package main

import (
	"fmt"
	"net/netip"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor"
)

// networkFlags are the pod network settings of the daemon and of up.
func networkFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "default-network", Value: string(pod.NetworkBridge), EnvVars: []string{"PODVISOR_DEFAULT_NETWORK"}, Usage: "network of pods whose spec names none: bridge, none, host or a network's name"},
		&cli.StringFlag{Name: "bridge", Value: supervisor.DefaultBridge, EnvVars: []string{"PODVISOR_BRIDGE"}, Usage: "the default network's bridge"},
		&cli.StringFlag{Name: "pod-cidr", Value: supervisor.DefaultPodCIDR.String(), EnvVars: []string{"PODVISOR_POD_CIDR"}, Usage: "the default network's IPv4 subnet"},
		&cli.StringFlag{Name: "pod-cidr6", EnvVars: []string{"PODVISOR_POD_CIDR6"}, Usage: "the default network's IPv6 subnet (none by default)"},
		&cli.StringFlag{Name: "cni-conf-dir", Value: "/etc/cni/net.d", Usage: "CNI network configurations"},
		&cli.StringSliceFlag{Name: "cni-bin-dir", Value: cli.NewStringSlice("/opt/cni/bin", "/usr/lib/cni"), Usage: "directories of CNI plugins (repeatable)"},
		&cli.StringFlag{Name: "netns-dir", Value: supervisor.DefaultNetnsDir, Usage: `where pods' network namespaces are named for "ip netns" ("" names none)`},
		&cli.StringFlag{Name: "host-netns", Usage: "network namespace (a file such as /run/netns/NAME) where bridges, rules and DNS responders live (default: the process's own)"},
		&cli.BoolFlag{Name: "no-dns", Usage: "run no DNS responder on the bridges: pods use the host's name servers"},
	}
}

// networkOptions reads the network flags.
func networkOptions(c *cli.Context) (supervisor.NetworkOptions, error) {
	o := supervisor.NetworkOptions{
		Default:    pod.NetworkMode(c.String("default-network")),
		Bridge:     c.String("bridge"),
		CNIConfDir: c.String("cni-conf-dir"),
		CNIBinDirs: c.StringSlice("cni-bin-dir"),
		NetnsDir:   c.String("netns-dir"),
		HostNetNS:  c.String("host-netns"),
		NoDNS:      c.Bool("no-dns"),
	}
	if o.NetnsDir == "" {
		o.NetnsDir = "-"
	}
	if d := string(o.Default); d == "" || !pod.IsNetworkName(d) {
		return o, fmt.Errorf("--default-network: %q is not bridge, none, host or a network's name", d)
	}
	var err error
	if o.PodCIDR, err = netip.ParsePrefix(c.String("pod-cidr")); err != nil || !o.PodCIDR.Addr().Is4() {
		return o, fmt.Errorf("--pod-cidr: %q is not an IPv4 subnet such as 10.77.0.0/16", c.String("pod-cidr"))
	}
	if v := c.String("pod-cidr6"); v != "" {
		if o.PodCIDR6, err = netip.ParsePrefix(v); err != nil || o.PodCIDR6.Addr().Is4() {
			return o, fmt.Errorf("--pod-cidr6: %q is not an IPv6 subnet such as fd77::/64", v)
		}
	}
	return o, nil
}

// metricsFlag serves the Prometheus metrics on TCP too.
func metricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics-address", EnvVars: []string{"PODVISOR_METRICS_ADDRESS"}, Usage: "also serve GET /metrics on this TCP address (host:port; no authentication: bind it to 127.0.0.1)"}
}
