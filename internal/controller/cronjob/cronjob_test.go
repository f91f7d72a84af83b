package cronjob_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/cronjob"
	"kserver.dev/kserver/internal/e2e"
)

type fixture struct {
	*controllertest.Env
	c   *cronjob.Controller
	clk *clocktesting.FakeClock
}

func setup(t *testing.T) *fixture {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	rec, b := client.NewRecorder(env.Set, cronjob.Component)
	t.Cleanup(b.Shutdown)
	clk := clocktesting.NewFakeClock(time.Now())
	f := &fixture{Env: env, clk: clk, c: cronjob.New(cronjob.Config{Set: env.Set, Informers: env.Inf, Recorder: rec, Clock: clk})}
	env.Start()
	return f
}

func newCronJob(name, schedule string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"cron": name}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				}}},
			},
		},
	}
}

func (f *fixture) create(cj *batchv1.CronJob) *batchv1.CronJob {
	f.T.Helper()
	got, err := f.Set.CronJobs("default").Create(f.Ctx, cj, metav1.CreateOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.CronJobs(), got)
	return got
}

func (f *fixture) sync(name string) *batchv1.CronJob {
	f.T.Helper()
	cur, err := f.Set.CronJobs("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.CronJobs(), cur)
	if err := f.c.Sync(f.Ctx, "default/"+name); err != nil {
		f.T.Fatalf("sync: %v", err)
	}
	got, err := f.Set.CronJobs("default").Get(f.Ctx, name, metav1.GetOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	return got
}

func (f *fixture) jobs(name string) []batchv1.Job {
	f.T.Helper()
	l, err := f.Set.Jobs("default").List(f.Ctx, metav1.ListOptions{LabelSelector: "cron=" + name})
	if err != nil {
		f.T.Fatal(err)
	}
	return l.Items
}

// finish marks job j Complete (or Failed) as the Job controller would.
func (f *fixture) finish(j batchv1.Job, ok bool) {
	f.T.Helper()
	now := metav1.NewTime(f.clk.Now())
	j.Status.StartTime = &now
	if ok {
		j.Status.CompletionTime = &now
		j.Status.Succeeded = 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, LastTransitionTime: now}}
	} else {
		j.Status.Failed = 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, LastTransitionTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, LastTransitionTime: now}}
	}
	got, err := f.Set.Jobs("default").UpdateStatus(f.Ctx, &j, metav1.UpdateOptions{})
	if err != nil {
		f.T.Fatal(err)
	}
	f.Cached(f.Inf.Jobs(), got)
}

