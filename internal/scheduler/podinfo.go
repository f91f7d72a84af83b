package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
)

// podInfo is what scheduling needs from a pod, parsed once: its requests,
// host ports, priority and (anti-)affinity terms. The pod is the informer's
// object and is never modified.
type podInfo struct {
	pod      *corev1.Pod
	uid      types.UID
	nodeName string // the node it runs on or is assumed on ("" while pending)
	priority int32

	req           resources
	nonZeroCPU    int64
	nonZeroMemory int64
	ports         []hostPort

	requiredAffinity      []affinityTerm
	requiredAntiAffinity  []affinityTerm
	preferredAffinity     []weightedTerm
	preferredAntiAffinity []weightedTerm
	// parseErr records an invalid label selector in an affinity term; the
	// pod is then unschedulable with that error, as upstream.
	parseErr error
}

// hostPort is one host port a pod asks for.
type hostPort struct {
	ip       string // "0.0.0.0" for all addresses
	protocol corev1.Protocol
	port     int32
}

// affinityTerm is a parsed PodAffinityTerm.
type affinityTerm struct {
	namespaces  []string
	nsSelector  labels.Selector // nil when the term has none
	selector    labels.Selector
	topologyKey string
	// anyNamespace: an empty namespace selector, which selects every namespace.
	anyNamespace bool
}

type weightedTerm struct {
	affinityTerm
	weight int32
}

// newPodInfo parses pod. priority is the pod's resolved priority.
func newPodInfo(pod *corev1.Pod, priority int32) *podInfo {
	pi := &podInfo{pod: pod, uid: pod.UID, nodeName: pod.Spec.NodeName, priority: priority}
	pi.req, pi.nonZeroCPU, pi.nonZeroMemory = podRequests(pod)
	pi.ports = podHostPorts(pod)
	if a := pod.Spec.Affinity; a != nil {
		var errs []error
		if a.PodAffinity != nil {
			pi.requiredAffinity = parseTerms(pod, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, &errs)
			pi.preferredAffinity = parseWeighted(pod, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution, &errs)
		}
		if a.PodAntiAffinity != nil {
			pi.requiredAntiAffinity = parseTerms(pod, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, &errs)
			pi.preferredAntiAffinity = parseWeighted(pod, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, &errs)
		}
		if len(errs) > 0 {
			pi.parseErr = errs[0]
		}
	}
	return pi
}

// withNode returns a shallow copy of pi placed on node: the assumed pod.
func (pi *podInfo) withNode(node string) *podInfo {
	c := *pi
	c.nodeName = node
	return &c
}

func (pi *podInfo) hasAffinity() bool {
	return len(pi.requiredAffinity)+len(pi.requiredAntiAffinity)+len(pi.preferredAffinity)+len(pi.preferredAntiAffinity) > 0
}

func (pi *podInfo) terminating() bool { return pi.pod.DeletionTimestamp != nil }

// podHostPorts lists the host ports of the pod's containers (sidecars
// included), defaulting the address and protocol as upstream.
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container, sidecarsOnly bool) {
		for i := range cs {
			if sidecarsOnly && (cs[i].RestartPolicy == nil || *cs[i].RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
				if hp.ip == "" {
					hp.ip = "0.0.0.0"
				}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers, true)
	add(pod.Spec.Containers, false)
	return out
}

// conflicts reports whether two host ports cannot both be bound: same
// protocol and port, and the same address or either on all addresses.
func (p hostPort) conflicts(q hostPort) bool {
	if p.port != q.port || p.protocol != q.protocol {
		return false
	}
	return p.ip == q.ip || p.ip == "0.0.0.0" || q.ip == "0.0.0.0"
}

func parseTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm, errs *[]error) []affinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		out = append(out, t)
	}
	return out
}

func parseWeighted(pod *corev1.Pod, terms []corev1.WeightedPodAffinityTerm, errs *[]error) []weightedTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]weightedTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		out = append(out, weightedTerm{affinityTerm: t, weight: terms[i].Weight})
	}
	return out
}

// newAffinityTerm parses a term; matchLabelKeys and mismatchLabelKeys are
// merged into its selector with the pod's own label values, as the API
// server does for upstream (merging again is harmless).
func newAffinityTerm(pod *corev1.Pod, term *corev1.PodAffinityTerm) (affinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return affinityTerm{}, fmt.Errorf("invalid label selector in pod affinity term: %w", err)
	}
	if sel, err = withLabelKeys(sel, pod.Labels, term.MatchLabelKeys, selection.In); err != nil {
		return affinityTerm{}, err
	}
	if sel, err = withLabelKeys(sel, pod.Labels, term.MismatchLabelKeys, selection.NotIn); err != nil {
		return affinityTerm{}, err
	}
	t := affinityTerm{selector: sel, topologyKey: term.TopologyKey, namespaces: term.Namespaces}
	if ns := term.NamespaceSelector; ns != nil {
		if len(ns.MatchLabels) == 0 && len(ns.MatchExpressions) == 0 {
			t.anyNamespace = true
		} else if t.nsSelector, err = metav1.LabelSelectorAsSelector(ns); err != nil {
			return affinityTerm{}, fmt.Errorf("invalid namespace selector in pod affinity term: %w", err)
		}
	}
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		t.namespaces = []string{pod.Namespace}
	}
	return t, nil
}

// withLabelKeys adds "key op (the pod's value of key)" for each key the pod
// has; a term with a nil selector matches nothing and stays so.
func withLabelKeys(sel labels.Selector, podLabels map[string]string, keys []string, op selection.Operator) (labels.Selector, error) {
	for _, k := range keys {
		v, ok := podLabels[k]
		if !ok {
			continue
		}
		r, err := labels.NewRequirement(k, op, []string{v})
		if err != nil {
			return nil, fmt.Errorf("invalid label key %q in pod affinity term: %w", k, err)
		}
		sel = sel.Add(*r)
	}
	return sel, nil
}

// nsLabeler gives the labels of a namespace (nil when unknown).
type nsLabeler func(namespace string) labels.Set

// matches reports whether pod is selected by the term; nsLabels is asked
// for the pod's namespace labels only when the term has a namespace
// selector.
func (t *affinityTerm) matches(pod *corev1.Pod, nsLabels nsLabeler) bool {
	if !t.inNamespace(pod.Namespace, nsLabels) {
		return false
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

func (t *affinityTerm) inNamespace(ns string, nsLabels nsLabeler) bool {
	for _, n := range t.namespaces {
		if n == ns {
			return true
		}
	}
	if t.anyNamespace {
		return true
	}
	if t.nsSelector == nil || nsLabels == nil {
		return false
	}
	return t.nsSelector.Matches(nsLabels(ns))
}
