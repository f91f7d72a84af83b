package nodenet

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/netpol"
	"kserver.dev/kserver/internal/nft"
)

// PolicyInput is what NetworkPolicies are resolved against: every pod
// with an address (any node: peers) and every namespace (labels).
type PolicyInput struct {
	Pods       []*corev1.Pod
	Namespaces []*corev1.Namespace
	Node       string // this node: only its pods are isolated here
	V6         bool
}

// Policies resolves NetworkPolicies for this node (see docs/netpol.md):
// each policy's selected pods on this node, its policy types and its
// rules with peers turned into addresses and named ports into numbers.
// Policies selecting no pod of this node are left out.
func Policies(nps []*networkingv1.NetworkPolicy, in PolicyInput) []netpol.Policy {
	nsLabels := make(map[string]labels.Set, len(in.Namespaces))
	for _, ns := range in.Namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	var pods []*corev1.Pod
	for _, p := range in.Pods {
		if _, ok := podAddr(p, in.V6); ok {
			pods = append(pods, p)
		}
	}
	r := &resolver{pods: pods, ns: nsLabels, v6: in.V6}
	var out []netpol.Policy
	for _, np := range nps {
		if p, ok := r.policy(np, in.Node); ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b netpol.Policy) int {
		if a.Key() < b.Key() {
			return -1
		}
		if a.Key() > b.Key() {
			return 1
		}
		return 0
	})
	return out
}

type resolver struct {
	pods []*corev1.Pod
	ns   map[string]labels.Set
	v6   bool
}

