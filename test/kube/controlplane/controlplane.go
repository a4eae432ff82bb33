package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The components, as named in PIDs, LogFile and Options.Args; their
// binaries have the same names in Options.BinDir.
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	Scheduler         = "kube-scheduler"
	ControllerManager = "kube-controller-manager"
	// Kubectl is the command-line client, run by (*ControlPlane).Kubectl.
	Kubectl = "kubectl"
)

// Binaries lists the binaries Start needs in Options.BinDir.
var Binaries = []string{Etcd, APIServer, Scheduler, ControllerManager, Kubectl}

// DefaultServiceCIDR is the service IP range when Options.ServiceCIDR is
// empty; the "kubernetes" service gets its first address, 10.0.0.1.
const DefaultServiceCIDR = "10.0.0.0/24"

// DefaultTimeout bounds Start when Options.Timeout is zero (a start takes
// about 10 s on 2 cores).
const DefaultTimeout = 3 * time.Minute

// stopGrace is how long Stop waits for a component after SIGTERM before it
// sends SIGKILL.
const stopGrace = 15 * time.Second

// The run directory's layout.
const (
	pkiDir        = "pki"
	etcdDataDir   = "etcd-data"
	flexVolumeDir = "flexvolume"
	kubectlCache  = "kubectl-cache"
	kubeconfigF   = "admin.kubeconfig"
	tokenFile     = "tokens.csv"
)

// Options configures Start.
type Options struct {
	// BinDir holds the binaries (Binaries), as test/kube/build.sh makes
	// them. Required.
	BinDir string
	// Dir is the run directory: PKI, etcd's data, the kubeconfig and one
	// log file a component (LogFile). It is made if missing. Stop removes
	// all of it but the log files. Empty: a new temporary directory, which
	// Stop removes whole.
	Dir string
	// Log, if not nil, gets the progress of Start and Stop, a line an event.
	// The components' own output goes to their log files only.
	Log io.Writer
	// ServiceCIDR is the service IP range (--service-cluster-ip-range);
	// empty means DefaultServiceCIDR.
	ServiceCIDR string
	// Timeout bounds Start (with its context); zero means DefaultTimeout.
	Timeout time.Duration
	// Args adds command-line flags to a component, by its name (Etcd,
	// APIServer, Scheduler, ControllerManager). They come after the
	// package's own flags, so a flag given again here wins.
	Args map[string][]string
}

// ControlPlane is a running control plane, made by Start. Its fields are
// read-only.
type ControlPlane struct {
	// Dir is the run directory (Options.Dir, or the temporary one).
	Dir string
	// URL is the API server's URL, https://127.0.0.1:PORT.
	URL string
	// Kubeconfig is the path of an admin kubeconfig: URL, the CA (embedded)
	// and Token.
	Kubeconfig string
	// Token is the admin's bearer token (user "admin" in group
	// system:masters, from the API server's static token file).
	Token string
	// CA is the cluster's certificate authority: the API server's serving
	// and client CA, the controller manager's signing CA.
	CA *CA
	// CAFile is the path of the CA's certificate (PEM).
	CAFile string
	// CAKeyFile is the path of the CA's private key (PEM, PKCS #8).
	CAKeyFile string
	// EtcdURL is etcd's client URL, http://127.0.0.1:PORT.
	EtcdURL string
	// ServiceCIDR is the service IP range.
	ServiceCIDR string
	// BootTime is how long Start took, from its call until the control
	// plane was ready.
	BootTime time.Duration

	binDir   string
	log      io.Writer
	ownDir   bool
	http     *http.Client
	procs    []*process
	stopOnce sync.Once
	stopErr  error
}

