package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Strategies of the named resources outside core, apps, batch and
// autoscaling: networking, policy, rbac, coordination, scheduling,
// discovery and certificates. Printers as upstream's printIngress,
// printNetworkPolicy, printPodDisruptionBudget, printRoleBinding, ….

// row adapts a typed printer to the strategy's row function.
func row[T any](kind string, f func(*T, time.Time) []any) func(runtime.Object, time.Time) ([]any, error) {
	return func(obj runtime.Object, now time.Time) ([]any, error) {
		t, ok := any(obj).(*T)
		if !ok {
			return nil, fmt.Errorf("print %s: unexpected %T", kind, obj)
		}
		return f(t, now), nil
	}
}

func ingressStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		validate: validateIngress,
		columns: nameColumn().
			add("Class", "string", "The name of the IngressClass resource that should be used for additional configuration").
			add("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule").
			add("Address", "string", "Address is a list containing ingress points for the load-balancer").
			add("Ports", "string", "Ports of TLS configurations that open").
			age(),
		row: row("ingress", func(in *networkingv1.Ingress, now time.Time) []any {
			class := "<none>"
			if in.Spec.IngressClassName != nil {
				class = *in.Spec.IngressClassName
			}
			var hosts []string
			for i, r := range in.Spec.Rules {
				if i < 3 && r.Host != "" {
					hosts = append(hosts, r.Host)
				}
			}
			hostCell := "*"
			if len(hosts) > 0 {
				hostCell = strings.Join(hosts, ",")
				if len(in.Spec.Rules) > 3 {
					hostCell += fmt.Sprintf(" + %d more...", len(in.Spec.Rules)-3)
				}
			}
			var addrs []string
			for _, i := range in.Status.LoadBalancer.Ingress {
				if i.IP != "" {
					addrs = append(addrs, i.IP)
				} else if i.Hostname != "" {
					addrs = append(addrs, i.Hostname)
				}
			}
			ports := "80"
			if len(in.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []any{in.Name, class, hostCell, strings.Join(sortedSet(addrs), ","), ports, ageOf(in, now)}
		}),
	}
}

func ingressClassStrategy() *typeStrategy {
	return &typeStrategy{
		generation: true,
		columns: nameColumn().
			add("Controller", "string", "Controller that is responsible for handling this class").
			add("Parameters", "string", "A reference to a resource with additional parameters").
			age(),
		row: row("ingressclass", func(c *networkingv1.IngressClass, now time.Time) []any {
			params := "<none>"
			if p := c.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []any{c.Name, c.Spec.Controller, params, ageOf(c, now)}
		}),
	}
}

func networkPolicyStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, generation: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(np *networkingv1.NetworkPolicy) {
				for i := range np.Spec.Ingress {
					defaultNetpolPorts(np.Spec.Ingress[i].Ports)
				}
				for i := range np.Spec.Egress {
					defaultNetpolPorts(np.Spec.Egress[i].Ports)
				}
				if len(np.Spec.PolicyTypes) == 0 {
					np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
					if len(np.Spec.Egress) > 0 {
						np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
					}
				}
			})
		},
		columns: nameColumn().add("Pod-Selector", "string", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]).age(),
		row: row("networkpolicy", func(np *networkingv1.NetworkPolicy, now time.Time) []any {
			return []any{np.Name, formatSelector(&np.Spec.PodSelector), ageOf(np, now)}
		}),
	}
}

func defaultNetpolPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			ports[i].Protocol = ptr.To(corev1ProtocolTCP)
		}
	}
}

func pdbStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true, status: true, generation: true,
		validate: func(obj runtime.Object) field.ErrorList {
			pdb, ok := obj.(*policyv1.PodDisruptionBudget)
			if !ok || pdb.Spec.MinAvailable == nil || pdb.Spec.MaxUnavailable == nil {
				return nil
			}
			return field.ErrorList{field.Invalid(field.NewPath("spec"), pdb.Spec, "minAvailable and maxUnavailable cannot be both set")}
		},
		columns: nameColumn().
			add("Min Available", "string", policyv1.PodDisruptionBudgetSpec{}.SwaggerDoc()["minAvailable"]).
			add("Max Unavailable", "string", policyv1.PodDisruptionBudgetSpec{}.SwaggerDoc()["maxUnavailable"]).
			add("Allowed Disruptions", "integer", policyv1.PodDisruptionBudgetStatus{}.SwaggerDoc()["disruptionsAllowed"]).
			age(),
		row: row("poddisruptionbudget", func(p *policyv1.PodDisruptionBudget, now time.Time) []any {
			minA, maxU := "N/A", "N/A"
			if p.Spec.MinAvailable != nil {
				minA = p.Spec.MinAvailable.String()
			}
			if p.Spec.MaxUnavailable != nil {
				maxU = p.Spec.MaxUnavailable.String()
			}
			return []any{p.Name, minA, maxU, int64(p.Status.DisruptionsAllowed), ageOf(p, now)}
		}),
	}
}

func leaseStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		columns:    nameColumn().add("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]).age(),
		row: row("lease", func(l *coordinationv1.Lease, now time.Time) []any {
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{l.Name, holder, ageOf(l, now)}
		}),
	}
}

func priorityClassStrategy() *typeStrategy {
	return &typeStrategy{
		defaults: func(obj runtime.Object) {
			ifType(obj, func(pc *schedulingv1.PriorityClass) {
				if pc.PreemptionPolicy == nil {
					pc.PreemptionPolicy = ptr.To(corev1PreemptLowerPriority)
				}
			})
		},
		validate: func(obj runtime.Object) field.ErrorList {
			pc, ok := obj.(*schedulingv1.PriorityClass)
			if !ok {
				return nil
			}
			return validatePriorityClass(pc)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pc, ok1 := obj.(*schedulingv1.PriorityClass)
			o, ok2 := old.(*schedulingv1.PriorityClass)
			if !ok1 || !ok2 {
				return nil
			}
			var errs field.ErrorList
			if pc.Value != o.Value {
				errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
			}
			if !equality.Semantic.DeepEqual(pc.PreemptionPolicy, o.PreemptionPolicy) {
				errs = append(errs, field.Invalid(field.NewPath("preemptionPolicy"), pc.PreemptionPolicy, "field is immutable"))
			}
			return errs
		},
		columns: nameColumn().
			add("Value", "integer", schedulingv1.PriorityClass{}.SwaggerDoc()["value"]).
			add("Global-Default", "boolean", schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]).
			age().
			add("PreemptionPolicy", "string", schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]),
		row: row("priorityclass", func(pc *schedulingv1.PriorityClass, now time.Time) []any {
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, ageOf(pc, now), policy}
		}),
	}
}

func roleBindingStrategy(namespaced bool) *typeStrategy {
	cols := nameColumn().add("Role", "string", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]).age().
		wide("Users", "string", "Users in the roleBinding").
		wide("Groups", "string", "Groups in the roleBinding").
		wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding")
	cells := func(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, age string) []any {
		var users, groups, sas []string
		for _, s := range subjects {
			switch s.Kind {
			case rbacv1.UserKind:
				users = append(users, s.Name)
			case rbacv1.GroupKind:
				groups = append(groups, s.Name)
			case rbacv1.ServiceAccountKind:
				if s.Namespace != "" {
					sas = append(sas, s.Namespace+"/"+s.Name)
				} else {
					sas = append(sas, s.Name)
				}
			}
		}
		return []any{name, ref.Kind + "/" + ref.Name, age, strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
	}
	refOf := func(obj runtime.Object) (rbacv1.RoleRef, []rbacv1.Subject, bool) {
		switch b := obj.(type) {
		case *rbacv1.RoleBinding:
			return b.RoleRef, b.Subjects, true
		case *rbacv1.ClusterRoleBinding:
			return b.RoleRef, b.Subjects, true
		}
		return rbacv1.RoleRef{}, nil, false
	}
	s := &typeStrategy{
		namespaced: namespaced, nameFn: path.ValidatePathSegmentName, columns: cols,
		validate: func(obj runtime.Object) field.ErrorList {
			ref, subjects, ok := refOf(obj)
			if !ok {
				return nil
			}
			return append(validateRoleRef(ref, namespaced), validateSubjects(subjects, namespaced, field.NewPath("subjects"))...)
		},
		validateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ref, _, ok1 := refOf(obj)
			oldRef, _, ok2 := refOf(old)
			if ok1 && ok2 && ref != oldRef {
				return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
			}
			return nil
		},
	}
	if namespaced {
		s.row = row("rolebinding", func(b *rbacv1.RoleBinding, now time.Time) []any {
			return cells(b.Name, b.RoleRef, b.Subjects, ageOf(b, now))
		})
		return s
	}
	s.row = row("clusterrolebinding", func(b *rbacv1.ClusterRoleBinding, now time.Time) []any {
		return cells(b.Name, b.RoleRef, b.Subjects, ageOf(b, now))
	})
	return s
}