func TestScheduleForbidAndHistory(t *testing.T) {
	f := setup(t)
	cj := newCronJob("tick", "*/1 * * * *")
	cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
	cj = f.create(cj)
	created := cj.CreationTimestamp.Time

	// Before the first minute: nothing.
	f.clk.SetTime(created.Truncate(time.Minute).Add(59 * time.Second))
	if got := f.sync("tick"); got.Status.LastScheduleTime != nil || len(f.jobs("tick")) != 0 {
		t.Fatalf("job started early: %+v", got.Status)
	}
	// Just past the next minute: one job named after that minute.
	first := created.Truncate(time.Minute).Add(time.Minute)
	f.clk.SetTime(first.Add(5 * time.Second))
	got := f.sync("tick")
	js := f.jobs("tick")
	want := fmt.Sprintf("tick-%d", first.Unix()/60)
	if len(js) != 1 || js[0].Name != want {
		t.Fatalf("jobs %v, want one named %s", js, want)
	}
	if got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.Time.Equal(first) || len(got.Status.Active) != 1 || got.Status.Active[0].Name != want {
		t.Fatalf("status %+v", got.Status)
	}
	if ref := metav1.GetControllerOf(&js[0]); ref == nil || ref.Kind != "CronJob" || ref.UID != cj.UID {
		t.Fatalf("job owner %+v", js[0].OwnerReferences)
	}
	if ts := js[0].Annotations[batchv1.CronJobScheduledTimestampAnnotation]; ts == "" {
		t.Fatalf("no scheduled-timestamp annotation: %v", js[0].Annotations)
	}
	f.WaitEvent("default", "CronJob", "tick", "Normal SuccessfulCreate Created job "+want)
	// Syncing again in the same minute starts nothing more.
	f.sync("tick")
	if n := len(f.jobs("tick")); n != 1 {
		t.Fatalf("%d jobs after a second sync", n)
	}

	// Next minute, the job still runs: Forbid skips.
	f.Cached(f.Inf.Jobs(), &js[0])
	f.clk.SetTime(first.Add(65 * time.Second))
	f.sync("tick")
	if n := len(f.jobs("tick")); n != 1 {
		t.Fatalf("Forbid started another job: %d", n)
	}
	f.WaitEvent("default", "CronJob", "tick", "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid")

	// The job completes: it leaves status.active, and the schedule Forbid
	// held back (the second minute) starts now.
	f.finish(js[0], true)
	got = f.sync("tick")
	second := fmt.Sprintf("tick-%d", first.Add(time.Minute).Unix()/60)
	if len(got.Status.Active) != 1 || got.Status.Active[0].Name != second || got.Status.LastSuccessfulTime == nil {
		t.Fatalf("after completion: %+v", got.Status)
	}
	f.WaitEvent("default", "CronJob", "tick", "Normal SawCompletedJob Saw completed job: "+want+", condition: Complete")

	// The second completes too: only the newest successful job is kept.
	for _, j := range f.jobs("tick") {
		if j.Name == second {
			f.clk.Step(time.Second)
			f.finish(j, true)
		}
	}
	got = f.sync("tick")
	if len(got.Status.Active) != 0 {
		t.Fatalf("active after second completion: %+v", got.Status.Active)
	}
	f.Eventually("oldest job deleted", func() bool {
		for _, j := range f.jobs("tick") {
			if j.Name == want && j.DeletionTimestamp == nil {
				return false
			}
		}
		return true
	})
	f.WaitEvent("default", "CronJob", "tick", "Normal SuccessfulDelete Deleted job "+want)
}

func TestTimeZoneAndReplace(t *testing.T) {
	f := setup(t)
	cj := newCronJob("tokyo", "0 9 * * *")
	cj.Spec.TimeZone = ptr.To("Asia/Tokyo")
	cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
	cj = f.create(cj)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skipf("no zoneinfo: %v", err)
	}
	// The next 09:00 in Tokyo after creation.
	c := cj.CreationTimestamp.Time.In(tokyo)
	nine := time.Date(c.Year(), c.Month(), c.Day(), 9, 0, 0, 0, tokyo)
	if !nine.After(c) {
		nine = nine.AddDate(0, 0, 1)
	}
	f.clk.SetTime(nine.Add(-time.Minute))
	f.sync("tokyo")
	if n := len(f.jobs("tokyo")); n != 0 {
		t.Fatalf("started before 09:00 Tokyo: %d jobs", n)
	}
	f.clk.SetTime(nine.Add(30 * time.Second))
	f.sync("tokyo")
	js := f.jobs("tokyo")
	if len(js) != 1 || js[0].Name != fmt.Sprintf("tokyo-%d", nine.Unix()/60) {
		t.Fatalf("jobs %v", js)
	}
	if ts := js[0].Annotations[batchv1.CronJobScheduledTimestampAnnotation]; !strings.HasSuffix(ts, "T09:00:00+09:00") {
		t.Fatalf("scheduled timestamp %q", ts)
	}
	// A day later the first still runs: Replace deletes it and starts a new one.
	f.Cached(f.Inf.Jobs(), &js[0])
	f.clk.SetTime(nine.AddDate(0, 0, 1).Add(30 * time.Second))
	got := f.sync("tokyo")
	if len(got.Status.Active) != 1 || got.Status.Active[0].Name == js[0].Name {
		t.Fatalf("active after replace: %+v", got.Status.Active)
	}
	f.WaitEvent("default", "CronJob", "tokyo", "Normal SuccessfulDelete Deleted job "+js[0].Name)
}
