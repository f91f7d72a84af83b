package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/store"
)

// maxJSONPatchOps is upstream's cap on the operations of one JSON patch.
const maxJSONPatchOps = 10000

func (s *Server) patch(c *call) {
	kv, out, created, o, err := c.patchObject("")
	if err != nil {
		c.fail(err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	if o.dryRun || kv.Key == "" {
		c.respondObject(out, code)
		return
	}
	c.respondStored(kv, code)
}

// patchObject applies the request's patch to the object (or to one of its
// subresources: "" or "status"), retrying on races unless the patch
// carries a resourceVersion.
func (c *call) patchObject(subresource string) (kvOut store.KeyValue, out runtime.Object, created bool, o writeOpts, err error) {
	o, err = c.writeOptions("PatchOptions")
	if err != nil {
		return kvOut, nil, false, o, err
	}
	media, _, perr := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	pt := types.PatchType(media)
	if perr != nil {
		pt = ""
	}
	q := c.r.URL.Query()
	o.force = isTrue(q.Get("force"))
	o.apply = pt == types.ApplyYAMLPatchType
	var errs field.ErrorList
	if pt == types.ApplyYAMLPatchType && q.Get("fieldManager") == "" {
		errs = append(errs, field.Required(field.NewPath("fieldManager"), "is required for apply patch"))
	}
	if pt != types.ApplyYAMLPatchType && q.Has("force") {
		errs = append(errs, field.Forbidden(field.NewPath("force"), "may not be specified for non-apply patch"))
	}
	if len(errs) > 0 {
		return kvOut, nil, false, o, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "PatchOptions"}, "", errs)
	}
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
	default:
		return kvOut, nil, false, o, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
				types.JSONPatchType, types.MergePatchType, types.ApplyYAMLPatchType, types.StrategicMergePatchType), 0, false)
	}
	body, err := c.body()
	if err != nil {
		return kvOut, nil, false, o, err
	}
	mutate := func(current runtime.Object) (runtime.Object, error) {
		if pt == types.ApplyYAMLPatchType {
			return c.applyPatch(current, body, o, subresource)
		}
		if current == nil {
			return nil, apierrors.NewNotFound(c.gr, c.ri.name)
		}
		return c.mergePatch(current, pt, body, o)
	}
	kv, obj, created, err := c.updateObject(c.ctx, o, subresource, mutate)
	return kv, obj, created, o, err
}

// mergePatch applies a JSON, merge or strategic-merge patch to the served
// form of current and returns the storage-version result.
func (c *call) mergePatch(current runtime.Object, pt types.PatchType, patch []byte, o writeOpts) (runtime.Object, error) {
	orig, err := c.currentJSON(current)
	if err != nil {
		return nil, err
	}
	var result []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		if len(p) > maxJSONPatchOps {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOps, len(p)))
		}
		if result, err = p.Apply(orig); err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
	case types.MergePatchType:
		if result, err = jsonpatch.MergePatch(orig, patch); err != nil {
			return nil, badRequest("%v", err)
		}
	case types.StrategicMergePatchType:
		schemaObj, err := c.s.codecs.scheme.New(c.res.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		if result, err = strategicpatch.StrategicMergePatch(orig, patch, schemaObj); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	d, err := c.s.codecs.decodeBody(mediaJSON, result, c.res.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if err := c.fieldValidation(o, c.res.GroupVersionKind(), d.unknown); err != nil {
		return nil, err
	}
	obj, err := c.toStorage(d.obj)
	if err != nil {
		return nil, err
	}
	return clearUnchangedRV(obj, current), nil
}

// clearUnchangedRV drops a resourceVersion the patch did not change, so the
// read-modify-write loop may retry the patch on a newer object.
func clearUnchangedRV(obj, current runtime.Object) runtime.Object {
	m, err1 := meta.Accessor(obj)
	cm, err2 := meta.Accessor(current)
	if err1 == nil && err2 == nil && m.GetResourceVersion() == cm.GetResourceVersion() {
		m.SetResourceVersion("")
	}
	return obj
}

// applyPatch is server-side apply: the managed-fields manager merges the
// applied configuration into current (nil: the object is created).
func (c *call) applyPatch(current runtime.Object, patch []byte, o writeOpts, subresource string) (runtime.Object, error) {
	applied := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal(patch, &applied.Object); err != nil {
		return nil, badRequest("error decoding YAML: %v", err)
	}
	gvk := applied.GroupVersionKind()
	want := c.res.GroupVersionKind()
	if subresource == "" && (gvk.GroupVersion() != want.GroupVersion() || gvk.Kind != want.Kind) {
		return nil, badRequest("%s in version %q cannot be handled as a %s: the kind in the data does not match the resource", gvk.Kind, gvk.Version, want.Kind)
	}
	if applied.GetName() != "" && applied.GetName() != c.ri.name {
		return nil, badRequest("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), c.ri.name)
	}
	if ns := applied.GetNamespace(); c.res.Namespaced && ns != "" && ns != c.ri.namespace {
		return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	live := current
	if live == nil {
		live = c.newEmpty()
		m, _ := meta.Accessor(live)
		m.SetName(c.ri.name)
		if c.res.Namespaced {
			m.SetNamespace(c.ri.namespace)
		}
	}
	fm, err := c.s.fieldManager(c.res, subresource)
	if err != nil {
		return nil, err
	}
	out, err := fm.Apply(live, applied, o.manager, o.force)
	if err != nil {
		return nil, err
	}
	out.GetObjectKind().SetGroupVersionKind(c.storageGVK())
	if current != nil {
		out = clearUnchangedRV(out, current)
	} else if m, err := meta.Accessor(out); err == nil {
		m.SetResourceVersion("")
	}
	return out, nil
}

// currentJSON is the served JSON of current: the stored bytes themselves
// (with the resourceVersion spliced in) when current is the stored value
// in the storage version, which saves encoding it again.
func (c *call) currentJSON(current runtime.Object) ([]byte, error) {
	if c.servedAsStored() && c.current.Key != "" {
		if m, err := meta.Accessor(current); err == nil && m.GetResourceVersion() == strconv.FormatInt(c.current.ModRevision, 10) {
			return withRV(c.current.Value, c.current.ModRevision), nil
		}
	}
	served, err := c.toServed(current)
	if err != nil {
		return nil, err
	}
	return json.Marshal(served)
}
