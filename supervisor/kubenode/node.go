package kubenode

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/podvisor/podvisor/supervisor/api"
)

// DefaultMaxPods is the pods a node takes unless told otherwise, as
// kubelet's default.
const DefaultMaxPods = 110

// DefaultListenAddress is where the kubelet API (logs, exec) is served.
const DefaultListenAddress = ":10250"

// Config is a node agent's configuration.
type Config struct {
	// NodeName is the Node's name; default the host's name.
	NodeName string
	// Kubeconfig is the path of the kubeconfig to reach the API server.
	Kubeconfig string
	// Client is the podvisor daemon's API client.
	Client *api.Client
	// ListenAddress is the kubelet API's address; default
	// DefaultListenAddress.
	ListenAddress string
	// TLSCertFile and TLSKeyFile are the kubelet API's serving
	// certificate (issued by the cluster's CA when the API server checks
	// kubelets' certificates); empty: a self-signed one.
	TLSCertFile, TLSKeyFile string
	// ClientCAFile, when set, makes the kubelet API authenticate clients
	// as kubelet's webhook mode does (a certificate signed by this CA, or
	// a token the API server reviews) and ask the API server what each
	// may do (SubjectAccessReview): without it, anyone who reaches the
	// address may exec.
	ClientCAFile string
	// InternalIP is the node's address; default the address of the
	// host's default route.
	InternalIP string
	// MaxPods is the node's pod capacity; default DefaultMaxPods.
	MaxPods int
	// Labels are added to the Node's.
	Labels map[string]string
	// Taints are the Node's; nil is DefaultTaint, empty is none.
	Taints []corev1.Taint
	// PodCIDR is the node's spec.podCIDR, when it is given.
	PodCIDR string
	// Version is podvisor's, for nodeInfo.
	Version string
	// QPS and Burst bound the agent's calls to the API server; defaults 50
	// and 100.
	QPS   float32
	Burst int
	// Log is the agent's logger.
	Log zerolog.Logger
	// Ready, when set, is called once the Node is registered and ready.
	Ready func()
}

