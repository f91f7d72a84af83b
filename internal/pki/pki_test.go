package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestEnsureServerCreatesAndReuses(t *testing.T) {
	dir := t.TempDir()
	opts := ServerOptions{
		Dir: dir, NodeIP: net.ParseIP("192.0.2.7"), Hostname: "box",
		ServiceIP: net.ParseIP("10.43.0.1"), ClusterDomain: "cluster.local",
		SANs: []string{"api.example.test", "198.51.100.3"},
	}
	s1, err := EnsureServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCert(s1.Serving.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "box", "api.example.test"} {
		if !slices.Contains(cert.DNSNames, d) {
			t.Errorf("serving cert lacks DNS SAN %q: %v", d, cert.DNSNames)
		}
	}
	for _, ip := range []string{"127.0.0.1", "192.0.2.7", "10.43.0.1", "198.51.100.3"} {
		if !slices.ContainsFunc(cert.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("serving cert lacks IP SAN %s: %v", ip, cert.IPAddresses)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: s1.ServerCA.Pool(), DNSName: "kubernetes.default.svc"}); err != nil {
		t.Errorf("serving cert does not verify against the server CA: %v", err)
	}
	admin, _ := ParseCert(s1.Admin.CertPEM)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: s1.ClientCA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin cert does not verify against the client CA: %v", err)
	}
	if admin.Subject.CommonName != "system:admin" || !slices.Equal(admin.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin subject = %v", admin.Subject)
	}
	if st, _ := os.Stat(filepath.Join(dir, "server-ca.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("ca key mode = %v, want 0600", st.Mode().Perm())
	}

	// Second start: everything is reused.
	s2, err := EnsureServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if string(s2.Serving.CertPEM) != string(s1.Serving.CertPEM) || string(s2.ServerCA.CertPEM) != string(s1.ServerCA.CertPEM) {
		t.Error("second start reissued certificates that were still good")
	}

	// A new SAN reissues the serving certificate, not the CA.
	opts.SANs = append(opts.SANs, "other.example.test")
	s3, err := EnsureServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if string(s3.Serving.CertPEM) == string(s1.Serving.CertPEM) {
		t.Error("serving certificate not reissued after a new --tls-san")
	}
	if string(s3.ServerCA.CertPEM) != string(s1.ServerCA.CertPEM) {
		t.Error("server CA changed")
	}
}

func TestKubeconfig(t *testing.T) {
	dir := t.TempDir()
	s, err := EnsureServer(ServerOptions{Dir: filepath.Join(dir, "tls")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "etc", "kserver.yaml")
	if err := s.WriteKubeconfig(path, "https://127.0.0.1:6443", 0o640); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("kubeconfig mode = %v, want 0640", st.Mode().Perm())
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "default" || cfg.Contexts["default"].Cluster != "default" || cfg.Contexts["default"].AuthInfo != "default" {
		t.Errorf("names are not default: %+v", cfg.Contexts)
	}
	if cfg.Clusters["default"].Server != "https://127.0.0.1:6443" {
		t.Errorf("server = %q", cfg.Clusters["default"].Server)
	}
	if len(cfg.AuthInfos["default"].ClientCertificateData) == 0 {
		t.Error("no client certificate in kubeconfig")
	}
}

func TestLoadOrCreateCARejectsHalfState(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.crt"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir, "x", "x"); err == nil {
		t.Error("a CA certificate without its key was accepted")
	}
}
