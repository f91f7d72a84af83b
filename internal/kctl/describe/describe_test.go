package describe

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func fakeDescriber(objs ...runtime.Object) *Describer {
	s := runtime.NewScheme()
	lists := map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "events"}:                                    "EventList",
		{Version: "v1", Resource: "pods"}:                                      "PodList",
		{Version: "v1", Resource: "services"}:                                  "ServiceList",
		{Version: "v1", Resource: "resourcequotas"}:                            "ResourceQuotaList",
		{Version: "v1", Resource: "limitranges"}:                               "LimitRangeList",
		{Group: "apps", Version: "v1", Resource: "replicasets"}:                "ReplicaSetList",
		{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}: "EndpointSliceList",
		{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}:      "LeaseList",
	}
	return &Describer{Client: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(s, lists, objs...), ShowEvents: true, ChunkSize: 500}
}

func mustObj(t *testing.T, m map[string]any) *unstructured.Unstructured {
	t.Helper()
	return &unstructured.Unstructured{Object: m}
}

// The expected texts below are the outputs the reference marks as verified
// against stock kubectl, adjusted to 1.37 where it says so.
func TestDescribeLayouts(t *testing.T) {
	t.Setenv("TZ", "UTC")
	created := "2024-05-01T09:59:58Z"
	cases := []struct {
		name string
		obj  map[string]any
		want string
	}{
		{"endpoints", map[string]any{"apiVersion": "v1", "kind": "Endpoints", "metadata": map[string]any{"name": "web", "namespace": "default"},
			"subsets": []any{map[string]any{"addresses": []any{map[string]any{"ip": "10.244.0.5"}, map[string]any{"ip": "10.244.0.6"}},
				"ports": []any{map[string]any{"name": "http", "port": int64(8080), "protocol": "TCP"}}}}},
			"Name:         web\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\nSubsets:\n  Addresses:          10.244.0.5,10.244.0.6\n  NotReadyAddresses:  <none>\n  Ports:\n    Name  Port  Protocol\n    ----  ----  --------\n    http  8080  TCP\n\nEvents:  <none>\n"},
		{"secret", map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "sec", "namespace": "default"},
			"type": "Opaque", "data": map[string]any{"username": "YWRtaW4=", "password": "c2VjcmV0"}},
			"Name:         sec\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nType:  Opaque\n\nData\n====\npassword:  6 bytes\nusername:  5 bytes\n"},
		{"namespace", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "default", "labels": map[string]any{"kubernetes.io/metadata.name": "default"}},
			"status": map[string]any{"phase": "Active"}},
			"Name:         default\nLabels:       kubernetes.io/metadata.name=default\nAnnotations:  <none>\nStatus:       Active\n\nNo resource quota.\n\nNo LimitRange resource.\n"},
		{"configmap 1.34+ sorted keys", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cfg", "namespace": "default"},
			"data": map[string]any{"a": "hello", "b.conf": "x=1\ny=2"}, "binaryData": map[string]any{"bin": "AQID"}},
			"Name:         cfg\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nData\n====\na:\n----\nhello\n\nb.conf:\n----\nx=1\ny=2\n\n\nBinaryData\n====\nbin: 3 bytes\n\nEvents:  <none>\n"},
		{"service", map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web", "namespace": "default", "labels": map[string]any{"app": "web"}},
			"spec": map[string]any{"type": "NodePort", "selector": map[string]any{"app": "web"}, "ipFamilyPolicy": "SingleStack", "ipFamilies": []any{"IPv4"},
				"clusterIP": "10.96.12.34", "clusterIPs": []any{"10.96.12.34"}, "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
				"ports": []any{map[string]any{"name": "http", "port": int64(80), "targetPort": int64(8080), "nodePort": int64(30080), "protocol": "TCP"}}}},
			"Name:                     web\nNamespace:                default\nLabels:                   app=web\nAnnotations:              <none>\nSelector:                 app=web\nType:                     NodePort\nIP Family Policy:         SingleStack\nIP Families:              IPv4\nIP:                       10.96.12.34\nIPs:                      10.96.12.34\nPort:                     http  80/TCP\nTargetPort:               8080/TCP\nNodePort:                 http  30080/TCP\nEndpoints:                <none>\nSession Affinity:         None\nExternal Traffic Policy:  Cluster\nInternal Traffic Policy:  Cluster\nEvents:                   <none>\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := mustObj(t, c.obj)
			u.SetCreationTimestamp(metav1.Time{Time: mustTime(created)})
			got, err := fakeDescriber(u).Describe(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got:\n%s\nwant:\n%s\n(got %q)", got, c.want, got)
			}
		})
	}
}

