package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The unit tests: no binaries, no root, no network.

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("not one PEM certificate: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCA(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, ca.CertPEM)
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("not a CA certificate: IsCA %v, key usage %v", cert.IsCA, cert.KeyUsage)
	}
	if cert.Subject.CommonName != "test-ca" {
		t.Errorf("common name %q", cert.Subject.CommonName)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if _, err := tls.X509KeyPair(ca.CertPEM, ca.KeyPEM); err != nil {
		t.Errorf("the CA's key does not match its certificate: %v", err)
	}
}

func TestAPIServerServingCert(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := APIServerHosts("10.96.0.0/12")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueServingCert(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("key does not match certificate: %v", err)
	}
	cert := parseCert(t, certPEM)

	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"127.0.0.1", "10.96.0.1"}) {
		t.Errorf("IP SANs %v, want 127.0.0.1 and 10.96.0.1", ips)
	}
	for _, name := range []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"} {
		if !slices.Contains(cert.DNSNames, name) {
			t.Errorf("DNS SANs %v lack %s", cert.DNSNames, name)
		}
	}
	if cert.IsCA {
		t.Error("a serving certificate is a CA")
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v, want server auth", cert.ExtKeyUsage)
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	for _, host := range []string{"127.0.0.1", "10.96.0.1", "localhost", "kubernetes.default.svc"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "10.0.0.1", Roots: ca.Pool()}); err == nil {
		t.Error("verified for a host it was not issued for")
	}
	other, err := NewCA("other-ca")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: other.Pool()}); err == nil {
		t.Error("verified against another CA")
	}
	if err := cert.CheckSignatureFrom(other.Cert); err == nil {
		t.Error("signature checks out against another CA")
	}
}

func TestServingCertHosts(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.IssueServingCert(); err == nil {
		t.Error("a serving certificate without hosts")
	}
	certPEM, _, err := ca.IssueServingCert("node-1", "::1", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certPEM)
	if cert.Subject.CommonName != "node-1" || !slices.Equal(cert.DNSNames, []string{"node-1"}) ||
		len(cert.IPAddresses) != 2 || !cert.IPAddresses[0].Equal(net.IPv6loopback) || !cert.IPAddresses[1].Equal(net.IPv4(127, 0, 0, 2)) {
		t.Errorf("CN %q, DNS %v, IPs %v", cert.Subject.CommonName, cert.DNSNames, cert.IPAddresses)
	}
}

func TestClientCert(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClientCert("system:node:node-1", "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certPEM)
	if cert.Subject.CommonName != "system:node:node-1" || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v", cert.Subject)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify as a client: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a client certificate verified as a server's")
	}
	if _, _, err := ca.IssueClientCert(""); err == nil {
		t.Error("a client certificate without a name")
	}
}

func TestFirstServiceIP(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.0.0.0/24":    "10.0.0.1",
		"10.96.0.0/12":   "10.96.0.1",
		"10.0.0.77/24":   "10.0.0.1",
		"fd00:10::/108":  "fd00:10::1",
		"10.0.0.0/32":    "",
		"not-a-cidr":     "",
		"10.0.0.0/33":    "",
		"192.168.1.0/31": "192.168.1.1",
	} {
		ip, err := FirstServiceIP(cidr)
		switch {
		case want == "" && err == nil:
			t.Errorf("%s: %v, want an error", cidr, ip)
		case want != "" && (err != nil || ip.String() != want):
			t.Errorf("%s: %v, %v; want %s", cidr, ip, err, want)
		}
	}
}

func TestServiceAccountKey(t *testing.T) {
	privPEM, pubPEM, err := newServiceAccountKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := pem.Decode(privPEM)
	pub, _ := pem.Decode(pubPEM)
	if priv == nil || priv.Type != "RSA PRIVATE KEY" || pub == nil || pub.Type != "PUBLIC KEY" {
		t.Fatalf("PEM blocks %q, %q", privPEM, pubPEM)
	}
	key, err := x509.ParsePKCS1PrivateKey(priv.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.ParsePKIXPublicKey(pub.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(pk) {
		t.Error("the public key is not the private key's")
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("%d bits", key.N.BitLen())
	}
}

// TestRunState checks the files Start writes before it starts anything: the
// PKI, the token file, the kubeconfig; and that removing the state keeps the
// logs.
func TestRunState(t *testing.T) {
	cp := &ControlPlane{Dir: t.TempDir(), ServiceCIDR: DefaultServiceCIDR, URL: "https://127.0.0.1:12345"}
	p, err := cp.writeState()
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.writeKubeconfig(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cp.CAFile, cp.CAKeyFile, p.apiserverCert, p.apiserverKey, p.kubeletClientCert, p.kubeletClientKey, p.saKey, p.saPub, cp.Kubeconfig} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", f, st.Mode())
		}
	}
	if _, err := tls.LoadX509KeyPair(p.apiserverCert, p.apiserverKey); err != nil {
		t.Error(err)
	}
	tokens, err := os.ReadFile(filepath.Join(cp.Dir, tokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := cp.Token + `,admin,uid-admin,"system:masters"` + "\n"; string(tokens) != want || len(cp.Token) < 32 {
		t.Errorf("token file %q, want %q", tokens, want)
	}
	kc, err := os.ReadFile(cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"server: https://127.0.0.1:12345\n",
		"certificate-authority-data: " + base64.StdEncoding.EncodeToString(cp.CA.CertPEM) + "\n",
		"    token: " + cp.Token + "\n",
		"current-context: podvisor-test\n",
	} {
		if !strings.Contains(string(kc), want) {
			t.Errorf("kubeconfig lacks %q:\n%s", want, kc)
		}
	}
	certPEM, keyPEM, err := cp.IssueClientCert("system:node:n1", "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cp.Dir, "node.kubeconfig")
	if err := cp.WriteClientKubeconfig(path, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	kc, _ = os.ReadFile(path)
	if !strings.Contains(string(kc), "client-key-data: "+base64.StdEncoding.EncodeToString(keyPEM)+"\n") {
		t.Errorf("client kubeconfig:\n%s", kc)
	}

	if err := os.WriteFile(cp.LogFile(Etcd), []byte("log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cp.removeState(); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(cp.Dir, "*"))
	if !slices.Equal(left, []string{cp.LogFile(Etcd)}) {
		t.Errorf("left after removing the state: %v", left)
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	var b strings.Builder
	for i := range 100000 {
		b.WriteString(strings.Repeat("x", i%7) + "\n")
	}
	b.WriteString("last-but-one\nlast\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tail(path, 2); got != "last-but-one\nlast" {
		t.Errorf("tail: %q", got)
	}
	if got := tail(filepath.Join(t.TempDir(), "none"), 2); !strings.Contains(got, "no such file") {
		t.Errorf("tail of a missing file: %q", got)
	}
}

func TestStartWithoutBinaries(t *testing.T) {
	_, err := Start(t.Context(), Options{BinDir: t.TempDir(), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no executable etcd") {
		t.Errorf("Start without binaries: %v", err)
	}
	if _, err := Start(t.Context(), Options{}); err == nil {
		t.Error("Start without a BinDir")
	}
}
