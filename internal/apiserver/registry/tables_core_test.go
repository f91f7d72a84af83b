package registry

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestWorkloadAndCoreTables(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-61 * time.Minute))
	meta := metav1.ObjectMeta{Name: "x", Namespace: "default", CreationTimestamp: created}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}, {Name: "side", Image: "busybox"}}}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	for _, tc := range []struct {
		group, resource string
		obj             runtime.Object
		want            string
	}{
		{"apps", "deployments", &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: sel, Template: tmpl},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
			lines("- x", "- 2/3", "- 3", "- 2", "- 61m", "- web,side", "- nginx:1.27,busybox", "- app=x")},
		{"apps", "replicasets", &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: sel, Template: tmpl},
			Status: appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1}},
			lines("- x", "- 2", "- 2", "- 1", "- 61m", "- web,side", "- nginx:1.27,busybox", "- app=x")},
		{"apps", "statefulsets", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Template: tmpl}},
			lines("- x", "- 0/1", "- 61m", "- web,side", "- nginx:1.27,busybox")},
		{"apps", "daemonsets", &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}},
			lines("- x", "- 3", "- 3", "- 2", "- 3", "- 2", "- kubernetes.io/os=linux", "- 61m", "- web,side", "- nginx:1.27,busybox", "- app=x")},
		{"apps", "controllerrevisions", &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "x", CreationTimestamp: created,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "kube-proxy", Controller: ptr.To(true)}}}, Revision: 4},
			lines("- x", "- daemonset.apps/kube-proxy", "- 4", "- 61m")},
		{"", "namespaces", &corev1.Namespace{ObjectMeta: meta, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}, lines("- x", "- Active", "- 61m")},
		{"", "configmaps", &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}}, lines("- x", "- 2", "- 61m")},
		{"", "secrets", &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			lines("- x", "- kubernetes.io/tls", "- 2", "- 61m")},
		{"", "serviceaccounts", &corev1.ServiceAccount{ObjectMeta: meta}, lines("- x", "- 0", "- 61m")},
		{"", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: created,
			Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true", "kubernetes.io/role": "edge"}},
			Spec: corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.5"}},
				NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.2+kserver", OSImage: "Debian GNU/Linux 12 (bookworm)"}}},
			lines("- n1", "- Ready,SchedulingDisabled", "- control-plane,edge,master", "- 61m", "- v1.37.2+kserver", "- 192.168.1.5", "- <none>",
				"- Debian GNU/Linux 12 (bookworm)", "- <unknown>", "- <unknown>")},
		{"", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2", CreationTimestamp: created},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}}},
			lines("- n2", "- NotReady", "- <none>", "- 61m", `- ""`, "- <none>", "- <none>", "- <unknown>", "- <unknown>", "- <unknown>")},
		{"", "nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n3", CreationTimestamp: created}},
			lines("- n3", "- Unknown", "- <none>", "- 61m", `- ""`, "- <none>", "- <none>", "- <unknown>", "- <unknown>", "- <unknown>")},
		{"", "persistentvolumeclaims", &corev1.PersistentVolumeClaim{ObjectMeta: meta,
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv1", StorageClassName: ptr.To("local-path"), VolumeMode: ptr.To(corev1.PersistentVolumeFilesystem)},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			lines("- x", "- Bound", "- pv1", "- 1Gi", "- RWO,RWX", "- local-path", "- <unset>", "- 61m", "- Filesystem")},
		{"", "persistentvolumeclaims", &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "x", CreationTimestamp: created, DeletionTimestamp: &created},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
			lines("- x", "- Terminating", `- ""`, `- ""`, `- ""`, `- ""`, "- <unset>", "- 61m", "- <unset>")},
		{"", "persistentvolumes", &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1", CreationTimestamp: created},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				ClaimRef: &corev1.ObjectReference{Namespace: "default", Name: "data"}, StorageClassName: "local-path"},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
			lines("- pv1", "- 5Gi", "- RWO", "- Delete", "- Bound", "- default/data", "- local-path", "- <unset>", `- ""`, "- 61m", "- <unset>")},
		{"", "endpoints", &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}, {IP: "10.42.0.6"}}, Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}}}},
			lines("- x", "- 10.42.0.5:80,10.42.0.6:80,10.42.0.5:443 + 1 more...", "- 61m")},
		{"", "endpoints", &corev1.Endpoints{ObjectMeta: meta}, lines("- x", "- <none>", "- 61m")},
		{"", "events", &corev1.Event{ObjectMeta: meta, Type: "Normal", Reason: "Scheduled", Message: " Successfully assigned default/web to n1 ",
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web"}, Source: corev1.EventSource{Component: "default-scheduler"},
			FirstTimestamp: metav1.NewTime(now.Add(-5 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-2 * time.Minute)), Count: 3},
			lines("- 2m", "- Normal", "- Scheduled", "- pod/web", `- ""`, "- default-scheduler", "- Successfully assigned default/web to n1", "- 5m", "- 3", "- x")},
		{"", "events", &corev1.Event{ObjectMeta: meta, Type: "Warning", Reason: "BackOff", InvolvedObject: corev1.ObjectReference{Kind: "Node"},
			ReportingController: "kubelet", ReportingInstance: "n1", EventTime: metav1.NewMicroTime(now.Add(-90 * time.Second)),
			Series: &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(now.Add(-10 * time.Second))}},
			lines("- 10s", "- Warning", "- BackOff", "- node", `- ""`, "- kubelet, n1", `- ""`, "- 90s", "- 7", "- x")},
		{"", "resourcequotas", &corev1.ResourceQuota{ObjectMeta: meta, Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("2"), "limits.memory": resource.MustParse("2Gi")},
			Used: corev1.ResourceList{"pods": resource.MustParse("1"), "requests.cpu": resource.MustParse("250m")}}},
			lines("- x", "- 'pods: 1/10, requests.cpu: 250m/2'", "- 'limits.memory: 0/2Gi'", "- 61m")},
		{"", "podtemplates", &corev1.PodTemplate{ObjectMeta: meta, Template: tmpl}, lines("- x", "- web,side", "- nginx:1.27,busybox", "- app=x")},
		{"", "limitranges", &corev1.LimitRange{ObjectMeta: meta}, lines("- x", `- "2026-05-01T10:59:00Z"`)},
	} {
		if got := rowOf(t, tc.group, "v1", tc.resource, tc.obj, now); got != tc.want {
			t.Errorf("%s:\n got\n%s\nwant\n%s", tc.resource, got, tc.want)
		}
	}
}

