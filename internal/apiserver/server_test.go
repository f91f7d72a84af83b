package apiserver

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"kserver.dev/kserver/internal/apiserver/openapi"
	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/pki"
	"kserver.dev/kserver/internal/store/sqlite"
)

// testServer is a Server on a real SQLite store behind HTTPS with
// client-certificate authentication, as `kserver server` runs it.
type testServer struct {
	*Server
	url    string
	admin  *rest.Config // client-cert admin over HTTPS
	anon   *rest.Config // trusted CA, no credentials
	dir    string
	cancel context.CancelFunc
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, sqlite.DefaultConfig(filepath.Join(dir, "state.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	certs, err := pki.EnsureServer(pki.ServerOptions{Dir: filepath.Join(dir, "tls"), ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	catalog := registry.New()
	docs, err := openapi.New(openapi.Config{Resources: catalog.All(), Version: "v1.37.2"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{
		Store: st, Catalog: catalog, OpenAPI: docs,
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"), NodePortRange: [2]int{30000, 32767},
		ClusterDNS: netip.MustParseAddr("10.43.0.10"), AdvertiseAddress: netip.MustParseAddr("127.0.0.1"), SecurePort: 6443,
		ServiceAccountKey: certs.ServiceKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	if err := s.Bootstrap(bctx); err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	tlsCfg, err := certs.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s)
	hs.EnableHTTP2 = true
	hs.TLS = tlsCfg
	hs.StartTLS()
	t.Cleanup(hs.Close)
	ts := &testServer{Server: s, url: hs.URL, dir: dir, cancel: cancel}
	ts.admin = &rest.Config{Host: hs.URL, TLSClientConfig: rest.TLSClientConfig{
		CAData: certs.ServerCA.CertPEM, CertData: certs.Admin.CertPEM, KeyData: certs.Admin.KeyPEM}}
	ts.anon = &rest.Config{Host: hs.URL, TLSClientConfig: rest.TLSClientConfig{CAData: certs.ServerCA.CertPEM}}
	return ts
}

var _ = tls.VersionTLS12