// podAddr is a pod's address of the family, for pods that have one of
// their own: not hostNetwork, not finished.
func podAddr(p *corev1.Pod, v6 bool) (netip.Addr, bool) {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil && p.Status.PodIP == "" {
		return netip.Addr{}, false
	}
	ips := p.Status.PodIPs
	if len(ips) == 0 && p.Status.PodIP != "" {
		ips = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip.IP); err == nil && a.Is6() == v6 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (r *resolver) policy(np *networkingv1.NetworkPolicy, node string) (netpol.Policy, bool) {
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return netpol.Policy{}, false
	}
	var selected []*corev1.Pod
	p := netpol.Policy{Namespace: np.Namespace, Name: np.Name}
	for _, pod := range r.pods {
		if pod.Namespace == np.Namespace && pod.Spec.NodeName == node && sel.Matches(labels.Set(pod.Labels)) {
			a, _ := podAddr(pod, r.v6)
			p.Pods = append(p.Pods, a)
			selected = append(selected, pod)
		}
	}
	if len(p.Pods) == 0 {
		return netpol.Policy{}, false
	}
	sortAddrs(p.Pods) // the informer's order is random: keep results comparable
	types := np.Spec.PolicyTypes
	if len(types) == 0 { // as the API server defaults it
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	p.Ingress = slices.Contains(types, networkingv1.PolicyTypeIngress)
	p.Egress = slices.Contains(types, networkingv1.PolicyTypeEgress)
	if p.Ingress {
		for _, rule := range np.Spec.Ingress {
			// Named ports of ingress rules name ports of the selected pods.
			ports, ok := r.ports(rule.Ports, selected)
			p.IngressRules = append(p.IngressRules, rule2(r.peers(rule.From, np.Namespace), ports, ok))
		}
	}
	if p.Egress {
		for _, rule := range np.Spec.Egress {
			// Named ports of egress rules name ports of the peers.
			peers, peerPods := r.peersAndPods(rule.To, np.Namespace)
			ports, ok := r.ports(rule.Ports, peerPods)
			p.EgressRules = append(p.EgressRules, rule2(peers, ports, ok))
		}
	}
	return p, true
}

// rule2 builds a rule; one whose ports all failed to resolve allows
// nothing: it gets a single empty peer, which matches no address.
func rule2(peers []netpol.Peer, ports []netpol.Port, ok bool) netpol.Rule {
	if !ok {
		return netpol.Rule{Peers: []netpol.Peer{{}}}
	}
	return netpol.Rule{Peers: peers, Ports: ports}
}

func (r *resolver) peers(in []networkingv1.NetworkPolicyPeer, ns string) []netpol.Peer {
	out, _ := r.peersAndPods(in, ns)
	return out
}

// peersAndPods resolves from/to entries: an ipBlock as is, pod and
// namespace selectors to the addresses of the pods they select. A peer
// selecting no pod stays as an empty peer, which matches nothing (an
// empty list would mean everyone).
func (r *resolver) peersAndPods(in []networkingv1.NetworkPolicyPeer, ns string) ([]netpol.Peer, []*corev1.Pod) {
	var out []netpol.Peer
	var all []*corev1.Pod
	for _, peer := range in {
		if b := peer.IPBlock; b != nil {
			cidr, err := netip.ParsePrefix(b.CIDR)
			if err != nil || cidr.Addr().Is6() != r.v6 {
				out = append(out, netpol.Peer{})
				continue
			}
			np := netpol.Peer{CIDR: cidr.Masked()}
			for _, e := range b.Except {
				if x, err := netip.ParsePrefix(e); err == nil && x.Addr().Is6() == r.v6 && cidr.Contains(x.Addr()) && x.Bits() >= cidr.Bits() {
					np.Except = append(np.Except, x.Masked())
				}
			}
			out = append(out, np)
			continue
		}
		pods := r.selectPods(peer, ns)
		np := netpol.Peer{}
		for _, p := range pods {
			a, _ := podAddr(p, r.v6)
			np.IPs = append(np.IPs, a)
		}
		sortAddrs(np.IPs)
		out = append(out, np)
		all = append(all, pods...)
	}
	return out, all
}

// selectPods: podSelector alone selects in the policy's namespace;
// namespaceSelector alone every pod of the selected namespaces; both the
// matching pods of the selected namespaces.
func (r *resolver) selectPods(peer networkingv1.NetworkPolicyPeer, ns string) []*corev1.Pod {
	podSel, nsSel := labels.Everything(), labels.Nothing()
	var err error
	if peer.PodSelector != nil {
		if podSel, err = metav1.LabelSelectorAsSelector(peer.PodSelector); err != nil {
			return nil
		}
	}
	if peer.NamespaceSelector != nil {
		if nsSel, err = metav1.LabelSelectorAsSelector(peer.NamespaceSelector); err != nil {
			return nil
		}
	}
	var out []*corev1.Pod
	for _, p := range r.pods {
		inNS := p.Namespace == ns
		if peer.NamespaceSelector != nil {
			l, ok := r.ns[p.Namespace]
			inNS = ok && nsSel.Matches(l)
		}
		if inNS && podSel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// ports turns rule ports into numbers: a named port becomes the numbers
// that name has in the containers of pods (the selected pods for
// ingress, the peers for egress). It reports false when the rule listed
// ports and none of them resolved: the rule then allows nothing.
func (r *resolver) ports(in []networkingv1.NetworkPolicyPort, pods []*corev1.Pod) ([]netpol.Port, bool) {
	if len(in) == 0 {
		return nil, true
	}
	var out []netpol.Port
	for _, pt := range in {
		proto := nft.TCP
		if pt.Protocol != nil {
			var ok bool
			if proto, ok = protocol(*pt.Protocol); !ok {
				continue
			}
		}
		switch {
		case pt.Port == nil:
			out = append(out, netpol.Port{Protocol: proto})
		case pt.Port.Type == intstr.Int:
			p := netpol.Port{Protocol: proto, Port: uint16(pt.Port.IntVal)}
			if pt.EndPort != nil && *pt.EndPort > pt.Port.IntVal {
				p.EndPort = uint16(*pt.EndPort)
			}
			out = append(out, p)
		default:
			for _, n := range namedPort(pods, pt.Port.StrVal, proto) {
				out = append(out, netpol.Port{Protocol: proto, Port: n})
			}
		}
	}
	return out, len(out) > 0
}

func sortAddrs(as []netip.Addr) {
	slices.SortFunc(as, func(a, b netip.Addr) int { return a.Compare(b) })
}

func namedPort(pods []*corev1.Pod, name string, proto nft.Protocol) []uint16 {
	var out []uint16
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				cpProto, _ := protocol(cp.Protocol)
				if cp.Name == name && cpProto == proto && !slices.Contains(out, uint16(cp.ContainerPort)) {
					out = append(out, uint16(cp.ContainerPort))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
