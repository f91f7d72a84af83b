package kctl

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"kserver.dev/kserver/internal/kctl/describe"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func podTemplateText(t *corev1.PodTemplateSpec) string { return describe.PodTemplateRaw(t) }

// rolloutStatus is the status message of a workload and whether the
// rollout is done; err is a failed rollout.
func rolloutStatus(u *unstructured.Unstructured, revision int64) (string, bool, error) {
	switch u.GetKind() {
	case "Deployment":
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			return "", false, err
		}
		return deploymentStatus(&d, revision)
	case "DaemonSet":
		var d appsv1.DaemonSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			return "", false, err
		}
		if d.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
			return "", true, fmt.Errorf("rollout status is only available for %s strategy type", appsv1.RollingUpdateStatefulSetStrategyType)
		}
		if d.Generation > d.Status.ObservedGeneration {
			return "Waiting for daemon set spec update to be observed...\n", false, nil
		}
		st := d.Status
		if st.UpdatedNumberScheduled < st.DesiredNumberScheduled {
			return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...\n", d.Name, st.UpdatedNumberScheduled, st.DesiredNumberScheduled), false, nil
		}
		if st.NumberAvailable < st.DesiredNumberScheduled {
			return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...\n", d.Name, st.NumberAvailable, st.DesiredNumberScheduled), false, nil
		}
		return fmt.Sprintf("daemon set %q successfully rolled out\n", d.Name), true, nil
	case "StatefulSet":
		var s appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s); err != nil {
			return "", false, err
		}
		return statefulSetStatus(&s)
	}
	return "", false, fmt.Errorf("no status viewer has been implemented for %s", u.GetKind())
}

func deploymentStatus(d *appsv1.Deployment, revision int64) (string, bool, error) {
	if revision > 0 && revisionOf(d) != revision {
		return "", false, fmt.Errorf("desired revision (%d) is different from the running revision (%d)", revision, revisionOf(d))
	}
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case st.UpdatedReplicas < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, st.UpdatedReplicas, want), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}

func statefulSetStatus(s *appsv1.StatefulSet) (string, bool, error) {
	if s.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", appsv1.RollingUpdateStatefulSetStrategyType)
	}
	if s.Status.ObservedGeneration == 0 || s.Generation > s.Status.ObservedGeneration {
		return "Waiting for statefulset spec update to be observed...\n", false, nil
	}
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	if s.Status.ReadyReplicas < want {
		return fmt.Sprintf("Waiting for %d pods to be ready...\n", want-s.Status.ReadyReplicas), false, nil
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		p := *ru.Partition
		if s.Status.UpdatedReplicas < want-p {
			return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...\n", s.Status.UpdatedReplicas, want-p), false, nil
		}
		return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...\n", s.Status.UpdatedReplicas), true, nil
	}
	if s.Status.UpdateRevision != s.Status.CurrentRevision {
		return fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...\n", s.Status.UpdatedReplicas, s.Status.UpdateRevision), false, nil
	}
	return fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...\n", s.Status.CurrentReplicas, s.Status.CurrentRevision), true, nil
}

func newRolloutStatusCommand(f *Factory) *cobra.Command {
	var sel selectOptions
	var revision int64
	var watchFlag bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status (TYPE NAME | TYPE/NAME) [flags]",
		Short: "Show the status of the rollout",
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, errs, err := sel.selectObjects(f, cmd, args)
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				return errs[0]
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			for _, s := range objs {
				if err := watchRollout(ctx, f, s, revision, watchFlag); err != nil {
					return err
				}
			}
			return nil
		},
	}
	sel.addFlags(cmd, "get the status")
	cmd.Flags().Int64Var(&revision, "revision", 0, "Pin to a specific revision for showing its status. Defaults to 0 (last revision).")
	cmd.Flags().BoolVarP(&watchFlag, "watch", "w", true, "Watch the status of the rollout until it's done.")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "The length of time to wait before ending watch, zero means never.")
	return cmd
}

// watchRollout prints the status on every change until the rollout is
// done, like kubectl (a list+watch on metadata.name).
func watchRollout(ctx context.Context, f *Factory, s selected, revision int64, follow bool) error {
	msg, done, err := rolloutStatus(s.obj, revision)
	if err != nil {
		return err
	}
	fmt.Fprint(f.IO.Out, msg)
	if done || !follow {
		return nil
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	w, err := s.client(dyn).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + s.obj.GetName(), ResourceVersion: s.obj.GetResourceVersion()})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the condition")
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed before the rollout finished")
			}
			switch ev.Type {
			case watch.Deleted:
				return fmt.Errorf("object has been deleted")
			case watch.Added, watch.Modified:
				u, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				msg, done, err := rolloutStatus(u, revision)
				if err != nil {
					return err
				}
				fmt.Fprint(f.IO.Out, msg)
				if done {
					return nil
				}
			}
		}
	}
}
