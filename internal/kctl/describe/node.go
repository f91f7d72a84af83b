package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
)

var gvrLeases = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// nodeRoles is the ROLES rule of `get nodes`.
func nodeRoles(l map[string]string) []string {
	set := map[string]bool{}
	for k, v := range l {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			set[r] = true
		}
		if k == "kubernetes.io/role" && v != "" {
			set[v] = true
		}
	}
	return sortedKeys(set)
}

func describeNode(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	node, err := into[corev1.Node](u)
	if err != nil {
		return "", err
	}
	var lease *coordinationv1.Lease
	lu, leaseErr := d.Client.Resource(gvrLeases).Namespace("kube-node-lease").Get(ctx, node.Name, metav1.GetOptions{})
	if leaseErr == nil {
		lease, leaseErr = into[coordinationv1.Lease](lu)
	}
	pods, podErr := listTyped[corev1.Pod](ctx, d, gvrPods, "", metav1.ListOptions{
		FieldSelector: "spec.nodeName=" + node.Name + ",status.phase!=Succeeded,status.phase!=Failed"})
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", node.Name)
		w.Write(L0, "Roles:\t%s\n", joinOrNone(nodeRoles(node.Labels), ","))
		printLabels(w, "Labels", node.Labels, L0)
		printAnnotations(w, node.Annotations, L0)
		w.Write(L0, "CreationTimestamp:\t%s\n", timeString(node.CreationTimestamp))
		printMultiline(w, L0, "Taints", taintStrings(node.Spec.Taints))
		w.Write(L0, "Unschedulable:\t%v\n", node.Spec.Unschedulable)
		describeLease(w, lease, leaseErr)
		describeNodeConditions(w, node.Status.Conditions)
		w.Write(L0, "Addresses:\n")
		for _, a := range node.Status.Addresses {
			w.Write(L1, "%s:\t%s\n", a.Type, a.Address)
		}
		for _, part := range []struct {
			title string
			list  corev1.ResourceList
		}{{"Capacity", node.Status.Capacity}, {"Allocatable", node.Status.Allocatable}} {
			if len(part.list) > 0 {
				w.Write(L0, "%s:\n", part.title)
				for _, n := range resourceKeys(part.list) {
					q := part.list[n]
					w.Write(L1, "%s:\t%s\n", n, q.String())
				}
			}
		}
		ni := node.Status.NodeInfo
		w.Write(L0, "System Info:\n")
		w.Write(L1, "Machine ID:\t%s\n", ni.MachineID)
		w.Write(L1, "System UUID:\t%s\n", ni.SystemUUID)
		w.Write(L1, "Boot ID:\t%s\n", ni.BootID)
		w.Write(L1, "Kernel Version:\t%s\n", ni.KernelVersion)
		w.Write(L1, "OS Image:\t%s\n", ni.OSImage)
		w.Write(L1, "Operating System:\t%s\n", ni.OperatingSystem)
		w.Write(L1, "Architecture:\t%s\n", ni.Architecture)
		w.Write(L1, "Container Runtime Version:\t%s\n", ni.ContainerRuntimeVersion)
		w.Write(L1, "Kubelet Version:\t%s\n", ni.KubeletVersion)
		if node.Spec.PodCIDR != "" {
			w.Write(L0, "PodCIDR:\t%s\n", node.Spec.PodCIDR)
			w.Write(L0, "PodCIDRs:\t%s\n", strings.Join(node.Spec.PodCIDRs, ","))
		}
		if node.Spec.ProviderID != "" {
			w.Write(L0, "ProviderID:\t%s\n", node.Spec.ProviderID)
		}
		if podErr != nil {
			w.Write(L0, "Pods:\tnot authorized\n")
		} else {
			describeNodeResources(w, pods, node)
		}
		if d.ShowEvents {
			evs := d.events(ctx, u)
			byName := u.DeepCopy()
			byName.SetUID(k8stypes.UID(node.Name))
			evs = append(evs, d.events(ctx, byName)...)
			printEvents(w, evs)
		}
		return nil
	})
}

