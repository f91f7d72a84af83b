// Command kserver is the kserver node binary: `kserver server` runs the
// control plane and an embedded node agent, `kserver agent` joins a worker.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"kserver.dev/kserver/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kserver: "+err.Error())
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kserver",
		Short: "A small Kubernetes distribution: one process per node, state in SQLite",
		// cobra prints "kserver version " + Version; no version template,
		// since linking text/template keeps every exported method of every
		// type in the binary (≈ 6.6 MB of 43).
		Version:       strings.TrimPrefix(version.String("kserver"), "kserver version "),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newAgentCommand(), newSimCommand())
	return root
}
