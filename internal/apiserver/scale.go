package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// serveScale is GET/PUT/PATCH of …/scale (deployments, replicasets,
// statefulsets, replicationcontrollers): an autoscaling/v1 Scale view of
// the parent's replicas.
func (s *Server) serveScale(c *call) {
	switch c.ri.verb {
	case "get":
		kv, err := s.cfg.Store.Get(c.ctx, objectKey(c.res, c.ri.namespace, c.ri.name))
		if err != nil {
			c.fail(err)
			return
		}
		parent, err := s.decodeStored(c.storageGVK(), kv)
		if err != nil {
			c.fail(err)
			return
		}
		c.respondScale(parent, http.StatusOK)
	case "update", "patch":
		s.writeScale(c)
	default:
		c.fail(methodNotAllowed(c.ri.verb, c.gr))
	}
}

func (s *Server) writeScale(c *call) {
	kind := "UpdateOptions"
	if c.ri.verb == "patch" {
		kind = "PatchOptions"
	}
	o, err := c.writeOptions(kind)
	if err != nil {
		c.fail(err)
		return
	}
	body, err := c.body()
	if err != nil {
		c.fail(err)
		return
	}
	var put *autoscalingv1.Scale
	if c.ri.verb == "update" {
		d, err := s.codecs.decodeBody(c.r.Header.Get("Content-Type"), body, scaleGVK)
		if err != nil {
			c.fail(err)
			return
		}
		var ok bool
		if put, ok = d.obj.(*autoscalingv1.Scale); !ok {
			c.fail(badRequest("the body of a scale update must be an autoscaling/v1 Scale"))
			return
		}
	}
	_, out, _, err := c.updateObject(c.ctx, o, "scale", func(parent runtime.Object) (runtime.Object, error) {
		scale, err := scaleOf(parent)
		if err != nil {
			return nil, err
		}
		want := put
		if want == nil {
			if want, err = patchScale(c, scale, body); err != nil {
				return nil, err
			}
		}
		if want.ResourceVersion != "" && want.ResourceVersion != scale.ResourceVersion {
			return nil, apierrors.NewConflict(c.gr, c.ri.name, fmt.Errorf("%s", errConflictMsg))
		}
		if want.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: "autoscaling", Kind: "Scale"}, c.ri.name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
		}
		setReplicas(parent, want.Spec.Replicas)
		mustAccessor(parent).SetResourceVersion("")
		return parent, nil
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.respondScale(out, http.StatusOK)
}

// patchScale applies a merge, strategic or JSON patch to a Scale.
func patchScale(c *call, scale *autoscalingv1.Scale, patch []byte) (*autoscalingv1.Scale, error) {
	orig, err := json.Marshal(scale)
	if err != nil {
		return nil, err
	}
	media, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	var result []byte
	switch types.PatchType(media) {
	case types.MergePatchType:
		result, err = jsonpatch.MergePatch(orig, patch)
	case types.StrategicMergePatchType:
		result, err = strategicpatch.StrategicMergePatch(orig, patch, &autoscalingv1.Scale{})
	case types.JSONPatchType:
		var p jsonpatch.Patch
		if p, err = jsonpatch.DecodePatch(patch); err == nil {
			result, err = p.Apply(orig)
		}
	default:
		return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json", 0, false)
	}
	if err != nil {
		return nil, badRequest("%v", err)
	}
	out := &autoscalingv1.Scale{}
	if err := json.Unmarshal(result, out); err != nil {
		return nil, badRequest("%v", err)
	}
	if out.ResourceVersion == scale.ResourceVersion {
		out.ResourceVersion = ""
	}
	return out, nil
}

func (c *call) respondScale(parent runtime.Object, code int) {
	scale, err := scaleOf(parent)
	if err != nil {
		c.fail(err)
		return
	}
	var body []byte
	switch c.out.as {
	case "Table":
		var t *metav1.Table
		if t, err = c.scaleTable(scale); err == nil {
			body, err = c.encodeMeta(t)
		}
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		body, err = c.encodeMeta(partialMeta(&scale.ObjectMeta, c.out.asVersion))
	default:
		body, err = c.s.codecs.encodeObject(c.out, scale)
	}
	if err != nil {
		c.fail(err)
		return
	}
	c.write(code, body)
}

// scaleOf is the Scale view of a scalable object.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	s := &autoscalingv1.Scale{TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"}}
	m := mustAccessor(obj)
	s.ObjectMeta = metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()}
	var sel *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.Deployment:
		s.Spec.Replicas, s.Status.Replicas, sel = replicas(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector
	case *appsv1.ReplicaSet:
		s.Spec.Replicas, s.Status.Replicas, sel = replicas(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector
	case *appsv1.StatefulSet:
		s.Spec.Replicas, s.Status.Replicas, sel = replicas(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector
	case *corev1.ReplicationController:
		s.Spec.Replicas, s.Status.Replicas = replicas(o.Spec.Replicas), o.Status.Replicas
		s.Status.Selector = labels.SelectorFromSet(o.Spec.Selector).String()
		return s, nil
	default:
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	if sel != nil {
		ls, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		s.Status.Selector = ls.String()
	}
	return s, nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	case *corev1.ReplicationController:
		o.Spec.Replicas = &n
	}
}

func mustAccessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(fmt.Sprintf("object %T has no metadata: %v", obj, err))
	}
	return m
}