// Run registers the node and runs its pods until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Client == nil {
		return errors.New("node: no podvisor daemon client")
	}
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.ListenAddress == "" {
		cfg.ListenAddress = DefaultListenAddress
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = DefaultMaxPods
	}
	if cfg.Taints == nil {
		cfg.Taints = []corev1.Taint{DefaultTaint}
	}
	if cfg.QPS <= 0 {
		cfg.QPS = 50
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.InternalIP == "" {
		cfg.InternalIP = hostIP()
	}
	if _, err := cfg.Client.Version(ctx); err != nil {
		return fmt.Errorf("podvisor daemon: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	rc.QPS, rc.Burst = cfg.QPS, cfg.Burst
	rc.UserAgent = "podvisor-node/" + cfg.Version
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	tlsCfg, err := serverTLS(&cfg)
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", cfg.ListenAddress, err)
	}
	portN, _ := strconv.Atoi(port)

	var prov *provider
	var np *nodeProvider
	mux := http.NewServeMux()
	var handler http.Handler = mux
	if cfg.ClientCAFile != "" {
		// As kubelet's webhook mode: clients prove who they are with a
		// certificate of the CA (or a token the API server reviews), and
		// the API server says what they may do (SubjectAccessReview).
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		auth, err := nodeutil.WebhookAuth(kc, cfg.NodeName, func(c *nodeutil.WebhookAuthConfig) error {
			c.AuthnConfig.ClientCertificateCAContentProvider = ca
			return nil
		})
		if err != nil {
			return fmt.Errorf("kubelet API authentication: %w", err)
		}
		handler = nodeutil.WithAuth(auth, mux)
	} else {
		cfg.Log.Warn().Str("address", cfg.ListenAddress).Msg("no --client-ca-file: the kubelet API (logs, exec) answers anyone who reaches it")
	}
	n, err := nodeutil.NewNode(cfg.NodeName, func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		prov = newProvider(&cfg, kc, pc.ConfigMaps, pc.Secrets)
		describeNode(pc.Node, &cfg, int32(portN))
		np = &nodeProvider{cfg: &cfg, cl: cfg.Client, base: pc.Node.DeepCopy()}
		return prov, np, nil
	},
		nodeutil.WithClient(kc),
		nodeutil.AttachProviderRoutes(mux),
		func(c *nodeutil.NodeConfig) error {
			c.HTTPListenAddr = cfg.ListenAddress
			c.TLSConfig = tlsCfg
			c.Handler = handler
			c.SkipDownwardAPIResolution = true
			c.NumWorkers = max(runtime.NumCPU(), 4)
			return nil
		},
	)
	if err != nil {
		return err
	}
	if err := prov.adopt(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go prov.follow(ctx)
	go prov.refreshFiles(ctx)
	go np.watch(ctx)
	errc := make(chan error, 1)
	go func() { errc <- n.Run(ctx) }()
	if err := n.WaitReady(ctx, 2*time.Minute); err != nil {
		cancel()
		<-errc
		return fmt.Errorf("node %s: %w", cfg.NodeName, err)
	}
	cfg.Log.Info().Str("node", cfg.NodeName).Str("address", cfg.InternalIP).Str("kubeletAPI", cfg.ListenAddress).Msg("node ready")
	if cfg.Ready != nil {
		cfg.Ready()
	}
	err = <-errc
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// describeNode fills the Node the agent registers: capacity from the host,
// addresses, nodeInfo, labels and taints.
func describeNode(n *corev1.Node, cfg *Config, port int32) {
	for k, v := range map[string]string{
		"type": "podvisor", "kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH,
		"node.kubernetes.io/instance-type": "podvisor", "kubernetes.io/hostname": cfg.NodeName,
	} {
		n.Labels[k] = v
	}
	for k, v := range cfg.Labels {
		n.Labels[k] = v
	}
	n.Spec.Taints = cfg.Taints
	n.Spec.PodCIDR = cfg.PodCIDR
	if cfg.PodCIDR != "" {
		n.Spec.PodCIDRs = []string{cfg.PodCIDR}
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memTotal(), resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(cfg.MaxPods), resource.DecimalSI),
	}
	var fs unix.Statfs_t
	if unix.Statfs("/", &fs) == nil {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)
	}
	n.Status.Capacity = capacity
	n.Status.Allocatable = capacity.DeepCopy()
	host, _ := os.Hostname()
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.InternalIP}, {Type: corev1.NodeHostName, Address: host}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	var u unix.Utsname
	_ = unix.Uname(&u)
	n.Status.NodeInfo = corev1.NodeSystemInfo{
		KernelVersion:           unix.ByteSliceToString(u.Release[:]),
		OSImage:                 osImage(),
		OperatingSystem:         "linux",
		Architecture:            runtime.GOARCH,
		ContainerRuntimeVersion: "podvisor://" + cfg.Version,
		KubeletVersion:          "v1.37.2-podvisor",
		KubeProxyVersion:        "",
		MachineID:               strings.TrimSpace(readFile("/etc/machine-id")),
	}
	now := metav1.Now()
	n.Status.Conditions = conditions(true, pressures(), now, nil)
}

// conditions are the Node's: Ready as daemonOK says, the pressures as the
// host's figures say.
func conditions(daemonOK bool, p map[corev1.NodeConditionType]bool, now metav1.Time, prev []corev1.NodeCondition) []corev1.NodeCondition {
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "podvisor daemon is answering"}
	if !daemonOK {
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, "PodvisorDaemonDown", "the podvisor daemon does not answer"
	}
	out := []corev1.NodeCondition{ready}
	for _, t := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		c := corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: "Kubelet" + "HasSufficient" + strings.TrimSuffix(string(t), "Pressure")}
		if p[t] {
			c.Status, c.Reason = corev1.ConditionTrue, "KubeletHas"+string(t)
		}
		out = append(out, c)
	}
	for i := range out {
		out[i].LastHeartbeatTime = now
		out[i].LastTransitionTime = now
		for _, q := range prev {
			if q.Type == out[i].Type && q.Status == out[i].Status {
				out[i].LastTransitionTime = q.LastTransitionTime
			}
		}
	}
	return out
}

