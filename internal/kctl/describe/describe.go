package describe

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Describer describes objects, reading related objects through a dynamic
// client.
type Describer struct {
	Client     dynamic.Interface
	ShowEvents bool
	// ChunkSize is the list page size (kubectl's 500).
	ChunkSize int64
}

type describeFunc func(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error)

// byKind maps group/Kind to its describer.
var byKind = map[schema.GroupKind]describeFunc{
	{Kind: "Pod"}:                                                    describePod,
	{Kind: "ReplicationController"}:                                  describeRC,
	{Kind: "Service"}:                                                describeService,
	{Kind: "Endpoints"}:                                              describeEndpoints,
	{Kind: "Node"}:                                                   describeNode,
	{Kind: "Namespace"}:                                              describeNamespace,
	{Kind: "ConfigMap"}:                                              describeConfigMap,
	{Kind: "Secret"}:                                                 describeSecret,
	{Kind: "ServiceAccount"}:                                         describeServiceAccount,
	{Kind: "PersistentVolume"}:                                       describePV,
	{Kind: "PersistentVolumeClaim"}:                                  describePVC,
	{Kind: "Event"}:                                                  describeEvent,
	{Group: "apps", Kind: "Deployment"}:                              describeDeployment,
	{Group: "apps", Kind: "ReplicaSet"}:                              describeReplicaSet,
	{Group: "apps", Kind: "StatefulSet"}:                             describeStatefulSet,
	{Group: "apps", Kind: "DaemonSet"}:                               describeDaemonSet,
	{Group: "batch", Kind: "Job"}:                                    describeJob,
	{Group: "batch", Kind: "CronJob"}:                                describeCronJob,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                  describeStorageClass,
	{Group: "networking.k8s.io", Kind: "Ingress"}:                    describeIngress,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:              describeNetworkPolicy,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:          describeHPA,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               describeRole,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        describeRole,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        describeRoleBinding,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: describeRoleBinding,
}

// Describe returns the describe text of u.
func (d *Describer) Describe(ctx context.Context, u *unstructured.Unstructured) (string, error) {
	if fn, ok := byKind[u.GroupVersionKind().GroupKind()]; ok {
		return fn(ctx, d, u)
	}
	return describeGeneric(ctx, d, u)
}

// into converts an unstructured object to its typed form.
func into[T any](u *unstructured.Unstructured) (*T, error) {
	var t T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &t); err != nil {
		return nil, fmt.Errorf("decoding %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return &t, nil
}

var (
	gvrEvents      = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	gvrPods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrReplicaSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	gvrSlices      = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
)

// list pages through a list like kubectl (limit 500, continue).
func (d *Describer) list(ctx context.Context, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) ([]unstructured.Unstructured, error) {
	if opts.Limit == 0 {
		opts.Limit = d.ChunkSize
	}
	var items []unstructured.Unstructured
	for {
		var l *unstructured.UnstructuredList
		var err error
		if ns == "" {
			l, err = d.Client.Resource(gvr).List(ctx, opts)
		} else {
			l, err = d.Client.Resource(gvr).Namespace(ns).List(ctx, opts)
		}
		if err != nil {
			return nil, err
		}
		items = append(items, l.Items...)
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return items, nil
		}
	}
}

func listTyped[T any](ctx context.Context, d *Describer, gvr schema.GroupVersionResource, ns string, opts metav1.ListOptions) ([]T, error) {
	items, err := d.list(ctx, gvr, ns, opts)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for i := range items {
		t, err := into[T](&items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, nil
}

// events lists the events about u (nil when events are off). Pods are
// matched without the kind, as kubectl does.
func (d *Describer) events(ctx context.Context, u *unstructured.Unstructured) []corev1.Event {
	if !d.ShowEvents {
		return nil
	}
	sel := map[string]string{"involvedObject.name": u.GetName(), "involvedObject.namespace": u.GetNamespace(),
		"involvedObject.uid": string(u.GetUID())}
	if u.GetKind() != "Pod" {
		sel["involvedObject.kind"] = u.GetKind()
	}
	evs, err := listTyped[corev1.Event](ctx, d, gvrEvents, u.GetNamespace(), metav1.ListOptions{FieldSelector: fields.SelectorFromSet(sel).String()})
	if err != nil {
		return nil
	}
	return evs
}

// withEvents appends the Events section when events are on.
func (d *Describer) withEvents(ctx context.Context, u *unstructured.Unstructured, w *prefixWriter) {
	if d.ShowEvents {
		printEvents(w, d.events(ctx, u))
	}
}

func controllerOf(refs []metav1.OwnerReference) string {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return r.Kind + "/" + r.Name
		}
	}
	return ""
}

func joinOrNone(items []string, sep string) string {
	if len(items) == 0 {
		return "<none>"
	}
	return strings.Join(items, sep)
}
