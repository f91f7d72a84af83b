package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// parseTrimAfter parses a server command line (without running anything)
// and returns the --memory-trim-after value it ends up with.
func parseTrimAfter(t *testing.T, args ...string) (time.Duration, error) {
	t.Helper()
	cmd := newServerCommand()
	var got time.Duration
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		var err error
		got, err = c.Flags().GetDuration("memory-trim-after")
		return err
	}
	cmd.SetArgs(args)
	cmd.SetOut(new(strings.Builder))
	cmd.SetErr(new(strings.Builder))
	return got, cmd.Execute()
}

// TestMemTrimFlag: --memory-trim-after comes from the command line, the
// environment and the config file like every flag, and a negative delay is
// refused before anything starts, by every long-running command.
func TestMemTrimFlag(t *testing.T) {
	for _, c := range []struct {
		env  string
		args []string
		want time.Duration
	}{
		{"", []string{"--config", ""}, 5 * time.Second},
		{"", []string{"--config", writeConfig(t, "memory-trim-after: 30s\n")}, 30 * time.Second},
		{"0", []string{"--config", writeConfig(t, "memory-trim-after: 30s\n")}, 0}, // environment over file
		{"2s", []string{"--config", "", "--memory-trim-after", "1m"}, time.Minute}, // command line over environment
	} {
		t.Setenv("KSERVER_MEMORY_TRIM_AFTER", c.env)
		got, err := parseTrimAfter(t, c.args...)
		if err != nil || got != c.want {
			t.Errorf("env %q, args %q: %s, %v; want %s", c.env, c.args, got, err, c.want)
		}
	}

	if _, err := parseTrimAfter(t, "--config", "", "--memory-trim-after", "-1s"); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("server with a negative delay: error %v, want one saying it is negative", err)
	}
	for _, name := range []string{"agent", "sim"} {
		root := newRootCommand()
		root.SetArgs([]string{name, "--config", "", "--server", "https://127.0.0.1:6443", "--token", "x", "--memory-trim-after", "-5s"})
		root.SetOut(new(strings.Builder))
		root.SetErr(new(strings.Builder))
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%s with a negative delay: error %v, want one saying it is negative", name, err)
		}
	}
}