// pressures says whether the host is short of memory (under 100 MiB
// available), disk (under 10 % free on /) or pids (over 90 % of
// pid_max).
func pressures() map[corev1.NodeConditionType]bool {
	p := map[corev1.NodeConditionType]bool{}
	if avail := meminfo("MemAvailable:"); avail > 0 && avail < 100<<20 {
		p[corev1.NodeMemoryPressure] = true
	}
	var fs unix.Statfs_t
	if unix.Statfs("/", &fs) == nil && fs.Blocks > 0 && fs.Bavail*10 < fs.Blocks {
		p[corev1.NodeDiskPressure] = true
	}
	if max, err := strconv.Atoi(strings.TrimSpace(readFile("/proc/sys/kernel/pid_max"))); err == nil && max > 0 {
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil && int(si.Procs)*10 > max*9 {
			p[corev1.NodePIDPressure] = true
		}
	}
	return p
}

// nodeProvider keeps the Node's status: Ready while the daemon answers,
// the pressures from the host.
type nodeProvider struct {
	cfg *Config
	cl  *api.Client

	base *corev1.Node // the Node as registered

	mu sync.Mutex
	cb func(*corev1.Node)
}

// Ping is the heartbeat: the daemon must answer.
func (np *nodeProvider) Ping(ctx context.Context) error {
	_, err := np.cl.Version(ctx)
	return err
}

// NotifyNodeStatus registers the callback for status changes.
func (np *nodeProvider) NotifyNodeStatus(ctx context.Context, cb func(*corev1.Node)) {
	np.mu.Lock()
	np.cb = cb
	np.mu.Unlock()
}

// watch checks the daemon and the host every 10 s and reports a change of
// the Node's conditions.
func (np *nodeProvider) watch(ctx context.Context) {
	last := ""
	var prev []corev1.NodeCondition
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok := np.Ping(c) == nil
		cancel()
		p := pressures()
		key := fmt.Sprint(ok, p)
		if key == last {
			continue
		}
		last = key
		np.mu.Lock()
		cb := np.cb
		np.mu.Unlock()
		if cb == nil {
			continue
		}
		n := np.base.DeepCopy()
		prev = conditions(ok, p, metav1.Now(), prev)
		n.Status.Conditions = prev
		cb(n)
	}
}

// serverTLS is the kubelet API's TLS configuration.
func serverTLS(cfg *Config) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		if cert, err = tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, fmt.Errorf("kubelet API certificate: %w", err)
		}
	} else if cert, err = selfSigned(cfg); err != nil {
		return nil, err
	}
	t := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCAFile != "" {
		b, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("client CA %s: no certificate", cfg.ClientCAFile)
		}
		t.ClientCAs, t.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return t, nil
}

// selfSigned makes a serving certificate for the node's name and address.
func selfSigned(cfg *Config) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cfg.NodeName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{cfg.NodeName},
	}
	if ip := net.ParseIP(cfg.InternalIP); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// hostIP is the address the host's default route leaves from.
func hostIP() string {
	c, err := net.Dial("udp", "192.0.2.1:9") // nothing is sent
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

func memTotal() int64 { return meminfo("MemTotal:") }

// meminfo reads one /proc/meminfo figure, in bytes.
func meminfo(key string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key {
			n, _ := strconv.ParseInt(fields[1], 10, 64)
			return n << 10
		}
	}
	return 0
}

func osImage() string {
	for _, l := range strings.Split(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
