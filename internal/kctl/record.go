package kctl

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const changeCauseAnnotation = "kubernetes.io/change-cause"

// changeCause is the command line as kubectl records it for --record: the
// program's name ("kubectl"), the words that are not flags (the command path included)
// in their order, then each flag as --long-name=value in the order given,
// with the value as typed ("true" for a bare boolean).
func changeCause(cmd *cobra.Command, raw []string) string {
	var words, flags []string
	fs := cmd.Flags()
	for i := 0; i < len(raw); i++ {
		a := raw[i]
		switch {
		case a == "--":
			words = append(words, raw[i+1:]...)
			i = len(raw)
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, value, hasValue := strings.Cut(a[2:], "=")
			fl := fs.Lookup(name)
			if fl == nil {
				continue
			}
			if !hasValue {
				value, i = flagValue(fl, raw, i)
			}
			flags = append(flags, "--"+fl.Name+"="+value)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			fl := fs.ShorthandLookup(a[1:2])
			if fl == nil {
				continue
			}
			value := strings.TrimPrefix(a[2:], "=")
			if len(a) == 2 {
				value, i = flagValue(fl, raw, i)
			}
			flags = append(flags, "--"+fl.Name+"="+value)
		default:
			words = append(words, a)
		}
	}
	// kubectl writes its program name; kctl writes "kubectl" so that the
	// annotation, and rollout history's CHANGE-CAUSE, read as in the books.
	parts := append([]string{"kubectl"}, words...)
	return strings.Join(append(parts, flags...), " ")
}

// flagValue is the value of the flag at raw[i] given without "=": true
// for a boolean, else the next word.
func flagValue(fl *pflag.Flag, raw []string, i int) (string, int) {
	if fl.NoOptDefVal != "" {
		return fl.NoOptDefVal, i
	}
	if i+1 < len(raw) {
		return raw[i+1], i + 1
	}
	return "", i
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
