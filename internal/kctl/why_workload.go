package kctl

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// workload explains a controller: its conditions, then each pod that is
// not ready.
func (e *explainer) workload(u *unstructured.Unstructured) error {
	ready, _ := objectHealth(u)
	e.say("%s/%s: %s pods ready.", strings.ToLower(u.GetKind()), u.GetName(), ready)
	for _, c := range conditions(u) {
		if c.status != "True" || c.reason == "ProgressDeadlineExceeded" || c.typ == "ReplicaFailure" || c.typ == "Failed" {
			e.say("  • condition %s=%s (%s): %s", c.typ, c.status, c.reason, c.message)
		}
	}
	if paused, _, _ := unstructured.NestedBool(u.Object, "spec", "paused"); paused {
		e.say("  • the rollout is paused → `kctl rollout resume %s/%s`", strings.ToLower(u.GetKind()), u.GetName())
	}
	sel, err := selectorOf(u)
	if err != nil {
		return err
	}
	dyn, err := e.f.Dynamic()
	if err != nil {
		return err
	}
	l, err := dyn.Resource(gvrPods).Namespace(u.GetNamespace()).List(e.ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return err
	}
	if len(l.Items) == 0 {
		e.say("  • it has no pods.")
		e.warnings(u.GetNamespace(), u.GetName(), u.GetKind(), "  ")
		if u.GetKind() == "Deployment" {
			e.say("  → if there is no ReplicaSet either (`kctl tree deployment/%s`), the controllers are not running.", u.GetName())
		}
		return nil
	}
	bad := 0
	for i := range l.Items {
		p, err := toPod(&l.Items[i])
		if err != nil {
			return err
		}
		if podReady(p) {
			continue
		}
		bad++
		if bad > 3 {
			continue
		}
		if err := e.pod(p, "  "); err != nil {
			return err
		}
	}
	if bad > 3 {
		e.say("  … and %d more pods that are not ready.", bad-3)
	}
	if bad == 0 {
		e.say("  • all its pods are ready; nothing looks wrong.")
	}
	return nil
}

// service explains a Service's endpoints: pods selected, ready, and ports.
func (e *explainer) service(u *unstructured.Unstructured) error {
	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &svc); err != nil {
		return err
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		e.say("service/%s is an ExternalName alias for %s; it has no endpoints by design.", svc.Name, svc.Spec.ExternalName)
		return nil
	}
	if len(svc.Spec.Selector) == 0 {
		e.say("service/%s has no selector, so Kubernetes does not fill its endpoints; you manage EndpointSlices yourself.", svc.Name)
		return nil
	}
	dyn, err := e.f.Dynamic()
	if err != nil {
		return err
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	l, err := dyn.Resource(gvrPods).Namespace(svc.Namespace).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var matched []*corev1.Pod
	var near []string
	for i := range l.Items {
		p, err := toPod(&l.Items[i])
		if err != nil {
			return err
		}
		if sel.Matches(labels.Set(p.Labels)) {
			matched = append(matched, p)
		} else if sharesLabel(svc.Spec.Selector, p.Labels) {
			near = append(near, fmt.Sprintf("%s (%s)", p.Name, labels.FormatLabels(p.Labels)))
		}
	}
	e.say("service/%s selects pods with %s.", svc.Name, labels.FormatLabels(svc.Spec.Selector))
	if len(matched) == 0 {
		e.say("  • no pod in namespace %s has these labels, so the service has no endpoints.", svc.Namespace)
		if len(near) > 0 {
			e.say("  • pods with some of the labels: %s", strings.Join(near, ", "))
		}
		e.say("  → make the selector match the pod template's labels (`kctl get pods --show-labels`).")
		return nil
	}
	ready := 0
	for _, p := range matched {
		if podReady(p) {
			ready++
		} else {
			e.say("  • pod %s matches but is not ready (%s), so it gets no traffic.", p.Name, podStatusReason(p))
		}
	}
	e.say("  • %d pods match, %d are ready.", len(matched), ready)
	for _, sp := range svc.Spec.Ports {
		if !portServed(sp.TargetPort, matched) {
			e.say("  • port %d → targetPort %s: no matching container declares that port; check the number or name.", sp.Port, sp.TargetPort.String())
		}
	}
	if ready == 0 {
		e.say("  → fix the pods first: `kctl why pod/%s`.", matched[0].Name)
	}
	return nil
}

func sharesLabel(sel, l map[string]string) bool {
	for k, v := range sel {
		if l[k] == v {
			return true
		}
	}
	return false
}

// portServed: a numeric target port is fine even if undeclared (apps may
// listen without declaring); a named one must exist in a container.
func portServed(tp intstr.IntOrString, pods []*corev1.Pod) bool {
	if tp.Type == intstr.Int {
		return true
	}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal {
					return true
				}
			}
		}
	}
	return false
}
