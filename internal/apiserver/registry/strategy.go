package registry

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// typeStrategy implements Strategy for one type: the parts every type shares
// (object metadata validation, status reset and preservation, generation
// tracking, metadata field sets, the default table) plus optional per-type
// hooks. A resource with no hooks behaves like upstream's generic registry.
type typeStrategy struct {
	namespaced bool
	// status: the type has a status subresource, so create resets status and
	// a main-resource update keeps the stored status.
	status bool
	// keepStatusOnCreate: status is kept on create despite the status
	// subresource (nodes register with their status).
	keepStatusOnCreate bool
	// generation: metadata.generation is 1 on create and is bumped when the
	// spec changes (upstream strategies of workload-like types).
	generation bool
	// statusMeta says what a status update may change in metadata.
	// Upstream's older status strategies (core, apps, batch, autoscaling,
	// policy, ingress) copy only the spec back, so labels, annotations,
	// finalizers and owner references change through status too (the
	// deployment controller writes deployment.kubernetes.io/revision that
	// way); newer ones reset metadata (metav1.ResetObjectMetaForStatus),
	// the default here.
	statusMeta statusMetaRule
	// nameFn validates metadata.name (and generateName); DNS-1123
	// subdomain unless set.
	nameFn apivalidation.ValidateNameFunc

	defaults       func(obj runtime.Object)
	prepareCreate  func(obj runtime.Object)
	prepareUpdate  func(obj, old runtime.Object)
	prepareStatus  func(obj, old runtime.Object)
	validate       func(obj runtime.Object) field.ErrorList
	validateUpdate func(obj, old runtime.Object) field.ErrorList
	warnings       func(obj, old runtime.Object) []string
	// specChanged overrides the spec comparison behind generation bumps.
	specChanged func(obj, old runtime.Object) bool

	columns []metav1.TableColumnDefinition
	row     func(obj runtime.Object, now time.Time) ([]any, error)
	fields  func(obj runtime.Object) fields.Set
}

var _ Strategy = (*typeStrategy)(nil)

// statusMetaRule is what a status update keeps of the stored metadata.
type statusMetaRule int

const (
	statusResetsMeta  statusMetaRule = iota // labels, annotations, finalizers, owners, generation
	statusSpecOnly                          // nothing (only the spec is copied back)
	statusKeepsLabels                       // labels
	statusKeepsOwners                       // owner references
)

// newGenericStrategy is the strategy of resources without special
// behaviour.
func newGenericStrategy(namespaced, status bool) *typeStrategy {
	return &typeStrategy{namespaced: namespaced, status: status}
}

func (s *typeStrategy) Default(obj runtime.Object) {
	if s.defaults != nil {
		s.defaults(obj)
	}
}

func (s *typeStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if s.status && !s.keepStatusOnCreate {
		resetField(obj, "Status")
	}
	if s.generation {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
	}
	if s.prepareCreate != nil {
		s.prepareCreate(obj)
	}
}

func (s *typeStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if s.status {
		copyField(obj, old, "Status")
	}
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 == nil && err2 == nil {
		// Clients cannot set generation; it only moves with the spec.
		newMeta.SetGeneration(oldMeta.GetGeneration())
		if s.generation && s.changed(obj, old) {
			newMeta.SetGeneration(oldMeta.GetGeneration() + 1)
		}
	}
	if s.prepareUpdate != nil {
		s.prepareUpdate(obj, old)
	}
}

func (s *typeStrategy) changed(obj, old runtime.Object) bool {
	if s.specChanged != nil {
		return s.specChanged(obj, old)
	}
	a, b := fieldValue(obj, "Spec"), fieldValue(old, "Spec")
	if !a.IsValid() || !b.IsValid() {
		return false
	}
	return !equality.Semantic.DeepEqual(a.Interface(), b.Interface())
}

func (s *typeStrategy) PrepareForStatusUpdate(_ context.Context, obj, old runtime.Object) {
	copyAllBut(obj, old, "TypeMeta", "ObjectMeta", "Status")
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 == nil && err2 == nil {
		switch s.statusMeta {
		case statusResetsMeta:
			metav1.ResetObjectMetaForStatus(newMeta, oldMeta)
		case statusKeepsLabels: // deployments
			newMeta.SetLabels(oldMeta.GetLabels())
		case statusKeepsOwners: // pods (old kubelets corrupted them)
			newMeta.SetOwnerReferences(oldMeta.GetOwnerReferences())
		}
	}
	if s.prepareStatus != nil {
		s.prepareStatus(obj, old)
	}
}

func (s *typeStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	nameFn := s.nameFn
	if nameFn == nil {
		nameFn = apivalidation.NameIsDNSSubdomain
	}
	errs := apivalidation.ValidateObjectMetaAccessor(m, s.namespaced, nameFn, field.NewPath("metadata"))
	if s.validate != nil {
		errs = append(errs, s.validate(obj)...)
	}
	return errs
}

func (s *typeStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	m, err1 := meta.Accessor(obj)
	o, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), fmt.Errorf("object has no metadata"))}
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(m, o, field.NewPath("metadata"))
	if s.validate != nil {
		errs = append(errs, s.validate(obj)...)
	}
	if s.validateUpdate != nil {
		errs = append(errs, s.validateUpdate(obj, old)...)
	}
	return errs
}

func (s *typeStrategy) Warnings(_ context.Context, obj, old runtime.Object) []string {
	if s.warnings == nil {
		return nil
	}
	return s.warnings(obj, old)
}

func (s *typeStrategy) TableColumns() []metav1.TableColumnDefinition {
	if s.columns == nil {
		return defaultColumns()
	}
	return s.columns
}

func (s *typeStrategy) TableRow(obj runtime.Object, now time.Time) ([]any, error) {
	if s.row == nil {
		return defaultRow(obj)
	}
	return s.row(obj, now)
}

// FieldSet is metadata.name (and metadata.namespace for namespaced types)
// plus the type's own selectable fields.
func (s *typeStrategy) FieldSet(obj runtime.Object) fields.Set {
	set := fields.Set{}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		if s.namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	if s.fields != nil {
		for k, v := range s.fields(obj) {
			set[k] = v
		}
	}
	return set
}

// fieldValue returns the named field of the struct obj points to.
func fieldValue(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

func resetField(obj runtime.Object, name string) {
	if f := fieldValue(obj, name); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

func copyField(dst, src runtime.Object, name string) {
	d, s := fieldValue(dst, name), fieldValue(src.DeepCopyObject(), name)
	if d.IsValid() && s.IsValid() && d.CanSet() && d.Type() == s.Type() {
		d.Set(s)
	}
}

// copyAllBut copies every top-level field of src into dst except the
// named ones (a status update keeps spec and everything else).
func copyAllBut(dst, src runtime.Object, except ...string) {
	d, s := reflect.ValueOf(dst), reflect.ValueOf(src.DeepCopyObject())
	if d.Kind() != reflect.Pointer || s.Kind() != reflect.Pointer || d.Type() != s.Type() {
		return
	}
	d, s = d.Elem(), s.Elem()
	if d.Kind() != reflect.Struct {
		return
	}
	skip := map[string]bool{}
	for _, e := range except {
		skip[e] = true
	}
	for i := 0; i < d.NumField(); i++ {
		if name := d.Type().Field(i).Name; !skip[name] && d.Field(i).CanSet() {
			d.Field(i).Set(s.Field(i))
		}
	}
}

func typeMeta(gv schema.GroupVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gv.String(), Kind: kind}
}

func semanticEqual(a, b any) bool { return equality.Semantic.DeepEqual(a, b) }
