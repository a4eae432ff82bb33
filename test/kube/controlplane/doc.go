// Package controlplane runs a real, single-node Kubernetes control plane
// (etcd, kube-apiserver, kube-scheduler and kube-controller-manager) on
// 127.0.0.1 for end-to-end tests, from binaries that test/kube/build.sh
// builds from source.
//
// Start generates a fresh PKI for the run (a CA, the API server's serving
// certificate, a service-account key pair), an admin bearer token in the
// group system:masters and a kubeconfig for it, picks free ports, starts the
// four components with their output in log files of the run directory, and
// returns once the API server's /readyz is ok and the controller manager has
// made the service account "default" in namespace "default" (pods can be
// created from then on). Stop stops them in reverse order and removes the
// run's state.
//
//	cp, err := controlplane.Start(ctx, controlplane.Options{
//		BinDir: os.Getenv("PODVISOR_KUBE_BIN"),
//		Dir:    t.TempDir(),
//		Log:    t.Output(),
//	})
//	if err != nil { ... }
//	defer cp.Stop()
//	out, err := cp.Kubectl(ctx, "get", "nodes")
//
// A node agent joining the cluster talks to cp.URL with cp.Token (or a
// client certificate from IssueClientCert) and trusts cp.CAFile. The API
// server verifies a node's kubelet endpoint (logs, exec, port-forward)
// against the cluster CA and authenticates to it with a client certificate
// of that CA (CN kube-apiserver-kubelet-client, group system:masters): a
// node agent serves its kubelet API with a certificate from
// IssueServingCert and may require client certificates signed by the CA.
//
// Nothing here needs root; all listeners are on 127.0.0.1 at ports picked
// per run, so runs can go on in parallel. The children get SIGKILL if the
// process that started them dies (Pdeathsig).
package controlplane