func mustTime(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

func TestDescribeDeploymentTemplateAndReplicaSets(t *testing.T) {
	t.Setenv("TZ", "UTC")
	dep := mustObj(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "nginx", "namespace": "default", "uid": "d1", "labels": map[string]any{"app": "nginx"},
			"annotations": map[string]any{"deployment.kubernetes.io/revision": "1"}, "creationTimestamp": "2024-05-01T09:59:58Z"},
		"spec": map[string]any{"replicas": int64(3), "selector": map[string]any{"matchLabels": map[string]any{"app": "nginx"}},
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxUnavailable": "25%", "maxSurge": "25%"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "nginx"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "nginx", "image": "nginx:1.25"}}}}},
		"status": map[string]any{"replicas": int64(3), "updatedReplicas": int64(3), "availableReplicas": int64(2), "unavailableReplicas": int64(1),
			"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
				map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}}}})
	rs := mustObj(t, map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": "nginx-7854ff8877", "namespace": "default", "labels": map[string]any{"app": "nginx"},
			"annotations":     map[string]any{"deployment.kubernetes.io/revision": "1"},
			"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx", "uid": "d1", "controller": true}}},
		"spec": map[string]any{"replicas": int64(3)}, "status": map[string]any{"replicas": int64(3)}})
	got, err := fakeDescriber(dep, rs).Describe(context.Background(), dep)
	if err != nil {
		t.Fatal(err)
	}
	want := `Name:                   nginx
Namespace:              default
CreationTimestamp:      Wed, 01 May 2024 09:59:58 +0000
Labels:                 app=nginx
Annotations:            deployment.kubernetes.io/revision: 1
Selector:               app=nginx
Replicas:               3 desired | 3 updated | 3 total | 2 available | 1 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25% max unavailable, 25% max surge
Pod Template:
  Labels:  app=nginx
  Containers:
   nginx:
    Image:         nginx:1.25
    Port:          <none>
    Host Port:     <none>
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Conditions:
  Type           Status  Reason
  ----           ------  ------
  Available      True    MinimumReplicasAvailable
  Progressing    True    NewReplicaSetAvailable
OldReplicaSets:  <none>
NewReplicaSet:   nginx-7854ff8877 (3/3 replicas created)
Events:          <none>
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestEventsTable(t *testing.T) {
	out, _ := tabbed(func(w *prefixWriter) error {
		printEvents(w, nil)
		return nil
	})
	if out != "Events:  <none>\n" {
		t.Fatalf("no events: %q", out)
	}
	ts := metav1.NewTime(time.Now().Add(-61 * time.Minute))
	older := metav1.NewTime(time.Now().Add(-65 * time.Minute))
	out, _ = tabbed(func(w *prefixWriter) error {
		printEvents(w, []corev1.Event{
			{Type: "Normal", Reason: "Pulled", Message: "Container image already present", Count: 3, FirstTimestamp: older, LastTimestamp: ts,
				Source: corev1.EventSource{Component: "kubelet"}, InvolvedObject: corev1.ObjectReference{FieldPath: "spec.containers{nginx}"}},
			{Type: "Normal", Reason: "Scheduled", Message: " Successfully assigned ", FirstTimestamp: older, LastTimestamp: older,
				Source: corev1.EventSource{Component: "default-scheduler"}},
		})
		return nil
	})
	want := "Events:\n  Type    Reason     Age                From               Message\n  ----    ------     ----               ----               -------\n" +
		"  Normal  Scheduled  65m                default-scheduler  Successfully assigned\n" +
		"  Normal  Pulled     61m (x3 over 65m)  kubelet            spec.containers{nginx}: Container image already present\n"
	if out != want {
		t.Errorf("events table:\n%s\nwant:\n%s", out, want)
	}
}

func TestCompactRulesOrder(t *testing.T) {
	u := mustObj(t, map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": map[string]any{"name": "reader", "namespace": "default"},
		"rules": []any{
			map[string]any{"apiGroups": []any{""}, "resources": []any{"pods", "pods/log"}, "verbs": []any{"get", "list"}},
			map[string]any{"apiGroups": []any{"apps"}, "resources": []any{"deployments"}, "verbs": []any{"get"}},
		}})
	got, err := fakeDescriber(u).Describe(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	want := "Name:         reader\nLabels:       <none>\nAnnotations:  <none>\nPolicyRule:\n  Resources         Non-Resource URLs  Resource Names  Verbs\n  ---------         -----------------  --------------  -----\n  pods/log          []                 []              [get list]\n  pods              []                 []              [get list]\n  deployments.apps  []                 []              [get]\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