func describeLease(w *prefixWriter, lease *coordinationv1.Lease, err error) {
	if err != nil {
		w.Write(L0, "Lease:\tFailed to get lease: %s\n", err)
		return
	}
	w.Write(L0, "Lease:\n")
	holder := "<unset>"
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	w.Write(L1, "HolderIdentity:\t%s\n", holder)
	t := func(m *metav1.MicroTime) string {
		if m == nil {
			return "<unset>"
		}
		return timeString(metav1.Time{Time: m.Time})
	}
	w.Write(L1, "AcquireTime:\t%s\n", t(lease.Spec.AcquireTime))
	w.Write(L1, "RenewTime:\t%s\n", t(lease.Spec.RenewTime))
}

func describeNodeConditions(w *prefixWriter, conds []corev1.NodeCondition) {
	if len(conds) == 0 {
		return
	}
	w.Write(L0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
	w.Write(L1, "----\t------\t-----------------\t------------------\t------\t-------\n")
	for _, c := range conds {
		w.Write(L1, "%v \t%v \t%s \t%s \t%v \t%v\n", c.Type, c.Status, timeString(c.LastHeartbeatTime),
			timeString(c.LastTransitionTime), c.Reason, c.Message)
	}
}

// describeNodeResources writes the pods on the node with their requests
// and limits, then the totals against allocatable.
func describeNodeResources(w *prefixWriter, pods []corev1.Pod, node *corev1.Node) {
	alloc := node.Status.Allocatable
	if len(alloc) == 0 {
		alloc = node.Status.Capacity
	}
	pct := func(q resource.Quantity, name corev1.ResourceName) string {
		total, ok := alloc[name]
		if !ok || total.IsZero() {
			return fmt.Sprintf("%s (0%%)", q.String())
		}
		if name == corev1.ResourceCPU {
			return fmt.Sprintf("%s (%d%%)", q.String(), int64(float64(q.MilliValue())/float64(total.MilliValue())*100))
		}
		return fmt.Sprintf("%s (%d%%)", q.String(), int64(float64(q.Value())/float64(total.Value())*100))
	}
	w.Write(L0, "Non-terminated Pods:\t(%d in total)\n", len(pods))
	w.Write(L1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
	w.Write(L1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
	reqs, lims := corev1.ResourceList{}, corev1.ResourceList{}
	for _, p := range pods {
		r, l := podRequestsAndLimits(&p)
		addTo(reqs, r)
		addTo(lims, l)
		w.Write(L1, "%s\t%s\t\t%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name,
			pct(r[corev1.ResourceCPU], corev1.ResourceCPU), pct(l[corev1.ResourceCPU], corev1.ResourceCPU),
			pct(r[corev1.ResourceMemory], corev1.ResourceMemory), pct(l[corev1.ResourceMemory], corev1.ResourceMemory), since(p.CreationTimestamp))
	}
	w.Write(L0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
	w.Write(L1, "Resource\tRequests\tLimits\n")
	w.Write(L1, "--------\t--------\t------\n")
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		w.Write(L1, "%s\t%s\t%s\n", n, pct(reqs[n], n), pct(lims[n], n))
	}
	var extra []corev1.ResourceName
	for n := range node.Status.Capacity {
		if strings.HasPrefix(string(n), "hugepages-") {
			extra = append(extra, n)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	for _, n := range extra {
		w.Write(L1, "%s\t%s\t%s\n", n, pct(reqs[n], n), pct(lims[n], n))
	}
}

func podRequestsAndLimits(p *corev1.Pod) (corev1.ResourceList, corev1.ResourceList) {
	reqs, lims := corev1.ResourceList{}, corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		addTo(reqs, c.Resources.Requests)
		addTo(lims, c.Resources.Limits)
	}
	// An init container's request counts when it is larger than the sum.
	for _, c := range p.Spec.InitContainers {
		for n, q := range c.Resources.Requests {
			if cur, ok := reqs[n]; !ok || q.Cmp(cur) > 0 {
				reqs[n] = q.DeepCopy()
			}
		}
		for n, q := range c.Resources.Limits {
			if cur, ok := lims[n]; !ok || q.Cmp(cur) > 0 {
				lims[n] = q.DeepCopy()
			}
		}
	}
	return reqs, lims
}

func addTo(dst, src corev1.ResourceList) {
	for n, q := range src {
		cur := dst[n]
		cur.Add(q)
		dst[n] = cur
	}
}
