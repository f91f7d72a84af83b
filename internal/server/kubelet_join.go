package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"kserver.dev/kserver/internal/pki"
)

// maxServingNames bounds the addresses of one serving certificate (a
// simulated fleet asks for one certificate covering all its nodes).
const maxServingNames = 70000

// readCSR reads and checks a PEM certificate request body.
func readCSR(r *http.Request) (*x509.CertificateRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("the body is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return csr, nil
}

// signServing issues a node's serving certificate for the addresses and
// names of its request.
func signServing(csr *x509.CertificateRequest, ca *pki.CA) ([]byte, error) {
	if n := len(csr.IPAddresses) + len(csr.DNSNames); n == 0 || n > maxServingNames {
		return nil, fmt.Errorf("a serving certificate needs between 1 and %d addresses and names, not %d", maxServingNames, n)
	}
	for _, d := range csr.DNSNames {
		if msgs := validation.IsDNS1123Subdomain(d); len(msgs) > 0 {
			return nil, fmt.Errorf("name %q: %s", d, strings.Join(msgs, "; "))
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: csr.Subject.CommonName, Organization: []string{nodesGroup}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(servingCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  csr.IPAddresses,
		DNSNames:     csr.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign serving certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// agentCredentials are what an agent's HTTPS API needs.
type agentCredentials struct {
	serving  tls.Certificate
	clientCA []byte
}

// kubeletCredentials returns a serving certificate for ips and names (kept
// in dir and reused while it covers them and is far from expiry) and the
// client CA, asking the server with the node's client certificate.
func kubeletCredentials(ctx context.Context, rc *rest.Config, dir, identity string, ips []net.IP, names []string) (agentCredentials, error) {
	tlsCfg, err := rest.TLSConfigFor(rc)
	if err != nil {
		return agentCredentials{}, err
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	server := strings.TrimSuffix(rc.Host, "/")
	caPEM, err := httpDo(ctx, c, http.MethodGet, server+pathClientCA, nil, "")
	if err != nil {
		return agentCredentials{}, fmt.Errorf("node API: read the client CA: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, servingCertName+".crt"), filepath.Join(dir, servingCertName+".key")
	certPEM, errC := os.ReadFile(certPath)
	keyPEM, errK := os.ReadFile(keyPath)
	if errC != nil || errK != nil || !servingStillGood(certPEM, ips, names) {
		if certPEM, keyPEM, err = requestServingCert(ctx, c, server, identity, ips, names); err != nil {
			return agentCredentials{}, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return agentCredentials{}, err
		}
		if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
			return agentCredentials{}, err
		}
		if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
			return agentCredentials{}, err
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return agentCredentials{}, fmt.Errorf("node API: serving certificate: %w", err)
	}
	return agentCredentials{serving: cert, clientCA: caPEM}, nil
}

func servingStillGood(certPEM []byte, ips []net.IP, names []string) bool {
	c, err := pki.ParseCert(certPEM)
	if err != nil || time.Until(c.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, n := range names {
		if !slices.Contains(c.DNSNames, n) {
			return false
		}
	}
	return true
}

func requestServingCert(ctx context.Context, c *http.Client, server, identity string, ips []net.IP, names []string) (certPEM, keyPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: nodeUserPrefix + identity, Organization: []string{nodesGroup}},
		IPAddresses: ips, DNSNames: names}, priv)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = httpDo(ctx, c, http.MethodPost, server+pathServingCert,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), "")
	if err != nil {
		return nil, nil, fmt.Errorf("node API: serving certificate: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// agentAPI is a node agent's HTTPS API: its listener, not yet served.
type agentAPI struct {
	ln   net.Listener
	port int32
}

// openAgentAPIs gets the serving certificate for ips (one for all of them)
// and listens on ip:port for each; port 0 picks a free port per address.
func openAgentAPIs(ctx context.Context, rc *rest.Config, dir, identity string, ips []net.IP, names []string, port int) ([]agentAPI, error) {
	creds, err := kubeletCredentials(ctx, rc, dir, identity, ips, names)
	if err != nil {
		return nil, err
	}
	apis := make([]agentAPI, 0, len(ips))
	for _, ip := range ips {
		ln, err := agentListener(net.JoinHostPort(ip.String(), fmt.Sprint(port)), creds.serving, creds.clientCA)
		if err != nil {
			for _, a := range apis {
				_ = a.ln.Close()
			}
			return nil, err
		}
		p := port
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
			p = tcp.Port
		}
		apis = append(apis, agentAPI{ln: ln, port: int32(p)})
	}
	return apis, nil
}
