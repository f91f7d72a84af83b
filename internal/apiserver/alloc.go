package apiserver

import (
	"fmt"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allocators hand out Service ClusterIPs from --service-cidr and NodePorts
// from --service-node-port-range. The state lives in memory and is rebuilt
// from the stored Services at start (load); the stored Services are the
// truth, so nothing extra is persisted.
type allocators struct {
	mu       sync.Mutex
	cidr     netip.Prefix
	dns      netip.Addr
	lo, hi   int
	ips      map[netip.Addr]string // → "namespace/name"
	ports    map[int]string
	nextIP   netip.Addr
	nextPort int
}

func newAllocators(cidr netip.Prefix, ports [2]int, dns netip.Addr) *allocators {
	if !cidr.IsValid() {
		cidr = netip.MustParsePrefix("10.43.0.0/16")
	}
	if ports[0] == 0 {
		ports = [2]int{30000, 32767}
	}
	a := &allocators{cidr: cidr.Masked(), dns: dns, lo: ports[0], hi: ports[1],
		ips: map[netip.Addr]string{}, ports: map[int]string{}}
	a.nextIP = a.cidr.Addr().Next().Next() // the first address is the kubernetes Service's
	a.nextPort = a.lo
	return a
}

// firstIP is the address of Service default/kubernetes.
func (a *allocators) firstIP() netip.Addr { return a.cidr.Addr().Next() }

// load records the allocations of existing Services.
func (a *allocators) load(svc *corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owner := svc.Namespace + "/" + svc.Name
	for _, s := range svc.Spec.ClusterIPs {
		if ip, err := netip.ParseAddr(s); err == nil {
			a.ips[ip] = owner
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			a.ports[int(p.NodePort)] = owner
		}
	}
}

// allocateService fills and reserves the ClusterIP and NodePorts svc needs
// (old is the stored Service on update, nil on create). release undoes
// what this call reserved.
func (a *allocators) allocateService(svc, old *corev1.Service, dryRun bool) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owner := svc.Namespace + "/" + svc.Name
	var gotIPs []netip.Addr
	var gotPorts []int
	undo := func() {
		for _, ip := range gotIPs {
			delete(a.ips, ip)
		}
		for _, p := range gotPorts {
			delete(a.ports, p)
		}
	}
	release := func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		undo()
	}
	var errs field.ErrorList
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		ip, fresh, err := a.clusterIP(svc, owner)
		if err != nil {
			errs = append(errs, err)
		} else {
			if fresh {
				gotIPs = append(gotIPs, ip)
			}
			svc.Spec.ClusterIP = ip.String()
			svc.Spec.ClusterIPs = []string{ip.String()}
			if len(svc.Spec.IPFamilies) == 0 {
				svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			}
			if svc.Spec.IPFamilyPolicy == nil {
				p := corev1.IPFamilyPolicySingleStack
				svc.Spec.IPFamilyPolicy = &p
			}
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for i := range svc.Spec.Ports {
			p, fresh, err := a.nodePort(svc.Spec.Ports[i].NodePort, owner, field.NewPath("spec", "ports").Index(i).Child("nodePort"))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if fresh {
				gotPorts = append(gotPorts, p)
			}
			svc.Spec.Ports[i].NodePort = int32(p)
		}
	}
	if len(errs) > 0 {
		undo()
		return nil, fieldErrors(errs)
	}
	return release, nil
}

func (a *allocators) clusterIP(svc *corev1.Service, owner string) (netip.Addr, bool, *field.Error) {
	if svc.Spec.ClusterIP != "" {
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		path := field.NewPath("spec", "clusterIPs")
		if err != nil {
			return ip, false, field.Invalid(path, []string{svc.Spec.ClusterIP}, "must be a valid IP address")
		}
		if !a.cidr.Contains(ip) || ip == a.cidr.Addr() {
			return ip, false, field.Invalid(path, []string{svc.Spec.ClusterIP},
				fmt.Sprintf("failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", ip, a.cidr))
		}
		if o, taken := a.ips[ip]; taken {
			if o == owner {
				return ip, false, nil
			}
			return ip, false, field.Invalid(path, []string{svc.Spec.ClusterIP},
				fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip))
		}
		a.ips[ip] = owner
		return ip, true, nil
	}
	start := a.nextIP
	for ip := start; ; {
		if _, taken := a.ips[ip]; !taken && ip != a.dns && ip != a.firstIP() {
			a.ips[ip] = owner
			a.nextIP = a.advance(ip)
			return ip, true, nil
		}
		ip = a.advance(ip)
		if ip == start {
			return ip, false, field.InternalError(field.NewPath("spec", "clusterIPs"), fmt.Errorf("failed to allocate a serviceIP: range is full"))
		}
	}
}

// advance steps to the next usable address of the range, wrapping around
// and skipping the network and broadcast addresses.
func (a *allocators) advance(ip netip.Addr) netip.Addr {
	n := ip.Next()
	if !a.cidr.Contains(n) || !a.cidr.Contains(n.Next()) {
		return a.cidr.Addr().Next()
	}
	return n
}

func (a *allocators) nodePort(want int32, owner string, path *field.Path) (int, bool, *field.Error) {
	if want != 0 {
		p := int(want)
		if p < a.lo || p > a.hi {
			return p, false, field.Invalid(path, want, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.lo, a.hi))
		}
		if o, taken := a.ports[p]; taken {
			if o == owner {
				return p, false, nil
			}
			return p, false, field.Invalid(path, want, "provided port is already allocated")
		}
		a.ports[p] = owner
		return p, true, nil
	}
	for i := 0; i <= a.hi-a.lo; i++ {
		p := a.lo + (a.nextPort-a.lo+i)%(a.hi-a.lo+1)
		if _, taken := a.ports[p]; !taken {
			a.ports[p] = owner
			a.nextPort = p + 1
			return p, true, nil
		}
	}
	return 0, false, field.InternalError(path, fmt.Errorf("range is full"))
}

// releaseService frees everything a deleted Service held.
func (a *allocators) releaseService(svc *corev1.Service) {
	a.releaseRemoved(svc, nil)
}

// releaseRemoved frees what old held and cur (nil: deleted) no longer does.
func (a *allocators) releaseRemoved(old, cur *corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	owner := old.Namespace + "/" + old.Name
	keepIP := map[string]bool{}
	keepPort := map[int32]bool{}
	if cur != nil {
		for _, s := range cur.Spec.ClusterIPs {
			keepIP[s] = true
		}
		for _, p := range cur.Spec.Ports {
			keepPort[p.NodePort] = true
		}
	}
	for _, s := range old.Spec.ClusterIPs {
		if ip, err := netip.ParseAddr(s); err == nil && !keepIP[s] && a.ips[ip] == owner {
			delete(a.ips, ip)
		}
	}
	for _, p := range old.Spec.Ports {
		if p.NodePort != 0 && !keepPort[p.NodePort] && a.ports[int(p.NodePort)] == owner {
			delete(a.ports, int(p.NodePort))
		}
	}
}

// fieldErrors carries validation errors from a hook; the caller turns them
// into a 422 on the object.
type fieldErrors field.ErrorList

func (f fieldErrors) Error() string { return field.ErrorList(f).ToAggregate().Error() }
