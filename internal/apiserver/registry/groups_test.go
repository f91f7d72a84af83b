package registry

import (
	"context"
	"testing"
	"time"

	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestGroupTables(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c := metav1.NewTime(now.Add(-5 * time.Hour))
	m := metav1.ObjectMeta{Name: "x", Namespace: "default", CreationTimestamp: c}
	cm := metav1.ObjectMeta{Name: "x", CreationTimestamp: c}
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		obj  runtime.Object
		want string
	}{
		{gvr("networking.k8s.io", "ingresses"), &networkingv1.Ingress{ObjectMeta: m, Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("nginx"),
			TLS: []networkingv1.IngressTLS{{}}, Rules: []networkingv1.IngressRule{{Host: "a.example"}, {}, {Host: "b.example"}, {Host: "c.example"}, {Host: "d.example"}}},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.9"}, {IP: "10.0.0.10"}}}}},
			lines("- x", "- nginx", "- a.example,b.example + 2 more...", "- 10.0.0.10,10.0.0.9", "- 80, 443", "- 5h")},
		{gvr("networking.k8s.io", "ingresses"), &networkingv1.Ingress{ObjectMeta: m},
			lines("- x", "- <none>", "- '*'", `- ""`, `- "80"`, "- 5h")},
		{gvr("networking.k8s.io", "ingressclasses"), &networkingv1.IngressClass{ObjectMeta: cm, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx",
			Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "p"}}},
			lines("- x", "- k8s.io/ingress-nginx", "- IngressParameters.k8s.example.com/p", "- 5h")},
		{gvr("networking.k8s.io", "networkpolicies"), &networkingv1.NetworkPolicy{ObjectMeta: m}, lines("- x", "- <none>", "- 5h")},
		{gvr("networking.k8s.io", "servicecidrs"), &networkingv1.ServiceCIDR{ObjectMeta: cm, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.43.0.0/16", "fd00::/108"}}},
			lines("- x", "- 10.43.0.0/16,fd00::/108", "- 5h")},
		{gvr("policy", "poddisruptionbudgets"), &policyv1.PodDisruptionBudget{ObjectMeta: m, Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("50%"))},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}}, lines("- x", "- 50%", "- N/A", "- 1", "- 5h")},
		{gvr("coordination.k8s.io", "leases"), &coordinationv1.Lease{ObjectMeta: m, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("n1")}}, lines("- x", "- n1", "- 5h")},
		{gvr("scheduling.k8s.io", "priorityclasses"), &schedulingv1.PriorityClass{ObjectMeta: cm, Value: 2000001000, PreemptionPolicy: ptr.To(corev1PreemptLowerPriority)},
			lines("- x", "- 2000001000", "- false", "- 5h", "- PreemptLowerPriority")},
		{gvr("rbac.authorization.k8s.io", "rolebindings"), &rbacv1.RoleBinding{ObjectMeta: m, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "User", Name: "bob"}, {Kind: "Group", Name: "dev"}, {Kind: "ServiceAccount", Namespace: "ci", Name: "bot"}}},
			lines("- x", "- ClusterRole/admin", "- 5h", "- alice, bob", "- dev", "- ci/bot")},
		{gvr("rbac.authorization.k8s.io", "clusterrolebindings"), &rbacv1.ClusterRoleBinding{ObjectMeta: cm, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "system:masters"}}}, lines("- x", "- ClusterRole/cluster-admin", "- 5h", `- ""`, "- system:masters", `- ""`)},
		{gvr("rbac.authorization.k8s.io", "clusterroles"), &rbacv1.ClusterRole{ObjectMeta: cm}, lines("- x", `- "2026-05-01T07:00:00Z"`)},
		{gvr("discovery.k8s.io", "endpointslices"), &discoveryv1.EndpointSlice{ObjectMeta: m, AddressType: discoveryv1.AddressTypeIPv4,
			Ports:     []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("https")}, {}, {Port: ptr.To[int32](9090)}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}}, {Addresses: []string{"10.42.0.6"}}}},
			lines("- x", "- IPv4", "- 80,https,* + 1 more...", "- 10.42.0.5,10.42.0.6", "- 5h")},
		{gvr("discovery.k8s.io", "endpointslices"), &discoveryv1.EndpointSlice{ObjectMeta: m, AddressType: discoveryv1.AddressTypeIPv4},
			lines("- x", "- IPv4", "- <unset>", "- <unset>", "- 5h")},
		{gvr("certificates.k8s.io", "certificatesigningrequests"), &certificatesv1.CertificateSigningRequest{ObjectMeta: cm,
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kube-apiserver-client", Username: "admin", ExpirationSeconds: ptr.To[int32](86400)},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved}},
				Certificate: []byte("x")}},
			lines("- x", "- 5h", "- kubernetes.io/kube-apiserver-client", "- admin", "- 24h", "- Approved,Issued")},
		{gvr("storage.k8s.io", "storageclasses"), &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path", CreationTimestamp: c,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}}, Provisioner: "rancher.io/local-path",
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)},
			lines("- local-path (default)", "- rancher.io/local-path", "- Delete", "- WaitForFirstConsumer", "- false", "- 5h")},
		{gvr("storage.k8s.io", "csidrivers"), &storagev1.CSIDriver{ObjectMeta: cm}, lines("- x", "- true", "- false", "- false", "- <unset>", "- false", "- <none>", "- 5h")},
		{gvr("storage.k8s.io", "volumeattachments"), &storagev1.VolumeAttachment{ObjectMeta: cm, Spec: storagev1.VolumeAttachmentSpec{Attacher: "csi.example",
			NodeName: "n1", Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv1")}}, Status: storagev1.VolumeAttachmentStatus{Attached: true}},
			lines("- x", "- csi.example", "- pv1", "- n1", "- true", "- 5h")},
		{gvr("node.k8s.io", "runtimeclasses"), &nodev1.RuntimeClass{ObjectMeta: cm, Handler: "crun"}, lines("- x", "- crun", "- 5h")},
		{gvr("admissionregistration.k8s.io", "validatingwebhookconfigurations"), &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: cm,
			Webhooks: make([]admissionregistrationv1.ValidatingWebhook, 2)}, lines("- x", "- 2", "- 5h")},
		{gvr("flowcontrol.apiserver.k8s.io", "flowschemas"), &flowcontrolv1.FlowSchema{ObjectMeta: cm, Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-low"}, MatchingPrecedence: 9000,
			DistinguisherMethod: &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType}},
			Status: flowcontrolv1.FlowSchemaStatus{Conditions: []flowcontrolv1.FlowSchemaCondition{{Type: flowcontrolv1.FlowSchemaConditionDangling, Status: "False"}}}},
			lines("- x", "- workload-low", "- 9000", "- ByUser", "- 5h", `- "False"`)},
		{gvr("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"), &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: cm,
			Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementExempt}},
			lines("- x", "- Exempt", "- <none>", "- <none>", "- <none>", "- <none>", "- 5h")},
		{gvr("networking.k8s.io", "ipaddresses"), &networkingv1.IPAddress{ObjectMeta: cm, Spec: networkingv1.IPAddressSpec{
			ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "kubernetes"}}},
			lines("- x", "- services/default/kubernetes")},
	} {
		if got := rowOf(t, tc.gvr.Group, "v1", tc.gvr.Resource, tc.obj, now); got != tc.want {
			t.Errorf("%s:\n got\n%s\nwant\n%s", tc.gvr.Resource, got, tc.want)
		}
	}
}

