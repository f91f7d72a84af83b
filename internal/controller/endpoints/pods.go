package endpoints

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ShouldPodBeInEndpoints reports whether pod is an endpoint at all: it has
// an IP, has not finished, and (unless includeTerminating) is not being
// deleted.
func ShouldPodBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// ShouldSetHostname reports whether the pod's hostname belongs in its
// endpoint: the pod names the Service as its subdomain.
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// IsPodReady reports the pod's Ready condition.
func IsPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// FindPort resolves a service port's targetPort on pod: a number is used
// as is (0 means the service port), a name is looked up among the pod's
// container ports of the same protocol.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, nil
		}
		return tp.IntVal, nil
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			for _, p := range c.Ports {
				pp := p.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if p.Name == tp.StrVal && pp == proto {
					return p.ContainerPort, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no suitable port for manifest: %s", pod.UID)
}

// PodIPs returns the pod's IPs (status.podIPs, or podIP for old writers).
func PodIPs(pod *corev1.Pod) []string {
	if len(pod.Status.PodIPs) > 0 {
		ips := make([]string, len(pod.Status.PodIPs))
		for i, ip := range pod.Status.PodIPs {
			ips[i] = ip.IP
		}
		return ips
	}
	if pod.Status.PodIP != "" {
		return []string{pod.Status.PodIP}
	}
	return nil
}

// ServiceFamily is the IP family a Service's endpoints use: that of its
// cluster IP, else its first ipFamilies entry, else "" (any).
func ServiceFamily(svc *corev1.Service) corev1.IPFamily {
	if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
		if a.Is4() {
			return corev1.IPv4Protocol
		}
		return corev1.IPv6Protocol
	}
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies[0]
	}
	return ""
}

// IPOfFamily returns the pod's first IP of family ("" for any).
func IPOfFamily(pod *corev1.Pod, family corev1.IPFamily) (string, bool) {
	for _, ip := range PodIPs(pod) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		if family == "" || (family == corev1.IPv4Protocol) == a.Unmap().Is4() {
			return ip, true
		}
	}
	return "", false
}

// TriggerTimeTracker computes the last-change-trigger-time annotation as
// upstream: the earliest trigger time (a pod's Ready transition, the
// Service's creation) that changed since the previous sync of the same
// object, or the Service's creation for an object synced the first time.
// It is safe for concurrent use with different keys.
type TriggerTimeTracker struct {
	mu     sync.Mutex
	states map[string]triggerState
}

type triggerState struct {
	service time.Time
	pods    map[string]time.Time
}

// NewTriggerTimeTracker returns an empty tracker.
func NewTriggerTimeTracker() *TriggerTimeTracker {
	return &TriggerTimeTracker{states: map[string]triggerState{}}
}

// Compute records the state seen for key and returns the time to export
// (zero: none).
func (t *TriggerTimeTracker) Compute(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	prev, known := t.states[key]
	t.mu.Unlock()
	var earliest time.Time
	changed := func(ts time.Time) {
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
	}
	next := triggerState{service: svc.CreationTimestamp.Time, pods: make(map[string]time.Time, len(pods))}
	for _, p := range pods {
		ts := podTriggerTime(p)
		if ts.IsZero() {
			continue
		}
		next.pods[p.Name] = ts
		if ts.After(prev.pods[p.Name]) {
			changed(ts)
		}
	}
	if next.service.After(prev.service) {
		changed(next.service)
	}
	t.mu.Lock()
	t.states[key] = next
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return earliest
}

// Forget drops what is known of key (its Service is gone).
func (t *TriggerTimeTracker) Forget(key string) {
	t.mu.Lock()
	delete(t.states, key)
	t.mu.Unlock()
}

func podTriggerTime(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
