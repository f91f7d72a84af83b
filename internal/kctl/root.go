package kctl

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

// Command groups, in the order kubectl's help lists them, plus kctl's own.
var groups = []*cobra.Group{
	{ID: "basic1", Title: "Basic Commands (Beginner):"},
	{ID: "basic2", Title: "Basic Commands (Intermediate):"},
	{ID: "deploy", Title: "Deploy Commands:"},
	{ID: "cluster", Title: "Cluster Management Commands:"},
	{ID: "debug", Title: "Troubleshooting and Debugging Commands:"},
	{ID: "advanced", Title: "Advanced Commands:"},
	{ID: "settings", Title: "Settings Commands:"},
	{ID: "learn", Title: "Learning Commands (kctl only):"},
	{ID: "other", Title: "Other Commands:"},
}

// Main runs kctl with args and returns the process exit code.
func Main(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	// kubectl logs client-go's errors through klog without contextual
	// logging; do the same so the lines look alike.
	klog.EnableContextualLogging(false)
	prefs, err := LoadPrefs(prefsDir())
	if err != nil {
		return PrintError(streams.ErrOut, err)
	}
	f := NewFactory(streams, prefs)
	f.args = args
	root := NewRootCommand(f)
	root.SetArgs(args)
	// Like kubectl, cobra's own messages (flag deprecations) go to stderr;
	// only help goes to stdout.
	root.SetIn(streams.In)
	root.SetOut(streams.ErrOut)
	root.SetErr(streams.ErrOut)
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		c.SetOut(streams.Out)
		help(c, args)
	})
	if hint := slipHint(root, args); hint != "" {
		fmt.Fprint(streams.ErrOut, hint)
		return 1
	}
	err = root.ExecuteContext(ctx)
	if err != nil && prefs.Hints {
		err = withResourceHint(f, err)
	}
	return PrintError(streams.ErrOut, err)
}

// NewRootCommand builds the kctl command tree on f.
func NewRootCommand(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "kctl",
		Short: "kctl controls the Kubernetes cluster manager",
		Long: `kctl controls the Kubernetes cluster manager.

 It speaks kubectl's commands, flags and output, and adds help for learners:
 kctl why, kctl tree, and conversion of old apiVersions.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without Run, cobra prints help for a bare `kctl`.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f.resolveKubeconfig()
			f.changeCause = changeCause(cmd, f.args)
			f.CommandLine = strings.Replace(cmd.CommandPath(), "kctl", "kubectl", 1)
			return nil
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.AddGroup(groups...)
	pf := root.PersistentFlags()
	f.Flags.AddFlags(pf)
	pf.IntVarP(&f.Verbosity, "v", "v", 0, "number for the log level verbosity")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help' for usage.", err, c.CommandPath())
	})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("basic1", commandsBasic1(f)...)
	add("basic2", commandsBasic2(f)...)
	add("deploy", commandsDeploy(f)...)
	add("cluster", commandsCluster(f)...)
	add("debug", commandsDebug(f)...)
	add("advanced", commandsAdvanced(f)...)
	add("settings", commandsSettings(f)...)
	add("learn", commandsLearn(f)...)
	add("other", commandsOther(f)...)
	return root
}

func commandsOther(f *Factory) []*cobra.Command {
	return []*cobra.Command{
		newAPIResourcesCommand(f), newAPIVersionsCommand(f), newConfigCommand(f), newVersionCommand(f),
	}
}

// needArgs is cobra.Args for commands that want at least n arguments; the
// message names what is missing, as kubectl's do.
func needArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(cmd.CommandPath(), "%s", what)
		}
		return nil
	}
}

// flagChanged reports whether the named flag was given on the command line.
func flagChanged(cmd *cobra.Command, name string) bool {
	fl := cmd.Flags().Lookup(name)
	return fl != nil && fl.Changed
}
