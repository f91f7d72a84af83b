package kctl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// drainPolicy are drain's filter flags.
type drainPolicy struct {
	ignoreDaemonSets, deleteEmptyDir, force bool
	// skipWaitSeconds: a pod deleted longer ago than this is not waited
	// for (--skip-wait-for-delete-timeout; 0 waits for every pod).
	skipWaitSeconds int
}

// drainPlan is the outcome of filtering the pods on a node.
type drainPlan struct {
	evict    []corev1.Pod
	warnings map[string][]string // message → ns/name
	errors   map[string][]string
}

const (
	msgDaemonSet      = "DaemonSet-managed Pods"
	msgLocalStorage   = "Pods with local storage"
	msgNoController   = "Pods that declare no controller"
	daemonSetWarnVerb = "ignoring"
)

// planDrain applies kubectl's filters: mirror pods and finished pods are
// skipped; DaemonSet pods need --ignore-daemonsets; emptyDir pods need
// --delete-emptydir-data; pods without a controller need --force.
func planDrain(pods []corev1.Pod, p drainPolicy, dsExists func(ns, name string) bool) drainPlan {
	plan := drainPlan{warnings: map[string][]string{}, errors: map[string][]string{}}
	for _, pod := range pods {
		id := pod.Namespace + "/" + pod.Name
		if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			plan.evict = append(plan.evict, pod)
			continue
		}
		ctrl := metav1.GetControllerOf(&pod)
		if ctrl != nil && ctrl.Kind == "DaemonSet" && dsExists(pod.Namespace, ctrl.Name) {
			if p.ignoreDaemonSets {
				// kubectl warns only about DaemonSet pods and unmanaged pods.
				plan.warnings["ignoring "+msgDaemonSet] = append(plan.warnings["ignoring "+msgDaemonSet], id)
			} else {
				plan.errors["cannot delete "+msgDaemonSet+" (use --ignore-daemonsets to ignore)"] = append(plan.errors["cannot delete "+msgDaemonSet+" (use --ignore-daemonsets to ignore)"], id)
			}
			continue
		}
		if ctrl == nil {
			if !p.force {
				k := "cannot delete " + msgNoController + " (use --force to override)"
				plan.errors[k] = append(plan.errors[k], id)
				continue
			}
			plan.warnings["deleting "+msgNoController] = append(plan.warnings["deleting "+msgNoController], id)
		}
		if hasEmptyDir(&pod) {
			if !p.deleteEmptyDir {
				k := "cannot delete " + msgLocalStorage + " (use --delete-emptydir-data to override)"
				plan.errors[k] = append(plan.errors[k], id)
				continue
			}
		}
		plan.evict = append(plan.evict, pod)
	}
	return plan
}

func hasEmptyDir(p *corev1.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			return true
		}
	}
	return false
}

// joinGroups renders `<message>: ns/a, ns/b; <message2>: ...` sorted by message.
func joinGroups(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(m[k], ", "))
	}
	return strings.Join(parts, "; ")
}

// groupErrors is one error per message, sorted by message.
func groupErrors(m map[string][]string) []error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []error
	for _, k := range keys {
		out = append(out, fmt.Errorf("%s: %s", k, strings.Join(m[k], ", ")))
	}
	return out
}

// evictor evicts or deletes pods and reports when they are gone.
type evictor interface {
	evict(ctx context.Context, pod *corev1.Pod) error
	remove(ctx context.Context, pod *corev1.Pod) error
	gone(ctx context.Context, pod *corev1.Pod) (bool, error)
}

type drainRun struct {
	node          string
	out, errOut   interface{ Write([]byte) (int, error) }
	ev            evictor
	useEviction   bool
	dryRunSuffix  string
	dryRun        bool
	retryInterval time.Duration
	pollInterval  time.Duration
}

