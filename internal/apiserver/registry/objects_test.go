package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func errStrings(errs field.ErrorList) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return strings.Join(out, "\n")
}

// rowOf prints obj through its resource's strategy as YAML lines.
func rowOf(t *testing.T, group, version, resource string, obj runtime.Object, now time.Time) string {
	t.Helper()
	res := mustResource(t, group, version, resource)
	cells, err := res.Strategy.TableRow(obj, now)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Strategy.TableColumns()); n != len(cells) {
		t.Fatalf("%s: %d cells for %d columns", resource, len(cells), n)
	}
	return strings.TrimSpace(toYAML(t, cells))
}

func lines(s ...string) string { return strings.Join(s, "\n") }

func TestDeploymentAsKubectlCreate(t *testing.T) {
	res := mustResource(t, "apps", "v1", "deployments")
	ctx := context.Background()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	createAs(t, res, d)
	want := lines("progressDeadlineSeconds: 600", "replicas: 1", "revisionHistoryLimit: 10",
		"selector:", "  matchLabels:", "    app: web",
		"strategy:", "  rollingUpdate:", "    maxSurge: 25%", "    maxUnavailable: 25%", "  type: RollingUpdate",
		"template:", "  metadata:", "    labels:", "      app: web", "  spec:", "    containers:",
		"    - image: nginx", "      imagePullPolicy: Always", "      name: nginx", "      resources: {}",
		"      terminationMessagePath: /dev/termination-log", "      terminationMessagePolicy: File",
		"    dnsPolicy: ClusterFirst", "    restartPolicy: Always", "    schedulerName: default-scheduler",
		"    securityContext: {}", "    terminationGracePeriodSeconds: 30", "")
	if got := toYAML(t, d.Spec); got != want {
		t.Errorf("spec:\n%s\nwant:\n%s", got, want)
	}
	if d.Generation != 1 {
		t.Errorf("generation %d", d.Generation)
	}
	if errs := res.Strategy.Validate(ctx, d); len(errs) != 0 {
		t.Errorf("valid deployment refused: %v", errs)
	}
	bad := d.DeepCopy()
	bad.Spec.Template.Labels = map[string]string{"app": "other"}
	if got := errStrings(res.Strategy.Validate(ctx, bad)); !strings.HasPrefix(got, "spec.template.metadata.labels: Invalid value: ") ||
		!strings.HasSuffix(got, "`selector` does not match template `labels`") || strings.Count(got, "\n") != 0 {
		t.Errorf("selector mismatch: %s", got)
	}
	never := d.DeepCopy()
	never.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if got := errStrings(res.Strategy.Validate(ctx, never)); got != `spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"` {
		t.Errorf("restart policy: %s", got)
	}
	noSel := d.DeepCopy()
	noSel.Spec.Selector = nil
	if got := errStrings(res.Strategy.Validate(ctx, noSel)); got != "spec.selector: Required value" {
		t.Errorf("no selector: %s", got)
	}

	stored := d.DeepCopy()
	stored.ResourceVersion = "7"
	stored.Status.ReadyReplicas = 1
	upd := stored.DeepCopy()
	upd.Status = appsv1.DeploymentStatus{}
	upd.Spec.Replicas = ptr.To[int32](3)
	res.Strategy.PrepareForUpdate(ctx, upd, stored)
	if upd.Generation != 2 || upd.Status.ReadyReplicas != 1 {
		t.Errorf("update: generation %d ready %d", upd.Generation, upd.Status.ReadyReplicas)
	}
	sel := stored.DeepCopy()
	sel.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web2"}}
	sel.Spec.Template.Labels = map[string]string{"app": "web2"}
	if got := errStrings(res.Strategy.ValidateUpdate(ctx, sel, stored)); !strings.HasPrefix(got, "spec.selector: Invalid value:") || !strings.HasSuffix(got, "field is immutable") {
		t.Errorf("selector change: %s", got)
	}
}

