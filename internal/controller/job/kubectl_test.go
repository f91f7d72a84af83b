package job_test

import (
	"strings"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/job"
	"kserver.dev/kserver/internal/e2e"
)

const batchYAML = `apiVersion: batch/v1
kind: Job
metadata:
  name: batch-job
spec:
  completions: 5
  parallelism: 2
  template:
    metadata:
      labels:
        app: batch-job
    spec:
      restartPolicy: OnFailure
      containers:
      - name: main
        image: luksa/batch-job
`

// TestCompletionsWithKubectl runs a Job with completions 5 and
// parallelism 2 to completion, the test playing the node agent: each pod
// runs, then succeeds. At no time are more than two pods active.
func TestCompletionsWithKubectl(t *testing.T) {
	cl := e2e.Start(t)
	k := e2e.FindKubectl(t)
	env := controllertest.New(t, cl.RestConfig(t))
	rec, b := client.NewRecorder(env.Set, job.Component)
	defer b.Shutdown()
	c := job.New(job.Config{Set: env.Set, Informers: env.Inf, Recorder: rec})

	var mu sync.Mutex
	running, maxRunning, created := map[string]bool{}, 0, map[string]bool{}
	env.DrivePods(func(p *corev1.Pod) bool {
		mu.Lock()
		defer mu.Unlock()
		created[p.Name] = true
		switch p.Status.Phase {
		case "", corev1.PodPending:
			p.Status.Phase = corev1.PodRunning
			running[p.Name] = true
			maxRunning = max(maxRunning, len(running))
		case corev1.PodRunning:
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", FinishedAt: metav1.Now()}}}}
			delete(running, p.Name)
		default:
			return false
		}
		return true
	})
	env.Inf.Start(env.Ctx)
	go func() { _ = c.Run(env.Ctx, 2) }()

	if r := k.Run(cl, batchYAML, "apply", "-f", "-"); r.Err != nil {
		t.Fatalf("apply: %v %s", r.Err, r.Stderr)
	}
	r := k.Run(cl, "", "wait", "--for=condition=complete", "job/batch-job", "--timeout=60s")
	if r.Err != nil || strings.TrimSpace(r.Stdout) != "job.batch/batch-job condition met" {
		t.Fatalf("kubectl wait: %v %q %s", r.Err, r.Stdout, r.Stderr)
	}
	out := k.Run(cl, "", "get", "job", "batch-job", "--no-headers").Stdout
	if f := strings.Fields(out); len(f) < 3 || f[1] != "Complete" || f[2] != "5/5" {
		t.Fatalf("kubectl get job: %q", out)
	}
	j, err := env.Set.Jobs("default").Get(env.Ctx, "batch-job", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Succeeded != 5 || j.Status.Failed != 0 || j.Status.Active != 0 || j.Status.CompletionTime == nil {
		t.Fatalf("status %+v", j.Status)
	}
	var types []string
	for _, c := range j.Status.Conditions {
		types = append(types, string(c.Type)+"/"+c.Reason)
	}
	if strings.Join(types, ",") != "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached" {
		t.Fatalf("conditions %v", types)
	}
	mu.Lock()
	if maxRunning > 2 || len(created) != 5 {
		t.Errorf("max %d running at once, %d pods created; want ≤ 2 and 5", maxRunning, len(created))
	}
	mu.Unlock()
	env.WaitEvent("default", "Job", "batch-job", "Normal Completed Job completed")
	env.WaitEvent("default", "Job", "batch-job", "Normal SuccessfulCreate Created pod: batch-job-")
	pods, _ := env.Set.Pods("default").List(env.Ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=batch-job"})
	for _, p := range pods.Items {
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
		}
	}
}
