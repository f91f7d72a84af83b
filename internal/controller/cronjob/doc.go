// Package cronjob is the CronJob controller, behaving as upstream's
// (cronjob_controllerv2):
//
//   - schedules are standard five-field cron lines or @hourly/@daily/…
//     macros, parsed by github.com/robfig/cron/v3 as upstream does;
//     spec.timeZone (an IANA name from the system's zoneinfo) is applied
//     as a "TZ=" prefix, and a CRON_TZ/TZ prefix in the schedule itself
//     still works but gets upstream's UnsupportedSchedule warning;
//   - at each scheduled minute a Job "<cronjob>-<minutes since the epoch>"
//     is created from jobTemplate, owned by the CronJob and annotated with
//     batch.kubernetes.io/cronjob-scheduled-timestamp; a schedule missed
//     by more than startingDeadlineSeconds is skipped (MissSchedule);
//   - concurrencyPolicy Allow runs jobs side by side, Forbid skips a
//     schedule while one is active (JobAlreadyActive), Replace deletes the
//     active ones first;
//   - status.active lists running jobs, lastScheduleTime and
//     lastSuccessfulTime follow them (SawCompletedJob, MissingJob,
//     UnexpectedJob events), and finished jobs beyond
//     successfulJobsHistoryLimit/failedJobsHistoryLimit are deleted, oldest
//     first;
//   - each sync requeues the CronJob for its next scheduled time (plus
//     100 ms), so nothing polls. The clock is injectable for tests.
package cronjob
