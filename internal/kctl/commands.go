package kctl

import "github.com/spf13/cobra"

// The command groups of `kctl --help`, in kubectl's order.

func commandsBasic1(f *Factory) []*cobra.Command {
	return []*cobra.Command{newCreateCommand(f), newExposeCommand(f), newRunCommand(f), newSetCommand(f)}
}

func commandsBasic2(f *Factory) []*cobra.Command {
	return []*cobra.Command{newExplainCommand(f), newGetCommand(f), newEditCommand(f), newDeleteCommand(f)}
}

func commandsDeploy(f *Factory) []*cobra.Command {
	return []*cobra.Command{newRolloutCommand(f), newRollingUpdateCommand(f), newScaleCommand(f), newAutoscaleCommand(f)}
}

func commandsCluster(f *Factory) []*cobra.Command {
	return []*cobra.Command{newCertificateCommand(f), newClusterInfoCommand(f), newCordonCommand(f, true), newCordonCommand(f, false),
		newDrainCommand(f), newTaintCommand(f), newTopCommand(f)}
}

func commandsDebug(f *Factory) []*cobra.Command {
	return []*cobra.Command{newDescribeCommand(f), newLogsCommand(f), newAttachCommand(f), newExecCommand(f),
		newPortForwardCommand(f), newProxyCommand(f), newCpCommand(f), newAuthCommand(f), newDebugCommand(f), newEventsCommand(f)}
}

func commandsAdvanced(f *Factory) []*cobra.Command {
	return []*cobra.Command{newDiffCommand(f), newApplyCommand(f), newPatchCommand(f), newReplaceCommand(f), newWaitCommand(f)}
}

func commandsSettings(f *Factory) []*cobra.Command {
	return []*cobra.Command{newLabelCommand(f), newAnnotateCommand(f), newCompletionCommand(f)}
}

func commandsLearn(f *Factory) []*cobra.Command {
	return []*cobra.Command{newWhyCommand(f), newTreeCommand(f), newConvertCommand(f)}
}