func TestCoreObjectRules(t *testing.T) {
	ctx := context.Background()
	nsRes := mustResource(t, "", "v1", "namespaces")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	createAs(t, nsRes, ns)
	if got := toYAML(t, ns); got != lines("metadata:", "  labels:", "    kubernetes.io/metadata.name: team-a", "  name: team-a",
		"spec:", "  finalizers:", "  - kubernetes", "status:", "  phase: Active", "") {
		t.Errorf("namespace:\n%s", got)
	}
	bad := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "Team.A"}}
	if got := errStrings(nsRes.Strategy.Validate(ctx, bad)); !strings.HasPrefix(got, `metadata.name: Invalid value: "Team.A": a lowercase RFC 1123 label must consist of`) {
		t.Errorf("namespace name: %s", got)
	}

	cmRes := mustResource(t, "", "v1", "configmaps")
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", ResourceVersion: "1"}, Data: map[string]string{"a": "1"}, Immutable: ptr.To(true)}
	upd := old.DeepCopy()
	upd.Data["a"] = "2"
	if got := errStrings(cmRes.Strategy.ValidateUpdate(ctx, upd, old)); got != "data: Forbidden: field is immutable when `immutable` is set" {
		t.Errorf("immutable configmap: %s", got)
	}
	badKey := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default"}, Data: map[string]string{"a b": "1"}}
	if got := errStrings(cmRes.Strategy.Validate(ctx, badKey)); !strings.HasPrefix(got, `data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters`) {
		t.Errorf("configmap key: %s", got)
	}

	secRes := mustResource(t, "", "v1", "secrets")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"}, StringData: map[string]string{"password": "x"}}
	createAs(t, secRes, sec)
	if sec.Type != corev1.SecretTypeOpaque || string(sec.Data["password"]) != "x" || sec.StringData != nil {
		t.Errorf("secret defaults: %+v", sec)
	}
	tls := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "t", Namespace: "default"}, Type: corev1.SecretTypeTLS}
	if got := errStrings(secRes.Strategy.Validate(ctx, tls)); got != "data[tls.crt]: Required value\ndata[tls.key]: Required value" {
		t.Errorf("tls secret: %s", got)
	}

	pvcRes := mustResource(t, "", "v1", "persistentvolumeclaims")
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "default"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	createAs(t, pvcRes, pvc)
	if *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("pvc defaults: %+v", pvc)
	}
	pvc.ResourceVersion = "1"
	change := pvc.DeepCopy()
	change.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	if got := errStrings(pvcRes.Strategy.ValidateUpdate(ctx, change, pvc)); !strings.HasPrefix(got, "spec: Forbidden: spec is immutable after creation") {
		t.Errorf("pvc change: %s", got)
	}

	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}}
	createAs(t, mustResource(t, "", "v1", "persistentvolumes"), pv)
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || pv.Status.Phase != corev1.VolumePending {
		t.Errorf("pv defaults: %+v", pv)
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}}}
	createAs(t, mustResource(t, "", "v1", "nodes"), node)
	if node.Status.Allocatable.Cpu().String() != "4" {
		t.Errorf("node status lost on create: %+v", node.Status)
	}

	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "default"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
		Min: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}
	createAs(t, mustResource(t, "", "v1", "limitranges"), lr)
	if got := toYAML(t, lr.Spec.Limits[0]); got != lines("default:", `  cpu: "1"`, "defaultRequest:", `  cpu: "1"`, "  memory: 64Mi",
		"max:", `  cpu: "1"`, "min:", "  memory: 64Mi", "type: Container", "") {
		t.Errorf("limitrange:\n%s", got)
	}
}