// Start starts a control plane and waits until it is ready: the API server's
// /readyz is ok and the service account "default" exists in namespace
// "default". ctx bounds the start only: the components run until Stop (or
// until this process dies). On an error, what was started is stopped and
// the error tells which component failed, with the tail of its log.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	begin := time.Now()
	if opts.BinDir == "" {
		return nil, errors.New("controlplane: Options.BinDir is empty (the bin directory test/kube/build.sh prints)")
	}
	binDir, err := filepath.Abs(opts.BinDir)
	if err != nil {
		return nil, err
	}
	for _, b := range Binaries {
		if st, err := os.Stat(filepath.Join(binDir, b)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("controlplane: no executable %s in %s (test/kube/build.sh builds it)", b, binDir)
		}
	}
	cp := &ControlPlane{binDir: binDir, log: opts.Log, ServiceCIDR: opts.ServiceCIDR}
	if cp.log == nil {
		cp.log = io.Discard
	}
	if cp.ServiceCIDR == "" {
		cp.ServiceCIDR = DefaultServiceCIDR
	}
	if opts.Dir == "" {
		if cp.Dir, err = os.MkdirTemp("", "podvisor-kube-"); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
		cp.ownDir = true
	} else {
		if cp.Dir, err = filepath.Abs(opts.Dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(cp.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
	}
	defer func() {
		if err != nil {
			cp.Stop()
			err = fmt.Errorf("controlplane: %w", err)
		}
	}()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	p, err := cp.writeState()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdPeer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	cp.EtcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	cp.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	if err := cp.writeKubeconfig(); err != nil {
		return nil, err
	}
	cp.http = &http.Client{
		Timeout:   5 * time.Second,
		Transport: &bearer{token: cp.Token, rt: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cp.CA.Pool()}}},
	}

	// etcd.
	if err := cp.start(Etcd, opts.Args, []string{
		"--name=podvisor-test",
		"--data-dir=" + filepath.Join(cp.Dir, etcdDataDir),
		"--listen-client-urls=" + cp.EtcdURL,
		"--advertise-client-urls=" + cp.EtcdURL,
		"--listen-peer-urls=" + etcdPeer,
		"--initial-advertise-peer-urls=" + etcdPeer,
		"--initial-cluster=podvisor-test=" + etcdPeer,
		"--initial-cluster-state=new",
		"--unsafe-no-fsync=true", // a test's store: no need to survive a power cut
		"--log-level=warn",
	}); err != nil {
		return nil, err
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := cp.waitFor(ctx, Etcd, "etcd to be healthy", func() error {
		return get(plain, cp.EtcdURL+"/health", `"health":"true"`)
	}); err != nil {
		return nil, err
	}
	cp.logf("etcd healthy at %s (%.1fs)", cp.EtcdURL, time.Since(begin).Seconds())

	// The API server.
	if err := cp.start(APIServer, opts.Args, []string{
		"--etcd-servers=" + cp.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--cert-dir=" + filepath.Join(cp.Dir, pkiDir),
		"--tls-cert-file=" + p.apiserverCert,
		"--tls-private-key-file=" + p.apiserverKey,
		"--client-ca-file=" + cp.CAFile,
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=Node,RBAC",
		"--token-auth-file=" + filepath.Join(cp.Dir, tokenFile),
		"--service-cluster-ip-range=" + cp.ServiceCIDR,
		// The default reconciler makes an API server bound to 127.0.0.1
		// exit ("may not be in the loopback range").
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		// To a node's kubelet API (logs, exec): verify its serving
		// certificate against the cluster CA, present a client one of it.
		"--kubelet-certificate-authority=" + cp.CAFile,
		"--kubelet-client-certificate=" + p.kubeletClientCert,
		"--kubelet-client-key=" + p.kubeletClientKey,
		"--kubelet-preferred-address-types=InternalIP,InternalDNS,Hostname,ExternalIP,ExternalDNS",
	}); err != nil {
		return nil, err
	}
	if err := cp.waitFor(ctx, APIServer, "the API server's /readyz", func() error {
		return get(cp.http, cp.URL+"/readyz", "ok")
	}); err != nil {
		return nil, err
	}
	cp.logf("kube-apiserver ready at %s (%.1fs)", cp.URL, time.Since(begin).Seconds())

	// The scheduler and the controller manager; neither serves (its
	// health and metrics port is off).
	if err := cp.start(Scheduler, opts.Args, []string{
		"--kubeconfig=" + cp.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
	}); err != nil {
		return nil, err
	}
	if err := cp.start(ControllerManager, opts.Args, []string{
		"--kubeconfig=" + cp.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=0",
		"--leader-elect=false",
		"--service-account-private-key-file=" + p.saKey,
		"--root-ca-file=" + cp.CAFile,
		"--use-service-account-credentials=false",
		"--cluster-signing-cert-file=" + cp.CAFile,
		"--cluster-signing-key-file=" + cp.CAKeyFile,
		"--service-cluster-ip-range=" + cp.ServiceCIDR,
		// Its default is under /usr/libexec; it logs errors without one.
		"--flex-volume-plugin-dir=" + filepath.Join(cp.Dir, flexVolumeDir),
	}); err != nil {
		return nil, err
	}
	if err := cp.waitFor(ctx, ControllerManager, `the service account "default" in namespace "default"`, func() error {
		return get(cp.http, cp.URL+"/api/v1/namespaces/default/serviceaccounts/default", "")
	}); err != nil {
		return nil, err
	}
	cp.BootTime = time.Since(begin)
	cp.logf("control plane ready in %.1fs (dir %s)", cp.BootTime.Seconds(), cp.Dir)
	return cp, nil
}

