package dns

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
)

// EndpointSliceName is the kube-dns EndpointSlice kserver manages; the
// label endpointslice.kubernetes.io/managed-by says who.
const (
	EndpointSliceName = ServiceName + "-nodes"
	ManagedBy         = "kserver"
)

// maxSliceEndpoints is the API's limit of endpoints in one EndpointSlice.
const maxSliceEndpoints = 1000

// NodeAddress is the address the DNS server of a node listens on: its
// InternalIP of the family (the node wiring listens there on port 53).
func NodeAddress(n *corev1.Node, v6 bool) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err == nil && ip.Is6() == v6 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// EndpointSlice lists one endpoint per node: its address and nodeName.
// With the Service's internalTrafficPolicy Local every node's proxy
// sends 10.43.0.10:53 to the DNS server of its own node only. Each
// endpoint is ready while its Node exists: only its own node uses it, and
// that node's proxy programs it only while its agent — and so its DNS
// server — runs, whatever the Ready condition says (a NotReady blip must
// not cut DNS for the pods still running there).
func EndpointSlice(nodes []*corev1.Node) *discoveryv1.EndpointSlice {
	eps := make([]discoveryv1.Endpoint, 0, len(nodes))
	for _, n := range nodes {
		ip, ok := NodeAddress(n, false)
		if !ok || n.DeletionTimestamp != nil {
			continue
		}
		eps = append(eps, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(n.Name),
		})
	}
	slices.SortFunc(eps, func(a, b discoveryv1.Endpoint) int { return strings.Compare(*a.NodeName, *b.NodeName) })
	if len(eps) > maxSliceEndpoints {
		eps = eps[:maxSliceEndpoints] // only (simulated) fleets get here; one slice is enough
	}
	port := func(name string, p corev1.Protocol, n int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: ptr.To(name), Protocol: ptr.To(p), Port: ptr.To(n)}
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name:      EndpointSliceName,
			Namespace: ServiceNamespace,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: ServiceName,
				discoveryv1.LabelManagedBy:   ManagedBy,
				"k8s-app":                    "kube-dns",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       []discoveryv1.EndpointPort{port("dns", corev1.ProtocolUDP, 53), port("dns-tcp", corev1.ProtocolTCP, 53), port("metrics", corev1.ProtocolTCP, 9153)},
	}
}

// EnsureEndpoints makes the kube-dns EndpointSlice list nodes (see
// EndpointSlice): created when missing, updated when it differs. cur is
// the slice as the caller's informer has it (nil when missing).
func EnsureEndpoints(ctx context.Context, set *client.Set, cur *discoveryv1.EndpointSlice, nodes []*corev1.Node) error {
	want := EndpointSlice(nodes)
	api := set.EndpointSlices(ServiceNamespace)
	if cur == nil {
		_, err := api.Create(ctx, want, metav1.CreateOptions{FieldManager: ManagedBy})
		if err == nil || !apierrors.IsAlreadyExists(err) {
			return wrapSlice("create", err)
		}
		if cur, err = api.Get(ctx, EndpointSliceName, metav1.GetOptions{}); err != nil {
			return wrapSlice("get", err)
		}
	}
	if sameSlice(cur, want) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Labels, upd.AddressType, upd.Endpoints, upd.Ports = want.Labels, want.AddressType, want.Endpoints, want.Ports
	_, err := api.Update(ctx, upd, metav1.UpdateOptions{FieldManager: ManagedBy})
	return wrapSlice("update", err)
}

func wrapSlice(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s endpointslice %s/%s: %w", op, ServiceNamespace, EndpointSliceName, err)
}

func sameSlice(a, b *discoveryv1.EndpointSlice) bool {
	for k, v := range b.Labels {
		if a.Labels[k] != v {
			return false
		}
	}
	if a.AddressType != b.AddressType || len(a.Endpoints) != len(b.Endpoints) || len(a.Ports) != len(b.Ports) {
		return false
	}
	for i, e := range b.Endpoints {
		o := a.Endpoints[i]
		if !slices.Equal(o.Addresses, e.Addresses) || ptr.Deref(o.NodeName, "") != *e.NodeName ||
			ptr.Deref(o.Conditions.Ready, false) != *e.Conditions.Ready || ptr.Deref(o.Conditions.Serving, false) != *e.Conditions.Serving ||
			ptr.Deref(o.Conditions.Terminating, true) != *e.Conditions.Terminating {
			return false
		}
	}
	for i, p := range b.Ports {
		o := a.Ports[i]
		if ptr.Deref(o.Name, "") != *p.Name || ptr.Deref(o.Protocol, "") != *p.Protocol || ptr.Deref(o.Port, 0) != *p.Port {
			return false
		}
	}
	return true
}

// RemoveService removes what EnsureService and EnsureEndpoints made, for
// a server started with --disable dns: the EndpointSlice when kserver
// manages it, and kube-dns when it is ours (no selector) — a kube-dns
// Service of a DNS the user deployed (CoreDNS pods, selected by labels)
// is left alone.
func RemoveService(ctx context.Context, set *client.Set) error {
	slices := set.EndpointSlices(ServiceNamespace)
	sl, err := slices.Get(ctx, EndpointSliceName, metav1.GetOptions{})
	if err == nil && sl.Labels[discoveryv1.LabelManagedBy] == ManagedBy {
		pre := metav1.Preconditions{UID: &sl.UID}
		err = slices.Delete(ctx, EndpointSliceName, metav1.DeleteOptions{Preconditions: &pre})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return wrapSlice("delete", err)
	}
	svcs := set.Services(ServiceNamespace)
	svc, err := svcs.Get(ctx, ServiceName, metav1.GetOptions{})
	if err == nil && len(svc.Spec.Selector) == 0 && svc.Labels["kubernetes.io/name"] == "CoreDNS" {
		pre := metav1.Preconditions{UID: &svc.UID}
		err = svcs.Delete(ctx, ServiceName, metav1.DeleteOptions{Preconditions: &pre})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete service %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	return nil
}
