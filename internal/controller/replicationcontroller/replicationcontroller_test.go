package replicationcontroller_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/replicationcontroller"
	"kserver.dev/kserver/internal/e2e"
)

const rcYAML = `apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
`

// TestScaleRCWithKubectl runs the controller and drives it with stock
// kubectl: create, `kubectl scale rc`, and the counts `kubectl get rc` prints.
func TestScaleRCWithKubectl(t *testing.T) {
	cl := e2e.Start(t)
	k := e2e.FindKubectl(t)
	env := controllertest.New(t, cl.RestConfig(t))
	rec, b := client.NewRecorder(env.Set, replicationcontroller.Component)
	defer b.Shutdown()
	c := replicationcontroller.New(replicationcontroller.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})
	env.Inf.Start(env.Ctx)
	go func() { _ = c.Run(env.Ctx, 2) }()

	if r := k.Run(cl, rcYAML, "apply", "-f", "-"); r.Err != nil {
		t.Fatalf("apply: %v %s", r.Err, r.Stderr)
	}
	sel := labels.SelectorFromSet(labels.Set{"app": "kubia"})
	countOwned := func(n int) func() bool {
		return func() bool {
			pods := env.Pods("default", sel)
			if len(pods) != n {
				return false
			}
			for _, p := range pods {
				ref := metav1.GetControllerOf(&p)
				if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.Name != "kubia" {
					return false
				}
			}
			return true
		}
	}
	env.Eventually("3 pods owned by the RC", countOwned(3))

	r := k.Run(cl, "", "scale", "rc", "kubia", "--replicas=5")
	if r.Err != nil || strings.TrimSpace(r.Stdout) != "replicationcontroller/kubia scaled" {
		t.Fatalf("scale: %v %q %s", r.Err, r.Stdout, r.Stderr)
	}
	env.Eventually("5 pods", countOwned(5))
	env.Eventually("status.replicas 5", func() bool {
		rc, err := env.Set.ReplicationControllers("default").Get(env.Ctx, "kubia", metav1.GetOptions{})
		return err == nil && rc.Status.Replicas == 5 && rc.Status.ObservedGeneration == rc.Generation
	})
	out := k.Run(cl, "", "get", "rc", "kubia", "--no-headers")
	if f := strings.Fields(out.Stdout); len(f) < 4 || f[1] != "5" || f[2] != "5" || f[3] != "0" {
		t.Fatalf("kubectl get rc: %q", out.Stdout)
	}
	env.WaitEvent("default", "ReplicationController", "kubia", "Normal SuccessfulCreate Created pod: kubia-")

	if r := k.Run(cl, "", "scale", "rc", "kubia", "--replicas=1"); r.Err != nil {
		t.Fatalf("scale down: %v %s", r.Err, r.Stderr)
	}
	env.Eventually("1 pod", countOwned(1))
	env.WaitEvent("default", "ReplicationController", "kubia", "Normal SuccessfulDelete Deleted pod: kubia-")
}
