package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"kserver.dev/kserver/internal/pki"
)

// Joining a node, k3s's way kept small. The server has a join secret
// (--token, else generated once) and writes the node token
//
//	K10<sha256 of server-ca.crt>::server:<secret>
//
// to <data-dir>/server/node-token. An agent given that token (or the bare
// secret) first reads the server CA from /cacerts and checks it against
// the hash, then sends a certificate request for CN=system:node:<name> to
// /v1-kserver/client-kubelet.crt with the secret as basic-auth password
// (user "node") over TLS verified with that CA. The client CA signs it
// (O=system:nodes); the agent keeps certificate and key under
// <data-dir>/agent and talks to the API with them from then on, so a
// restarted agent needs no token. Both paths are served on the API port
// before authentication (apiserver.Config.Outside).
const (
	pathCACerts     = "/cacerts"
	pathNodeCert    = "/v1-kserver/client-kubelet.crt"
	nodeTokenFile   = "node-token"
	nodeCertName    = "client-kubelet"
	nodeUserPrefix  = "system:node:"
	nodesGroup      = "system:nodes"
	nodeCertMaxBody = 64 << 10
	nodeCertValid   = 365 * 24 * time.Hour
)

// joinToken is a parsed node token.
type joinToken struct {
	caHash string // hex sha256 of the server CA, "" for a bare secret
	secret string
}

// parseToken reads K10<hash>::<user>:<secret> or a bare secret.
func parseToken(s string) (joinToken, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return joinToken{}, errors.New("the token is empty")
	}
	rest, ok := strings.CutPrefix(s, "K10")
	if !ok || !strings.Contains(rest, "::") {
		return joinToken{secret: s}, nil
	}
	hash, cred, _ := strings.Cut(rest, "::")
	_, secret, ok := strings.Cut(cred, ":")
	if len(hash) != 64 || !ok || secret == "" {
		return joinToken{}, errors.New("the token is not of the form K10<sha256 of the CA>::server:<secret>")
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return joinToken{}, errors.New("the token's CA hash is not hexadecimal")
	}
	return joinToken{caHash: strings.ToLower(hash), secret: secret}, nil
}

func caHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// ensureNodeToken returns the join secret: the one of --token, else the
// one of an existing node-token file, else a new random one; and writes
// the node token file (mode 0600).
func ensureNodeToken(serverDir, flag string, serverCA []byte) (string, error) {
	path := filepath.Join(serverDir, nodeTokenFile)
	var secret string
	switch {
	case flag != "":
		t, err := parseToken(flag)
		if err != nil {
			return "", fmt.Errorf("--token: %w", err)
		}
		if t.caHash != "" && t.caHash != caHash(serverCA) {
			return "", errors.New("--token: its CA hash does not match this server's CA")
		}
		secret = t.secret
	default:
		if b, err := os.ReadFile(path); err == nil {
			if t, err := parseToken(string(b)); err == nil {
				secret = t.secret
			}
		}
		if secret == "" {
			var b [16]byte
			if _, err := rand.Read(b[:]); err != nil {
				return "", err
			}
			secret = hex.EncodeToString(b[:])
		}
	}
	token := "K10" + caHash(serverCA) + "::server:" + secret + "\n"
	if cur, err := os.ReadFile(path); err != nil || string(cur) != token {
		if err := os.MkdirAll(serverDir, 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
			return "", fmt.Errorf("write node token: %w", err)
		}
	}
	return secret, nil
}

// joinHandlers are the join endpoints the API server serves.
func joinHandlers(secret string, serverCA []byte, clientCA *pki.CA) map[string]http.Handler {
	return map[string]http.Handler{
		pathCACerts: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "application/x-pem-file")
			_, _ = w.Write(serverCA)
		}),
		pathNodeCert: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serveNodeCert(w, r, secret, clientCA)
		}),
	}
}

