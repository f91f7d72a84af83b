package cronjob

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

// nextScheduleDelta is added to requeue delays so the sync lands just
// after the scheduled second.
const nextScheduleDelta = 100 * time.Millisecond

// parseSchedule parses cj's schedule, with its time zone as a TZ= prefix;
// a TZ in the schedule itself is warned about as upstream does.
func parseSchedule(cj *batchv1.CronJob, rec record.EventRecorder) (cron.Schedule, error) {
	s := cj.Spec.Schedule
	switch {
	case strings.Contains(s, "TZ"):
		if rec != nil {
			rec.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule",
				"CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", s)
		}
	case cj.Spec.TimeZone != nil:
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err == nil {
			s = fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, s)
		}
	}
	return cron.ParseStandard(s)
}

// earliest is the time from which schedules count: the last schedule (or
// creation), moved up to now−startingDeadlineSeconds when asked.
func earliest(cj *batchv1.CronJob, now time.Time, withDeadline bool) time.Time {
	t := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		t = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		if d := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second); d.After(t) {
			t = d
		}
	}
	return t
}

// mostRecent is the latest scheduled time in (earliest, now] and how many
// were missed, nil when none is due.
func mostRecent(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, withDeadline bool) (*time.Time, int64, error) {
	from := earliest(cj, now, withDeadline)
	if from.After(now) {
		return nil, 0, nil
	}
	t1 := sched.Next(from)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return nil, 0, nil
	}
	if now.Before(t2) {
		return &t1, 1, nil
	}
	between := t2.Sub(t1).Round(time.Second).Seconds()
	if between < 1 {
		return nil, 0, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	missed := int64(now.Sub(t1).Seconds()/between) + 1
	last := t1.Add(time.Duration(float64(missed-1)*between) * time.Second)
	for t := sched.Next(last); !t.After(now); t = sched.Next(t) {
		last = t
	}
	return &last, missed, nil
}

// nextDelay is how long until the schedule after the most recent one.
func nextDelay(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) time.Duration {
	from := earliest(cj, now, false)
	recent, _, err := mostRecent(cj, now, sched, false)
	if err != nil {
		return nextScheduleDelta
	}
	if recent == nil {
		if from.After(now) {
			return sched.Next(from).Sub(now) + nextScheduleDelta
		}
		recent = &from
	}
	return sched.Next(*recent).Add(nextScheduleDelta).Sub(now)
}

// jobName is "<cronjob>-<scheduled time in minutes since the epoch>".
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