func endpointSliceStrategy() *typeStrategy {
	return &typeStrategy{
		namespaced: true,
		defaults: func(obj runtime.Object) {
			ifType(obj, func(es *discoveryv1.EndpointSlice) {
				for i := range es.Ports {
					if es.Ports[i].Name == nil {
						es.Ports[i].Name = ptr.To("")
					}
					if es.Ports[i].Protocol == nil {
						es.Ports[i].Protocol = ptr.To(corev1ProtocolTCP)
					}
				}
			})
		},
		columns: nameColumn().
			add("AddressType", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]).
			add("Ports", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]).
			add("Endpoints", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]).
			age(),
		row: row("endpointslice", func(es *discoveryv1.EndpointSlice, now time.Time) []any {
			var ports []string
			for _, p := range es.Ports {
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			var addrs []string
			for _, e := range es.Endpoints {
				addrs = append(addrs, e.Addresses...)
			}
			return []any{es.Name, string(es.AddressType), unsetList(ports), unsetList(addrs), ageOf(es, now)}
		}),
	}
}

// unsetList is listWithMoreString: three items, " + N more...", <unset>.
func unsetList(items []string) string {
	if len(items) == 0 {
		return "<unset>"
	}
	return listWithMore(items, 3, len(items), ",")
}

func csrStrategy() *typeStrategy {
	return &typeStrategy{
		status: true,
		columns: nameColumn().age().
			add("SignerName", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["signerName"]).
			add("Requestor", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["username"]).
			add("RequestedDuration", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["expirationSeconds"]).
			add("Condition", "string", certificatesv1.CertificateSigningRequestStatus{}.SwaggerDoc()["conditions"]),
		row: row("certificatesigningrequest", func(c *certificatesv1.CertificateSigningRequest, now time.Time) []any {
			signer := orNone(c.Spec.SignerName)
			requested := "<none>"
			if c.Spec.ExpirationSeconds != nil {
				requested = duration.HumanDuration(time.Duration(*c.Spec.ExpirationSeconds) * time.Second)
			}
			return []any{c.Name, ageOf(c, now), signer, c.Spec.Username, requested, csrCondition(c)}
		}),
		fields: csrFields,
	}
}

func csrCondition(c *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, cond := range c.Status.Conditions {
		switch cond.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	status := "Pending"
	if denied {
		status = "Denied"
	} else if approved {
		status = "Approved"
	}
	if failed {
		status += ",Failed"
	}
	if len(c.Status.Certificate) > 0 {
		status += ",Issued"
	}
	return status
}

func groupResourceName(group, resource string) string {
	return strings.ToLower(schema.GroupResource{Group: group, Resource: resource}.String())
}

// rbacRoleStrategy: roles and cluster roles keep the default table; their
// names are path segments ("system:controller:…"), as upstream.
func rbacRoleStrategy(namespaced bool) *typeStrategy {
	return &typeStrategy{namespaced: namespaced, nameFn: path.ValidatePathSegmentName,
		validate: func(obj runtime.Object) field.ErrorList {
			switch r := obj.(type) {
			case *rbacv1.Role:
				return validateRules(r.Rules, field.NewPath("rules"))
			case *rbacv1.ClusterRole:
				return validateRules(r.Rules, field.NewPath("rules"))
			}
			return nil
		}}
}

// System PriorityClasses upstream creates; names with their prefix are
// reserved for them.
var systemPriorityValues = map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

// validatePriorityClass is upstream's ValidatePriorityClass beyond
// metadata: system- names only for the built-in classes with their values,
// user values up to one billion.
func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	const prefix = "system-"
	if strings.HasPrefix(pc.Name, prefix) {
		var problem string
		v, known := systemPriorityValues[pc.Name]
		switch {
		case !known:
			problem = pc.Name + " is not a known system priority class"
		case v != pc.Value:
			problem = fmt.Sprintf("value of %s PriorityClass must be %d", pc.Name, v)
		case pc.GlobalDefault:
			problem = fmt.Sprintf("globalDefault of %s PriorityClass must be false", pc.Name)
		}
		if problem != "" {
			return field.ErrorList{field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+prefix+"' prefix are reserved for system use only. error: "+problem)}
		}
		return nil
	}
	if pc.Value > 1000000000 {
		return field.ErrorList{field.Forbidden(field.NewPath("value"), "maximum allowed value of a user defined priority is 1000000000")}
	}
	return nil
}