// serveNodeCert signs an agent's certificate request.
func serveNodeCert(w http.ResponseWriter, r *http.Request, secret string, ca *pki.CA) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != "node" || subtle.ConstantTimeCompare([]byte(pass), []byte(secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="kserver"`)
		http.Error(w, "the join token is not valid for this server", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, nodeCertMaxBody))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	cert, err := signNodeCSR(body, ca)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(cert)
}

// signNodeCSR issues a client certificate for a node identity.
func signNodeCSR(csrPEM []byte, ca *pki.CA) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
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
	name, ok := strings.CutPrefix(csr.Subject.CommonName, nodeUserPrefix)
	if !ok || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return nil, fmt.Errorf("common name %q is not system:node:<node name>", csr.Subject.CommonName)
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
		NotAfter:     now.Add(nodeCertValid),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// joinOptions say how an agent (or a fleet of simulated nodes) joins.
type joinOptions struct {
	Server   string // https://host:6443
	Token    string
	Dir      string // where the agent keeps its CA, certificate and key
	Identity string // node name in the certificate
	QPS      float32
	Burst    int
}

// join returns the REST configuration of a node: from the certificate kept
// in Dir if it is still good for Identity, else by joining with Token.
func join(ctx context.Context, o joinOptions) (*rest.Config, error) {
	u, err := url.Parse(o.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not an https:// URL of a kserver server", o.Server)
	}
	caPath := filepath.Join(o.Dir, "server-ca.crt")
	certPath, keyPath := filepath.Join(o.Dir, nodeCertName+".crt"), filepath.Join(o.Dir, nodeCertName+".key")
	ca, errCA := os.ReadFile(caPath)
	cert, errCert := os.ReadFile(certPath)
	key, errKey := os.ReadFile(keyPath)
	if errCA != nil || errCert != nil || errKey != nil || !certStillGood(cert, o.Identity) || !sameCA(ctx, o, ca) {
		if o.Token == "" {
			return nil, errors.New("--token is required to join (the node token is in <data-dir>/server/node-token on the server)")
		}
		if ca, cert, key, err = requestNodeCert(ctx, o); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			path string
			data []byte
			mode os.FileMode
		}{{caPath, ca, 0o644}, {keyPath, key, 0o600}, {certPath, cert, 0o644}} {
			if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
				return nil, fmt.Errorf("keep node credentials: %w", err)
			}
		}
	}
	return &rest.Config{
		Host:            strings.TrimSuffix(o.Server, "/"),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca, CertData: cert, KeyData: key},
		QPS:             o.QPS, Burst: o.Burst,
	}, nil
}

// sameCA checks, when a token with a CA hash is given, that kept
// credentials belong to that server (a reinstalled server has a new CA).
func sameCA(_ context.Context, o joinOptions, ca []byte) bool {
	t, err := parseToken(o.Token)
	if o.Token == "" || err != nil || t.caHash == "" {
		return true
	}
	return t.caHash == caHash(ca)
}

func certStillGood(certPEM []byte, identity string) bool {
	c, err := pki.ParseCert(certPEM)
	return err == nil && c.Subject.CommonName == nodeUserPrefix+identity && time.Until(c.NotAfter) > 24*time.Hour
}

// requestNodeCert fetches and checks the CA, then has a new key certified.
func requestNodeCert(ctx context.Context, o joinOptions) (ca, cert, key []byte, err error) {
	t, err := parseToken(o.Token)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--token: %w", err)
	}
	server := strings.TrimSuffix(o.Server, "/")
	insecure := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the CA is checked against the token below
	ca, err = httpDo(ctx, insecure, http.MethodGet, server+pathCACerts, nil, "")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("join %s: read the cluster CA: %w", server, err)
	}
	if t.caHash != "" && caHash(ca) != t.caHash {
		return nil, nil, nil, fmt.Errorf("join %s: the server's CA does not match the token (wrong server, or a token of another cluster)", server)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, nil, nil, fmt.Errorf("join %s: /cacerts did not return a PEM certificate", server)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: nodeUserPrefix + o.Identity, Organization: []string{nodesGroup}}}, priv)
	if err != nil {
		return nil, nil, nil, err
	}
	verified := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cert, err = httpDo(ctx, verified, http.MethodPost, server+pathNodeCert,
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), t.secret)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("join %s: %w", server, err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return nil, nil, nil, err
	}
	return ca, cert, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func httpDo(ctx context.Context, c *http.Client, method, url string, body []byte, secret string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if secret != "" {
		req.SetBasicAuth("node", secret)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}
