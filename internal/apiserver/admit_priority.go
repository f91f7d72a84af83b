package apiserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kserver.dev/kserver/internal/store"
)

// The Priority admission plugin, as upstream's: a pod's spec.priority and
// spec.preemptionPolicy come from its PriorityClass (or the global default
// class, else priority 0 and PreemptLowerPriority); only one class may be
// the global default; the system classes exist from the start and cannot
// be deleted.

// Upstream's built-in PriorityClasses.
const (
	systemNodeCritical    = "system-node-critical"
	systemClusterCritical = "system-cluster-critical"
)

var priorityClassesGVR = gvr("scheduling.k8s.io", "v1", "priorityclasses")

// systemPriorityClasses are created at bootstrap, as upstream's
// scheduling post-start hook does.
func systemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: systemNodeCritical}, Value: 2000001000,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: systemClusterCritical}, Value: 2000000000,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	}
}

func (s *Server) admitPodPriority(ctx context.Context, c *call, pod *corev1.Pod) error {
	var priority int32
	var policy *corev1.PreemptionPolicy
	if pod.Spec.PriorityClassName == "" {
		def, err := s.defaultPriorityClass(ctx)
		if err != nil {
			return fmt.Errorf("failed to get default priority class: %w", err)
		}
		if def != nil {
			pod.Spec.PriorityClassName, priority, policy = def.Name, def.Value, def.PreemptionPolicy
		} else {
			lower := corev1.PreemptLowerPriority
			policy = &lower
		}
	} else {
		obj, err := s.getStored(ctx, priorityClassesGVR, "", pod.Spec.PriorityClassName)
		if errors.Is(err, store.ErrNotFound) {
			return c.forbidden(pod, fmt.Errorf("no PriorityClass with name %s was found", pod.Spec.PriorityClassName))
		}
		if err != nil {
			return fmt.Errorf("failed to get PriorityClass with name %s: %w", pod.Spec.PriorityClassName, err)
		}
		pc := obj.(*schedulingv1.PriorityClass)
		priority, policy = pc.Value, pc.PreemptionPolicy
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != priority {
		return c.forbidden(pod, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, priority))
	}
	pod.Spec.Priority = &priority
	if policy != nil {
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != *policy {
			return c.forbidden(pod, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, *policy))
		}
		p := *policy
		pod.Spec.PreemptionPolicy = &p
	}
	return nil
}

// defaultPriorityClass is the global default class (the lowest value when
// a race left several), nil when there is none.
func (s *Server) defaultPriorityClass(ctx context.Context) (*schedulingv1.PriorityClass, error) {
	all, err := s.listStored(ctx, priorityClassesGVR, "")
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for _, o := range all {
		pc := o.(*schedulingv1.PriorityClass)
		if pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def, nil
}

func priorityClassOf(obj runtime.Object) (*schedulingv1.PriorityClass, bool) {
	pc, ok := obj.(*schedulingv1.PriorityClass)
	return pc, ok && pc != nil
}

// admitPriorityClass checks a PriorityClass create (old nil) or update:
// only one class may be the global default (names and values are the
// registry's validation).
func (s *Server) admitPriorityClass(ctx context.Context, c *call, pc, old *schedulingv1.PriorityClass) error {
	if !pc.GlobalDefault {
		return nil
	}
	def, err := s.defaultPriorityClass(ctx)
	if err != nil {
		return err
	}
	if def != nil && (old == nil || def.Name != pc.Name) {
		return c.forbidden(pc, fmt.Errorf("PriorityClass %s is already marked as default. Only one default can exist", def.Name))
	}
	return nil
}

// deletePriorityClass refuses deleting the system classes.
func deletePriorityClass(c *call, pc *schedulingv1.PriorityClass) error {
	for _, sys := range systemPriorityClasses() {
		if sys.Name == pc.Name {
			return apierrors.NewForbidden(c.gr, pc.Name, errors.New("this is a system priority class and cannot be deleted"))
		}
	}
	return nil
}
