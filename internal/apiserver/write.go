package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// writeOpts are the query options every write shares.
type writeOpts struct {
	dryRun     bool
	manager    string
	validation string // Strict, Warn or Ignore
	force      bool   // apply only
	// apply: managed fields were already computed by server-side apply.
	apply bool
	// put: the object came whole from the client (PUT), so a missing
	// resourceVersion is an unconditional update, which some resources
	// refuse (allowUnconditionalUpdate).
	put bool
}

// writeOptions parses dryRun, fieldManager and fieldValidation; kind is
// CreateOptions, UpdateOptions, PatchOptions or DeleteOptions for messages.
func (c *call) writeOptions(kind string) (writeOpts, error) {
	q := c.r.URL.Query()
	var o writeOpts
	var errs field.ErrorList
	for _, v := range q["dryRun"] {
		if v != metav1.DryRunAll {
			errs = append(errs, field.NotSupported(field.NewPath("dryRun"), v, []string{metav1.DryRunAll}))
		}
		o.dryRun = true
	}
	o.validation = q.Get("fieldValidation")
	switch o.validation {
	case "":
		o.validation = metav1.FieldValidationWarn
	case metav1.FieldValidationStrict, metav1.FieldValidationWarn, metav1.FieldValidationIgnore:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("fieldValidation"), o.validation,
			[]string{metav1.FieldValidationIgnore, metav1.FieldValidationStrict, metav1.FieldValidationWarn}))
	}
	o.manager = q.Get("fieldManager")
	if len(o.manager) > 128 {
		errs = append(errs, field.TooLong(field.NewPath("fieldManager"), "", 128))
	}
	if o.manager == "" {
		o.manager = managerFromUserAgent(c.r.UserAgent())
	}
	if len(errs) > 0 {
		return o, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: kind}, "", errs)
	}
	return o, nil
}

// managerFromUserAgent is upstream's default field manager: the User-Agent
// up to the first "/".
func managerFromUserAgent(ua string) string {
	m, _, _ := strings.Cut(ua, "/")
	if len(m) > 128 {
		m = m[:128]
	}
	return m
}

// decodeRequest decodes the body as the resource's kind in the request
// version, applies fieldValidation to unknown fields and returns the
// object in the storage version.
func (c *call) decodeRequest(o writeOpts, want schema.GroupVersionKind) (runtime.Object, error) {
	body, err := c.body()
	if err != nil {
		return nil, err
	}
	d, err := c.s.codecs.decodeBody(c.r.Header.Get("Content-Type"), body, want)
	if err != nil {
		return nil, err
	}
	if d.gvk.GroupVersion() != want.GroupVersion() {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", d.gvk.GroupVersion(), want.GroupVersion())
	}
	if d.gvk.Kind != want.Kind {
		return nil, badRequest("%s in version %q cannot be handled as a %s: the kind in the data does not match the resource", d.gvk.Kind, d.gvk.Version, want.Kind)
	}
	if err := c.fieldValidation(o, want, d.unknown); err != nil {
		return nil, err
	}
	return d.obj, nil
}

// fieldValidation reports unknown or duplicate fields per the directive.
func (c *call) fieldValidation(o writeOpts, gvk schema.GroupVersionKind, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	switch o.validation {
	case metav1.FieldValidationStrict:
		return badRequest("%s in version %q cannot be handled as a %s: strict decoding error: %s", gvk.Kind, gvk.Version, gvk.Kind, strings.Join(problems, ", "))
	case metav1.FieldValidationWarn:
		for _, p := range problems {
			c.warn(p)
		}
	}
	return nil
}

// invalid is the 422 for validation errors on obj.
func (c *call) invalid(obj runtime.Object, errs field.ErrorList) error {
	name := ""
	if m, err := meta.Accessor(obj); err == nil {
		name = m.GetName()
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: c.res.GroupVersion.Group, Kind: c.res.Kind}, name, errs)
}

type fmKey struct {
	gvr         schema.GroupVersionResource
	subresource string
}

