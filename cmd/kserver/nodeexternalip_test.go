package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// externalIPsOf parses a server or agent command line (running nothing)
// and returns the --node-external-ip values it ends up with.
func externalIPsOf(t *testing.T, cmd *cobra.Command, args ...string) ([]string, error) {
	t.Helper()
	var got []string
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		var err error
		got, err = c.Flags().GetStringSlice("node-external-ip")
		return err
	}
	cmd.SetArgs(args)
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	return got, cmd.Execute()
}

// TestNodeExternalIPFlag: k3s's --node-external-ip on server and agent,
// from the command line (repeated or comma-separated) and the config file;
// a value that is not a usable address is refused naming the flag.
func TestNodeExternalIPFlag(t *testing.T) {
	agentArgs := []string{"--server", "https://127.0.0.1:6443", "--token", "x"}
	for name, build := range map[string]func() (*cobra.Command, []string){
		"server": func() (*cobra.Command, []string) { return newServerCommand(), nil },
		"agent":  func() (*cobra.Command, []string) { return newAgentCommand(), agentArgs },
	} {
		t.Run(name, func(t *testing.T) {
			run := func(args ...string) ([]string, error) {
				cmd, base := build()
				return externalIPsOf(t, cmd, append(slices.Clone(base), args...)...)
			}
			got, err := run("--config", "", "--node-external-ip", "203.0.113.5,2001:db8::5", "--node-external-ip", "198.51.100.7")
			if err != nil || !slices.Equal(got, []string{"203.0.113.5", "2001:db8::5", "198.51.100.7"}) {
				t.Errorf("command line: %q, %v", got, err)
			}
			got, err = run("--config", writeConfig(t, "node-external-ip:\n  - 203.0.113.9\n"))
			if err != nil || !slices.Equal(got, []string{"203.0.113.9"}) {
				t.Errorf("config file: %q, %v", got, err)
			}
			for bad, says := range map[string]string{
				"203.0.113":   "not an IP address",
				"public-ip":   "not an IP address",
				"127.0.0.1":   "loopback",
				"0.0.0.0":     "unspecified",
				"169.254.1.1": "link-local",
			} {
				_, err := run("--config", "", "--node-external-ip", bad)
				if err == nil || !strings.Contains(err.Error(), "--node-external-ip") || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), says) {
					t.Errorf("--node-external-ip %s: error %v, want one naming the flag, the value and %q", bad, err, says)
				}
			}
		})
	}
}
