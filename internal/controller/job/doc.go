// Package job is the Job controller, behaving as upstream's:
//
//   - pods are created from the template (slow-start batches, at most
//     parallelism active, never more than the completions left) with the
//     batch.kubernetes.io/job-tracking finalizer; a finished pod's UID is
//     first recorded in status.uncountedTerminatedPods, then its finalizer
//     removed, then it is moved into status.succeeded/failed — so no pod is
//     counted twice or lost, even across restarts;
//   - Indexed jobs give each pod a completion index (annotation and label
//     batch.kubernetes.io/job-completion-index, hostname <job>-<i>, the
//     JOB_COMPLETION_INDEX variable) and report status.completedIndexes;
//   - failed pods are replaced after upstream's back-off (10 s doubling to
//     6 min) until more than backoffLimit have failed, and
//     activeDeadlineSeconds bounds the run; either ends the job with the
//     interim FailureTarget condition, then Failed once no pod is left
//     running (reasons BackoffLimitExceeded, DeadlineExceeded); success goes
//     through SuccessCriteriaMet to Complete (reason CompletionsReached);
//   - suspend deletes the active pods (Suspended condition and events),
//     resuming restarts the clock;
//   - ttlSecondsAfterFinished deletes a finished job (foreground cascading,
//     as upstream's TTL-after-finished controller).
package job
