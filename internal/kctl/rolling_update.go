package kctl

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// rcStore is what rolling-update needs from the API.
type rcStore interface {
	get(ctx context.Context, name string) (*corev1.ReplicationController, error)
	create(ctx context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error)
	update(ctx context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error)
	delete(ctx context.Context, name string) error
	// relabelPods adds key=value to the pods selected by sel.
	relabelPods(ctx context.Context, sel map[string]string, key, value string) error
}

const (
	desiredReplicasAnnotation = "kubectl.kubernetes.io/desired-replicas"
	sourceIDAnnotation        = "kubectl.kubernetes.io/update-source-id"
	deploymentKey             = "deployment"
)

// rollingUpdater performs the legacy ReplicationController rolling update:
// the new RC is scaled up one pod at a time while the old one is scaled
// down, each step waiting for the new pods to be ready; then the old RC is
// deleted and, when kctl named the new RC itself, the new RC takes the old
// name.
type rollingUpdater struct {
	store        rcStore
	out          io.Writer
	updatePeriod time.Duration
	pollInterval time.Duration
	timeout      time.Duration
}

func templateHash(t *corev1.PodTemplateSpec) string {
	b, _ := jsonMarshal(t)
	h := fnv.New32a()
	h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// prepare labels the old RC and its pods with deployment=<hash> (so the
// two RCs' selectors no longer overlap) and returns the new RC to create.
func (u *rollingUpdater) prepare(ctx context.Context, old, next *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	if _, ok := old.Spec.Selector[deploymentKey]; !ok {
		hash := templateHash(old.Spec.Template)
		if err := u.store.relabelPods(ctx, old.Spec.Selector, deploymentKey, hash); err != nil {
			return nil, err
		}
		old = old.DeepCopy()
		old.Spec.Selector[deploymentKey] = hash
		if old.Spec.Template.Labels == nil {
			old.Spec.Template.Labels = map[string]string{}
		}
		old.Spec.Template.Labels[deploymentKey] = hash
		if _, err := u.store.update(ctx, old); err != nil {
			return nil, err
		}
	}
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	next.Annotations[desiredReplicasAnnotation] = strconv.Itoa(int(ptrOr(old.Spec.Replicas, 1)))
	next.Annotations[sourceIDAnnotation] = old.Name + ":" + string(old.UID)
	zero := int32(0)
	next.Spec.Replicas = &zero
	next.ResourceVersion = ""
	return next, nil
}

// run scales next up and old down and finishes the update. rename is the
// name next should end with ("" to keep its own).
func (u *rollingUpdater) run(ctx context.Context, old, next *corev1.ReplicationController, rename string) error {
	want := ptrOr(old.Spec.Replicas, 1)
	if existing, err := u.store.get(ctx, next.Name); err == nil {
		fmt.Fprintf(u.out, "Continuing update with existing controller %s.\n", next.Name)
		next = existing
	} else if apierrors.IsNotFound(err) {
		prepared, err := u.prepare(ctx, old, next)
		if err != nil {
			return err
		}
		if next, err = u.store.create(ctx, prepared); err != nil {
			return err
		}
		fmt.Fprintf(u.out, "Created %s\n", next.Name)
	} else {
		return err
	}
	fmt.Fprintf(u.out, "Scaling up %s from %d to %d, scaling down %s from %d to 0 (keep %d pods available, don't exceed %d pods)\n",
		next.Name, ptrOr(next.Spec.Replicas, 0), want, old.Name, ptrOr(old.Spec.Replicas, 1), want, want+1)
	for ptrOr(next.Spec.Replicas, 0) < want || ptrOr(old.Spec.Replicas, 1) > 0 {
		var err error
		if n := ptrOr(next.Spec.Replicas, 0); n < want {
			if next, err = u.scale(ctx, next.Name, n+1, true); err != nil {
				return err
			}
		}
		if o := ptrOr(old.Spec.Replicas, 1); o > 0 {
			if old, err = u.scale(ctx, old.Name, o-1, false); err != nil {
				return err
			}
		}
		if ptrOr(next.Spec.Replicas, 0) < want || ptrOr(old.Spec.Replicas, 1) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(u.updatePeriod):
			}
		}
	}
	fmt.Fprintf(u.out, "Update succeeded. Deleting old controller: %s\n", old.Name)
	if err := u.store.delete(ctx, old.Name); err != nil {
		return err
	}
	if rename == "" || rename == next.Name {
		return nil
	}
	fmt.Fprintf(u.out, "Renaming %s to %s\n", next.Name, rename)
	renamed := next.DeepCopy()
	renamed.Name, renamed.ResourceVersion, renamed.UID = rename, "", ""
	delete(renamed.Annotations, sourceIDAnnotation)
	if _, err := u.store.create(ctx, renamed); err != nil {
		return err
	}
	return u.store.delete(ctx, next.Name)
}

