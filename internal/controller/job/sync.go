package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/controller/podcontrol"
)

// Condition reasons and messages, as upstream.
const (
	msgBackoffLimit = "Job has reached the specified backoff limit"
	msgDeadline     = "Job was active longer than specified deadline"
	msgCompletions  = "Reached expected number of succeeded pods"
)

// state is what one sync knows about a job and its pods.
type state struct {
	key        string
	job        *batchv1.Job
	pods       []*corev1.Pod
	active     []*corev1.Pod
	ready      int32
	terminate  int32
	succeeded  int32
	failed     int32
	uncounted  uncounted
	pendingRm  sets.Set[string]
	finished   *batchv1.JobCondition
	prevIdx    indexes
	doneIdx    indexes
	newBackoff backoffRecord
}

type uncounted struct{ succeeded, failed sets.Set[string] }

func newUncounted(u *batchv1.UncountedTerminatedPods) uncounted {
	out := uncounted{sets.New[string](), sets.New[string]()}
	for _, id := range u.Succeeded {
		out.succeeded.Insert(string(id))
	}
	for _, id := range u.Failed {
		out.failed.Insert(string(id))
	}
	return out
}

// sync reconciles the Job key: count finished pods, decide whether the
// job has failed (back-off limit, deadline) or succeeded, create or delete
// pods toward parallelism, and record everything in status through the
// finalizer protocol.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		c.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if finishedCondition(cached) != nil {
		c.forget(key)
		return c.expireFinished(ctx, cached)
	}
	job := cached.DeepCopy()
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	satisfied := c.exp.Satisfied(key)
	pods, err := c.claimPods(ctx, job)
	if err != nil {
		return err
	}
	st := c.newState(key, job, pods)
	now := c.clock.Now()
	if job.Status.StartTime == nil && !suspended(job) {
		t := metav1.NewTime(now)
		job.Status.StartTime = &t
	}
	c.decideFailure(st)

	active, suspendChanged, manageErr := c.act(ctx, st, satisfied)
	ready, term := st.ready, st.terminate
	needsUpdate := suspendChanged || active != job.Status.Active ||
		job.Status.Ready == nil || *job.Status.Ready != ready || job.Status.Terminating == nil || *job.Status.Terminating != term
	job.Status.Active, job.Status.Ready, job.Status.Terminating = active, &ready, &term
	if err := c.track(ctx, st, needsUpdate); err != nil {
		return fmt.Errorf("tracking status of job %s: %w", key, err)
	}
	return manageErr
}

// act deletes the active pods of a job that has failed, or creates and
// deletes pods toward parallelism and decides success; it returns the new
// active count and whether the Suspended condition changed.
func (c *Controller) act(ctx context.Context, st *state, satisfied bool) (int32, bool, error) {
	job := st.job
	active := int32(len(st.active))
	if st.finished != nil {
		deleted, deletedReady, err := c.deletePods(ctx, st, st.active, false)
		if deleted != active || !satisfied {
			// Pods not yet gone or not yet seen: finish in a later sync.
			st.finished = nil
		}
		st.terminate += deleted
		st.ready -= deletedReady
		return active - deleted, false, err
	}
	var err error
	managed := false
	if satisfied && job.DeletionTimestamp == nil {
		active, err = c.manage(ctx, st)
		managed = true
	}
	complete := st.succeeded > 0 && active == 0
	if job.Spec.Completions != nil {
		complete = st.succeeded >= *job.Spec.Completions && active == 0
	}
	switch {
	case complete:
		st.finished = c.newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompletions)
	case managed:
		return active, c.syncSuspended(job), err
	}
	return active, false, err
}

func (c *Controller) newState(key string, job *batchv1.Job, pods []*corev1.Pod) *state {
	st := &state{key: key, job: job, pods: pods,
		uncounted: newUncounted(job.Status.UncountedTerminatedPods), pendingRm: c.pendingFinalizers(key)}
	for _, p := range pods {
		if podcontrol.IsActive(p) {
			st.active = append(st.active, p)
			if podcontrol.IsReady(p) {
				st.ready++
			}
		} else if podcontrol.IsTerminating(p) {
			st.terminate++
		}
	}
	newOK, newFailed := st.newlyFinished()
	st.succeeded = job.Status.Succeeded + int32(len(newOK)) + int32(st.uncounted.succeeded.Len())
	st.failed = job.Status.Failed + int32(len(newFailed)) + int32(st.uncounted.failed.Len())
	st.newBackoff = c.nextBackoff(key, newOK, newFailed)
	if indexed(job) {
		st.prevIdx, st.doneIdx = succeededIndexes(job, pods)
		st.succeeded = int32(st.doneIdx.total())
	}
	return st
}

