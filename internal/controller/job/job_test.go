package job_test

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/job"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	c *job.Controller
}

func setup(t *testing.T, clk clock.Clock) *fixture {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, job.Component)
	t.Cleanup(b.Shutdown)
	f := &fixture{Env: env, c: job.New(job.Config{Set: env.Set, Informers: env.Inf, Recorder: rec, Clock: clk, PodFailureBackOff: 10 * time.Millisecond})}
	env.Start()
	return f
}

func newJob(name string, completions, parallelism int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To(completions), Parallelism: ptr.To(parallelism),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
			}},
		},
	}
}

func (f *fixture) create(j *batchv1.Job) *batchv1.Job {
	f.T.Helper()
	got, err := f.Set.Jobs("default").Create(f.Ctx, j, metav1.CreateOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.Jobs(), got)
	return got
}

func (f *fixture) get(name string) *batchv1.Job {
	f.T.Helper()
	j, err := f.Set.Jobs("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	return j
}

// syncUntil syncs the job until cond holds on it (each sync reads the
// cache, which catches up with the previous one's writes).
func (f *fixture) syncUntil(name, what string, cond func(*batchv1.Job) bool) *batchv1.Job {
	f.T.Helper()
	var j *batchv1.Job
	f.Eventually(what, func() bool {
		if err := f.c.Sync(f.Ctx, "default/"+name); err != nil {
			f.T.Logf("sync: %v", err)
		}
		j = f.get(name)
		return cond(j)
	})
	return j
}

func condTypes(j *batchv1.Job) string {
	var s []string
	for _, c := range j.Status.Conditions {
		s = append(s, string(c.Type)+"="+string(c.Status)+"/"+c.Reason)
	}
	return strings.Join(s, ",")
}

func podsOf(f *fixture, name string) []corev1.Pod {
	return f.Pods("default", labels.SelectorFromSet(labels.Set{batchv1.JobNameLabel: name}))
}

func TestBackoffLimitFailsJob(t *testing.T) {
	f := setup(t, nil)
	j := newJob("fail", 1, 1)
	j.Spec.BackoffLimit = ptr.To[int32](0)
	f.create(j)
	f.syncUntil("fail", "one pod", func(*batchv1.Job) bool { return len(podsOf(f, "fail")) == 1 })
	p := podsOf(f, "fail")[0]
	if len(p.Finalizers) != 1 || p.Finalizers[0] != batchv1.JobTrackingFinalizer {
		t.Fatalf("pod finalizers %v", p.Finalizers)
	}
	f.SetPodStatus(&p, corev1.PodFailed, false)
	got := f.syncUntil("fail", "Failed condition", func(j *batchv1.Job) bool { return strings.Contains(condTypes(j), "Failed=True") })
	if want := "FailureTarget=True/BackoffLimitExceeded,Failed=True/BackoffLimitExceeded"; condTypes(got) != want {
		t.Fatalf("conditions %s, want %s", condTypes(got), want)
	}
	if got.Status.Failed != 1 || got.Status.Active != 0 || got.Status.CompletionTime != nil {
		t.Fatalf("status %+v", got.Status)
	}
	f.WaitEvent("default", "Job", "fail", "Warning BackoffLimitExceeded Job has reached the specified backoff limit")
	f.Eventually("finalizer removed", func() bool {
		ps := podsOf(f, "fail")
		return len(ps) == 1 && len(ps[0].Finalizers) == 0
	})
}

func TestIndexedJob(t *testing.T) {
	f := setup(t, nil)
	j := newJob("idx", 3, 3)
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	f.create(j)
	f.syncUntil("idx", "three pods", func(*batchv1.Job) bool { return len(podsOf(f, "idx")) == 3 })
	seen := map[string]bool{}
	for _, p := range podsOf(f, "idx") {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "idx-"+ix || !strings.HasPrefix(p.Name, "idx-"+ix+"-") {
			t.Fatalf("pod %s: index %q labels %v hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Fatalf("env %+v", env)
		}
		seen[ix] = true
		if ix != "1" {
			f.SetPodStatus(&p, corev1.PodSucceeded, false)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("indexes %v", seen)
	}
	got := f.syncUntil("idx", "indexes 0 and 2", func(j *batchv1.Job) bool { return j.Status.CompletedIndexes == "0,2" })
	if got.Status.Succeeded != 2 || got.Status.Active != 1 {
		t.Fatalf("status %+v", got.Status)
	}
	for _, p := range podsOf(f, "idx") {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "1" {
			f.SetPodStatus(&p, corev1.PodSucceeded, false)
		}
	}
	got = f.syncUntil("idx", "complete", func(j *batchv1.Job) bool { return strings.Contains(condTypes(j), "Complete=True") })
	if got.Status.CompletedIndexes != "0-2" || got.Status.Succeeded != 3 {
		t.Fatalf("status %+v", got.Status)
	}
}

func TestActiveDeadlineAndTTL(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	f := setup(t, clk)
	j := newJob("slow", 1, 1)
	j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60)
	f.create(j)
	f.syncUntil("slow", "one pod and a start time", func(j *batchv1.Job) bool {
		return len(podsOf(f, "slow")) == 1 && j.Status.StartTime != nil && j.Status.Active == 1
	})
	clk.Step(31 * time.Second)
	got := f.syncUntil("slow", "Failed", func(j *batchv1.Job) bool { return strings.Contains(condTypes(j), "Failed=True") })
	if want := "FailureTarget=True/DeadlineExceeded,Failed=True/DeadlineExceeded"; condTypes(got) != want {
		t.Fatalf("conditions %s", condTypes(got))
	}
	f.WaitEvent("default", "Job", "slow", "Warning DeadlineExceeded Job was active longer than specified deadline")
	f.WaitEvent("default", "Job", "slow", "Normal SuccessfulDelete Deleted pod: slow-")
	// Not yet expired: the job stays.
	f.Cached(f.Inf.Jobs(), got)
	if err := f.c.Sync(f.Ctx, "default/slow"); err != nil {
		t.Fatal(err)
	}
	if j := f.get("slow"); j.DeletionTimestamp != nil {
		t.Fatal("deleted before its TTL")
	}
	clk.Step(61 * time.Second)
	if err := f.c.Sync(f.Ctx, "default/slow"); err != nil {
		t.Fatal(err)
	}
	f.Eventually("job deleted after its TTL", func() bool {
		j, err := f.Set.Jobs("default").Get(f.Ctx, "slow", metav1.GetOptions{})
		return err != nil || j.DeletionTimestamp != nil
	})
}

func TestSuspendAndResume(t *testing.T) {
	f := setup(t, nil)
	j := newJob("sus", 2, 2)
	j.Spec.Suspend = ptr.To(true)
	f.create(j)
	got := f.syncUntil("sus", "Suspended", func(j *batchv1.Job) bool { return strings.Contains(condTypes(j), "Suspended=True/JobSuspended") })
	if got.Status.StartTime != nil || len(podsOf(f, "sus")) != 0 {
		t.Fatalf("suspended job started: %+v", got.Status)
	}
	f.WaitEvent("default", "Job", "sus", "Normal Suspended Job suspended")
	got.Spec.Suspend = ptr.To(false)
	if _, err := f.Set.Jobs("default").Update(f.Ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got = f.syncUntil("sus", "resumed with 2 pods", func(j *batchv1.Job) bool {
		return strings.Contains(condTypes(j), "Suspended=False/JobResumed") && len(podsOf(f, "sus")) == 2
	})
	if got.Status.StartTime == nil {
		t.Fatal("no start time after resume")
	}
	f.WaitEvent("default", "Job", "sus", "Normal Resumed Job resumed")
}

func TestFailedPodsReplacedUntilBackoffLimit(t *testing.T) {
	f := setup(t, nil)
	j := newJob("retry", 1, 1)
	j.Spec.BackoffLimit = ptr.To[int32](1)
	f.create(j)
	for round := 1; round <= 2; round++ {
		f.syncUntil("retry", "a running pod", func(*batchv1.Job) bool {
			n := 0
			for _, p := range podsOf(f, "retry") {
				if p.Status.Phase != corev1.PodFailed {
					n++
				}
			}
			return n == 1
		})
		for _, p := range podsOf(f, "retry") {
			if p.Status.Phase != corev1.PodFailed {
				f.SetPodStatus(&p, corev1.PodFailed, false)
			}
		}
		if round == 1 {
			got := f.syncUntil("retry", "one failure counted", func(j *batchv1.Job) bool { return j.Status.Failed == 1 })
			if strings.Contains(condTypes(got), "Failed") {
				t.Fatalf("failed after one failure with backoffLimit 1: %s", condTypes(got))
			}
		}
	}
	got := f.syncUntil("retry", "Failed", func(j *batchv1.Job) bool { return strings.Contains(condTypes(j), "Failed=True") })
	if got.Status.Failed != 2 || len(podsOf(f, "retry")) != 2 {
		t.Fatalf("status %+v, %d pods", got.Status, len(podsOf(f, "retry")))
	}
}
