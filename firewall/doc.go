// Package firewall programs the nftables rules of one pod network on a Linux
// bridge: the published ports (DNAT from host ports to pod addresses), the
// masquerading of pod egress and of hairpin and host-loopback connections,
// the guard against reaching the host's 127.0.0.0/8 services from the bridge
// (CVE-2020-8558, since route_localnet is on for the bridge), and, for an
// internal network, the refusal to forward packets off the bridge.
//
// It talks to the kernel over netlink with github.com/google/nftables (the
// nft binary is not needed). Each bridge network has one table of family
// inet (IPv4 and IPv6 together; inet nat needs Linux 5.2), named by
// TableName, which podvisor owns whole: Ensure creates or refills it,
// Delete removes it, and nothing else is ever touched. The table holds:
//
//	chain prerouting  (nat, hook prerouting, priority dstnat -100)
//	    fib daddr type local jump hostports
//	chain output      (nat, hook output, priority -100)
//	    fib daddr type local jump hostports
//	chain hostports   (regular: the published ports, see Publish)
//	    [ip daddr H] meta l4proto P th dport HP dnat ip to A:PP   (one per mapping)
//	chain postrouting (nat, hook postrouting, priority srcnat 100)
//	    oifname BR ct status dnat ip saddr 127.0.0.0/8 masquerade
//	    oifname BR ct status dnat ip saddr SUBNET masquerade       (hairpin)
//	    ip saddr SUBNET ip daddr != SUBNET masquerade              (egress, unless Internal)
//	    (and the same for ip6 with Subnet6)
//	chain input       (filter, hook input, priority 0, policy accept)
//	    iifname BR ip daddr 127.0.0.0/8 ct status != dnat drop
//	chain forward     (filter, hook forward, priority 0, policy accept)
//	    Internal: iifname BR oifname != BR drop; oifname BR iifname != BR drop
//	    otherwise: ct state established,related accept; iifname BR accept; oifname BR accept
//
// Accepting in this table does not override a drop in another table on the
// same hook (every base chain of a hook sees the packet): a host firewall
// that drops forwarded traffic still wins.
//
// Published-port rules carry their owner (an opaque string, typically a
// pod's identity) and the mapping in the rule's user data, so that a
// restarted daemon can Ensure the table, read Published and reconcile; the
// user data also carries an nft-style comment for people reading the rules
// with nft.
//
// What the caller must do, since this package sets no sysctl and makes no
// link, address or route: enable net.ipv4.ip_forward (and
// net.ipv6.conf.all.forwarding with Subnet6); set
// net.ipv4.conf.BR.route_localnet=1, without which the host's
// 127.0.0.1:port does not reach a pod; give the bridge an address in each
// subnet (the masquerade source); and, when br_netfilter is active
// (net.bridge.bridge-nf-call-iptables=1, the default wherever the kernel
// has it), put the pods' bridge ports in hairpin mode: a DNATed packet that
// stays on the bridge is then bridged rather than routed, and without
// hairpin mode a pod cannot reach its own published port (other pods and
// the host can). IPv6 published ports do not answer on the host's ::1
// (IPv6 has no route_localnet). The package knows nothing of pods. A Firewall serialises its
// own operations, but two Firewalls (or two processes) changing the same
// table at once may race; podvisor has one per table.
package firewall
