package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"kserver.dev/kserver/internal/server"
)

// parseServer runs the server command's flag parsing and config loading
// without running the server, and returns the resulting Config.
func parseServer(t *testing.T, args ...string) (server.Config, error) {
	t.Helper()
	cmd := newServerCommand()
	var got server.Config
	cmd.RunE = func(*cobra.Command, []string) error { return nil }
	pre := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, a []string) error {
		if err := pre(c, a); err != nil {
			return err
		}
		got = configOf(t, c)
		return nil
	}
	cmd.SetArgs(args)
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	err := cmd.Execute()
	return got, err
}

// configOf reads back the values the flags hold after loading.
func configOf(t *testing.T, c *cobra.Command) server.Config {
	f := c.Flags()
	str := func(n string) string { v, _ := f.GetString(n); return v }
	port, _ := f.GetInt("https-listen-port")
	labels, _ := f.GetStringSlice("node-label")
	return server.Config{
		DataDir: str("data-dir"), ClusterCIDR: str("cluster-cidr"), HTTPSListenPort: port,
		NodeLabels: labels, Runtime: str("runtime"),
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigSources(t *testing.T) {
	file := writeConfig(t, "cluster-cidr: 10.99.0.0/16\nhttps-listen-port: 7443\nnode-label:\n  - a=b\n  - c=d\nruntime: crun\n")
	t.Setenv("KSERVER_RUNTIME", "sim")

	got, err := parseServer(t, "--config", file, "--https-listen-port", "8443", "--node-name", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ClusterCIDR != "10.99.0.0/16" {
		t.Errorf("cluster-cidr from file: got %q", got.ClusterCIDR)
	}
	if got.HTTPSListenPort != 8443 {
		t.Errorf("command line must beat the file: port %d", got.HTTPSListenPort)
	}
	if got.Runtime != "sim" {
		t.Errorf("environment must beat the file: runtime %q", got.Runtime)
	}
	if strings.Join(got.NodeLabels, ",") != "a=b,c=d" {
		t.Errorf("list from file: node-label %v", got.NodeLabels)
	}
}

func TestConfigErrorsNameTheProblem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   string
		env    map[string]string
		args   []string
		wantIn []string
	}{
		{name: "bad flag value", args: []string{"--https-listen-port", "abc"}, wantIn: []string{"https-listen-port"}},
		{name: "unknown config key", file: "bogus-key: 1\n", wantIn: []string{"unknown key", "bogus-key"}},
		{name: "bad config value", file: "https-listen-port: many\n", wantIn: []string{"https-listen-port", "many"}},
		{name: "bad env value", env: map[string]string{"KSERVER_DISABLE_AGENT": "perhaps"}, wantIn: []string{"KSERVER_DISABLE_AGENT", "perhaps"}},
		{name: "invalid cidr", args: []string{"--cluster-cidr", "10.42.0.0"}, wantIn: []string{"--cluster-cidr", "not a CIDR"}},
		{name: "dns outside service cidr", args: []string{"--cluster-dns", "10.44.0.10"}, wantIn: []string{"--cluster-dns", "not inside --service-cidr"}},
		{name: "bad runtime", args: []string{"--runtime", "docker"}, wantIn: []string{"--runtime", "docker"}},
		{name: "bad disable", args: []string{"--disable", "traefik"}, wantIn: []string{"--disable", "traefik"}},
		{name: "bad taint", args: []string{"--node-taint", "k=v:Sometimes"}, wantIn: []string{"--node-taint", "Sometimes"}},
		{name: "bad mode", args: []string{"--write-kubeconfig-mode", "rw"}, wantIn: []string{"--write-kubeconfig-mode"}},
		{name: "missing explicit config", args: []string{"--config", "/nonexistent/kserver.yaml"}, wantIn: []string{"/nonexistent/kserver.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"--data-dir", dataDir, "--node-name", "n1"}, tc.args...)
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			} else if !strings.Contains(strings.Join(tc.args, " "), "--config") {
				args = append(args, "--config", "") // never read the host's /etc/kserver/config.yaml
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := parseServer(t, args...)
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if _, statErr := os.Stat(dataDir); !os.IsNotExist(statErr) {
				t.Errorf("data dir was touched before the error: %v", statErr)
			}
		})
	}
}
