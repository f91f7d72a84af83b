package kctl

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// podFor resolves `NAME` or `TYPE/NAME` to a pod: the pod itself, or the
// best pod a Deployment, ReplicaSet, RC, StatefulSet, DaemonSet, Job or
// Service selects (running and ready before others, then oldest).
func podFor(ctx context.Context, f *Factory, ns, arg string) (*corev1.Pod, *unstructured.Unstructured, error) {
	pods, obj, err := podsFor(ctx, f, ns, arg)
	if err != nil {
		return nil, obj, err
	}
	return pods[0], obj, nil
}

// podsFor is podFor with every pod the object selects, best first (one
// pod for a pod).
func podsFor(ctx context.Context, f *Factory, ns, arg string) ([]*corev1.Pod, *unstructured.Unstructured, error) {
	if !strings.Contains(arg, "/") {
		arg = "pods/" + arg
	}
	r, err := f.resolver()
	if err != nil {
		return nil, nil, err
	}
	ts, err := r.parseArgs([]string{arg})
	if err != nil {
		return nil, nil, err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, nil, err
	}
	t := ts[0]
	obj, err := resourceClient(dyn, t.mapping, ns).Get(ctx, t.names[0], metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	if obj.GetKind() == "Pod" {
		p, err := toPod(obj)
		if err != nil {
			return nil, obj, err
		}
		return []*corev1.Pod{p}, obj, nil
	}
	sel, err := selectorOf(obj)
	if err != nil {
		return nil, obj, err
	}
	l, err := dyn.Resource(gvrPods).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, obj, err
	}
	if len(l.Items) == 0 {
		return nil, obj, fmt.Errorf("no pods found for %s/%s", strings.ToLower(obj.GetKind()), obj.GetName())
	}
	pods := make([]*corev1.Pod, 0, len(l.Items))
	for i := range l.Items {
		p, err := toPod(&l.Items[i])
		if err != nil {
			return nil, obj, err
		}
		pods = append(pods, p)
	}
	sort.SliceStable(pods, func(i, j int) bool { return betterPod(pods[i], pods[j]) })
	return pods, obj, nil
}

func toPod(u *unstructured.Unstructured) (*corev1.Pod, error) {
	var p corev1.Pod
	return &p, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func betterPod(a, b *corev1.Pod) bool {
	ar, br := a.Status.Phase == corev1.PodRunning, b.Status.Phase == corev1.PodRunning
	if ar != br {
		return ar
	}
	if podReady(a) != podReady(b) {
		return podReady(a)
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}

// selectorOf is the pod selector of a workload or Service as a string.
func selectorOf(u *unstructured.Unstructured) (string, error) {
	switch u.GetKind() {
	case "Service", "ReplicationController":
		m, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector")
		if len(m) == 0 {
			return "", fmt.Errorf("%s %s has no selector", strings.ToLower(u.GetKind()), u.GetName())
		}
		return labelsString(m), nil
	}
	m, ok, _ := unstructured.NestedMap(u.Object, "spec", "selector")
	if !ok {
		return "", fmt.Errorf("cannot find the pods of a %s", u.GetKind())
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return "", err
	}
	s, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

// defaultContainer is kubectl's choice when -c is not given: the
// default-container annotation, else the first container, with a note on
// stderr when the pod has other containers (init and ephemeral included).
func defaultContainer(f *Factory, p *corev1.Pod, quiet bool) string {
	return defaultContainerTo(f.IO.ErrOut, p, quiet)
}

// defaultContainerTo is defaultContainer with its note written to w.
func defaultContainerTo(w io.Writer, p *corev1.Pod, quiet bool) string {
	if c := p.Annotations["kubectl.kubernetes.io/default-container"]; c != "" {
		for _, x := range p.Spec.Containers {
			if x.Name == c {
				return c
			}
		}
	}
	if len(p.Spec.Containers) == 0 {
		return ""
	}
	if !quiet && (len(p.Spec.Containers) > 1 || len(p.Spec.InitContainers) > 0 || len(p.Spec.EphemeralContainers) > 0) {
		fmt.Fprintf(w, "Defaulted container %q out of: %s\n", p.Spec.Containers[0].Name, allContainerNames(p))
	}
	return p.Spec.Containers[0].Name
}

// allContainerNames lists a pod's containers as kubectl names them in
// messages: regular, then ephemeral "(ephem)", then init "(init)".
func allContainerNames(p *corev1.Pod) string {
	var names []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.EphemeralContainers {
		names = append(names, c.Name+" (ephem)")
	}
	for _, c := range p.Spec.InitContainers {
		names = append(names, c.Name+" (init)")
	}
	return strings.Join(names, ", ")
}

// checkContainer is kubectl's error for a -c naming no container of the
// pod (regular, init or ephemeral).
func checkContainer(p *corev1.Pod, name string) error {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			return nil
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return nil
		}
	}
	for _, c := range p.Spec.EphemeralContainers {
		if c.Name == name {
			return nil
		}
	}
	return fmt.Errorf("container %s is not valid for pod %s out of: %s", name, p.Name, allContainerNames(p))
}

// findContainer is kubectl's FindOrDefaultContainerByName: name, else the
// default-container annotation, must be one of the pod's containers
// (regular, init or ephemeral); with neither, the first container, with
// the note on w when there are others.
func findContainer(w io.Writer, p *corev1.Pod, name string, quiet bool) (*corev1.Container, error) {
	if len(p.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod %s/%s does not have any containers", p.Namespace, p.Name)
	}
	if name == "" {
		name = p.Annotations["kubectl.kubernetes.io/default-container"]
	}
	if name == "" {
		defaultContainerTo(w, p, quiet)
		return &p.Spec.Containers[0], nil
	}
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i], nil
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Name == name {
			return &p.Spec.InitContainers[i], nil
		}
	}
	for i := range p.Spec.EphemeralContainers {
		if p.Spec.EphemeralContainers[i].Name == name {
			return (*corev1.Container)(&p.Spec.EphemeralContainers[i].EphemeralContainerCommon), nil
		}
	}
	return nil, fmt.Errorf("container %s is not valid for pod %s out of: %s", name, p.Name, allContainerNames(p))
}