// run evicts (or deletes) the pods, retrying an eviction that a
// PodDisruptionBudget blocks (429) until ctx ends, then waits for each pod
// to disappear.
func (d *drainRun) run(ctx context.Context, pods []corev1.Pod) error {
	var errs []error
	var started []corev1.Pod
	for i := range pods {
		pod := &pods[i]
		if d.useEviction {
			fmt.Fprintf(d.out, "evicting pod %s/%s%s\n", pod.Namespace, pod.Name, d.dryRunSuffix)
		}
		if d.dryRun {
			continue
		}
		if err := d.evictOne(ctx, pod); err != nil {
			errs = append(errs, err)
			continue
		}
		started = append(started, *pod)
	}
	pending := started
	for len(pending) > 0 {
		var still []corev1.Pod
		for i := range pending {
			pod := &pending[i]
			ok, err := d.ev.gone(ctx, pod)
			if errors.Is(err, errSkipWait) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				still = append(still, *pod)
				continue
			}
			word := "evicted"
			if !d.useEviction {
				word = "deleted"
			}
			fmt.Fprintf(d.out, "pod/%s %s\n", pod.Name, word)
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			var werrs []error
			for _, p := range pending {
				werrs = append(werrs, fmt.Errorf("error when waiting for pod %q in namespace %q to terminate: %v", p.Name, p.Namespace, ctx.Err()))
			}
			fmt.Fprintf(d.errOut, "There are pending pods in node %q when an error occurred: %v\n", d.node, utilerrors.NewAggregate(werrs))
			for _, p := range pending {
				fmt.Fprintf(d.out, "pod/%s\n", p.Name)
			}
			return utilerrors.NewAggregate(append(errs, werrs...))
		case <-time.After(d.pollInterval):
		}
	}
	return utilerrors.NewAggregate(errs)
}

func (d *drainRun) evictOne(ctx context.Context, pod *corev1.Pod) error {
	if !d.useEviction {
		return d.ev.remove(ctx, pod)
	}
	for {
		err := d.ev.evict(ctx, pod)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsTooManyRequests(err):
			fmt.Fprintf(d.errOut, "error when evicting pods/%q -n %q (will retry after %v): %v\n", pod.Name, pod.Namespace, d.retryInterval, err)
		default:
			return fmt.Errorf("error when evicting pods/%q -n %q: %v", pod.Name, pod.Namespace, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("error when evicting pods/%q -n %q: global timeout reached: %v", pod.Name, pod.Namespace, ctx.Err())
		case <-time.After(d.retryInterval):
		}
	}
}

// apiEvictor talks to the API: POST pods/eviction (policy/v1), DELETE, GET.
type apiEvictor struct {
	f               *Factory
	gracePeriod     int
	skipWaitSeconds int
}

// errSkipWait marks a pod drain stops waiting for (it said so already).
var errSkipWait = errors.New("pod skipped")

var gvrPods = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

func (a *apiEvictor) evict(ctx context.Context, pod *corev1.Pod) error {
	dyn, err := a.f.Dynamic()
	if err != nil {
		return err
	}
	ev := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "policy/v1", "kind": "Eviction",
		"metadata": map[string]any{"name": pod.Name, "namespace": pod.Namespace}}}
	if a.gracePeriod >= 0 {
		ev.Object["deleteOptions"] = map[string]any{"gracePeriodSeconds": int64(a.gracePeriod)}
	}
	_, err = dyn.Resource(gvrPods).Namespace(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}, "eviction")
	return err
}

func (a *apiEvictor) remove(ctx context.Context, pod *corev1.Pod) error {
	dyn, err := a.f.Dynamic()
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{}
	if a.gracePeriod >= 0 {
		g := int64(a.gracePeriod)
		opts.GracePeriodSeconds = &g
	}
	return dyn.Resource(gvrPods).Namespace(pod.Namespace).Delete(ctx, pod.Name, opts)
}

