package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kserver.dev/kserver/internal/pki"
)

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in, hash, secret, err string
	}{
		{in: "K10" + hash + "::server:s3cret", hash: hash, secret: "s3cret"},
		{in: "plainsecret\n", secret: "plainsecret"},
		{in: "K10" + hash + "::server:", err: "not of the form"},
		{in: "K10" + strings.Repeat("zz", 32) + "::server:x", err: "not hexadecimal"},
		{in: "  ", err: "empty"},
	} {
		got, err := parseToken(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.caHash != tc.hash || got.secret != tc.secret {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
	}
}

// joinFixture is a TLS server with the join endpoints whose serving
// certificate plays the server CA.
func joinFixture(t *testing.T) (url, token string, clientCA *pki.CA, caPEM []byte) {
	t.Helper()
	dir := t.TempDir()
	var err error
	clientCA, err = pki.LoadOrCreateCA(dir, "client-ca", "test-client-ca")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	secret, err := ensureNodeToken(filepath.Join(dir, "server"), "", caPEM)
	if err != nil {
		t.Fatal(err)
	}
	for p, h := range joinHandlers(secret, caPEM, clientCA) {
		mux.Handle(p, h)
	}
	b, err := os.ReadFile(filepath.Join(dir, "server", "node-token"))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ensureNodeToken(filepath.Join(dir, "server"), "", caPEM); again != secret {
		t.Fatal("the join secret changed on a second start")
	}
	return srv.URL, strings.TrimSpace(string(b)), clientCA, caPEM
}

func TestJoin(t *testing.T) {
	url, token, ca, caPEM := joinFixture(t)
	if !strings.HasPrefix(token, "K10"+caHash(caPEM)+"::server:") {
		t.Fatalf("node token %q", token)
	}
	ctx := context.Background()
	dir := t.TempDir()
	rc, err := join(ctx, joinOptions{Server: url, Token: token, Dir: dir, Identity: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCert(rc.CertData)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:w1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" ||
		cert.CheckSignatureFrom(ca.Cert) != nil {
		t.Errorf("node certificate %v signed by the client CA: %v", cert.Subject, cert.CheckSignatureFrom(ca.Cert))
	}
	// A restart needs no token: the kept credentials are used.
	again, err := join(ctx, joinOptions{Server: url, Dir: dir, Identity: "w1"})
	if err != nil || string(again.CertData) != string(rc.CertData) {
		t.Errorf("rejoin without token: %v", err)
	}
	// Wrong secret, wrong CA hash, no token at all.
	bad := strings.Replace(token, "::server:", "::server:x", 1)
	if _, err := join(ctx, joinOptions{Server: url, Token: bad, Dir: t.TempDir(), Identity: "w2"}); err == nil ||
		!strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "not valid for this server") {
		t.Errorf("wrong secret: %v", err)
	}
	other := "K10" + strings.Repeat("00", 32) + token[67:]
	if _, err := join(ctx, joinOptions{Server: url, Token: other, Dir: t.TempDir(), Identity: "w3"}); err == nil ||
		!strings.Contains(err.Error(), "does not match the token") {
		t.Errorf("wrong CA hash: %v", err)
	}
	if _, err := join(ctx, joinOptions{Server: url, Dir: t.TempDir(), Identity: "w4"}); err == nil || !strings.Contains(err.Error(), "--token is required") {
		t.Errorf("no token: %v", err)
	}
	if _, err := join(ctx, joinOptions{Server: "http://x", Token: token, Dir: t.TempDir(), Identity: "w5"}); err == nil {
		t.Error("plain http accepted")
	}
}

func TestSignNodeCSRRefusesOtherIdentities(t *testing.T) {
	url, token, _, _ := joinFixture(t)
	_ = url
	tk, _ := parseToken(token)
	ca, err := pki.LoadOrCreateCA(t.TempDir(), "ca", "x")
	if err != nil {
		t.Fatal(err)
	}
	h := joinHandlers(tk.secret, nil, ca)[pathNodeCert]
	for _, body := range []string{"not pem", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"} {
		req := httptest.NewRequest(http.MethodPost, pathNodeCert, strings.NewReader(body))
		req.SetBasicAuth("node", tk.secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("body %q: %d", body, rec.Code)
		}
	}
	if _, err := signNodeCSR(csrFor(t, "system:admin"), ca); err == nil || !strings.Contains(err.Error(), "system:node:<node name>") {
		t.Errorf("admin CSR: %v", err)
	}
}

func csrFor(t *testing.T, cn string) []byte {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
