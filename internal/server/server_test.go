package server

import (
	"net"
	"strings"
	"testing"
)

func TestKubeconfigServer(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(0, 0, 0, 0), Port: 6443}
	for _, tc := range []struct{ bind, want string }{
		{"0.0.0.0", "https://127.0.0.1:6443"},
		{"::", "https://127.0.0.1:6443"},
		{"192.0.2.4", "https://192.0.2.4:6443"},
		{"2001:db8::1", "https://[2001:db8::1]:6443"},
	} {
		if got := kubeconfigServer(tc.bind, addr); got != tc.want {
			t.Errorf("kubeconfigServer(%q) = %q, want %q", tc.bind, got, tc.want)
		}
	}
}

func TestNodeAddress(t *testing.T) {
	if got := nodeAddress("192.0.2.7").String(); got != "192.0.2.7" {
		t.Errorf("explicit --node-ip: %s", got)
	}
	got := nodeAddress("")
	if !got.IsValid() || !got.Is4() {
		t.Errorf("detected node address %v is not an IPv4 address", got)
	}
}

func TestDisableAcceptsK3sNames(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Disable = []string{"coredns", "metrics-server", "servicelb"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("k3s component names refused: %v", err)
	}
	for component, want := range map[string]bool{"dns": true, "metrics": true, "servicelb": true, "proxy": false} {
		if got := cfg.Disabled(component); got != want {
			t.Errorf("Disabled(%q) = %v, want %v", component, got, want)
		}
	}
	cfg.Disable = []string{"traefik"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `"traefik"`) {
		t.Errorf("unknown component: got %v, want an error naming it", err)
	}
}
