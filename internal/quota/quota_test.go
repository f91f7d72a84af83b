package quota

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestUsage(t *testing.T) {
	now := time.Now()
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi", "example.com/gpu", "1"), Limits: rl("cpu", "200m")}},
		{Name: "b", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "50m")}},
	}}}
	done := pod.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	sc := "gold"
	cases := []struct {
		name string
		gr   schema.GroupResource
		obj  metav1.Object
		want string
	}{
		{"running pod", podsGR, pod, "count/pods=1,cpu=150m,limits.cpu=200m,memory=64Mi,pods=1,requests.cpu=150m,requests.example.com/gpu=1,requests.memory=64Mi"},
		{"finished pod counts as an object only", podsGR, done, "count/pods=1"},
		{"nodeport service", servicesGR, &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}}, "count/services=1,services=1,services.nodeports=2"},
		{"load balancer", servicesGR, &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Port: 80}}}}, "count/services=1,services=1,services.loadbalancers=1,services.nodeports=1"},
		{"claim", claimsGR, &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc,
			Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "1Gi")}}},
			"count/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/requests.storage=1Gi,persistentvolumeclaims=1,requests.storage=1Gi"},
		{"configmap", schema.GroupResource{Resource: "configmaps"}, &metav1.PartialObjectMetadata{}, "configmaps=1,count/configmaps=1"},
		{"deployment", schema.GroupResource{Group: "apps", Resource: "deployments"}, &metav1.PartialObjectMetadata{}, "count/deployments.apps=1"},
	}
	for _, tc := range cases {
		if got := String(Usage(tc.gr, tc.obj, now)); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestRelevantMatchesAndConstraints(t *testing.T) {
	hard := rl("pods", "10", "requests.cpu", "1", "count/deployments.apps", "2", "services", "3", "limits.memory", "1Gi")
	if got := Names(Relevant(podsGR, hard)); got != "limits.memory,pods,requests.cpu" {
		t.Errorf("relevant to pods: %s", got)
	}
	if got := Names(Relevant(schema.GroupResource{Group: "apps", Resource: "deployments"}, hard)); got != "count/deployments.apps" {
		t.Errorf("relevant to deployments: %s", got)
	}
	be := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}}}
	plain := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}}
	sized := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}}}}
	if ok, _ := Matches(be, hard, podsGR, plain); !ok {
		t.Error("BestEffort quota must match a pod without requests")
	}
	if ok, _ := Matches(be, hard, podsGR, sized); ok {
		t.Error("BestEffort quota must not match a pod with requests")
	}
	if ok, _ := Matches(be, hard, servicesGR, &corev1.Service{}); ok {
		t.Error("scoped quota must not match a service")
	}
	pc := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{
		{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}}}}}
	high := plain.DeepCopy()
	high.Spec.PriorityClassName = "high"
	if ok, err := Matches(pc, hard, podsGR, high); !ok || err != nil {
		t.Errorf("priority class In high: %v %v", ok, err)
	}
	if ok, _ := Matches(pc, hard, podsGR, plain); ok {
		t.Error("priority class In high must not match a pod without one")
	}
	two := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "web", Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}, {Name: "log"}}}}
	err := Constraints(Relevant(podsGR, hard), two)
	if err == nil || err.Error() != "must specify limits.memory for: log,web; requests.cpu for: log" {
		t.Errorf("constraints: %v", err)
	}
}
