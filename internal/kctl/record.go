package kctl

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const changeCauseAnnotation = "kubernetes.io/change-cause"

// changeCause is the command line as kubectl records it for --record:
// `kubectl <command path> <args> --flag=value ...`.
func changeCause(cmd *cobra.Command, args []string) string {
	parts := []string{strings.Replace(cmd.CommandPath(), "kctl", "kubectl", 1)}
	parts = append(parts, args...)
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		parts = append(parts, "--"+fl.Name+"="+fl.Value.String())
	})
	return strings.Join(parts, " ")
}

// recordCommand stores the change cause on u (set by PersistentPreRun).
func (f *Factory) recordCommand(u *unstructured.Unstructured) {
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[changeCauseAnnotation] = f.changeCause
	u.SetAnnotations(ann)
}

func parseDuration(s string) (time.Duration, error) { return time.ParseDuration(s) }
