package kctl

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// podStatusReason is the STATUS word of `get pods` (the main cases of the
// server's printPod): a waiting or terminated container's reason, else the
// phase, or Terminating.
func podStatusReason(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for i, s := range p.Status.InitContainerStatuses {
		switch {
		case s.State.Terminated != nil && s.State.Terminated.ExitCode == 0:
			continue
		case s.State.Terminated != nil:
			return "Init:" + orDefault(s.State.Terminated.Reason, fmt.Sprintf("ExitCode:%d", s.State.Terminated.ExitCode))
		case s.State.Waiting != nil && s.State.Waiting.Reason != "" && s.State.Waiting.Reason != "PodInitializing":
			return "Init:" + s.State.Waiting.Reason
		default:
			return fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
	}
	for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
		s := p.Status.ContainerStatuses[i]
		switch {
		case s.State.Waiting != nil && s.State.Waiting.Reason != "":
			reason = s.State.Waiting.Reason
		case s.State.Terminated != nil && s.State.Terminated.Reason != "":
			reason = s.State.Terminated.Reason
		}
	}
	if p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		reason = "Terminating"
	}
	return reason
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func newWhyCommand(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "why KIND/NAME",
		Short: "Explain in plain words why a pod, deployment or service is not working, and what to try (kctl only)",
		Long: `Explain what is wrong with an object and what to try next:
  - a Pending pod: each node and the reason it was rejected (taints, nodeSelector, resources, cordoned);
  - a crash-looping pod: the last exit code, the last log lines, failing probes;
  - an image that cannot be pulled;
  - a Deployment whose rollout is stuck: which pods are not ready and why;
  - a Service without endpoints: its selector against the pods' labels and readiness.`,
		Args: needArgs(1, "KIND/NAME is required, e.g. kctl why pod/web-1"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			obj, err := getOne(cmd.Context(), f, ns, args)
			if err != nil {
				return err
			}
			w := &explainer{f: f, ctx: cmd.Context(), out: f.IO.Out}
			return w.explain(obj)
		},
	}
}

// explainer writes findings ("•") and suggestions ("→") for one object.
type explainer struct {
	f   *Factory
	ctx context.Context
	out io.Writer
}

func (e *explainer) say(format string, a ...any) { fmt.Fprintf(e.out, format+"\n", a...) }

func (e *explainer) explain(u *unstructured.Unstructured) error {
	switch u.GetKind() {
	case "Pod":
		p, err := toPod(u)
		if err != nil {
			return err
		}
		return e.pod(p, "")
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "Job":
		return e.workload(u)
	case "Service":
		return e.service(u)
	}
	e.say("%s/%s: kctl why knows pods, workloads and services. Conditions and warning events:", u.GetKind(), u.GetName())
	for _, c := range conditions(u) {
		e.say("  • %s=%s %s %s", c.typ, c.status, c.reason, c.message)
	}
	return e.warnings(u.GetNamespace(), u.GetName(), u.GetKind(), "  ")
}

func (e *explainer) pod(p *corev1.Pod, indent string) error {
	status := podStatusReason(p)
	e.say("%spod/%s is %s.", indent, p.Name, status)
	switch {
	case p.Spec.NodeName == "" && p.Status.Phase == corev1.PodPending:
		return e.unscheduled(p, indent)
	case strings.Contains(status, "ImagePull") || strings.Contains(status, "ErrImage") || status == "InvalidImageName":
		e.imagePull(p, indent)
	case strings.Contains(status, "CrashLoopBackOff") || status == "Error" || status == "OOMKilled":
		e.crashing(p, indent)
	case status == "CreateContainerConfigError":
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Waiting != nil {
				e.say("%s  • container %s: %s", indent, s.Name, s.State.Waiting.Message)
			}
		}
		e.say("%s  → a ConfigMap, Secret or key the pod refers to is missing; create it or fix the reference.", indent)
	case status == "Running" && !podReady(p):
		e.say("%s  • it runs but is not Ready, so Services send it no traffic.", indent)
		e.warnings(p.Namespace, p.Name, "", indent+"  ")
		e.say("%s  → check the readiness probe (`kctl describe pod %s`) against what the app really serves.", indent, p.Name)
	case status == "ContainerCreating" || status == "Pending":
		e.say("%s  • the node is still preparing it (pulling images, mounting volumes, setting up the network).", indent)
		e.warnings(p.Namespace, p.Name, "", indent+"  ")
	default:
		e.say("%s  • nothing looks wrong.", indent)
	}
	return nil
}

// unscheduled explains a pending pod node by node.
func (e *explainer) unscheduled(p *corev1.Pod, indent string) error {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Message != "" {
			e.say("%s  • the scheduler says: %s", indent, c.Message)
		}
	}
	dyn, err := e.f.Dynamic()
	if err != nil {
		return err
	}
	l, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).List(e.ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if len(l.Items) == 0 {
		e.say("%s  • the cluster has no nodes, so nothing can run it.", indent)
		e.say("%s  → start a node agent (`kserver server` runs one unless --disable-agent) and check `kctl get nodes`.", indent)
		return nil
	}
	fits := 0
	for i := range l.Items {
		var n corev1.Node
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(l.Items[i].Object, &n); err != nil {
			return err
		}
		reasons := e.nodeRejects(p, &n)
		if len(reasons) == 0 {
			fits++
			e.say("%s  • node %s: fits; the scheduler should place it there soon.", indent, n.Name)
			continue
		}
		e.say("%s  • node %s: %s", indent, n.Name, strings.Join(reasons, "; "))
	}
	if fits == 0 {
		e.say("%s  → fix one of the reasons above: add a toleration, change nodeSelector/affinity, lower requests, uncordon a node, or add a node.", indent)
	}
	return nil
}