// pkiFiles are the paths of the run's certificates and keys.
type pkiFiles struct {
	apiserverCert, apiserverKey         string
	kubeletClientCert, kubeletClientKey string
	saKey, saPub                        string
}

// writeState makes the run's PKI, the admin token and the directories the
// components need.
func (cp *ControlPlane) writeState() (pkiFiles, error) {
	var p pkiFiles
	dir := filepath.Join(cp.Dir, pkiDir)
	for _, d := range []string{dir, filepath.Join(cp.Dir, flexVolumeDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return p, err
		}
	}
	ca, err := NewCA("podvisor-test-ca")
	if err != nil {
		return p, err
	}
	cp.CA = ca
	hosts, err := APIServerHosts(cp.ServiceCIDR)
	if err != nil {
		return p, err
	}
	apiCert, apiKey, err := ca.IssueServingCert(hosts...)
	if err != nil {
		return p, err
	}
	kcCert, kcKey, err := ca.IssueClientCert("kube-apiserver-kubelet-client", "system:masters")
	if err != nil {
		return p, err
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return p, err
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return p, err
	}
	cp.Token = hex.EncodeToString(tok)

	cp.CAFile, cp.CAKeyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	p = pkiFiles{
		apiserverCert: filepath.Join(dir, "apiserver.crt"), apiserverKey: filepath.Join(dir, "apiserver.key"),
		kubeletClientCert: filepath.Join(dir, "apiserver-kubelet-client.crt"), kubeletClientKey: filepath.Join(dir, "apiserver-kubelet-client.key"),
		saKey: filepath.Join(dir, "sa.key"), saPub: filepath.Join(dir, "sa.pub"),
	}
	files := []struct {
		path string
		data []byte
	}{
		{cp.CAFile, ca.CertPEM}, {cp.CAKeyFile, ca.KeyPEM},
		{p.apiserverCert, apiCert}, {p.apiserverKey, apiKey},
		{p.kubeletClientCert, kcCert}, {p.kubeletClientKey, kcKey},
		{p.saKey, saKey}, {p.saPub, saPub},
		{filepath.Join(cp.Dir, tokenFile), []byte(cp.Token + `,admin,uid-admin,"system:masters"` + "\n")},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return p, err
		}
	}
	return p, nil
}

// writeKubeconfig writes the admin kubeconfig.
func (cp *ControlPlane) writeKubeconfig() error {
	cp.Kubeconfig = filepath.Join(cp.Dir, kubeconfigF)
	return os.WriteFile(cp.Kubeconfig, cp.kubeconfig("admin", "    token: "+cp.Token+"\n"), 0o600)
}

// kubeconfig renders a kubeconfig for the cluster with the given user.
func (cp *ControlPlane) kubeconfig(user, credentials string) []byte {
	return []byte(`apiVersion: v1
kind: Config
clusters:
- name: podvisor-test
  cluster:
    server: ` + cp.URL + `
    certificate-authority-data: ` + base64.StdEncoding.EncodeToString(cp.CA.CertPEM) + `
users:
- name: ` + user + `
  user:
` + credentials + `contexts:
- name: podvisor-test
  context:
    cluster: podvisor-test
    user: ` + user + `
current-context: podvisor-test
`)
}

// WriteClientKubeconfig writes to path a kubeconfig for the cluster that
// authenticates with a client certificate (from IssueClientCert): a node
// agent's own identity, "system:node:NAME" in group "system:nodes", rather
// than the admin's.
func (cp *ControlPlane) WriteClientKubeconfig(path string, certPEM, keyPEM []byte) error {
	block := "    client-certificate-data: " + base64.StdEncoding.EncodeToString(certPEM) + "\n" +
		"    client-key-data: " + base64.StdEncoding.EncodeToString(keyPEM) + "\n"
	return os.WriteFile(path, cp.kubeconfig("client", block), 0o600)
}

// IssueServingCert issues a serving certificate signed by the cluster CA for
// the given hosts (IP addresses or DNS names), as a node agent's kubelet
// API needs: the API server verifies it against the CA. It returns the
// certificate and its key, PEM-encoded.
func (cp *ControlPlane) IssueServingCert(hosts ...string) (certPEM, keyPEM []byte, err error) {
	return cp.CA.IssueServingCert(hosts...)
}

// IssueClientCert issues a client certificate signed by the cluster CA, for
// user commonName in the given groups. It returns the certificate and its
// key, PEM-encoded.
func (cp *ControlPlane) IssueClientCert(commonName string, groups ...string) (certPEM, keyPEM []byte, err error) {
	return cp.CA.IssueClientCert(commonName, groups...)
}

// HTTPClient returns a client for the API server (URL): it trusts the CA and
// sends the admin token.
func (cp *ControlPlane) HTTPClient() *http.Client { return cp.http }

