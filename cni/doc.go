// Package cni attaches a network namespace to a CNI network, through libcni
// (github.com/containernetworking/cni). A network is a configuration list
// (conflist) in a CNI configuration directory, such as the ones Flannel,
// Calico or Cilium install in /etc/cni/net.d; its plugins are binaries found
// in the CNI plugin directories.
//
// Networks and Config read the configuration directory. Add runs the
// plugins' ADD for one attachment (a container ID, a network namespace path
// and an interface name) and returns the addresses the network gave; Del
// runs DEL, also after a crash of the caller, from the result libcni cached
// at ADD in Plugins.CacheDir; Check runs CHECK. Add and Del take the
// configuration's bytes rather than a name, so that the caller can keep the
// configuration an attachment was made with and undo it with the same one
// even if the file has changed or gone since.
//
// Plugins are executed as child processes. They must start in the host's
// network namespace (where they create bridges, veth peers, routes and
// firewall rules) even when the caller's threads are elsewhere: Plugins.Do
// runs the fork on a thread of the caller's choosing, whose network
// namespace the plugin inherits.
//
// The package does not create, enter or delete network namespaces, does
// not choose container IDs, does not persist configurations (beyond
// libcni's own result cache), and knows nothing of pods: ArgsFor only
// builds the CNI_ARGS pairs that Kubernetes runtimes pass, which many
// plugins (Calico, Cilium) expect.
package cni
