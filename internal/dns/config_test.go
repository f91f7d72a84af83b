package dns

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Listen: []string{"127.0.0.1:53"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no listen address", func(c *Config) { c.Listen = nil }, "no listen address"},
		{"listen without port", func(c *Config) { c.Listen = []string{"127.0.0.1"} }, `listen address "127.0.0.1"`},
		{"bad domain", func(c *Config) { c.Domain = "Cluster_Local" }, `domain "cluster_local"`},
		{"bad upstream", func(c *Config) { c.Upstreams = []string{"dns.example"} }, `upstream "dns.example": want an IP address or IP:port`},
		{"bad pods mode", func(c *Config) { c.Pods = "trusted" }, `pods mode "trusted"`},
		{"ttl too small", func(c *Config) { c.TTL = 1 }, "ttl 1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := New(ok, nil, nil); err == nil {
		t.Error("New without informers: want an error")
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New with an invalid config: want an error")
	}
	for in, want := range map[string]string{"192.0.2.1": "192.0.2.1:53", "192.0.2.1:5353": "192.0.2.1:5353", "2001:db8::1": "[2001:db8::1]:53", "[2001:db8::1]:53": "[2001:db8::1]:53"} {
		if got, err := upstreamAddr(in); err != nil || got != want {
			t.Errorf("upstreamAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
