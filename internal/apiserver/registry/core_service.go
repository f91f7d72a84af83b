package registry

import (
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// serviceStrategy is upstream's Service behaviour that needs no cluster
// state: SetDefaults_Service, IP family defaults for a single-stack IPv4
// cluster, keeping allocated values on update (patchAllocatedValues),
// validation and printService. ClusterIP/NodePort allocation is the
// handlers'.
func serviceStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true,
		nameFn:        apivalidation.NameIsDNS1035Label,
		defaults:      func(obj runtime.Object) { ifType(obj, defaultService) },
		prepareCreate: func(obj runtime.Object) { ifType(obj, prepareServiceForCreate) },
		prepareUpdate: func(obj, old runtime.Object) {
			s, ok1 := obj.(*corev1.Service)
			o, ok2 := old.(*corev1.Service)
			if ok1 && ok2 {
				patchAllocatedValues(s, o)
			}
		},
		validate: func(obj runtime.Object) field.ErrorList {
			if s, ok := obj.(*corev1.Service); ok {
				return validateServiceSpec(s)
			}
			return nil
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, ok1 := obj.(*corev1.Service)
			o, ok2 := old.(*corev1.Service)
			if !ok1 || !ok2 {
				return nil
			}
			return validateServiceUpdate(s, o)
		},
		columns: nameColumn().
			add("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]).
			add("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]).
			add("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]).
			add("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]).
			age().
			wide("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
		row:    serviceRow,
		fields: serviceFields,
	}
}

// ifType calls f when obj is a *T.
func ifType[T any](obj runtime.Object, f func(*T)) {
	if t, ok := any(obj).(*T); ok {
		f(t)
	}
}

func defaultService(s *corev1.Service) {
	spec := &s.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if c := spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{
				TimeoutSeconds: ptr.To(corev1.DefaultClientIPServiceAffinitySeconds)}}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	external := spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeNodePort ||
		(spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) > 0)
	if external && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil && spec.Type != corev1.ServiceTypeExternalName {
		spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		spec.AllocateLoadBalancerNodePorts = ptr.To(true)
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		for i := range s.Status.LoadBalancer.Ingress {
			if ing := &s.Status.LoadBalancer.Ingress[i]; ing.IP != "" && ing.IPMode == nil {
				ing.IPMode = ptr.To(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
}

// prepareServiceForCreate keeps clusterIP and clusterIPs in step and sets
// the IP families of a single-stack IPv4 cluster when the client left them
// out: SingleStack, or RequireDualStack for a headless service without a
// selector, with the family of a requested clusterIP or IPv4.
func prepareServiceForCreate(s *corev1.Service) {
	spec := &s.Spec
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	} else if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	headless := spec.ClusterIP == corev1.ClusterIPNone
	if spec.IPFamilyPolicy == nil {
		policy := corev1.IPFamilyPolicySingleStack
		if headless && len(spec.Selector) == 0 {
			policy = corev1.IPFamilyPolicyRequireDualStack
		}
		spec.IPFamilyPolicy = &policy
	}
	if len(spec.IPFamilies) == 0 {
		family := corev1.IPv4Protocol
		if ip := net.ParseIP(spec.ClusterIP); ip != nil && ip.To4() == nil {
			family = corev1.IPv6Protocol
		}
		spec.IPFamilies = []corev1.IPFamily{family}
	}
}

// patchAllocatedValues keeps what was allocated when an update leaves it
// out (kubectl apply of a manifest without clusterIP or nodePort).
func patchAllocatedValues(s, old *corev1.Service) {
	if s.Spec.Type != corev1.ServiceTypeExternalName && old.Spec.Type != corev1.ServiceTypeExternalName {
		if s.Spec.ClusterIP == "" {
			s.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(s.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			s.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
		if s.Spec.IPFamilyPolicy == nil {
			s.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		}
		if len(s.Spec.IPFamilies) == 0 {
			s.Spec.IPFamilies = old.Spec.IPFamilies
		}
	}
	if needsNodePort(s) && needsNodePort(old) {
		used := sets.New[int32]()
		oldUsed := sets.New[int32]()
		for _, p := range old.Spec.Ports {
			oldUsed.Insert(p.NodePort)
		}
		for _, p := range s.Spec.Ports {
			if oldUsed.Has(p.NodePort) {
				used.Insert(p.NodePort)
			}
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range s.Spec.Ports {
			if p := &s.Spec.Ports[i]; p.NodePort == 0 && !used.Has(byName[p.Name]) {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if s.Spec.HealthCheckNodePort == 0 && old.Spec.HealthCheckNodePort != 0 &&
		s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		s.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

func needsNodePort(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeNodePort ||
		(s.Spec.Type == corev1.ServiceTypeLoadBalancer && (s.Spec.AllocateLoadBalancerNodePorts == nil || *s.Spec.AllocateLoadBalancerNodePorts))
}

func validateServiceSpec(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	spec := &s.Spec
	errs = append(errs, validateEnum(string(spec.Type), sp.Child("type"), string(corev1.ServiceTypeClusterIP),
		string(corev1.ServiceTypeExternalName), string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeNodePort))...)
	errs = append(errs, validateEnum(string(spec.SessionAffinity), sp.Child("sessionAffinity"),
		string(corev1.ServiceAffinityClientIP), string(corev1.ServiceAffinityNone))...)
	headless := spec.ClusterIP == corev1.ClusterIPNone
	if spec.Type == corev1.ServiceTypeExternalName {
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(sp.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		cleaned := strings.TrimSuffix(spec.ExternalName, ".")
		if cleaned == "" {
			errs = append(errs, field.Required(sp.Child("externalName"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(cleaned) {
				errs = append(errs, field.Invalid(sp.Child("externalName"), spec.ExternalName, msg))
			}
		}
	} else if len(spec.Ports) == 0 && !headless {
		errs = append(errs, field.Required(sp.Child("ports"), ""))
	}
	if spec.ClusterIP != "" && !headless && net.ParseIP(spec.ClusterIP) == nil {
		errs = append(errs, field.Invalid(sp.Child("clusterIPs").Index(0), spec.ClusterIP,
			"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
	}
	errs = append(errs, validateServicePorts(spec, sp.Child("ports"))...)
	errs = append(errs, metav1validation.ValidateLabels(spec.Selector, sp.Child("selector"))...)
	for i, ip := range spec.ExternalIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, field.Invalid(sp.Child("externalIPs").Index(i), ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
		}
	}
	return errs
}

func validateServicePorts(spec *corev1.ServiceSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range spec.Ports {
		ip := p.Index(i)
		if len(spec.Ports) > 1 && port.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else if port.Name != "" {
			errs = append(errs, dns1123Label(port.Name, ip.Child("name"))...)
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		for _, msg := range validation.IsValidPortNum(int(port.Port)) {
			errs = append(errs, field.Invalid(ip.Child("port"), port.Port, msg))
		}
		errs = append(errs, validateEnum(string(port.Protocol), ip.Child("protocol"),
			string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP))...)
		errs = append(errs, validatePortNumOrName(port.TargetPort, ip.Child("targetPort"))...)
		if port.NodePort != 0 {
			if spec.Type == corev1.ServiceTypeClusterIP || spec.Type == corev1.ServiceTypeExternalName {
				errs = append(errs, field.Forbidden(ip.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
			} else {
				for _, msg := range validation.IsValidPortNum(int(port.NodePort)) {
					errs = append(errs, field.Invalid(ip.Child("nodePort"), port.NodePort, msg))
				}
			}
		}
	}
	return errs
}

func validateServiceUpdate(s, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	changingType := (s.Spec.Type == corev1.ServiceTypeExternalName) != (old.Spec.Type == corev1.ServiceTypeExternalName)
	if !changingType && len(old.Spec.ClusterIPs) > 0 && len(s.Spec.ClusterIPs) > 0 && old.Spec.ClusterIPs[0] != s.Spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), s.Spec.ClusterIPs, "may not change once set"))
	}
	return errs
}

func serviceRow(obj runtime.Object, now time.Time) ([]any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return nil, fmt.Errorf("print service: unexpected %T", obj)
	}
	clusterIP := "<none>"
	if len(s.Spec.ClusterIPs) > 0 {
		clusterIP = s.Spec.ClusterIPs[0]
	}
	ports := "<none>"
	if len(s.Spec.Ports) > 0 {
		parts := make([]string, 0, len(s.Spec.Ports))
		for _, p := range s.Spec.Ports {
			if p.NodePort > 0 {
				parts = append(parts, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
			} else {
				parts = append(parts, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
			}
		}
		ports = strings.Join(parts, ",")
	}
	return []any{s.Name, string(s.Spec.Type), clusterIP, serviceExternalIP(s), ports, ageOf(s, now), formatLabels(s.Spec.Selector)}, nil
}

func serviceExternalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		lb := loadBalancerIPs(s.Status.LoadBalancer.Ingress)
		all := append(lb, s.Spec.ExternalIPs...)
		if len(all) == 0 {
			return "<pending>"
		}
		return strings.Join(all, ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

// loadBalancerIPs is the sorted set of ingress IPs (hostname when no IP).
func loadBalancerIPs(ingress []corev1.LoadBalancerIngress) []string {
	var v []string
	for _, i := range ingress {
		if i.IP != "" {
			v = append(v, i.IP)
		} else if i.Hostname != "" {
			v = append(v, i.Hostname)
		}
	}
	return sortedSet(v)
}
