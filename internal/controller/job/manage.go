package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"kserver.dev/kserver/internal/controller/podcontrol"
)

// manage creates or deletes pods toward the wanted number of active ones
// and returns the new active count.
func (c *Controller) manage(ctx context.Context, st *state) (int32, error) {
	job := st.job
	active := int32(len(st.active))
	if suspended(job) {
		n, _, err := c.deletePods(ctx, st, st.active, true)
		st.terminate += n
		return active - n, err
	}
	parallelism := *job.Spec.Parallelism
	var want int32
	if job.Spec.Completions == nil {
		want = parallelism
		if st.succeeded > 0 {
			want = active
		}
	} else {
		want = max(0, min(*job.Spec.Completions-st.succeeded, parallelism))
	}
	victims := podsToRemove(job, st.active, int(max(0, active-want)))
	if len(victims) > maxPodsPerSync {
		victims = victims[:maxPodsPerSync]
	}
	if len(victims) > 0 {
		n, _, err := c.deletePods(ctx, st, victims, true)
		st.terminate += n
		return active - n, err
	}
	var terminating int32
	if job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed {
		terminating = st.terminate
	}
	diff := want - terminating - active
	if diff <= 0 {
		return active, nil
	}
	if wait := st.newBackoff.remaining(c.clock.Now(), c.backoff); wait > 0 {
		c.queue.AddAfter(st.key, wait)
		return active, nil
	}
	diff = min(diff, maxPodsPerSync)
	var idx []int
	if indexed(job) {
		idx = firstPendingIndexes(st, int(diff))
		diff = int32(len(idx))
	}
	created, err := c.createPods(ctx, st, int(diff), idx)
	return active + int32(created), err
}

// podsToRemove picks n active pods to delete (for Indexed jobs first the
// duplicates and out-of-range indexes), least valuable first.
func podsToRemove(job *batchv1.Job, active []*corev1.Pod, n int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if indexed(job) {
		seen := map[int]bool{}
		for _, p := range active {
			ix := completionIndex(p)
			if ix < 0 || ix >= int(*job.Spec.Completions) || seen[ix] {
				rm = append(rm, p)
				continue
			}
			seen[ix] = true
			left = append(left, p)
		}
	} else {
		left = append(left, active...)
	}
	if len(rm) < n {
		podcontrol.SortForDeletion(left)
		rm = append(rm, left[:min(len(left), n-len(rm))]...)
	}
	return rm
}

// createPods creates n pods (for indexes idx when Indexed) in slow-start
// batches, each with the tracking finalizer.
func (c *Controller) createPods(ctx context.Context, st *state, n int, idx []int) (int, error) {
	job := st.job
	c.exp.ExpectCreations(st.key, n)
	tmpl := job.Spec.Template.DeepCopy()
	if indexed(job) {
		addIndexEnv(tmpl)
	}
	tmpl.Finalizers = appendFinalizer(tmpl.Finalizers)
	ref := podcontrol.ControllerRef(job, kind)
	var next atomic.Int32
	var failed atomic.Int32
	ok, err := podcontrol.SlowStart(n, func() error {
		pod := podcontrol.PodFromTemplate(tmpl, job, ref)
		if idx != nil {
			ix := idx[next.Add(1)-1]
			s := strconv.Itoa(ix)
			pod.Annotations = withEntry(pod.Annotations, batchv1.JobCompletionIndexAnnotation, s)
			pod.Labels = withEntry(pod.Labels, batchv1.JobCompletionIndexAnnotation, s)
			pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, ix)
			pod.GenerateName = podcontrol.GenerateNamePrefix(fmt.Sprintf("%s-%d", job.Name, ix))
		}
		_, err := c.control.Create(ctx, job, pod)
		if err != nil {
			failed.Add(1)
			c.exp.CreationObserved(st.key)
		}
		return err
	})
	for i := ok + int(failed.Load()); i < n; i++ {
		c.exp.CreationObserved(st.key)
	}
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return ok, nil
	}
	return ok, err
}

func withEntry(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

func appendFinalizer(fs []string) []string {
	for _, f := range fs {
		if f == batchv1.JobTrackingFinalizer {
			return fs
		}
	}
	return append(fs, batchv1.JobTrackingFinalizer)
}

// addIndexEnv gives every container JOB_COMPLETION_INDEX from the pod's
// completion-index annotation, unless it sets the variable itself.
func addIndexEnv(t *corev1.PodTemplateSpec) {
	add := func(cs []corev1.Container) {
		for i := range cs {
			has := false
			for _, e := range cs[i].Env {
				has = has || e.Name == "JOB_COMPLETION_INDEX"
			}
			if !has {
				cs[i].Env = append(cs[i].Env, corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)},
				}})
			}
		}
	}
	add(t.Spec.InitContainers)
	add(t.Spec.Containers)
}

// deletePods deletes pods (keeping their finalizers unless strip is set,
// in which case the finalizer goes first so the pod is not left behind).
// It returns how many deletions succeeded and how many of those were ready.
func (c *Controller) deletePods(ctx context.Context, st *state, pods []*corev1.Pod, strip bool) (int32, int32, error) {
	if len(pods) == 0 {
		return 0, 0, nil
	}
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = podcontrol.Key(p)
	}
	if strip {
		c.exp.ExpectDeletions(st.key, keys)
	}
	var ok, okReady atomic.Int32
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.control.Delete(ctx, st.job, p.Namespace, p.Name)
			if err != nil && !apierrors.IsNotFound(err) {
				if strip {
					c.exp.DeletionObserved(st.key, keys[i])
				}
				errs[i] = err
				return
			}
			ok.Add(1)
			if podcontrol.IsReady(p) {
				okReady.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load(), okReady.Load(), errors.Join(errs...)
}
