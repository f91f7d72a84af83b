package registry

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file is the contract between the API server's handlers
// (internal/apiserver) and the per-resource knowledge in this package. The
// handlers own HTTP, encoding, storage, watch, patching and everything that
// needs cluster state (namespace existence, ClusterIP/NodePort allocation,
// bindings, evictions, tokens). This package is pure: given objects, it
// defaults, validates, prepares, prints and selects them, exactly as upstream
// Kubernetes does for the same type. It never touches the store.
//
// Both sides may add members here; changing or removing one means updating
// every user in the same commit.

// Resource is one served resource in one group/version.
type Resource struct {
	GroupVersion schema.GroupVersion
	Resource     string // plural, lower case: "deployments"
	SingularName string // "deployment"
	Kind         string // "Deployment"
	Namespaced   bool
	ShortNames   []string // "deploy"
	Categories   []string // "all"
	// Verbs as listed in discovery: create, delete, deletecollection, get,
	// list, patch, update, watch (some resources have fewer, e.g. bindings
	// are create-only, tokenreviews create-only).
	Verbs        []string
	Subresources []Subresource
	// StorageVersion is the version objects of this resource are stored in.
	// All served versions of one group/resource share storage; objects are
	// converted with Convert when a request uses another version.
	StorageVersion schema.GroupVersion
	// Strategy holds the per-type behaviour. Never nil: resources with no
	// special behaviour get the generic strategy (no defaults beyond
	// metadata, name validation, Name/Created At table columns).
	Strategy Strategy
	// Converter converts between the served versions of a resource whose
	// versions share storage (autoscaling v1/v2 HorizontalPodAutoscaler,
	// core/v1 and events.k8s.io/v1 Event); nil when the resource is served
	// in its storage version only.
	Converter Converter
	// DeprecationWarning, when set, is sent as a Warning header with every
	// request to this resource version, as upstream does for deprecated
	// APIs (core/v1 Endpoints since 1.33, ComponentStatus since 1.19).
	DeprecationWarning string
	// fieldLabels maps each field selector label this version accepts to
	// the label FieldSet uses; nil means only metadata.name and
	// metadata.namespace (see ConvertFieldSelector).
	fieldLabels map[string]string
}

// GroupVersionResource of r.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion.WithResource(r.Resource)
}

// GroupVersionKind of r.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion.WithKind(r.Kind)
}

// Subresource is one subresource of a resource, as discovery lists it
// ("deployments/scale" is Name "scale", Kind autoscaling/v1 Scale).
type Subresource struct {
	Name  string                  // status, scale, binding, eviction, log, exec, attach, portforward, proxy, token, ephemeralcontainers, resize
	Kind  schema.GroupVersionKind // the object the subresource speaks
	Verbs []string
}

// Strategy is the per-type behaviour the handlers call. Objects passed in
// are of the resource's storage version unless said otherwise; they may be
// modified in place by the Prepare/Default methods only.
type Strategy interface {
	// Default applies upstream's defaulting (as after decoding a request).
	Default(obj runtime.Object)
	// PrepareForCreate resets what a client may not set on create: status of
	// types that have a status subresource, generation (set to 1), etc.
	PrepareForCreate(ctx context.Context, obj runtime.Object)
	// PrepareForUpdate, on an update of the main resource, keeps what may
	// only change through subresources (status) and bumps metadata.generation
	// when the spec changed.
	PrepareForUpdate(ctx context.Context, obj, old runtime.Object)
	// PrepareForStatusUpdate, on an update of the status subresource, keeps
	// everything but status (and, as upstream, some metadata) from old.
	PrepareForStatusUpdate(ctx context.Context, obj, old runtime.Object)
	// Validate checks an object to be created; field paths as upstream.
	Validate(ctx context.Context, obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update, including immutable fields.
	ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// Warnings returns the warnings upstream sends with a create or update
	// of obj (deprecations, e.g. for core/v1 Endpoints); may be nil.
	Warnings(ctx context.Context, obj, old runtime.Object) []string
	// TableColumns are the server-side printing columns, including Name
	// first and the priority-1 (-o wide) ones, as upstream.
	TableColumns() []metav1.TableColumnDefinition
	// TableRow renders one object as cells matching TableColumns; now is the
	// time ages are computed against.
	TableRow(obj runtime.Object, now time.Time) ([]any, error)
	// FieldSet is what field selectors match against (metadata.name,
	// metadata.namespace and the type's selectable fields, as upstream).
	FieldSet(obj runtime.Object) fields.Set
}

// Converter converts objects between the served versions of one resource.
type Converter interface {
	// Convert returns obj (any served version) as version gv.
	Convert(obj runtime.Object, gv schema.GroupVersion) (runtime.Object, error)
}