func TestWorkloadDefaults(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"}, Spec: appsv1.StatefulSetSpec{
		Selector: sel, Template: tmpl, ServiceName: "db",
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
	}}
	createAs(t, mustResource(t, "apps", "v1", "statefulsets"), ss)
	got := toYAML(t, map[string]any{"pmp": ss.Spec.PodManagementPolicy, "us": ss.Spec.UpdateStrategy,
		"pvc": ss.Spec.PersistentVolumeClaimRetentionPolicy, "r": ss.Spec.Replicas, "rhl": ss.Spec.RevisionHistoryLimit,
		"vct": ss.Spec.VolumeClaimTemplates[0]})
	want := lines("pmp: OrderedReady", "pvc:", "  whenDeleted: Retain", "  whenScaled: Retain", "r: 1", "rhl: 10",
		"us:", "  rollingUpdate:", "    maxUnavailable: 1", "    partition: 0", "  type: RollingUpdate",
		"vct:", "  apiVersion: v1", "  kind: PersistentVolumeClaim", "  metadata:", "    name: data",
		"  spec:", "    resources: {}", "    volumeMode: Filesystem", "  status:", "    phase: Pending", "")
	if got != want {
		t.Errorf("statefulset:\n%s\nwant:\n%s", got, want)
	}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"}, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	createAs(t, mustResource(t, "apps", "v1", "daemonsets"), ds)
	if got := toYAML(t, ds.Spec.UpdateStrategy); got != "rollingUpdate:\n  maxSurge: 0\n  maxUnavailable: 1\ntype: RollingUpdate\n" {
		t.Errorf("daemonset update strategy:\n%s", got)
	}
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{Template: tmpl.DeepCopy()}}
	rcRes := mustResource(t, "", "v1", "replicationcontrollers")
	createAs(t, rcRes, rc)
	if rc.Spec.Selector["app"] != "x" || rc.Labels["app"] != "x" || *rc.Spec.Replicas != 1 {
		t.Errorf("rc defaults: selector %v labels %v replicas %d", rc.Spec.Selector, rc.Labels, *rc.Spec.Replicas)
	}
	if errs := rcRes.Strategy.Validate(context.Background(), rc); len(errs) != 0 {
		t.Errorf("rc: %v", errs)
	}
}

func TestStatefulSetUpdateRules(t *testing.T) {
	res := mustResource(t, "apps", "v1", "statefulsets")
	old := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", ResourceVersion: "1"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}, ServiceName: "db",
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}}}
	res.Strategy.Default(old)
	scale := old.DeepCopy()
	scale.Spec.Replicas = ptr.To[int32](5)
	scale.Spec.Template.Spec.Containers[0].Image = "y"
	if errs := res.Strategy.ValidateUpdate(context.Background(), scale, old); len(errs) != 0 {
		t.Errorf("allowed update refused: %v", errs)
	}
	svc := old.DeepCopy()
	svc.Spec.ServiceName = "other"
	want := "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
	if got := errStrings(res.Strategy.ValidateUpdate(context.Background(), svc, old)); got != want {
		t.Errorf("serviceName change: %s", got)
	}
}

