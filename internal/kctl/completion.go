package kctl

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCompletionCommand(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:       "completion SHELL",
		Short:     "Output shell completion code for the specified shell (bash, zsh, fish, or powershell)",
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(cmd.CommandPath(), "Shell not specified.")
			}
			if len(args) > 1 {
				return usageError(cmd.CommandPath(), "Too many arguments. Expected only the shell type.")
			}
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(f.IO.Out, true)
			case "zsh":
				return root.GenZshCompletion(f.IO.Out)
			case "fish":
				return root.GenFishCompletion(f.IO.Out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(f.IO.Out)
			}
			return usageError(cmd.CommandPath(), "%s", fmt.Sprintf("Unsupported shell type %q.", args[0]))
		},
	}
}