func gvr(group, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource}
}

func TestGroupDefaultsAndGeneration(t *testing.T) {
	ctx := context.Background()
	plc := &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
		Type: flowcontrolv1.PriorityLevelEnablementLimited, Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
			LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}}}}}
	createAs(t, mustResource(t, "flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations"), plc)
	if got := toYAML(t, plc.Spec.Limited); got != lines("lendablePercent: 0", "limitResponse:", "  queuing:", "    handSize: 8", "    queueLengthLimit: 50",
		"    queues: 64", "  type: Queue", "nominalConcurrencyShares: 30", "") {
		t.Errorf("plc defaults:\n%s", got)
	}
	if plc.Generation != 1 {
		t.Errorf("plc generation %d", plc.Generation)
	}
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Provisioner: "p"}
	createAs(t, mustResource(t, "storage.k8s.io", "v1", "storageclasses"), sc)
	if *sc.ReclaimPolicy != "Delete" || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("storageclass defaults %+v", sc)
	}
	// webhook configurations count generations by their webhooks
	wh := mustResource(t, "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
	old := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "w", Generation: 1}}
	upd := old.DeepCopy()
	upd.Webhooks = make([]admissionregistrationv1.ValidatingWebhook, 1)
	wh.Strategy.PrepareForUpdate(ctx, upd, old)
	if upd.Generation != 2 {
		t.Errorf("webhook generation %d", upd.Generation)
	}
	vap := mustResource(t, "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "v"}}
	vap.Strategy.PrepareForCreate(ctx, p)
	if p.Generation != 1 {
		t.Errorf("validatingadmissionpolicy generation %d", p.Generation)
	}
	ep := mustResource(t, "", "v1", "endpoints")
	if ep.DeprecationWarning != "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice" {
		t.Errorf("endpoints warning %q", ep.DeprecationWarning)
	}
}