// fieldManager returns the managed-fields manager of a resource version.
func (s *Server) fieldManager(res *registry.Resource, subresource string) (*managedfields.FieldManager, error) {
	key := fmKey{res.GroupVersionResource(), subresource}
	s.fmMu.Lock()
	defer s.fmMu.Unlock()
	if fm, ok := s.fieldManagers[key]; ok {
		return fm, nil
	}
	var tc managedfields.TypeConverter
	if s.cfg.OpenAPI != nil {
		tc = s.cfg.OpenAPI.TypeConverter()
	}
	if tc == nil {
		tc = managedfields.NewDeducedTypeConverter()
	}
	fm, err := managedfields.NewDefaultFieldManager(tc, &versionConverter{s: s, res: res}, defaulter{res.Strategy},
		s.codecs.scheme, res.GroupVersionKind(), res.StorageVersion, subresource, nil)
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", res.Resource, err)
	}
	s.fieldManagers[key] = fm
	return fm, nil
}

// versionConverter lets the field manager move objects between the served
// and the storage version of one resource.
type versionConverter struct {
	s   *Server
	res *registry.Resource
}

func (v *versionConverter) Convert(in, out, context any) error {
	return errors.New("convert into an existing object is not supported")
}

func (v *versionConverter) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{v.res.GroupVersionKind(), v.res.StorageVersion.WithKind(v.res.Kind)})
	if !ok {
		return nil, fmt.Errorf("cannot convert %T to %v", in, gv)
	}
	if u, ok := in.(runtime.Unstructured); ok {
		typed, err := v.typed(u, target)
		if err != nil {
			return nil, err
		}
		in = typed
	}
	cur := in.GetObjectKind().GroupVersionKind()
	if cur.GroupVersion() == target.GroupVersion() || (cur.Empty() && v.res.GroupVersion == v.res.StorageVersion) {
		out := in.DeepCopyObject()
		out.GetObjectKind().SetGroupVersionKind(target)
		return out, nil
	}
	if v.res.Converter == nil {
		return nil, fmt.Errorf("no converter for %s", v.res.Resource)
	}
	out, err := v.res.Converter.Convert(in, target.GroupVersion())
	if err != nil {
		return nil, err
	}
	out.GetObjectKind().SetGroupVersionKind(target)
	return out, nil
}

// typed turns the field manager's merge result (unstructured, as the type
// converter renders it) into the typed object of its version, so that
// defaulting, validation and the stored encoding see the real type — as
// upstream's scheme converter does. Without this a server-side apply stored
// the merge result undefaulted and unvalidated.
func (v *versionConverter) typed(u runtime.Unstructured, target schema.GroupVersionKind) (runtime.Object, error) {
	gvk := u.GetObjectKind().GroupVersionKind()
	if gvk.Empty() {
		gvk = target
	}
	out, err := v.s.codecs.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("apply result: %w", err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), out); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
	}
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return out, nil
}

func (v *versionConverter) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

type defaulter struct{ strategy registry.Strategy }

func (d defaulter) Default(obj runtime.Object) { d.strategy.Default(obj) }

// updateManagedFields records a write of obj over live by manager.
func (c *call) updateManagedFields(live, obj runtime.Object, manager, subresource string) (runtime.Object, error) {
	fm, err := c.s.fieldManager(c.res, subresource)
	if err != nil {
		return nil, err
	}
	return fm.UpdateNoErrors(live, obj, manager), nil
}

// checkNamespace refuses writes into a missing or terminating namespace
// with upstream's messages.
func (c *call) checkNamespace(ctx context.Context, verb string) error {
	if !c.res.Namespaced {
		return nil
	}
	ns, err := c.s.getNamespace(ctx, c.ri.namespace)
	if err != nil {
		return err
	}
	if verb == "create" && ns.Status.Phase == "Terminating" {
		return apierrors.NewForbidden(c.gr, c.ri.name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", c.ri.namespace))
	}
	return nil
}
