// Package network does the kernel side of pod networking on a Linux bridge:
// the bridge itself with its gateway addresses and forwarding sysctls
// (EnsureBridge), a veth pair per pod with the pod's addresses and default
// routes (Attach, Detach), queries of the host's links, addresses and
// routes (Ports, Overlap, PrimaryIP, HasAddr, LinkExists), address leases
// kept as files like CNI's host-local (Leases), stable interface and MAC
// names (VethName, MACFor), and `ip netns`-style names for namespace files
// (NameNetNS, UnnameNetNS).
//
// Everything happens in the network namespace of a Host, which is the
// process's own or any namespace file (tests use their own). Netlink
// sockets are made inside the namespaces concerned
// (github.com/vishvananda/netlink handles), so the callers' threads never
// move; the few things that need a thread inside the host namespace
// (sysctl files) run on one OS thread kept there for Do. Threads that join
// a namespace are never the process's main thread (whose namespaces are
// what /proc/self shows), and are put back or discarded. Listings
// interrupted by concurrent changes (netlink.ErrDumpInterrupted) are
// retried a few times.
//
// Attach returns when the new veth passes traffic (the kernel's
// asynchronous carrier processing done), about 1 ms in all. Deleting a
// veth is slow in the kernel (tens of ms, Detach); letting it go with the
// pod's namespace costs the caller nothing (the kernel cleans up in the
// background).
//
// It does not make network namespaces (see package namespaces), publish
// ports or masquerade (nftables), serve DNS, or run CNI plugins; it knows
// nothing of pods. It sets no sysctl other than those EnsureBridge
// documents, and it does not touch a pod namespace's loopback.
package network
