package deployment_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/deployment"
	"kserver.dev/kserver/internal/controller/replicaset"
	"kserver.dev/kserver/internal/e2e"
)

const webYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx:1.25
`

// TestRolloutWithKubectl drives the Deployment and ReplicaSet controllers
// with stock kubectl: rollout status, set image, history with
// change-cause, undo to a revision, scale.
func TestRolloutWithKubectl(t *testing.T) {
	cl := e2e.Start(t)
	k := e2e.FindKubectl(t)
	env := controllertest.New(t, cl.RestConfig(t))
	drec, b1 := client.NewRecorder(env.Set, deployment.Component)
	rrec, b2 := client.NewRecorder(env.Set, replicaset.Component)
	defer b1.Shutdown()
	defer b2.Shutdown()
	dc := deployment.New(deployment.Config{Set: env.Set, Informers: env.Inf, Recorder: drec})
	rc := replicaset.New(replicaset.Config{Set: env.Set, Informers: env.Inf, Recorder: rrec})
	env.MarkPodsReady(nil)
	env.Inf.Start(env.Ctx)
	go func() { _ = dc.Run(env.Ctx, 2) }()
	go func() { _ = rc.Run(env.Ctx, 2) }()

	run := func(stdin string, args ...string) string {
		t.Helper()
		r := k.Run(cl, stdin, args...)
		if r.Err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
		}
		return r.Stdout
	}
	run(webYAML, "apply", "-f", "-")
	if out := run("", "rollout", "status", "deployment/web", "--timeout=60s"); !strings.HasSuffix(out, "deployment \"web\" successfully rolled out\n") {
		t.Fatalf("rollout status: %q", out)
	}

	run("", "set", "image", "deployment/web", "app=nginx:1.26")
	run("", "annotate", "deployment/web", "kubernetes.io/change-cause=image updated to 1.26")
	if out := run("", "rollout", "status", "deployment/web", "--timeout=60s"); !strings.Contains(out, "successfully rolled out") {
		t.Fatalf("rollout status after set image: %q", out)
	}
	env.Eventually("change-cause on the new replica set", func() bool {
		return strings.Contains(run("", "rollout", "history", "deployment/web"), "2         image updated to 1.26")
	})
	hist := run("", "rollout", "history", "deployment/web")
	want := "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         image updated to 1.26\n\n"
	if hist != want {
		t.Fatalf("rollout history:\n%q\nwant\n%q", hist, want)
	}
	if out := run("", "rollout", "history", "deployment/web", "--revision=1"); !strings.Contains(out, "nginx:1.25") {
		t.Fatalf("history of revision 1: %q", out)
	}

	if out := run("", "rollout", "undo", "deployment/web", "--to-revision=1"); strings.TrimSpace(out) != "deployment.apps/web rolled back" {
		t.Fatalf("undo: %q", out)
	}
	run("", "rollout", "status", "deployment/web", "--timeout=60s")
	env.Eventually("revision 1 rolled forward as revision 3", func() bool {
		return strings.HasPrefix(run("", "rollout", "history", "deployment/web"), "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         image updated to 1.26\n3         ")
	})
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	env.Eventually("3 pods all on nginx:1.25", func() bool {
		pods := env.Pods("default", sel)
		for _, p := range pods {
			if p.Spec.Containers[0].Image != "nginx:1.25" {
				return false
			}
		}
		return len(pods) == 3
	})
	rss, err := env.Set.ReplicaSets("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rss.Items) != 2 {
		t.Fatalf("replica sets: %v %v", rss, err)
	}
	for _, rs := range rss.Items {
		if rs.Spec.Template.Spec.Containers[0].Image == "nginx:1.25" && rs.Annotations[deployment.RevisionHistoryAnnotation] != "1" {
			t.Fatalf("rolled-back replica set annotations %v", rs.Annotations)
		}
	}

	// rollout restart stamps kubectl.kubernetes.io/restartedAt on the
	// template: a new rollout; pause holds a change back until resume.
	run("", "rollout", "restart", "deployment/web")
	run("", "rollout", "status", "deployment/web", "--timeout=60s")
	env.Eventually("restart is revision 4", func() bool {
		return strings.Contains(run("", "rollout", "history", "deployment/web"), "\n4         ")
	})
	run("", "rollout", "pause", "deployment/web")
	run("", "set", "image", "deployment/web", "app=nginx:1.27")
	env.Eventually("paused generation observed", func() bool {
		d, err := env.Set.Deployments("default").Get(env.Ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration == d.Generation
	})
	if h := run("", "rollout", "history", "deployment/web"); strings.Contains(h, "\n5         ") {
		t.Fatalf("a paused deployment rolled out:\n%s", h)
	}
	run("", "rollout", "resume", "deployment/web")
	run("", "rollout", "status", "deployment/web", "--timeout=60s")
	desc := run("", "describe", "deployment", "web")
	for _, want := range []string{"NewReplicaSetAvailable", "MinimumReplicasAvailable", "ScalingReplicaSet", "Scaled up replica set web-", "NewReplicaSet:"} {
		if !strings.Contains(desc, want) {
			t.Fatalf("kubectl describe lacks %q:\n%s", want, desc)
		}
	}

	run("", "scale", "deployment/web", "--replicas=5")
	env.Eventually("5 pods", func() bool { return len(env.Pods("default", sel)) == 5 })
	run("", "rollout", "status", "deployment/web", "--timeout=60s")
	out := run("", "get", "deployment", "web", "--no-headers")
	if f := strings.Fields(out); len(f) < 4 || f[1] != "5/5" || f[2] != "5" || f[3] != "5" {
		t.Fatalf("kubectl get deployment: %q", out)
	}
	run("", "scale", "deployment/web", "--replicas=1")
	env.Eventually("1 pod", func() bool { return len(env.Pods("default", sel)) == 1 })
	env.WaitEvent("default", "Deployment", "web", "Scaled down replica set web-")
}
