package job

import (
	"context"
	"errors"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
)

// maxUncounted bounds the UIDs one sync adds to uncountedTerminatedPods.
const maxUncounted = 500

var removeFinalizerPatch = []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + batchv1.JobTrackingFinalizer + `"]}}`)

// track records finished pods in status with the finalizer protocol —
// UIDs into uncountedTerminatedPods, flush, remove finalizers, move the
// UIDs into the counters — then adds the terminal condition once nothing
// is left uncounted or terminating, with upstream's events.
func (c *Controller) track(ctx context.Context, st *state, flush bool) error {
	job := st.job
	withFinalizer := sets.New[string]()
	for _, p := range st.pods {
		if hasFinalizer(p) && !st.pendingRm.Has(string(p.UID)) {
			withFinalizer.Insert(string(p.UID))
		}
	}
	if moveCounted(&job.Status, withFinalizer) {
		flush = true
	}
	remove, recorded := st.recordFinished()
	flush = flush || recorded
	if c.interimCondition(st) {
		flush = true
	}

	// Flush the uncounted UIDs before any finalizer goes.
	if flush {
		if err := c.updateStatus(ctx, st); err != nil {
			return err
		}
		c.storeBackoff(st.key, st.newBackoff)
		flush = false
	}
	rmErr := c.removeFinalizers(ctx, st.key, remove, withFinalizer)
	if moveCounted(&job.Status, withFinalizer) {
		flush = true
	}
	if rmErr != nil {
		if flush {
			if err := c.updateStatus(ctx, st); err != nil {
				return err
			}
		}
		return rmErr
	}
	finished := c.enactFinished(st)
	if flush || finished {
		if err := c.updateStatus(ctx, st); err != nil {
			return err
		}
	}
	if finished {
		c.recordFinished(st)
	}
	return nil
}

// recordFinished adds newly finished pods to uncountedTerminatedPods (or,
// for Indexed jobs, their index to the succeeded ones) and returns the
// pods whose finalizer may now go and whether status changed.
func (st *state) recordFinished() ([]*corev1.Pod, bool) {
	job := st.job
	uc := job.Status.UncountedTerminatedPods
	changed := false
	var remove []*corev1.Pod
	var newIdx []int
	for _, p := range st.pods {
		uid := string(p.UID)
		if !hasFinalizer(p) || st.pendingRm.Has(uid) {
			continue
		}
		failed := podFailed(p, job)
		if job.DeletionTimestamp == nil && st.finished == nil && p.Status.Phase != corev1.PodSucceeded && !failed {
			continue
		}
		remove = append(remove, p)
		ix := completionIndex(p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !st.uncounted.failed.Has(uid):
			if indexed(job) {
				if ix >= 0 && ix < int(*job.Spec.Completions) && !st.prevIdx.has(ix) {
					newIdx = append(newIdx, ix)
					changed = true
				}
			} else if !st.uncounted.succeeded.Has(uid) {
				uc.Succeeded = append(uc.Succeeded, p.UID)
				changed = true
			}
		case failed || (st.finished != nil && st.finished.Type != batchv1.JobSuccessCriteriaMet):
			if !st.uncounted.failed.Has(uid) && (!indexed(job) || (ix >= 0 && ix < int(*job.Spec.Completions))) {
				uc.Failed = append(uc.Failed, p.UID)
				changed = true
			}
		}
		if len(newIdx)+len(uc.Succeeded)+len(uc.Failed) >= maxUncounted {
			break
		}
	}
	if indexed(job) {
		for _, ix := range newIdx {
			st.doneIdx.s.Insert(ix)
		}
		s := st.doneIdx.String()
		changed = changed || s != job.Status.CompletedIndexes
		job.Status.Succeeded, job.Status.CompletedIndexes = int32(st.doneIdx.total()), s
	}
	return remove, changed
}

