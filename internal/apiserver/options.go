package apiserver

import (
	"math/rand/v2"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kserver.dev/kserver/internal/store"
)

// listOpts are the parsed and validated ListOptions of a list or watch.
type listOpts struct {
	match          matcher
	limit          int64
	cont           string
	rv             string
	rvMatch        string
	sendInitial    *bool
	allowBookmarks bool
	timeout        time.Duration
}

// listOptions parses the query of a list or watch as upstream's
// ListOptions, with upstream's validation messages.
func (c *call) listOptions(watch bool) (listOpts, error) {
	q := c.r.URL.Query()
	var o listOpts
	var err error
	if o.match.label, err = labels.Parse(q.Get("labelSelector")); err != nil {
		return o, badRequest("%v", err)
	}
	fs := q.Get("fieldSelector")
	if c.ri.name != "" && watch { // watch on .../pods/<name>
		if fs != "" {
			fs += ","
		}
		fs += "metadata.name=" + c.ri.name
	}
	sel, err := fields.ParseSelector(fs)
	if err != nil {
		return o, badRequest("%v", err)
	}
	if o.match.field, err = c.res.ConvertFieldSelector(sel); err != nil {
		return o, badRequest("%v", err)
	}
	o.match.fieldMetaOnly = true
	for _, req := range o.match.field.Requirements() {
		if req.Field != "metadata.name" && req.Field != "metadata.namespace" {
			o.match.fieldMetaOnly = false
		}
	}
	if l := q.Get("limit"); l != "" {
		if o.limit, err = strconv.ParseInt(l, 10, 64); err != nil || o.limit < 0 {
			return o, badRequest("invalid limit %q", l)
		}
	}
	o.cont = q.Get("continue")
	o.rv = q.Get("resourceVersion")
	o.rvMatch = q.Get("resourceVersionMatch")
	o.allowBookmarks = isTrue(q.Get("allowWatchBookmarks"))
	if v, ok := q["sendInitialEvents"]; ok && len(v) > 0 {
		b := isTrue(v[0])
		o.sendInitial = &b
	}
	if t := q.Get("timeoutSeconds"); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n < 0 {
			return o, badRequest("invalid timeoutSeconds %q", t)
		}
		o.timeout = time.Duration(n) * time.Second
	}
	if _, err := parseRV(o.rv); err != nil {
		return o, err
	}
	return o, validateListOptions(o, watch)
}

func validateListOptions(o listOpts, watch bool) error {
	var errs field.ErrorList
	rvm := field.NewPath("resourceVersionMatch")
	switch o.rvMatch {
	case "", string(metav1.ResourceVersionMatchNotOlderThan), string(metav1.ResourceVersionMatchExact):
	default:
		errs = append(errs, field.NotSupported(rvm, o.rvMatch, []string{string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan), ""}))
	}
	if watch {
		switch {
		case o.sendInitial != nil && o.rvMatch != string(metav1.ResourceVersionMatchNotOlderThan):
			errs = append(errs, field.Forbidden(rvm, "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		case o.sendInitial == nil && o.rvMatch != "":
			errs = append(errs, field.Forbidden(rvm, "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		}
	} else {
		if o.sendInitial != nil {
			errs = append(errs, field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for list"))
		}
		if o.rvMatch != "" {
			switch {
			case o.rv == "":
				errs = append(errs, field.Forbidden(rvm, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
			case o.cont != "":
				errs = append(errs, field.Forbidden(rvm, "resourceVersionMatch is forbidden when continue is provided"))
			case o.rv == "0" && o.rvMatch == string(metav1.ResourceVersionMatchExact):
				errs = append(errs, field.Forbidden(rvm, "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", errs)
}

// watchTimeout is the requested timeout, or a random one in [30m, 60m)
// as upstream picks.
func (o listOpts) watchTimeout() time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return 30*time.Minute + time.Duration(rand.Int64N(int64(30*time.Minute)))
}

// matcher applies label and field selectors.
type matcher struct {
	label labels.Selector
	field fields.Selector
	// fieldMetaOnly: the field selector uses only metadata.name and
	// metadata.namespace, which need no decoding beyond metadata.
	fieldMetaOnly bool
}

func (m matcher) everything() bool {
	return (m.label == nil || m.label.Empty()) && (m.field == nil || m.field.Empty())
}

// needsObject says whether matching needs the fully decoded object.
func (m matcher) needsObject() bool {
	return m.field != nil && !m.field.Empty() && !m.fieldMetaOnly
}

// matchKV tests a stored object. obj is the decoded object when matching
// needed it (nil otherwise), so callers can reuse it.
func (c *call) matchKV(m matcher, kv store.KeyValue) (bool, runtime.Object, error) {
	if m.everything() {
		return true, nil, nil
	}
	if m.needsObject() {
		obj, err := c.s.decodeStored(c.storageGVK(), kv)
		if err != nil {
			return false, nil, err
		}
		return c.matchObject(m, obj), obj, nil
	}
	om, err := objectMeta(kv.Value)
	if err != nil {
		return false, nil, err
	}
	if !m.label.Matches(labels.Set(om.Labels)) {
		return false, nil, nil
	}
	if m.field != nil && !m.field.Empty() {
		set := fields.Set{"metadata.name": om.Name}
		if c.res.Namespaced {
			set["metadata.namespace"] = om.Namespace
		}
		return m.field.Matches(set), nil, nil
	}
	return true, nil, nil
}

// matchObject tests a decoded storage-version object.
func (c *call) matchObject(m matcher, obj runtime.Object) bool {
	if m.everything() {
		return true
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if !m.label.Matches(labels.Set(acc.GetLabels())) {
		return false
	}
	if m.field == nil || m.field.Empty() {
		return true
	}
	return m.field.Matches(c.res.Strategy.FieldSet(obj))
}
