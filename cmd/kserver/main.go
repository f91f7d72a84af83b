// Command kserver is the kserver node binary: `kserver server` runs the
// control plane and an embedded node agent, `kserver agent` joins a worker.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
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
		Use:           "kserver",
		Short:         "A small Kubernetes distribution: one process per node, state in SQLite",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(version.String("kserver") + "\n")
	root.AddCommand(newServerCommand(), newAgentCommand(), newSimCommand())
	return root
}