// nodeRejects is the scheduler's filters, in plain words.
func (e *explainer) nodeRejects(p *corev1.Pod, n *corev1.Node) []string {
	var out []string
	if n.Spec.Unschedulable {
		out = append(out, "it is cordoned (`kctl uncordon "+n.Name+"`)")
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		out = append(out, "it is not Ready")
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for _, tol := range p.Spec.Tolerations {
			if tolerates(tol, t) {
				tolerated = true
			}
		}
		if !tolerated {
			out = append(out, fmt.Sprintf("taint %s is not tolerated by the pod", t.ToString()))
		}
	}
	if sel := labels.SelectorFromSet(p.Spec.NodeSelector); !sel.Matches(labels.Set(n.Labels)) {
		out = append(out, fmt.Sprintf("its labels do not match nodeSelector %s", labels.FormatLabels(p.Spec.NodeSelector)))
	}
	out = append(out, e.resourceShortfall(p, n)...)
	return out
}

func (e *explainer) resourceShortfall(p *corev1.Pod, n *corev1.Node) []string {
	want := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		addTo(want, c.Resources.Requests)
	}
	dyn, err := e.f.Dynamic()
	if err != nil {
		return nil
	}
	l, err := dyn.Resource(gvrPods).List(e.ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + n.Name})
	if err != nil {
		return nil
	}
	used := corev1.ResourceList{}
	for i := range l.Items {
		q, err := toPod(&l.Items[i])
		if err != nil || q.Spec.NodeName != n.Name || q.Status.Phase == corev1.PodSucceeded || q.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, c := range q.Spec.Containers {
			addTo(used, c.Resources.Requests)
		}
	}
	var out []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok := want[r]
		if !ok {
			continue
		}
		free := n.Status.Allocatable[r].DeepCopy()
		u := used[r]
		free.Sub(u)
		if free.Sign() < 0 {
			free = resource.Quantity{}
		}
		if free.Cmp(req) < 0 {
			out = append(out, fmt.Sprintf("not enough %s (the pod requests %s, %s is free)", r, req.String(), free.String()))
		}
	}
	return out
}

func addTo(dst, src corev1.ResourceList) {
	for k, v := range src {
		cur := dst[k]
		cur.Add(v)
		dst[k] = cur
	}
}

func (e *explainer) imagePull(p *corev1.Pod, indent string) {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil {
			e.say("%s  • container %s cannot get image %q: %s", indent, s.Name, s.Image, s.State.Waiting.Message)
		}
	}
	e.say("%s  → check the image name and tag (typos, a tag that does not exist), that the registry is reachable from the node,", indent)
	e.say("%s    and for a private registry an imagePullSecret (`kctl create secret docker-registry`).", indent)
}

func (e *explainer) crashing(p *corev1.Pod, indent string) {
	for _, s := range p.Status.ContainerStatuses {
		t := s.LastTerminationState.Terminated
		if t == nil {
			t = s.State.Terminated
		}
		if t == nil {
			continue
		}
		e.say("%s  • container %s has restarted %d times; it last exited with code %d (%s).", indent, s.Name, s.RestartCount, t.ExitCode, orDefault(t.Reason, "no reason given"))
		switch {
		case t.Reason == "OOMKilled" || t.ExitCode == 137:
			e.say("%s  → it ran out of memory or was killed: raise resources.limits.memory or fix the leak.", indent)
		case t.ExitCode == 1 || t.ExitCode == 2:
			e.say("%s  → the program itself failed; its last log lines below usually say why.", indent)
		case t.ExitCode == 126 || t.ExitCode == 127:
			e.say("%s  → the command could not be run (not found or not executable): check command/args and the image.", indent)
		}
		e.lastLogs(p, s.Name, indent)
	}
	e.warnings(p.Namespace, p.Name, "", indent+"  ")
}

func (e *explainer) lastLogs(p *corev1.Pod, container, indent string) {
	rc, err := e.f.REST()
	if err != nil {
		return
	}
	b, err := rc.Get().AbsPath("/api/v1/namespaces/"+p.Namespace+"/pods/"+p.Name+"/log").
		Param("container", container).Param("previous", "true").Param("tailLines", "5").Do(e.ctx).Raw()
	if err != nil || len(b) == 0 {
		return
	}
	e.say("%s  • last log lines of %s:", indent, container)
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		e.say("%s      %s", indent, line)
	}
}

// warnings prints the Warning events of an object, newest last.
func (e *explainer) warnings(ns, name, kind, indent string) error {
	dyn, err := e.f.Dynamic()
	if err != nil {
		return err
	}
	sel := "involvedObject.name=" + name + ",type=Warning"
	if kind != "" {
		sel += ",involvedObject.kind=" + kind
	}
	l, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace(ns).List(e.ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil // older servers may not support type=; events are a bonus
	}
	for _, ev := range l.Items {
		reason, _, _ := unstructured.NestedString(ev.Object, "reason")
		msg, _, _ := unstructured.NestedString(ev.Object, "message")
		e.say("%s• event %s: %s", indent, reason, strings.TrimSpace(msg))
	}
	return nil
}

// tolerates is the scheduler's toleration match.
func tolerates(tol corev1.Toleration, t corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key == "" {
		return tol.Operator == corev1.TolerationOpExists
	}
	if tol.Key != t.Key {
		return false
	}
	return tol.Operator == corev1.TolerationOpExists || tol.Value == t.Value
}