func TestServiceAsKubectlCreate(t *testing.T) {
	res := mustResource(t, "", "v1", "services")
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Ports:    []corev1.ServicePort{{Name: "80-8080", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		Selector: map[string]string{"app": "web"},
	}}
	createAs(t, res, svc)
	want := lines("internalTrafficPolicy: Cluster", "ipFamilies:", "- IPv4", "ipFamilyPolicy: SingleStack", "ports:",
		"- name: 80-8080", "  port: 80", "  protocol: TCP", "  targetPort: 8080", "selector:", "  app: web",
		"sessionAffinity: None", "type: ClusterIP", "")
	if got := toYAML(t, svc.Spec); got != want {
		t.Errorf("spec:\n%s\nwant:\n%s", got, want)
	}
	if errs := res.Strategy.Validate(ctx, svc); len(errs) != 0 {
		t.Errorf("valid service refused: %v", errs)
	}
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}
	createAs(t, res, np)
	if np.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || np.Spec.Ports[0].TargetPort.IntVal != 80 {
		t.Errorf("nodeport defaults: %+v", np.Spec)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Service)
		want   string
	}{
		{"bad name", func(s *corev1.Service) { s.Name = "1web" }, `metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, "spec.ports: Required value"},
		{"unnamed second port", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)})
		}, "spec.ports[1].name: Required value"},
		{"node port on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"bad type", func(s *corev1.Service) { s.Spec.Type = "Public" },
			`spec.type: Unsupported value: "Public": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
	} {
		s := svc.DeepCopy()
		tc.mutate(s)
		if got := errStrings(res.Strategy.Validate(ctx, s)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	stored := svc.DeepCopy()
	stored.ResourceVersion = "3"
	stored.Spec.ClusterIP, stored.Spec.ClusterIPs = "10.43.0.20", []string{"10.43.0.20"}
	applied := svc.DeepCopy()
	applied.ResourceVersion = "3"
	applied.Spec.IPFamilies, applied.Spec.IPFamilyPolicy = nil, nil
	res.Strategy.PrepareForUpdate(ctx, applied, stored)
	if applied.Spec.ClusterIP != "10.43.0.20" || len(applied.Spec.IPFamilies) != 1 {
		t.Errorf("allocated values lost: %+v", applied.Spec)
	}
	moved := stored.DeepCopy()
	moved.Spec.ClusterIP, moved.Spec.ClusterIPs = "10.43.0.21", []string{"10.43.0.21"}
	if got := errStrings(res.Strategy.ValidateUpdate(ctx, moved, stored)); !strings.HasPrefix(got, "spec.clusterIPs[0]: Invalid value:") || !strings.HasSuffix(got, ": may not change once set") {
		t.Errorf("clusterIP change: %s", got)
	}
}

func TestServiceTable(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-10 * 24 * time.Hour))
	tcp := corev1.ProtocolTCP
	for _, tc := range []struct {
		name string
		spec corev1.ServiceSpec
		st   corev1.ServiceStatus
		want []any
	}{
		{"kubernetes", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.43.0.1"},
			Ports: []corev1.ServicePort{{Port: 443, Protocol: tcp}}}, corev1.ServiceStatus{},
			[]any{"s", "ClusterIP", "10.43.0.1", "<none>", "443/TCP", "10d", "<none>"}},
		{"nodeport", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.43.0.9"}, Selector: map[string]string{"app": "web", "a": "b"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: tcp}, {Port: 443, NodePort: 30443, Protocol: tcp}}}, corev1.ServiceStatus{},
			[]any{"s", "NodePort", "10.43.0.9", "<none>", "80:30080/TCP,443:30443/TCP", "10d", "a=b,app=web"}},
		{"lb pending", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.9"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: corev1.ProtocolUDP}}}, corev1.ServiceStatus{},
			[]any{"s", "LoadBalancer", "10.43.0.9", "<pending>", "80:31000/UDP", "10d", "<none>"}},
		{"lb ready", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.0.9"}, ExternalIPs: []string{"1.2.3.4"}},
			corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.168.1.9"}, {Hostname: "lb.example"}, {IP: "192.168.1.10"}}}},
			[]any{"s", "LoadBalancer", "10.43.0.9", "192.168.1.10,192.168.1.9,lb.example,1.2.3.4", "<none>", "10d", "<none>"}},
		{"external name", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}, corev1.ServiceStatus{},
			[]any{"s", "ExternalName", "<none>", "db.example.com", "<none>", "10d", "<none>"}},
		{"headless", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"None"}, Ports: []corev1.ServicePort{{Port: 5432, Protocol: tcp}}}, corev1.ServiceStatus{},
			[]any{"s", "ClusterIP", "None", "<none>", "5432/TCP", "10d", "<none>"}},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: created}, Spec: tc.spec, Status: tc.st}
		cells, err := serviceRow(svc, now)
		if err != nil || toYAML(t, cells) != toYAML(t, tc.want) {
			t.Errorf("%s: %q %v, want %q", tc.name, cells, err, tc.want)
		}
	}
}

// Status updates keep metadata changes where upstream's status strategy
// copies only the spec back (Deployments: not labels), and reset them for
// newer types.
func TestStatusUpdateMetadata(t *testing.T) {
	ctx := context.Background()
	deploy := mustResource(t, "apps", "v1", "deployments")
	old := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Labels: map[string]string{"app": "d"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}}
	upd := old.DeepCopy()
	upd.Annotations = map[string]string{"deployment.kubernetes.io/revision": "2"}
	upd.Labels = map[string]string{"app": "changed"}
	upd.Spec.Replicas = ptr.To[int32](5)
	upd.Status.Replicas = 1
	deploy.Strategy.PrepareForStatusUpdate(ctx, upd, old)
	if upd.Annotations["deployment.kubernetes.io/revision"] != "2" || upd.Labels["app"] != "d" || *upd.Spec.Replicas != 1 || upd.Status.Replicas != 1 {
		t.Errorf("deployment status update: annotations %v labels %v replicas %d status %d", upd.Annotations, upd.Labels, *upd.Spec.Replicas, upd.Status.Replicas)
	}
	rs := mustResource(t, "apps", "v1", "replicasets")
	oldRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "r"}}
	updRS := oldRS.DeepCopy()
	updRS.Labels = map[string]string{"a": "b"}
	updRS.Annotations = map[string]string{"c": "d"}
	rs.Strategy.PrepareForStatusUpdate(ctx, updRS, oldRS)
	if updRS.Labels["a"] != "b" || updRS.Annotations["c"] != "d" {
		t.Errorf("replicaset status update dropped metadata: %+v", updRS.ObjectMeta)
	}
	vap := mustResource(t, "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
	oldVAP := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	updVAP := oldVAP.DeepCopy()
	updVAP.Labels = map[string]string{"a": "b"}
	vap.Strategy.PrepareForStatusUpdate(ctx, updVAP, oldVAP)
	if updVAP.Labels != nil {
		t.Errorf("admission policy status update kept labels: %v", updVAP.Labels)
	}
}