// interimCondition writes FailureTarget or SuccessCriteriaMet into status
// and turns st.finished into the terminal condition to add once every pod
// is accounted for; it reports whether status changed.
func (c *Controller) interimCondition(st *state) bool {
	job := st.job
	if st.finished == nil {
		return false
	}
	switch st.finished.Type {
	case batchv1.JobFailureTarget:
		job.Status.Conditions = append(job.Status.Conditions, *st.finished)
		st.finished = c.newCondition(batchv1.JobFailed, st.finished.Reason, st.finished.Message)
		return true
	case batchv1.JobSuccessCriteriaMet:
		added := false
		if findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet) == nil {
			job.Status.Conditions = append(job.Status.Conditions, *st.finished)
			added = true
		}
		st.finished = c.newCondition(batchv1.JobComplete, st.finished.Reason, st.finished.Message)
		return added
	}
	return false
}

// moveCounted moves uncounted UIDs whose pods no longer hold the finalizer
// into the succeeded/failed counters.
func moveCounted(s *batchv1.JobStatus, withFinalizer sets.Set[string]) bool {
	changed := false
	keep := func(ids []types.UID) ([]types.UID, int32) {
		var out []types.UID
		for _, id := range ids {
			if withFinalizer.Has(string(id)) {
				out = append(out, id)
			}
		}
		return out, int32(len(ids) - len(out))
	}
	uc := s.UncountedTerminatedPods
	var n int32
	if uc.Succeeded, n = keep(uc.Succeeded); n > 0 {
		s.Succeeded += n
		changed = true
	}
	if uc.Failed, n = keep(uc.Failed); n > 0 {
		s.Failed += n
		changed = true
	}
	return changed
}

// removeFinalizers patches the tracking finalizer away from pods; the
// ones that succeed (or are gone) leave withFinalizer.
func (c *Controller) removeFinalizers(ctx context.Context, key string, pods []*corev1.Pod, withFinalizer sets.Set[string]) error {
	if len(pods) == 0 {
		return nil
	}
	uids := make([]string, len(pods))
	for i, p := range pods {
		uids[i] = string(p.UID)
	}
	c.expectFinalizersRemoved(key, uids)
	errs := make([]error, len(pods))
	done := make([]bool, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.set.Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{})
			if err != nil {
				c.finalizerObserved(key, uids[i])
				if !apierrors.IsNotFound(err) {
					errs[i] = fmt.Errorf("remove tracking finalizer of pod %s: %w", p.Name, err)
					return
				}
			}
			done[i] = true
		}()
	}
	wg.Wait()
	for i, ok := range done {
		if ok {
			withFinalizer.Delete(uids[i])
		}
	}
	return errors.Join(errs...)
}

// enactFinished sets the terminal condition when nothing is left to count
// or terminate.
func (c *Controller) enactFinished(st *state) bool {
	if st.finished == nil {
		return false
	}
	job := st.job
	if uc := job.Status.UncountedTerminatedPods; len(uc.Succeeded)+len(uc.Failed) > 0 {
		return false
	}
	if job.Status.Terminating != nil && *job.Status.Terminating > 0 {
		return false
	}
	f := st.finished
	c.ensureCondition(job, f.Type, f.Status, f.Reason, f.Message)
	if f.Type == batchv1.JobComplete {
		t := findCondition(job.Status.Conditions, batchv1.JobComplete).LastTransitionTime
		job.Status.CompletionTime = &t
	}
	return true
}

func (c *Controller) recordFinished(st *state) {
	job, f := st.job, st.finished
	if f.Type == batchv1.JobComplete {
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.rec.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.rec.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		return
	}
	c.rec.Event(job, corev1.EventTypeWarning, f.Reason, f.Message)
}

func (c *Controller) updateStatus(ctx context.Context, st *state) error {
	got, err := c.set.Jobs(st.job.Namespace).UpdateStatus(ctx, st.job, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status: %w", err)
	}
	st.job.ResourceVersion = got.ResourceVersion
	return nil
}

// syncOrphanPod removes the tracking finalizer of a pod whose job is gone
// (or finished, or no longer its controller).
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && !hasFinalizer(pod)) {
		return nil
	}
	if err != nil {
		return err
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil && ref.Kind == kind.Kind {
		if j, err := c.jobs.Jobs(ns).Get(ref.Name); err == nil && j.UID == ref.UID && finishedCondition(j) == nil {
			return nil // its job will count it
		}
	}
	_, err = c.set.Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, removeFinalizerPatch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
