package deployment_test

import (
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/deployment"
	"kserver.dev/kserver/internal/controller/replicaset"
	"kserver.dev/kserver/internal/e2e"
)

// running starts both controllers; ready decides which pods the test's
// stand-in node agent makes Ready (nil: none).
func running(t *testing.T, ready func(*corev1.Pod) bool) (*controllertest.Env, *e2e.Cluster) {
	cl := e2e.Start(t)
	env := controllertest.New(t, cl.RestConfig(t))
	drec, b1 := client.NewRecorder(env.Set, deployment.Component)
	rrec, b2 := client.NewRecorder(env.Set, replicaset.Component)
	t.Cleanup(b1.Shutdown)
	t.Cleanup(b2.Shutdown)
	dc := deployment.New(deployment.Config{Set: env.Set, Informers: env.Inf, Recorder: drec})
	rc := replicaset.New(replicaset.Config{Set: env.Set, Informers: env.Inf, Recorder: rrec})
	if ready != nil {
		env.MarkPodsReady(ready)
	}
	env.Inf.Start(env.Ctx)
	go func() { _ = dc.Run(env.Ctx, 2) }()
	go func() { _ = rc.Run(env.Ctx, 2) }()
	return env, cl
}

func getD(env *controllertest.Env, name string) *appsv1.Deployment {
	d, err := env.Set.Deployments("default").Get(env.Ctx, name, metav1.GetOptions{})
	if err != nil {
		env.T.Fatal(err)
	}
	return d
}

func update(env *controllertest.Env, name string, change func(*appsv1.Deployment)) {
	env.T.Helper()
	for i := 0; ; i++ {
		d := getD(env, name)
		change(d)
		_, err := env.Set.Deployments("default").Update(env.Ctx, d, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if i > 10 {
			env.T.Fatal(err)
		}
	}
}

func done(env *controllertest.Env, name string) func() bool {
	return func() bool {
		d := getD(env, name)
		c := cond(d, appsv1.DeploymentProgressing)
		return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
			d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas && c.Reason == "NewReplicaSetAvailable"
	}
}

func TestRecreateNeverOverlaps(t *testing.T) {
	env, _ := running(t, func(*corev1.Pod) bool { return true })
	var mu sync.Mutex
	images := map[string]string{}
	overlap := false
	_, _ = env.Inf.Pods().AddEventHandler(podWatch(func(p *corev1.Pod, gone bool) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			delete(images, p.Name)
			return
		}
		images[p.Name] = p.Spec.Containers[0].Image
		seen := map[string]bool{}
		for _, img := range images {
			seen[img] = true
		}
		overlap = overlap || len(seen) > 1
	}))
	d := newDeployment("rec", 2, "app:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := env.Set.Deployments("default").Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Eventually("first rollout", done(env, "rec"))
	update(env, "rec", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "app:2" })
	env.Eventually("second rollout", done(env, "rec"))
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("old and new pods existed at the same time under Recreate")
	}
	env.WaitEvent("default", "Deployment", "rec", "Scaled down replica set rec-")
}

func TestPauseResumeAndHistoryLimit(t *testing.T) {
	env, _ := running(t, func(*corev1.Pod) bool { return true })
	d := newDeployment("p", 2, "app:1")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	if _, err := env.Set.Deployments("default").Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Eventually("rollout 1", done(env, "p"))
	update(env, "p", func(d *appsv1.Deployment) { d.Spec.Paused = true })
	env.Eventually("paused condition", func() bool {
		c := cond(getD(env, "p"), appsv1.DeploymentProgressing)
		return c.Reason == "DeploymentPaused" && c.Status == corev1.ConditionUnknown && c.Message == "Deployment is paused"
	})
	update(env, "p", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "app:2" })
	env.Eventually("generation observed while paused", func() bool {
		d := getD(env, "p")
		return d.Status.ObservedGeneration == d.Generation
	})
	rss, _ := env.Set.ReplicaSets("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=p"})
	if len(rss.Items) != 1 {
		t.Fatalf("a paused deployment rolled out: %d replica sets", len(rss.Items))
	}
	update(env, "p", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	env.Eventually("rollout 2 after resume", done(env, "p"))
	update(env, "p", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "app:3" })
	env.Eventually("rollout 3", done(env, "p"))
	env.Eventually("one old replica set kept", func() bool {
		rss, _ := env.Set.ReplicaSets("default").List(env.Ctx, metav1.ListOptions{LabelSelector: "app=p"})
		var revs []string
		for _, rs := range rss.Items {
			revs = append(revs, rs.Annotations[deployment.RevisionAnnotation])
		}
		return len(rss.Items) == 2 && !strings.Contains(strings.Join(revs, ","), "1")
	})
}

func TestProgressDeadlineExceeded(t *testing.T) {
	env, cl := running(t, nil) // no pod ever becomes ready
	d := newDeployment("stuck", 1, "app:1")
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](1)
	if _, err := env.Set.Deployments("default").Create(env.Ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env.Eventually("ProgressDeadlineExceeded", func() bool {
		c := cond(getD(env, "stuck"), appsv1.DeploymentProgressing)
		return c.Reason == "ProgressDeadlineExceeded" && c.Status == corev1.ConditionFalse && strings.HasSuffix(c.Message, "has timed out progressing.")
	})
	if c := cond(getD(env, "stuck"), appsv1.DeploymentAvailable); c.Status != corev1.ConditionFalse || c.Reason != "MinimumReplicasUnavailable" {
		t.Fatalf("available condition %+v", c)
	}
	r := e2e.FindKubectl(t).Run(cl, "", "rollout", "status", "deployment/stuck", "--timeout=20s")
	if r.Err == nil || !strings.Contains(r.Stderr, `deployment "stuck" exceeded its progress deadline`) {
		t.Fatalf("rollout status: %v %q %q", r.Err, r.Stdout, r.Stderr)
	}
}
