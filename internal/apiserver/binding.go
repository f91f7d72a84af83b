package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kserver.dev/kserver/internal/store"
)

var bindingGVK = corev1.SchemeGroupVersion.WithKind("Binding")

// serveBinding is POST …/pods/<name>/binding: the scheduler assigns a pod
// to a node, once.
func (s *Server) serveBinding(c *call) {
	o, err := c.writeOptions("CreateOptions")
	if err != nil {
		c.fail(err)
		return
	}
	body, err := c.body()
	if err != nil {
		c.fail(err)
		return
	}
	d, err := s.codecs.decodeBody(c.r.Header.Get("Content-Type"), body, bindingGVK)
	if err != nil {
		c.fail(err)
		return
	}
	b, ok := d.obj.(*corev1.Binding)
	if !ok {
		c.fail(badRequest("the body of a binding must be a v1 Binding"))
		return
	}
	if err := c.bind(c.ctx, b, o); err != nil {
		c.fail(err)
		return
	}
	c.writeSuccess(http.StatusCreated)
}

// bind sets spec.nodeName of the pod named by c and the binding.
func (c *call) bind(ctx context.Context, b *corev1.Binding, o writeOpts) error {
	if b.Name != "" && b.Name != c.ri.name {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", b.Name, c.ri.name)
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, c.ri.name, field.ErrorList{
			field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"})})
	}
	if b.Target.Name == "" {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Binding"}, c.ri.name, field.ErrorList{
			field.Required(field.NewPath("target", "name"), "")})
	}
	podGR := schema.GroupResource{Resource: "pods/binding"}
	_, _, _, err := c.updateObject(ctx, o, "binding", func(cur runtime.Object) (runtime.Object, error) {
		pod, ok := cur.(*corev1.Pod)
		if !ok {
			return nil, fmt.Errorf("binding a %T", cur)
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(podGR, c.ri.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(podGR, c.ri.name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(podGR, c.ri.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(c.s.now().Truncate(1e9))})
		pod.ResourceVersion = ""
		return pod, nil
	})
	return err
}

func setPodCondition(pod *corev1.Pod, cond corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == cond.Type {
			if pod.Status.Conditions[i].Status == cond.Status {
				return
			}
			pod.Status.Conditions[i] = cond
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, cond)
}

// writeSuccess answers with a Status of status Success.
func (c *call) writeSuccess(code int) {
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: int32(code)}
	body, _ := json.Marshal(&st)
	c.out = output{media: mediaJSON}
	c.write(code, append(body, '\n'))
}

// serveEviction is POST …/pods/<name>/eviction: delete the pod unless a
// PodDisruptionBudget forbids it (429, which makes kubectl drain retry).
func (s *Server) serveEviction(c *call) {
	if _, err := c.writeOptions("CreateOptions"); err != nil {
		c.fail(err)
		return
	}
	body, err := c.body()
	if err != nil {
		c.fail(err)
		return
	}
	d, err := s.codecs.decodeBody(c.r.Header.Get("Content-Type"), body, policyv1.SchemeGroupVersion.WithKind("Eviction"))
	if err != nil {
		c.fail(err)
		return
	}
	var opts metav1.DeleteOptions
	switch ev := d.obj.(type) {
	case *policyv1.Eviction:
		if ev.DeleteOptions != nil {
			opts = *ev.DeleteOptions
		}
	default:
		// policy/v1beta1 has the same shape; take its options generically.
		raw, _ := json.Marshal(d.obj)
		var generic struct {
			DeleteOptions *metav1.DeleteOptions `json:"deleteOptions"`
		}
		if json.Unmarshal(raw, &generic) == nil && generic.DeleteOptions != nil {
			opts = *generic.DeleteOptions
		}
	}
	if err := c.evict(c.ctx, opts); err != nil {
		c.fail(err)
		return
	}
	c.writeSuccess(http.StatusCreated)
}

func (c *call) evict(ctx context.Context, opts metav1.DeleteOptions) error {
	kv, err := c.s.cfg.Store.Get(ctx, objectKey(c.res, c.ri.namespace, c.ri.name))
	if err != nil {
		return err
	}
	obj, err := c.s.decodeStored(c.storageGVK(), kv)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.DeletionTimestamp == nil && !terminal {
		// Concurrent evictions (kubectl drain evicts in parallel) race for
		// the budget: retry the ones that lost, as upstream does.
		err := c.s.takeDisruption(ctx, pod)
		for try := 0; errors.Is(err, store.ErrConflict) && try < maxUpdateRetries; try++ {
			err = c.s.takeDisruption(ctx, pod)
		}
		if errors.Is(err, store.ErrConflict) {
			return tooManyRequests("the disruption budget was modified concurrently; try again")
		}
		if err != nil {
			return err
		}
	}
	_, _, err = c.deleteObject(ctx, c.ri.name, opts)
	return err
}

// takeDisruption finds the PodDisruptionBudget covering pod and consumes
// one allowed disruption, or refuses as upstream.
func (s *Server) takeDisruption(ctx context.Context, pod *corev1.Pod) error {
	res, ok := s.cfg.Catalog.Lookup(gvr("policy", "v1", "poddisruptionbudgets"))
	if !ok {
		return nil
	}
	lr, err := s.cfg.Store.List(ctx, listPrefix(res, pod.Namespace), store.ListOptions{})
	if err != nil {
		return err
	}
	var matches []*policyv1.PodDisruptionBudget
	var kvs []store.KeyValue
	for _, kv := range lr.KVs {
		obj, err := s.decodeStored(res.StorageVersion.WithKind(res.Kind), kv)
		if err != nil {
			return err
		}
		pdb := obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		matches = append(matches, pdb)
		kvs = append(kvs, kv)
	}
	switch len(matches) {
	case 0:
		return nil
	case 1:
	default:
		return apierrors.NewInternalError(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	pdb := matches[0]
	if pdb.Status.ObservedGeneration < pdb.Generation {
		return tooManyRequests(fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name))
	}
	if pdb.Status.DisruptionsAllowed <= 0 {
		return tooManyRequests(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently",
			pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
	}
	pdb.Status.DisruptionsAllowed--
	if pdb.Status.DisruptedPods == nil {
		pdb.Status.DisruptedPods = map[string]metav1.Time{}
	}
	pdb.Status.DisruptedPods[pod.Name] = metav1.NewTime(s.now().Truncate(1e9))
	data, err := encodeStored(pdb)
	if err != nil {
		return err
	}
	_, err = s.cfg.Store.Update(ctx, kvs[0].Key, data, kvs[0].ModRevision, store.WriteOptions{})
	return err // a conflict is retried by evict
}

// tooManyRequests is upstream's eviction refusal.
func tooManyRequests(cause string) error {
	e := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	e.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: "DisruptionBudget", Message: cause}}
	return e
}
