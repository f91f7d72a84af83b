package kctl

import (
	"strings"
	"testing"
)

func TestWhyPendingPodNamesEachNodesFilter(t *testing.T) {
	fs := newFakeServer(t,
		obj("v1", "Node", "", "n1", map[string]string{"disk": "hdd"}, map[string]any{
			"spec":   map[string]any{"taints": []any{map[string]any{"key": "dedicated", "value": "db", "effect": "NoSchedule"}}},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}, "allocatable": map[string]any{"cpu": "2", "memory": "1Gi"}}}),
		obj("v1", "Node", "", "n2", map[string]string{"disk": "ssd"}, map[string]any{
			"spec":   map[string]any{"unschedulable": true},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}, "allocatable": map[string]any{"cpu": "2", "memory": "1Gi"}}}),
		obj("v1", "Pod", "default", "big", nil, map[string]any{
			"spec": map[string]any{"nodeSelector": map[string]any{"disk": "ssd"},
				"containers": []any{map[string]any{"name": "c", "image": "x", "resources": map[string]any{"requests": map[string]any{"cpu": "4"}}}}},
			"status": map[string]any{"phase": "Pending"}}),
	)
	out, errOut, code := fs.run("", "why", "pod/big")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	for _, want := range []string{
		"pod/big is Pending.",
		"node n1: taint dedicated=db:NoSchedule is not tolerated by the pod; its labels do not match nodeSelector disk=ssd; not enough cpu (the pod requests 4, 2 is free)",
		"node n2: it is cordoned (`kctl uncordon n2`); not enough cpu (the pod requests 4, 2 is free)",
		"→ fix one of the reasons above",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestWhyServiceWithoutMatchingPods(t *testing.T) {
	fs := newFakeServer(t,
		obj("v1", "Service", "default", "web", nil, map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "web", "tier": "fe"},
			"ports": []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}}}}),
		obj("v1", "Pod", "default", "web-1", map[string]string{"app": "web"}, map[string]any{"status": map[string]any{"phase": "Running"}}),
	)
	out, _, _ := fs.run("", "why", "svc/web")
	for _, want := range []string{"service/web selects pods with app=web,tier=fe.", "no pod in namespace default has these labels",
		"pods with some of the labels: web-1 (app=web)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTreeShowsOwnership(t *testing.T) {
	dep := obj("apps/v1", "Deployment", "default", "web", nil, map[string]any{"spec": map[string]any{"replicas": int64(1)}, "status": map[string]any{"readyReplicas": int64(1)}})
	dep.SetUID("d1")
	rs := obj("apps/v1", "ReplicaSet", "default", "web-abc", nil, map[string]any{"spec": map[string]any{"replicas": int64(1)}})
	rs.SetUID("r1")
	rs.Object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}}
	pod := obj("v1", "Pod", "default", "web-abc-1", nil, map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c"}}},
		"status": map[string]any{"phase": "Running", "containerStatuses": []any{map[string]any{"name": "c", "ready": true}}}})
	pod.Object["metadata"].(map[string]any)["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "r1", "controller": true}}
	fs := newFakeServer(t, dep, rs, pod)
	out, errOut, code := fs.run("", "tree", "deploy/web")
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "Deployment/web ") || !strings.HasPrefix(lines[2], "└─ReplicaSet/web-abc ") ||
		!strings.HasPrefix(lines[3], "  └─Pod/web-abc-1 ") || !strings.Contains(lines[3], "1/1") || !strings.Contains(lines[3], "Running") {
		t.Errorf("tree:\n%s", out)
	}
}
