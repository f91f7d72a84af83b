package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// expireFinished deletes a finished job once ttlSecondsAfterFinished has
// passed since its Complete/Failed condition, with foreground cascading
// and a precondition on the job's identity, as upstream's
// TTL-after-finished controller; before then it requeues the job for that
// moment. Its pods' finalizers are cleared as the pods go.
func (c *Controller) expireFinished(ctx context.Context, job *batchv1.Job) error {
	c.releaseFinishedPods(job)
	if job.Spec.TTLSecondsAfterFinished == nil || job.DeletionTimestamp != nil {
		return nil
	}
	at := finishedCondition(job).LastTransitionTime.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	if wait := at.Sub(c.clock.Now()); wait > 0 {
		c.queue.AddAfter(job.Namespace+"/"+job.Name, wait)
		return nil
	}
	// Re-read uncached: the TTL may just have been changed.
	fresh, err := c.set.Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if fresh.UID != job.UID || fresh.Spec.TTLSecondsAfterFinished == nil || finishedCondition(fresh) == nil {
		return nil
	}
	at = finishedCondition(fresh).LastTransitionTime.Add(time.Duration(*fresh.Spec.TTLSecondsAfterFinished) * time.Second)
	if wait := at.Sub(c.clock.Now()); wait > 0 {
		c.queue.AddAfter(job.Namespace+"/"+job.Name, wait)
		return nil
	}
	policy := metav1.DeletePropagationForeground
	err = c.set.Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete expired job %s/%s: %w", job.Namespace, job.Name, err)
	}
	return nil
}

// releaseFinishedPods queues the removal of tracking finalizers left on a
// finished job's pods.
func (c *Controller) releaseFinishedPods(job *batchv1.Job) {
	pods, err := c.pods.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if metav1.IsControlledBy(p, job) && hasFinalizer(p) {
			c.queue.Add(orphanPrefix + p.Namespace + "/" + p.Name)
		}
	}
}