// Kubectl runs the built kubectl with the admin kubeconfig and returns its
// standard output; an error carries its standard error.
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) (stdout string, err error) {
	return cp.KubectlInput(ctx, "", args...)
}

// KubectlInput is Kubectl with stdin as kubectl's standard input, for
// `apply -f -` and the like.
func (cp *ControlPlane) KubectlInput(ctx context.Context, stdin string, args ...string) (stdout string, err error) {
	full := append([]string{"--kubeconfig=" + cp.Kubeconfig, "--cache-dir=" + filepath.Join(cp.Dir, kubectlCache)}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(cp.binDir, Kubectl), full...)
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// PIDs returns the process IDs of the components Start started, by name.
func (cp *ControlPlane) PIDs() map[string]int {
	m := make(map[string]int, len(cp.procs))
	for _, p := range cp.procs {
		m[p.name] = p.cmd.Process.Pid
	}
	return m
}

// RSS returns the resident set size in bytes of each running component, by
// name (from /proc/PID/status).
func (cp *ControlPlane) RSS() (map[string]int64, error) {
	m := make(map[string]int64, len(cp.procs))
	for _, p := range cp.procs {
		rss, err := residentBytes(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		m[p.name] = rss
	}
	return m, nil
}

// LogFile returns the path of a component's log file (its standard output
// and error) in the run directory.
func (cp *ControlPlane) LogFile(component string) string {
	return filepath.Join(cp.Dir, component+".log")
}

// LogTail returns the last n lines of a component's log file.
func (cp *ControlPlane) LogTail(component string, n int) string {
	return tail(cp.LogFile(component), n)
}

// Stop stops the components in reverse order of their start (the controller
// manager, the scheduler, the API server, etcd): SIGTERM to each, SIGKILL
// after 15 s. Then it removes the run's state: the whole run directory if
// Start made it, else everything in it but the log files. It signals only
// the processes Start started. It returns an error if a component had
// exited before Stop, or if the state cannot be removed; calling it again
// returns the same.
func (cp *ControlPlane) Stop() error {
	cp.stopOnce.Do(func() {
		var errs []error
		for i := len(cp.procs) - 1; i >= 0; i-- {
			p := cp.procs[i]
			exited, killed := p.stop(stopGrace)
			switch {
			case exited:
				errs = append(errs, p.exitError())
			case killed:
				cp.logf("%s did not stop within %s of SIGTERM: killed", p.name, stopGrace)
			}
		}
		if cp.http != nil {
			cp.http.CloseIdleConnections()
		}
		if err := cp.removeState(); err != nil {
			errs = append(errs, err)
		}
		cp.stopErr = errors.Join(errs...)
		cp.logf("control plane stopped")
	})
	return cp.stopErr
}

func (cp *ControlPlane) removeState() error {
	if cp.ownDir {
		return os.RemoveAll(cp.Dir)
	}
	entries, err := os.ReadDir(cp.Dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(cp.Dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// start starts a component with the given flags and the caller's extra
// ones.
func (cp *ControlPlane) start(name string, extra map[string][]string, args []string) error {
	args = append(args, extra[name]...)
	p, err := startProcess(name, filepath.Join(cp.binDir, name), args, cp.Dir, cp.LogFile(name))
	if err != nil {
		return err
	}
	cp.procs = append(cp.procs, p)
	cp.logf("%s started (pid %d, log %s)", name, p.cmd.Process.Pid, p.logPath)
	return nil
}

// waitFor polls check every 100 ms until it succeeds. It fails when a
// component exits (with that one's log tail) or when ctx ends (with the
// last check error and the tail of the log of component, the one waited
// for).
func (cp *ControlPlane) waitFor(ctx context.Context, component, what string, check func() error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range cp.procs {
			if p.exited() {
				return fmt.Errorf("waiting for %s: %w", what, p.exitError())
			}
		}
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)\n--- tail of %s ---\n%s",
				what, ctx.Err(), err, cp.LogFile(component), cp.LogTail(component, 30))
		case <-tick.C:
		}
	}
}

func (cp *ControlPlane) logf(format string, args ...any) {
	fmt.Fprintf(cp.log, "controlplane: "+format+"\n", args...)
}

// get checks that a GET of url answers 200 and, if want is not empty, that
// the body contains want.
func get(c *http.Client, url, want string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if want != "" && !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %q lacks %q", url, body, want)
	}
	return nil
}

// bearer adds a bearer token to each request.
type bearer struct {
	token string
	rt    *http.Transport
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (b *bearer) CloseIdleConnections() { b.rt.CloseIdleConnections() }

// freePorts returns n distinct TCP ports free on 127.0.0.1 (the kernel's
// choice for a bind to port 0, all held at once, then released).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
