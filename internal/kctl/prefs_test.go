package kctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kserver's fallback: the flag, then $KUBECONFIG, then ~/.kube/config win;
// /etc/kserver/kserver.yaml is used only when none of them is there and it
// can be read.
func TestFallbackKubeconfig(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home-config")
	server := filepath.Join(dir, "kserver.yaml")
	missing := filepath.Join(dir, "missing")
	if err := os.WriteFile(server, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(home, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag, env, home, server, want string
	}{
		{"/x.yaml", "", missing, server, "/x.yaml"},
		{"", "/env.yaml", missing, server, ""},
		{"", "", home, server, ""},
		{"", "", missing, server, server},
		{"", "", missing, missing, ""},
	} {
		if got := fallbackKubeconfig(c.flag, c.env, c.home, c.server); got != c.want {
			t.Errorf("fallbackKubeconfig(%q, %q, %q, %q) = %q, want %q", c.flag, c.env, c.home, c.server, got, c.want)
		}
	}
}

// Preferences come from config.yaml with KCTL_* overriding; a bad colour
// or a malformed file is an error naming the problem.
func TestLoadPrefs(t *testing.T) {
	dir := t.TempDir()
	p, err := LoadPrefs(dir)
	if err != nil || !p.Hints || p.Color != "never" || p.Output != "" || p.File != "" {
		t.Fatalf("defaults: %+v, %v", p, err)
	}
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte("hints: false\noutput: wide\ncolor: auto\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KCTL_OUTPUT", "yaml")
	p, err = LoadPrefs(dir)
	if err != nil || p.Hints || p.Color != "auto" || p.Output != "yaml" || p.File != file {
		t.Fatalf("file and environment: %+v, %v", p, err)
	}
	if err := os.WriteFile(file, []byte("color: pink\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrefs(dir); err == nil || !strings.Contains(err.Error(), `"pink"`) {
		t.Errorf("bad colour: %v", err)
	}
	if err := os.WriteFile(file, []byte("hints: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPrefs(dir); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("malformed file: %v", err)
	}
}
