package namespace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// leftover is what a pass over a namespace's content found.
type leftover struct {
	byResource  map[schema.GroupResource]int
	byFinalizer map[string]int
	failures    []error
	estimate    time.Duration
}

func (l *leftover) remaining() bool { return len(l.byResource) > 0 || len(l.failures) > 0 }

// deleteContent deletes every object of every namespaced resource in ns
// and reports what is still there.
func (c *Controller) deleteContent(ctx context.Context, ns string) *leftover {
	l := &leftover{byResource: map[schema.GroupResource]int{}, byFinalizer: map[string]int{}}
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	for _, r := range c.resources {
		api := c.set.Metadata().Resource(r.GVR).Namespace(ns)
		var err error
		if r.Has("deletecollection") {
			err = api.DeleteCollection(ctx, opts, metav1.ListOptions{})
		} else {
			err = c.deleteEach(ctx, r.GVR, ns, opts)
		}
		if err != nil {
			l.failures = append(l.failures, fmt.Errorf("%s: %w", r.GVR.GroupResource(), err))
			continue
		}
		items, err := api.List(ctx, metav1.ListOptions{})
		if err != nil {
			l.failures = append(l.failures, fmt.Errorf("%s: %w", r.GVR.GroupResource(), err))
			continue
		}
		if len(items.Items) == 0 {
			continue
		}
		l.byResource[r.GVR.GroupResource()] = len(items.Items)
		now := c.clock.Now()
		for _, it := range items.Items {
			for _, f := range it.Finalizers {
				l.byFinalizer[f]++
			}
			switch {
			case len(it.Finalizers) > 0:
				l.estimate = max(l.estimate, finalizerEstimate)
			case it.DeletionTimestamp != nil:
				l.estimate = max(l.estimate, it.DeletionTimestamp.Sub(now))
			}
		}
	}
	return l
}

func (c *Controller) deleteEach(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.DeleteOptions) error {
	api := c.set.Metadata().Resource(gvr).Namespace(ns)
	items, err := api.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for _, it := range items.Items {
		if err := api.Delete(ctx, it.Name, opts); err != nil && ignoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// conditionTypes are the namespace conditions this controller keeps, in
// upstream's order.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okCondition is the all-well form of each condition (reason, message).
var okCondition = map[corev1.NamespaceConditionType][2]string{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentRemoved", "All content successfully removed"},
}

// conditions are upstream's conditions for what l found.
func (l *leftover) conditions() map[corev1.NamespaceConditionType]corev1.NamespaceCondition {
	out := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	if len(l.failures) > 0 {
		msgs := make([]string, len(l.failures))
		for i, e := range l.failures {
			msgs[i] = e.Error()
		}
		sort.Strings(msgs)
		out[corev1.NamespaceDeletionContentFailure] = corev1.NamespaceCondition{Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(msgs), strings.Join(msgs, ", "))}
	}
	if len(l.byResource) > 0 {
		var parts []string
		for gr, n := range l.byResource {
			parts = append(parts, fmt.Sprintf("%s.%s has %d resource instances", gr.Resource, gr.Group, n))
		}
		sort.Strings(parts)
		out[corev1.NamespaceContentRemaining] = corev1.NamespaceCondition{Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
			Message: "Some resources are remaining: " + strings.Join(parts, ", ")}
	}
	if len(l.byFinalizer) > 0 {
		var parts []string
		for f, n := range l.byFinalizer {
			parts = append(parts, fmt.Sprintf("%s in %d resource instances", f, n))
		}
		sort.Strings(parts)
		out[corev1.NamespaceFinalizersRemaining] = corev1.NamespaceCondition{Status: corev1.ConditionTrue, Reason: "SomeFinalizerRemain",
			Message: "Some finalizers are remaining: " + strings.Join(parts, ", ")}
	}
	return out
}

// reportConditions writes the conditions to the namespace's status when
// they changed and returns the namespace as it now is (nil when it has
// gone).
func (c *Controller) reportConditions(ctx context.Context, ns *corev1.Namespace, l *leftover) (*corev1.Namespace, error) {
	want := l.conditions()
	next := ns.DeepCopy()
	changed := false
	now := metav1.NewTime(c.clock.Now())
	for _, t := range conditionTypes {
		w, bad := want[t]
		if !bad {
			ok := okCondition[t]
			w = corev1.NamespaceCondition{Status: corev1.ConditionFalse, Reason: ok[0], Message: ok[1]}
		}
		w.Type = t
		i := conditionIndex(next.Status.Conditions, t)
		if i < 0 {
			w.LastTransitionTime = now
			next.Status.Conditions = append(next.Status.Conditions, w)
			changed = true
			continue
		}
		cur := &next.Status.Conditions[i]
		if cur.Status != w.Status || cur.Reason != w.Reason || cur.Message != w.Message {
			if cur.Status != w.Status {
				cur.LastTransitionTime = now
			}
			cur.Status, cur.Reason, cur.Message = w.Status, w.Reason, w.Message
			changed = true
		}
	}
	if !changed {
		return ns, nil
	}
	out, err := c.set.Namespaces().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, ignoreNotFound(err)
	}
	return out, nil
}

func conditionIndex(cs []corev1.NamespaceCondition, t corev1.NamespaceConditionType) int {
	for i := range cs {
		if cs[i].Type == t {
			return i
		}
	}
	return -1
}
