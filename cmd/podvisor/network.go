package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/podvisor/podvisor/pod"
	"github.com/podvisor/podvisor/supervisor/api"
)

// networkCommand is `podvisor network ls|inspect|create|rm`, like podman
// network.
func networkCommand() *cli.Command {
	return &cli.Command{
		Name:  "network",
		Usage: "list, inspect, create and remove pod networks",
		Subcommands: []*cli.Command{
			{
				Name: "ls", Aliases: []string{"list"}, Usage: "list the networks",
				Flags: []cli.Flag{socketFlag(), outputFlag("table", "table or json")},
				Action: func(c *cli.Context) error {
					nets, err := client(c).Networks(c.Context)
					if err != nil {
						return err
					}
					switch o := c.String("output"); o {
					case "table":
						return printNetworks(c.App.Writer, nets)
					case "json":
						return printJSON(c.App.Writer, nets)
					default:
						return fmt.Errorf("-o: must be table or json, got %q", o)
					}
				},
			},
			{
				Name: "inspect", Usage: "print networks as JSON", ArgsUsage: "NAME...",
				Flags: []cli.Flag{socketFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return errors.New("network inspect: at least one NAME is needed")
					}
					// As podman: the networks found are printed, the missing
					// ones reported, and the exit code says so.
					out := []api.Network{}
					var errs []error
					for _, name := range c.Args().Slice() {
						n, err := client(c).Network(c.Context, name)
						if err != nil {
							errs = append(errs, err)
							continue
						}
						out = append(out, n)
					}
					if err := printJSON(c.App.Writer, out); err != nil {
						return err
					}
					return errors.Join(errs...)
				},
			},
			{
				Name: "create", Usage: "make a bridge network that pods join with spec.network: NAME", ArgsUsage: "NAME",
				Flags: []cli.Flag{
					socketFlag(),
					&cli.StringFlag{Name: "subnet", Usage: "IPv4 subnet (default: a free /24 of 10.78.0.0/16)"},
					&cli.StringFlag{Name: "gateway", Usage: "IPv4 gateway (default: the subnet's first address)"},
					&cli.StringFlag{Name: "subnet6", Usage: "IPv6 subnet (default: none)"},
					&cli.StringFlag{Name: "gateway6", Usage: "IPv6 gateway (default: the subnet's first address)"},
					&cli.StringFlag{Name: "bridge", Aliases: []string{"interface-name"}, Usage: "the bridge's name (default: the default bridge's with the next free number)"},
					&cli.BoolFlag{Name: "internal", Usage: "no masquerade, no forwarding off the bridge: the pods reach each other and the host only"},
				},
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					n, err := client(c).CreateNetwork(c.Context, api.Network{Name: name, Subnet: c.String("subnet"), Gateway: c.String("gateway"),
						Subnet6: c.String("subnet6"), Gateway6: c.String("gateway6"), Bridge: c.String("bridge"), Internal: c.Bool("internal")})
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, n.Name)
					return nil
				},
			},
			{
				Name: "rm", Aliases: []string{"remove"}, Usage: "remove networks (no pod may be on them)", ArgsUsage: "NAME...",
				Flags: []cli.Flag{socketFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return errors.New("network rm: at least one NAME is needed")
					}
					var errs []error
					for _, name := range c.Args().Slice() {
						if err := client(c).RemoveNetwork(c.Context, name); err != nil {
							errs = append(errs, err)
							continue
						}
						fmt.Fprintln(c.App.Writer, name)
					}
					return errors.Join(errs...)
				},
			},
		},
	}
}

func printNetworks(w io.Writer, nets []api.Network) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDRIVER\tBRIDGE\tSUBNET\tGATEWAY\tINTERNAL\tPODS")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, n := range nets {
		sub, gw := n.Subnet, n.Gateway
		if n.Subnet6 != "" {
			sub += "," + n.Subnet6
			gw += "," + n.Gateway6
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%d\n", n.Name, n.Driver, dash(n.Bridge), dash(sub), dash(gw), n.Internal, len(n.Pods))
	}
	return tw.Flush()
}

// portCommand is `podvisor port NAME [PORT[/PROTOCOL]]`, like podman port:
// the pod's published ports, "80/tcp -> 0.0.0.0:8080", or for one port
// of the pod the host addresses it is published on.
func portCommand() *cli.Command {
	return &cli.Command{
		Name: "port", Usage: "list a pod's ports published on the host", ArgsUsage: "NAME [PORT[/PROTOCOL]]",
		Flags: []cli.Flag{socketFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return errors.New("port: NAME and at most one PORT[/PROTOCOL] are needed")
			}
			st, err := client(c).Get(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			if c.NArg() == 1 {
				for _, p := range st.Ports {
					fmt.Fprintln(c.App.Writer, p.String())
				}
				return nil
			}
			arg := c.Args().Get(1)
			num, proto, _ := strings.Cut(arg, "/")
			if proto == "" {
				proto = "tcp"
			}
			port, err := strconv.Atoi(num)
			if err != nil || port < 1 || port > 65535 {
				return fmt.Errorf("port: %q is not PORT[/PROTOCOL]", arg)
			}
			found := false
			for _, p := range st.Ports {
				if int(p.ContainerPort) == port && strings.EqualFold(p.Protocol, proto) {
					found = true
					_, host, _ := strings.Cut(p.String(), " -> ")
					fmt.Fprintln(c.App.Writer, host)
				}
			}
			if !found {
				return fmt.Errorf("pod %q publishes no %d/%s: %w", st.Name, port, strings.ToLower(proto), pod.ErrNotFound)
			}
			return nil
		},
	}
}
