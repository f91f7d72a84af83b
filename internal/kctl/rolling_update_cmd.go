package kctl

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func labelsString(m map[string]string) string {
	keys := sortedMapKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func newRollingUpdateCommand(f *Factory) *cobra.Command {
	var fo fileOptions
	var image, container string
	var rollback bool
	var period, poll, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rolling-update OLD_CONTROLLER_NAME ([NEW_CONTROLLER_NAME] --image=NEW_CONTAINER_IMAGE | -f NEW_CONTROLLER_SPEC)",
		Short: "Perform a rolling update of the given ReplicationController (the legacy verb; use Deployments today)",
		Long: `Perform a rolling update of the given ReplicationController.

 Replaces the specified replication controller with a new replication controller by updating one pod at a time to use
the new PodTemplate. The new-controller.json must specify the same namespace as the existing replication controller and
overwrite at least one (common) label in its replicaSelector.

 This is the verb older Kubernetes books use; kubectl removed it in 1.18. Today a Deployment does the same with
"kubectl set image" and "kubectl rollout".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(cmd.CommandPath(), "Must specify the controller to update")
			}
			if len(fo.filenames) == 0 && image == "" && !rollback {
				return usageError(cmd.CommandPath(), "Must specify --filename or --image for new controller")
			}
			if len(fo.filenames) > 0 && image != "" {
				return usageError(cmd.CommandPath(), "--filename and --image can not both be specified")
			}
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			dyn, err := f.Dynamic()
			if err != nil {
				return err
			}
			store := &apiRCs{dyn: dyn, ns: ns}
			u := &rollingUpdater{store: store, out: f.IO.Out, updatePeriod: period, pollInterval: poll, timeout: timeout}
			ctx := cmd.Context()
			old, err := store.get(ctx, args[0])
			if err != nil {
				return err
			}
			next, rename, err := newController(f, old, args, fo, image, container)
			if err != nil {
				return err
			}
			if rollback {
				return u.rollback(ctx, old, next.Name)
			}
			if err := u.run(ctx, old, next, rename); err != nil {
				return err
			}
			final := next.Name
			if rename != "" {
				final = rename
			}
			if len(fo.filenames) > 0 {
				fmt.Fprintf(f.IO.Out, "replicationcontroller/%s rolling updated to %q\n", old.Name, final)
			} else {
				fmt.Fprintf(f.IO.Out, "replicationcontroller/%s rolling updated\n", final)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&fo.filenames, "filename", "f", nil, "Filename or URL to file to use to create the new replication controller.")
	fl.StringVar(&image, "image", "", "Image to use for upgrading the replication controller. Must be distinct from the existing image (either new image or new image tag).")
	fl.StringVar(&container, "container", "", "Container name which will have its image upgraded. Only relevant when --image is specified, ignored otherwise.")
	fl.BoolVar(&rollback, "rollback", false, "If true, this is a request to abort an existing rollout that is partially rolled out. It effectively reverses current and next and runs a rollout")
	fl.DurationVar(&period, "update-period", time.Minute, "Time to wait between updating pods.")
	fl.DurationVar(&poll, "poll-interval", 3*time.Second, "Time delay between polling for replication controller status after the update.")
	fl.DurationVar(&timeout, "timeout", 5*time.Minute, "Max time to wait for a replication controller to update before giving up.")
	return cmd
}

// newController builds the new RC from -f or from the old one with a new
// image; rename is the old name when kctl picked the new RC's name.
func newController(f *Factory, old *corev1.ReplicationController, args []string, fo fileOptions, image, container string) (*corev1.ReplicationController, string, error) {
	if len(fo.filenames) > 0 {
		ms, err := fo.read(f.IO.In)
		if err != nil {
			return nil, "", err
		}
		if len(ms) != 1 || ms[0].obj.GetKind() != "ReplicationController" {
			return nil, "", fmt.Errorf("%s contains a %s not a ReplicationController", fo.filenames[0], kindOf(ms))
		}
		var rc corev1.ReplicationController
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ms[0].obj.Object, &rc); err != nil {
			return nil, "", err
		}
		if rc.Name == old.Name {
			return nil, "", fmt.Errorf("%s cannot have the same name as the existing ReplicationController %s", fo.filenames[0], old.Name)
		}
		if !selectorDiffers(old.Spec.Selector, rc.Spec.Selector) {
			return nil, "", fmt.Errorf("%s must specify a matching key with non-equal value in Selector for %s", fo.filenames[0], old.Name)
		}
		return &rc, "", nil
	}
	next := old.DeepCopy()
	next.ResourceVersion, next.UID, next.Status = "", "", corev1.ReplicationControllerStatus{}
	found := false
	for i := range next.Spec.Template.Spec.Containers {
		c := &next.Spec.Template.Spec.Containers[i]
		if container == "" || c.Name == container {
			if c.Image == image {
				return nil, "", fmt.Errorf("Specified --image must be distinct from existing container image")
			}
			c.Image, found = image, true
			if container == "" {
				break
			}
		}
	}
	if !found {
		return nil, "", fmt.Errorf("Could not find %s in the containers of %s", container, old.Name)
	}
	hash := templateHash(next.Spec.Template)
	next.Name = old.Name + "-" + hash
	if len(args) > 1 {
		next.Name = args[1]
	}
	next.Spec.Selector = copyMap(old.Spec.Selector)
	next.Spec.Selector[deploymentKey] = hash
	next.Spec.Template.Labels = copyMap(next.Spec.Template.Labels)
	next.Spec.Template.Labels[deploymentKey] = hash
	return next, old.Name, nil
}

func selectorDiffers(a, b map[string]string) bool {
	for k, v := range a {
		if bv, ok := b[k]; ok && bv != v {
			return true
		}
	}
	return false
}

func copyMap(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func kindOf(ms []manifest) string {
	if len(ms) == 0 {
		return "nothing"
	}
	return ms[0].obj.GetKind()
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