// scale sets an RC's replicas and, when scaling up, waits until that many
// of its pods are ready.
func (u *rollingUpdater) scale(ctx context.Context, name string, n int32, up bool) (*corev1.ReplicationController, error) {
	rc, err := u.store.get(ctx, name)
	if err != nil {
		return nil, err
	}
	rc.Spec.Replicas = &n
	if rc, err = u.store.update(ctx, rc); err != nil {
		return nil, err
	}
	dir := "down"
	if up {
		dir = "up"
	}
	fmt.Fprintf(u.out, "Scaling %s %s to %d\n", name, dir, n)
	if !up {
		return rc, nil
	}
	deadline := time.Now().Add(u.timeout)
	for {
		rc, err = u.store.get(ctx, name)
		if err != nil {
			return nil, err
		}
		if rc.Status.ReadyReplicas >= n {
			return rc, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for any update progress to be made")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(u.pollInterval):
		}
	}
}

// rollback undoes a partial update: the old RC is scaled back to the
// desired count and the new RC is deleted.
func (u *rollingUpdater) rollback(ctx context.Context, old *corev1.ReplicationController, nextName string) error {
	next, err := u.store.get(ctx, nextName)
	if err != nil {
		return fmt.Errorf("couldn't find a replication controller %q to roll back to %q: %w", nextName, old.Name, err)
	}
	want, err := strconv.Atoi(next.Annotations[desiredReplicasAnnotation])
	if err != nil {
		want = int(ptrOr(old.Spec.Replicas, 1)) + int(ptrOr(next.Spec.Replicas, 0))
	}
	fmt.Fprintf(u.out, "Setting %q replicas to %d\n", old.Name, want)
	if _, err := u.scale(ctx, old.Name, int32(want), true); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "Rollback succeeded. Deleting new controller: %s\n", next.Name)
	return u.store.delete(ctx, next.Name)
}

// apiRCs is rcStore over the dynamic client.
type apiRCs struct {
	dyn dynamic.Interface
	ns  string
}

var gvrRCs = schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}

func (a *apiRCs) conv(u map[string]any, err error) (*corev1.ReplicationController, error) {
	if err != nil {
		return nil, err
	}
	var rc corev1.ReplicationController
	return &rc, runtime.DefaultUnstructuredConverter.FromUnstructured(u, &rc)
}

func (a *apiRCs) get(ctx context.Context, name string) (*corev1.ReplicationController, error) {
	u, err := a.dyn.Resource(gvrRCs).Namespace(a.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return a.conv(u.Object, nil)
}

func (a *apiRCs) create(ctx context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	rc.TypeMeta = tm("v1", "ReplicationController")
	u, err := toUnstructured(rc)
	if err != nil {
		return nil, err
	}
	out, err := a.dyn.Resource(gvrRCs).Namespace(a.ns).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return a.conv(out.Object, nil)
}

func (a *apiRCs) update(ctx context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	rc.TypeMeta = tm("v1", "ReplicationController")
	u, err := toUnstructured(rc)
	if err != nil {
		return nil, err
	}
	out, err := a.dyn.Resource(gvrRCs).Namespace(a.ns).Update(ctx, u, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return a.conv(out.Object, nil)
}

func (a *apiRCs) delete(ctx context.Context, name string) error {
	orphan := metav1.DeletePropagationOrphan
	return a.dyn.Resource(gvrRCs).Namespace(a.ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &orphan})
}

func (a *apiRCs) relabelPods(ctx context.Context, sel map[string]string, key, value string) error {
	l, err := a.dyn.Resource(gvrPods).Namespace(a.ns).List(ctx, metav1.ListOptions{LabelSelector: labelsString(sel)})
	if err != nil {
		return err
	}
	for i := range l.Items {
		p := &l.Items[i]
		lb := p.GetLabels()
		lb[key] = value
		p.SetLabels(lb)
		if _, err := a.dyn.Resource(gvrPods).Namespace(a.ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
