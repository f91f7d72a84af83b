package pki

import (
	"crypto"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"

	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
	"sigs.k8s.io/yaml"
)

// ServerOptions name what the serving certificate must cover.
type ServerOptions struct {
	Dir           string   // <data-dir>/server/tls
	NodeIP        net.IP   // may be nil
	Hostname      string   // may be empty
	ServiceIP     net.IP   // first address of the service CIDR
	ClusterDomain string   // cluster.local
	SANs          []string // --tls-san: host names or IPs
}

// Server is the TLS material of `kserver server`.
type Server struct {
	ServerCA   *CA
	ClientCA   *CA
	Serving    Pair
	Admin      Pair // CN=system:admin, O=system:masters
	ServiceKey crypto.Signer
}

// EnsureServer loads the server's certificates, creating what is missing and
// reissuing the serving certificate when the names it must cover changed.
func EnsureServer(o ServerOptions) (*Server, error) {
	serverCA, err := LoadOrCreateCA(o.Dir, "server-ca", "kserver-server-ca")
	if err != nil {
		return nil, err
	}
	clientCA, err := LoadOrCreateCA(o.Dir, "client-ca", "kserver-client-ca")
	if err != nil {
		return nil, err
	}
	serving, err := serverCA.LoadOrIssue(o.Dir, "serving-kube-apiserver", servingSpec(o))
	if err != nil {
		return nil, err
	}
	admin, err := clientCA.LoadOrIssue(o.Dir, "client-admin", LeafSpec{
		CommonName: "system:admin", Organization: []string{"system:masters"},
	})
	if err != nil {
		return nil, err
	}
	sa, err := LoadOrCreateKey(filepath.Join(o.Dir, "service.key"))
	if err != nil {
		return nil, err
	}
	return &Server{ServerCA: serverCA, ClientCA: clientCA, Serving: serving, Admin: admin, ServiceKey: sa}, nil
}

func servingSpec(o ServerOptions) LeafSpec {
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	if o.ClusterDomain != "" {
		dns = append(dns, "kubernetes.default.svc."+o.ClusterDomain)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	addIP := func(ip net.IP) {
		if ip != nil && !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	addDNS := func(d string) {
		if d != "" && !slices.Contains(dns, d) {
			dns = append(dns, d)
		}
	}
	addIP(o.NodeIP)
	addIP(o.ServiceIP)
	addDNS(o.Hostname)
	for _, s := range o.SANs {
		if ip := net.ParseIP(s); ip != nil {
			addIP(ip)
		} else {
			addDNS(s)
		}
	}
	return LeafSpec{CommonName: "kube-apiserver", DNSNames: dns, IPs: ips, Server: true}
}

// TLSConfig is the API server's TLS configuration: its serving certificate,
// client certificates verified against the client CA when presented (not
// required: health and version are public, and tokens come later), and ALPN
// offering HTTP/2 and HTTP/1.1 (upgrades need 1.1).
func (s *Server) TLSConfig() (*tls.Config, error) {
	cert, err := tls.X509KeyPair(s.Serving.CertPEM, s.Serving.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("load serving certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    s.ClientCA.Pool(),
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// Kubeconfig returns an admin kubeconfig for server (https://host:port) whose
// cluster, context and user are all named "default", with the certificates
// embedded.
func (s *Server) Kubeconfig(server string) ([]byte, error) {
	cfg := clientcmdv1.Config{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []clientcmdv1.NamedCluster{{Name: "default", Cluster: clientcmdv1.Cluster{Server: server, CertificateAuthorityData: s.ServerCA.CertPEM}}},
		AuthInfos:      []clientcmdv1.NamedAuthInfo{{Name: "default", AuthInfo: clientcmdv1.AuthInfo{ClientCertificateData: s.Admin.CertPEM, ClientKeyData: s.Admin.KeyPEM}}},
		Contexts:       []clientcmdv1.NamedContext{{Name: "default", Context: clientcmdv1.Context{Cluster: "default", AuthInfo: "default"}}},
		CurrentContext: "default",
	}
	data, err := yaml.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return data, nil
}

// WriteKubeconfig writes the admin kubeconfig to path with the given mode.
func (s *Server) WriteKubeconfig(path, server string, mode os.FileMode) error {
	data, err := s.Kubeconfig(server)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return writeFile(path, data, mode)
}
