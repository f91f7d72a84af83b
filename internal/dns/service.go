package dns

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/client"
)

// The cluster DNS Service, named and labelled as k3s's CoreDNS Service is,
// so that tools looking for it (kubectl cluster-info prints "CoreDNS is
// running at …" from the kubernetes.io/cluster-service and
// kubernetes.io/name labels) find it.
const (
	ServiceNamespace = "kube-system"
	ServiceName      = "kube-dns"
)

// Service returns the kube-system/kube-dns Service for the cluster DNS
// addresses (--cluster-dns; two for dual stack). It has no selector: the
// DNS server is part of kserver on every node, not a pod, so no endpoints
// controller manages its endpoints.
func Service(clusterDNS []netip.Addr) *corev1.Service {
	ips := make([]string, len(clusterDNS))
	families := make([]corev1.IPFamily, len(clusterDNS))
	for i, a := range clusterDNS {
		ips[i], families[i] = a.String(), corev1.IPv4Protocol
		if a.Is6() && !a.Is4In6() {
			families[i] = corev1.IPv6Protocol
		}
	}
	local := corev1.ServiceInternalTrafficPolicyLocal
	policy := corev1.IPFamilyPolicySingleStack
	if len(ips) > 1 {
		policy = corev1.IPFamilyPolicyRequireDualStack
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ServiceName,
			Namespace: ServiceNamespace,
			Labels: map[string]string{
				"k8s-app":                       "kube-dns",
				"kubernetes.io/cluster-service": "true",
				"kubernetes.io/name":            "CoreDNS",
			},
		},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeClusterIP,
			IPFamilyPolicy: &policy,
			// Every node answers its own pods (see EndpointSlice).
			InternalTrafficPolicy: &local,
			IPFamilies:            families,
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Protocol: corev1.ProtocolTCP, Port: 9153, TargetPort: intstr.FromInt32(9153)},
			},
		},
	}
	if len(ips) > 0 {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ips[0], ips
	}
	return svc
}

// EnsureService makes kube-system/kube-dns match Service(clusterDNS):
// creates it when missing, replaces it when its ClusterIPs differ (they
// are immutable: --cluster-dns changed), and restores its labels and ports
// when they were edited. It is idempotent; the composition root calls it
// once the API server is ready.
func EnsureService(ctx context.Context, set *client.Set, clusterDNS []netip.Addr) error {
	if len(clusterDNS) == 0 {
		return fmt.Errorf("ensure service %s/%s: no cluster DNS address", ServiceNamespace, ServiceName)
	}
	want := Service(clusterDNS)
	svcs := set.Services(ServiceNamespace)
	cur, err := svcs.Get(ctx, ServiceName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return createService(ctx, set, want)
	case err != nil:
		return fmt.Errorf("get service %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	if !reflect.DeepEqual(cur.Spec.ClusterIPs, want.Spec.ClusterIPs) {
		pre := metav1.Preconditions{UID: &cur.UID}
		if err := svcs.Delete(ctx, ServiceName, metav1.DeleteOptions{Preconditions: &pre}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replace service %s/%s: delete: %w", ServiceNamespace, ServiceName, err)
		}
		return createService(ctx, set, want)
	}
	labelsOK := true
	for k, v := range want.Labels {
		labelsOK = labelsOK && cur.Labels[k] == v
	}
	itpOK := cur.Spec.InternalTrafficPolicy != nil && *cur.Spec.InternalTrafficPolicy == *want.Spec.InternalTrafficPolicy
	if labelsOK && itpOK && portsMatch(cur.Spec.Ports, want.Spec.Ports) {
		return nil
	}
	upd := cur.DeepCopy()
	if upd.Labels == nil {
		upd.Labels = map[string]string{}
	}
	maps.Copy(upd.Labels, want.Labels)
	upd.Spec.Ports, upd.Spec.InternalTrafficPolicy = want.Spec.Ports, want.Spec.InternalTrafficPolicy
	if _, err := svcs.Update(ctx, upd, metav1.UpdateOptions{FieldManager: "kserver"}); err != nil {
		return fmt.Errorf("update service %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	return nil
}

func createService(ctx context.Context, set *client.Set, svc *corev1.Service) error {
	_, err := set.Services(ServiceNamespace).Create(ctx, svc, metav1.CreateOptions{FieldManager: "kserver"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service %s/%s: %w", ServiceNamespace, ServiceName, err)
	}
	return nil
}

func portsMatch(have, want []corev1.ServicePort) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range want {
		h, w := have[i], want[i]
		if h.Name != w.Name || h.Protocol != w.Protocol || h.Port != w.Port || h.TargetPort != w.TargetPort {
			return false
		}
	}
	return true
}