func (a *apiEvictor) gone(ctx context.Context, pod *corev1.Pod) (bool, error) {
	dyn, err := a.f.Dynamic()
	if err != nil {
		return false, err
	}
	u, err := dyn.Resource(gvrPods).Namespace(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if u.GetUID() != pod.UID {
		return true, nil
	}
	if del := u.GetDeletionTimestamp(); a.skipWaitSeconds > 0 && del != nil && int(time.Since(del.Time).Seconds()) > a.skipWaitSeconds {
		fmt.Fprintf(a.f.IO.Out, "pod %q has DeletionTimestamp older than %v seconds, skipping\n", pod.Name, a.skipWaitSeconds)
		return false, errSkipWait
	}
	return false, nil
}

func newDrainCommand(f *Factory) *cobra.Command {
	var p drainPolicy
	var mf mutateFlags
	var timeout time.Duration
	var grace int
	var disableEviction bool
	var selector, podSelector string
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Drain node in preparation for maintenance",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && selector == "" {
				return usageError(cmd.CommandPath(), "USAGE: drain NODE [flags]")
			}
			if err := mf.check(); err != nil {
				return err
			}
			sel := selectOptions{selector: selector}
			nodes, errs, err := sel.selectObjects(f, cmd, nodeArgs(args))
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
			var pending []string
			var drainErrs []error
			for _, n := range nodes {
				if err := setUnschedulable(f, cmd, &mf, n, true); err != nil {
					return err
				}
				if err := drainNode(ctx, f, cmd, n.obj.GetName(), p, &mf, grace, disableEviction, podSelector); err != nil {
					fmt.Fprintf(f.IO.ErrOut, "error: unable to drain node %q due to error: %v, continuing command...\n", n.obj.GetName(), err)
					pending = append(pending, n.obj.GetName())
					drainErrs = append(drainErrs, err)
					continue
				}
				mf.print(f.IO.Out, n.obj, "drained")
			}
			if len(pending) > 0 {
				fmt.Fprintf(f.IO.ErrOut, "There are pending nodes to be drained:\n %s\n", strings.Join(pending, "\n "))
				return utilerrors.Flatten(utilerrors.NewAggregate(drainErrs))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&p.force, "force", false, "Continue even if there are pods that do not declare a controller.")
	fl.BoolVar(&p.ignoreDaemonSets, "ignore-daemonsets", false, "Ignore DaemonSet-managed pods.")
	fl.BoolVar(&p.deleteEmptyDir, "delete-emptydir-data", false, "Continue even if there are pods using emptyDir (local data that will be deleted when the node is drained).")
	fl.DurationVar(&timeout, "timeout", 0, "The length of time to wait before giving up, zero means infinite")
	fl.IntVar(&grace, "grace-period", -1, "Period of time in seconds given to each pod to terminate gracefully. If negative, the default value specified in the pod will be used.")
	fl.IntVar(&p.skipWaitSeconds, "skip-wait-for-delete-timeout", 0, "If pod DeletionTimestamp older than N seconds, skip waiting for the pod.  Seconds must be greater than 0 to skip.")
	fl.Int64("chunk-size", 500, "Return large lists in chunks rather than all at once. Pass 0 to disable. This flag is beta and may change in the future.")
	fl.BoolVar(&disableEviction, "disable-eviction", false, "Force drain to use delete, even if eviction is supported. This will bypass checking PodDisruptionBudgets, use with caution.")
	fl.StringVarP(&selector, "selector", "l", "", "Selector (label query) to filter on")
	fl.StringVar(&podSelector, "pod-selector", "", "Label selector to filter pods on the node")
	mf.add(cmd, "", false)
	return cmd
}

func drainNode(ctx context.Context, f *Factory, cmd *cobra.Command, node string, p drainPolicy, mf *mutateFlags, grace int, disableEviction bool, podSelector string) error {
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	chunk, _ := cmd.Flags().GetInt64("chunk-size")
	opts := metav1.ListOptions{FieldSelector: "spec.nodeName=" + node, LabelSelector: podSelector, Limit: chunk}
	var pods []corev1.Pod
	for {
		l, err := dyn.Resource(gvrPods).List(ctx, opts)
		if err != nil {
			return err
		}
		for i := range l.Items {
			var pod corev1.Pod
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &pod); err != nil {
				return err
			}
			pods = append(pods, pod)
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			break
		}
	}
	plan := planDrain(pods, p, func(ns, name string) bool {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil
	})
	if len(plan.errors) > 0 {
		return utilerrors.NewAggregate(groupErrors(plan.errors))
	}
	if len(plan.warnings) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "Warning: %s\n", joinGroups(plan.warnings))
	}
	useEviction := !disableEviction && evictionSupported(f)
	run := &drainRun{node: node, out: f.IO.Out, errOut: f.IO.ErrOut, ev: &apiEvictor{f: f, gracePeriod: grace, skipWaitSeconds: p.skipWaitSeconds}, useEviction: useEviction,
		dryRunSuffix: mf.suffix(), dryRun: mf.dryRun != "none", retryInterval: 5 * time.Second, pollInterval: time.Second}
	return run.run(ctx, plan.evict)
}

// evictionSupported looks for pods/eviction in /api/v1, as kubectl does.
func evictionSupported(f *Factory) bool {
	disc, err := f.Discovery()
	if err != nil {
		return false
	}
	l, err := disc.ServerResourcesForGroupVersion("v1")
	if err != nil {
		return false
	}
	for _, r := range l.APIResources {
		if r.Name == "pods/eviction" && r.Kind == "Eviction" {
			return true
		}
	}
	return false
}
