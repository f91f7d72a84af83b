package cronjob

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestMostRecentAndNext(t *testing.T) {
	created := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "c", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{Schedule: "*/15 * * * *"}}
	sched, err := cron.ParseStandard(cj.Spec.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	now := created.Add(5 * time.Minute)
	if got, _, _ := mostRecent(cj, now, sched, true); got != nil {
		t.Fatalf("nothing due yet, got %v", got)
	}
	if d := nextDelay(cj, now, sched); d != 9*time.Minute+30*time.Second+nextScheduleDelta {
		t.Fatalf("next in %v", d)
	}
	now = created.Add(50 * time.Minute) // 10:50:30: 10:15, 10:30, 10:45 missed
	got, missed, _ := mostRecent(cj, now, sched, true)
	if got == nil || !got.Equal(time.Date(2026, 3, 1, 10, 45, 0, 0, time.UTC)) || missed != 3 {
		t.Fatalf("most recent %v, missed %d", got, missed)
	}
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
	if got, _, _ := mostRecent(cj, now, sched, true); got != nil {
		t.Fatalf("10:45 is beyond the 60 s starting deadline at 10:50:30, got %v", got)
	}
	if n := jobName(cj, time.Date(2026, 3, 1, 10, 45, 0, 0, time.UTC)); n != "c-29539365" {
		t.Fatalf("job name %s", n)
	}
}

func TestTimeZoneSchedule(t *testing.T) {
	if _, err := time.LoadLocation("America/New_York"); err != nil {
		t.Skip("no zoneinfo")
	}
	cj := &batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "@daily", TimeZone: ptr.To("America/New_York")}}
	sched, err := parseSchedule(cj, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := sched.Next(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	if !next.Equal(time.Date(2026, 7, 2, 4, 0, 0, 0, time.UTC)) { // midnight EDT
		t.Fatalf("next @daily in New York: %v", next.UTC())
	}
}