// newlyFinished are the finished pods not yet recorded anywhere.
func (st *state) newlyFinished() (ok, failed []*corev1.Pod) {
	for _, p := range st.pods {
		uid := string(p.UID)
		if !hasFinalizer(p) || st.uncounted.succeeded.Has(uid) || st.uncounted.failed.Has(uid) || st.pendingRm.Has(uid) {
			continue
		}
		if indexed(st.job) {
			if ix := completionIndex(p); ix < 0 || ix >= int(*st.job.Spec.Completions) {
				continue
			}
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			ok = append(ok, p)
		case podFailed(p, st.job):
			failed = append(failed, p)
		}
	}
	return ok, failed
}

// decideFailure sets st.finished when the job has failed: a FailureTarget
// or SuccessCriteriaMet already recorded, too many failures, or the deadline.
func (c *Controller) decideFailure(st *state) {
	job := st.job
	if cond := findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet); cond != nil && cond.Status == corev1.ConditionTrue {
		st.finished = cond.DeepCopy()
		return
	}
	if cond := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); cond != nil && cond.Status == corev1.ConditionTrue {
		st.finished = c.newCondition(batchv1.JobFailed, cond.Reason, cond.Message)
		return
	}
	switch {
	case st.failed > *job.Spec.BackoffLimit || pastBackoffLimitOnFailure(job, st.pods):
		st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit)
	case c.pastDeadline(job):
		st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline)
	case job.Spec.ActiveDeadlineSeconds != nil && !suspended(job) && job.Status.StartTime != nil:
		left := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(job.Status.StartTime.Time)
		c.queue.AddAfter(st.key, left)
	}
}

// pastBackoffLimitOnFailure counts container restarts of running pods
// against backoffLimit for restartPolicy OnFailure.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, s := range p.Status.InitContainerStatuses {
			n += s.RestartCount
		}
		for _, s := range p.Status.ContainerStatuses {
			n += s.RestartCount
		}
	}
	if *job.Spec.BackoffLimit == 0 {
		return n > 0
	}
	return n >= *job.Spec.BackoffLimit
}

func (c *Controller) pastDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// syncSuspended keeps the Suspended condition in line with spec.suspend,
// with upstream's events; resuming restarts the deadline clock.
func (c *Controller) syncSuspended(job *batchv1.Job) bool {
	if suspended(job) {
		if c.ensureCondition(job, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended") {
			c.rec.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
			return true
		}
		return false
	}
	if c.ensureCondition(job, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed") {
		c.rec.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
		now := metav1.NewTime(c.clock.Now())
		job.Status.StartTime = &now
		return true
	}
	return false
}

// claimPods adopts and releases pods by the job's selector.
func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, nil
	}
	all, err := c.pods.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	cl := &podcontrol.Claimer{Owner: job, Kind: kind, Selector: sel, Patch: podcontrol.PodPatcher(c.set),
		CanAdopt: podcontrol.RecheckOwner(job, func(ctx context.Context) (metav1.Object, error) {
			return c.set.Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		})}
	return podcontrol.Claim(ctx, cl, all)
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.failures, key)
}

func suspended(job *batchv1.Job) bool { return job.Spec.Suspend != nil && *job.Spec.Suspend }

func indexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func hasFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

// podFailed: Failed, or being deleted before succeeding (unless the job
// only replaces Failed pods).
func podFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed || job.Spec.PodFailurePolicy != nil {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

func (c *Controller) newCondition(t batchv1.JobConditionType, reason, msg string) *batchv1.JobCondition {
	now := metav1.NewTime(c.clock.Now())
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: reason, Message: msg}
}

func findCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// ensureCondition sets condition t (a False one is only ever an update of
// an existing condition); it reports whether anything changed.
func (c *Controller) ensureCondition(job *batchv1.Job, t batchv1.JobConditionType, s corev1.ConditionStatus, reason, msg string) bool {
	nc := c.newCondition(t, reason, msg)
	nc.Status = s
	if cur := findCondition(job.Status.Conditions, t); cur != nil {
		if cur.Status != s || cur.Reason != reason || cur.Message != msg {
			*cur = *nc
			return true
		}
		return false
	}
	if s == corev1.ConditionFalse {
		return false
	}
	job.Status.Conditions = append(job.Status.Conditions, *nc)
	return true
}

// finishedCondition is the job's true Complete or Failed condition.
func finishedCondition(job *batchv1.Job) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}