func TestNameRules(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		obj  runtime.Object
		want string
	}{
		{gvr("rbac.authorization.k8s.io", "clusterroles"), &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:aggregate-to-admin"}}, ""},
		{gvr("rbac.authorization.k8s.io", "clusterroles"), &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "a/b"}},
			`metadata.name: Invalid value: "a/b": may not contain '/'`},
		{gvr("networking.k8s.io", "ipaddresses"), &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "fd00::1"}}, ""},
		{gvr("networking.k8s.io", "ipaddresses"), &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "fd00:0::1"}},
			`metadata.name: Invalid value: "fd00:0::1": must be in canonical form ("fd00::1")`},
		{gvr("storage.k8s.io", "storageclasses"), &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "Fast"}},
			`metadata.name: Invalid value: "Fast": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{gvr("storage.k8s.io", "storageclasses"), &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"}},
			"metadata.namespace: Forbidden: not allowed on this type"},
	} {
		res := mustResource(t, tc.gvr.Group, tc.gvr.Version, tc.gvr.Resource)
		if got := errStrings(res.Strategy.Validate(ctx, tc.obj)); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.gvr.Resource, tc.obj.(metav1.Object).GetName(), got, tc.want)
		}
	}
}

func TestIngressRBACEventValidation(t *testing.T) {
	ctx := context.Background()
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: "*.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	ingRes := mustResource(t, "networking.k8s.io", "v1", "ingresses")
	if errs := ingRes.Strategy.Validate(ctx, ing); len(errs) != 0 {
		t.Errorf("valid ingress refused: %v", errs)
	}
	noType := ing.DeepCopy()
	noType.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	if got := errStrings(ingRes.Strategy.Validate(ctx, noType)); got != "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified" {
		t.Errorf("no pathType: %s", got)
	}
	noPort := ing.DeepCopy()
	noPort.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 0
	if got := errStrings(ingRes.Strategy.Validate(ctx, noPort)); got != "spec.rules[0].http.paths[0].backend.service.port: Required value: port name or number is required" {
		t.Errorf("no port: %s", got)
	}

	rb := mustResource(t, "rbac.authorization.k8s.io", "v1", "rolebindings")
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default", ResourceVersion: "1"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default"}, {Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"}}}
	if errs := rb.Strategy.Validate(ctx, b); len(errs) != 0 {
		t.Errorf("valid rolebinding refused: %v", errs)
	}
	changed := b.DeepCopy()
	changed.RoleRef.Name = "edit"
	if got := errStrings(rb.Strategy.ValidateUpdate(ctx, changed, b)); !strings.HasPrefix(got, "roleRef: Invalid value:") || !strings.HasSuffix(got, ": cannot change roleRef") {
		t.Errorf("roleRef change: %s", got)
	}
	cr := mustResource(t, "rbac.authorization.k8s.io", "v1", "clusterroles")
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}
	if got := errStrings(cr.Strategy.Validate(ctx, role)); got != "rules[0].verbs: Required value: verbs must contain at least one value" {
		t.Errorf("rule without verbs: %s", got)
	}

	ev := mustResource(t, "", "v1", "events")
	e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "p"}}
	if got := errStrings(ev.Strategy.Validate(ctx, e)); got != `involvedObject.namespace: Invalid value: "other": does not match event.namespace` {
		t.Errorf("event namespace: %s", got)
	}
}
