package kctl

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// treeChildren are the kinds searched for owned objects.
var treeChildren = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Group: "apps", Version: "v1", Resource: "controllerrevisions"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Version: "v1", Resource: "pods"},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
}

// treeNode is one object in an ownership tree.
type treeNode struct {
	obj      *unstructured.Unstructured
	children []*treeNode
}

func newTreeCommand(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "tree KIND/NAME",
		Short: "Show the objects a resource owns, as a tree with their status (kctl only)",
		Long: `Show the ownership tree of an object: a Deployment owns ReplicaSets, which own Pods;
a CronJob owns Jobs, which own Pods; a Service owns EndpointSlices. Each line shows
readiness and status, so you can see at a glance which layer is stuck.`,
		Args: needArgs(1, "KIND/NAME is required, e.g. kctl tree deployment/web"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			root, err := getOne(cmd.Context(), f, ns, args)
			if err != nil {
				return err
			}
			tree, err := buildTree(cmd.Context(), f, root)
			if err != nil {
				return err
			}
			return printTree(f.IO.Out, tree)
		},
	}
}

// getOne resolves `KIND/NAME` or `KIND NAME` to the live object.
func getOne(ctx context.Context, f *Factory, ns string, args []string) (*unstructured.Unstructured, error) {
	r, err := f.resolver()
	if err != nil {
		return nil, err
	}
	ts, err := r.parseArgs(args)
	if err != nil {
		return nil, err
	}
	if len(ts) != 1 || len(ts[0].names) != 1 {
		return nil, fmt.Errorf("name exactly one object, e.g. deployment/web")
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	return resourceClient(dyn, ts[0].mapping, ns).Get(ctx, ts[0].names[0], metav1.GetOptions{})
}

// buildTree lists the candidate child kinds in the object's namespace
// once and links objects by their owner references.
func buildTree(ctx context.Context, f *Factory, root *unstructured.Unstructured) (*treeNode, error) {
	dyn, err := f.Dynamic()
	if err != nil {
		return nil, err
	}
	byOwner := map[types.UID][]*unstructured.Unstructured{}
	for _, gvr := range treeChildren {
		l, err := dyn.Resource(gvr).Namespace(root.GetNamespace()).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // a kind the server does not serve
		}
		for i := range l.Items {
			it := &l.Items[i]
			for _, ref := range it.GetOwnerReferences() {
				byOwner[ref.UID] = append(byOwner[ref.UID], it)
			}
		}
	}
	var link func(u *unstructured.Unstructured, depth int) *treeNode
	link = func(u *unstructured.Unstructured, depth int) *treeNode {
		n := &treeNode{obj: u}
		kids := byOwner[u.GetUID()]
		sort.Slice(kids, func(i, j int) bool {
			if kids[i].GetKind() != kids[j].GetKind() {
				return kids[i].GetKind() > kids[j].GetKind()
			}
			return kids[i].GetName() < kids[j].GetName()
		})
		for _, k := range kids {
			if depth < 8 {
				n.children = append(n.children, link(k, depth+1))
			}
		}
		return n
	}
	return link(root, 0), nil
}

func printTree(w io.Writer, t *treeNode) error {
	tw := newGetTabWriter(w)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tAGE")
	var walk func(n *treeNode, prefix, branch string)
	walk = func(n *treeNode, prefix, branch string) {
		ready, status := objectHealth(n.obj)
		fmt.Fprintf(tw, "%s%s%s/%s\t%s\t%s\t%s\n", prefix, branch, n.obj.GetKind(), n.obj.GetName(), ready, status, humanAge(n.obj.GetCreationTimestamp()))
		childPrefix := prefix
		switch branch {
		case "├─":
			childPrefix += "│ "
		case "└─":
			childPrefix += "  "
		}
		for i, c := range n.children {
			b := "├─"
			if i == len(n.children)-1 {
				b = "└─"
			}
			walk(c, childPrefix, b)
		}
	}
	walk(t, "", "")
	return tw.Flush()
}

// objectHealth is a READY and STATUS summary for the tree.
func objectHealth(u *unstructured.Unstructured) (string, string) {
	get := func(path ...string) int64 { v, _, _ := unstructured.NestedInt64(u.Object, path...); return v }
	switch u.GetKind() {
	case "Pod":
		p, err := toPod(u)
		if err != nil {
			return "-", "?"
		}
		ready := 0
		for _, c := range p.Status.ContainerStatuses {
			if c.Ready {
				ready++
			}
		}
		return fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), podStatusReason(p)
	case "Deployment", "ReplicaSet", "StatefulSet", "ReplicationController":
		want, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		if !ok {
			want = 1
		}
		return fmt.Sprintf("%d/%d", get("status", "readyReplicas"), want), "-"
	case "DaemonSet":
		return fmt.Sprintf("%d/%d", get("status", "numberReady"), get("status", "desiredNumberScheduled")), "-"
	case "Job":
		for _, c := range conditions(u) {
			if c.status == "True" && (c.typ == "Complete" || c.typ == "Failed") {
				return "-", c.typ
			}
		}
		return "-", "Running"
	}
	return "-", "-"
}

type cond struct{ typ, status, reason, message string }

func conditions(u *unstructured.Unstructured) []cond {
	cs, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []cond
	for _, c := range cs {
		m, _ := c.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		out = append(out, cond{s("type"), s("status"), s("reason"), s("message")})
	}
	return out
}
