// Command kctl is kserver's kubectl-compatible command line client.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"kserver.dev/kserver/internal/version"
)

func main() {
	root := &cobra.Command{
		Use:           "kctl",
		Short:         "kctl controls a Kubernetes cluster; it speaks kubectl's commands and flags",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(version.String("kctl") + "\n")
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error: "+err.Error())
		os.Exit(1)
	}
}
