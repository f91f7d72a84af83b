package statefulset_test

import (
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/statefulset"
	"kserver.dev/kserver/internal/e2e"
)

const webYAML = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
`

// TestStatefulSetWithKubectl: ordered start (each pod appears only after
// the previous one is ready), rollout status, set image, history, undo.
func TestStatefulSetWithKubectl(t *testing.T) {
	cl := e2e.Start(t)
	k := e2e.FindKubectl(t)
	env := controllertest.New(t, cl.RestConfig(t))
	rec, b := client.NewRecorder(env.Set, statefulset.Component)
	defer b.Shutdown()
	c := statefulset.New(statefulset.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})

	var mu sync.Mutex
	var order []string
	ready := map[string]bool{}
	outOfOrder := ""
	env.DrivePods(func(p *corev1.Pod) bool {
		mu.Lock()
		defer mu.Unlock()
		if p.Status.Phase == corev1.PodRunning {
			return false
		}
		ord := p.Labels["apps.kubernetes.io/pod-index"]
		if ord != "0" && len(order) < 3 {
			prev := "web-" + string(rune(ord[0]-1))
			if !ready[prev] {
				outOfOrder = p.Name + " before " + prev + " was ready"
			}
		}
		if len(order) < 3 {
			order = append(order, p.Name)
		}
		ready[p.Name] = true
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		return true
	})
	env.Inf.Start(env.Ctx)
	go func() { _ = c.Run(env.Ctx, 2) }()

	run := func(args ...string) string {
		t.Helper()
		r := k.Run(cl, "", args...)
		if r.Err != nil {
			t.Fatalf("kubectl %s: %v %s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	if r := k.Run(cl, webYAML, "apply", "-f", "-"); r.Err != nil {
		t.Fatalf("apply: %v %s", r.Err, r.Stderr)
	}
	out := run("rollout", "status", "statefulset/web", "--timeout=60s")
	if !strings.HasSuffix(out, "partitioned roll out complete: 3 new pods have been updated...\n") {
		t.Fatalf("rollout status: %q", out)
	}
	mu.Lock()
	if strings.Join(order, ",") != "web-0,web-1,web-2" || outOfOrder != "" {
		t.Fatalf("start order %v %s", order, outOfOrder)
	}
	mu.Unlock()
	pvcs := run("get", "pvc", "-o", "name")
	if pvcs != "persistentvolumeclaim/www-web-0\npersistentvolumeclaim/www-web-1\npersistentvolumeclaim/www-web-2\n" {
		t.Fatalf("claims: %q", pvcs)
	}

	run("set", "image", "statefulset/web", "nginx=nginx:1.26")
	run("rollout", "status", "statefulset/web", "--timeout=60s")
	hist := run("rollout", "history", "statefulset/web")
	if hist != "statefulset.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n" {
		t.Fatalf("history: %q", hist)
	}
	env.Eventually("all pods on nginx:1.26", func() bool {
		pods, _ := env.Set.Pods("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != "nginx:1.26" {
				return false
			}
		}
		return len(pods.Items) == 3
	})
	if out := run("rollout", "undo", "statefulset/web"); strings.TrimSpace(out) != "statefulset.apps/web rolled back" {
		t.Fatalf("undo: %q", out)
	}
	env.Eventually("history renumbers revision 1 as 3", func() bool {
		return run("rollout", "history", "statefulset/web") == "statefulset.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n"
	})
	env.Eventually("all pods back on nginx:1.25", func() bool {
		pods, _ := env.Set.Pods("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image != "nginx:1.25" {
				return false
			}
		}
		return len(pods.Items) == 3
	})
}
