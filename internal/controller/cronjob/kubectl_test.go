package cronjob_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/cronjob"
	"kserver.dev/kserver/internal/controller/job"
	"kserver.dev/kserver/internal/e2e"
)

// TestCronJobFiresWithKubectl creates a CronJob with `kubectl create
// cronjob`, moves the controller's clock past the next minute and sees the
// Job (and, through the Job controller, its pod) appear in kubectl's output.
func TestCronJobFiresWithKubectl(t *testing.T) {
	cl := e2e.Start(t)
	k := e2e.FindKubectl(t)
	env := controllertest.New(t, cl.RestConfig(t))
	crec, b1 := client.NewRecorder(env.Set, cronjob.Component)
	jrec, b2 := client.NewRecorder(env.Set, job.Component)
	defer b1.Shutdown()
	defer b2.Shutdown()
	clk := clocktesting.NewFakeClock(time.Now())
	cc := cronjob.New(cronjob.Config{Set: env.Set, Informers: env.Inf, Recorder: crec, Clock: clk})
	jc := job.New(job.Config{Set: env.Set, Informers: env.Inf, Recorder: jrec})
	env.Inf.Start(env.Ctx)
	go func() { _ = cc.Run(env.Ctx, 1) }()
	go func() { _ = jc.Run(env.Ctx, 1) }()

	run := func(args ...string) string {
		t.Helper()
		r := k.Run(cl, "", args...)
		if r.Err != nil {
			t.Fatalf("kubectl %s: %v %s", strings.Join(args, " "), r.Err, r.Stderr)
		}
		return r.Stdout
	}
	run("create", "cronjob", "hello", "--image=busybox", "--schedule=*/1 * * * *")
	cj, err := env.Set.CronJobs("default").Get(env.Ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	minute := cj.CreationTimestamp.Time.Truncate(time.Minute).Add(time.Minute)
	clk.SetTime(minute.Add(3 * time.Second))
	run("annotate", "cronjob", "hello", "poke=1") // wake the controller at the new time
	name := fmt.Sprintf("hello-%d", minute.Unix()/60)
	env.Eventually("job "+name+" in kubectl get jobs", func() bool {
		return strings.Contains(k.Run(cl, "", "get", "jobs", "--no-headers").Stdout, name)
	})
	env.Eventually("cronjob shows one active job", func() bool {
		f := strings.Fields(k.Run(cl, "", "get", "cronjob", "hello", "--no-headers").Stdout)
		// NAME SCHEDULE [TIMEZONE] SUSPEND ACTIVE LAST-SCHEDULE AGE
		return len(f) >= 6 && f[len(f)-3] == "1" && f[len(f)-2] != "<none>"
	})
	env.Eventually("the job's pod", func() bool {
		return strings.Contains(k.Run(cl, "", "get", "pods", "--no-headers").Stdout, name+"-")
	})
	env.WaitEvent("default", "CronJob", "hello", "Normal SuccessfulCreate Created job "+name)
}
