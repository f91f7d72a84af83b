package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"kserver.dev/kserver/internal/store"
)

// bootstrapManager is the field manager of objects the server creates.
const bootstrapManager = "kube-apiserver"

// Bootstrap prepares the cluster state the server relies on: allocator
// state from the stored Services, the system namespaces, the system
// PriorityClasses, and Service
// default/kubernetes with its Endpoints and EndpointSlice pointing at this
// server. It is idempotent and runs before the server reports ready.
func (s *Server) Bootstrap(ctx context.Context) error {
	lr, err := s.cfg.Store.List(ctx, "/registry/services/specs/", store.ListOptions{})
	if err != nil {
		return fmt.Errorf("bootstrap: list services: %w", err)
	}
	for _, kv := range lr.KVs {
		var svc corev1.Service
		if err := json.Unmarshal(kv.Value, &svc); err != nil {
			return fmt.Errorf("bootstrap: decode %s: %w", kv.Key, err)
		}
		s.alloc.load(&svc)
	}
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := s.ensure(ctx, gvr("", "v1", "namespaces"), "", ns); err != nil {
			return err
		}
	}
	for _, pc := range systemPriorityClasses() {
		if err := s.ensure(ctx, priorityClassesGVR, "", pc); err != nil {
			return err
		}
	}
	if !s.cfg.AdvertiseAddress.IsValid() || s.cfg.SecurePort == 0 {
		return nil
	}
	return s.ensureKubernetesService(ctx)
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// ensure creates obj (of the storage version of resource r) unless an
// object of that name exists.
func (s *Server) ensure(ctx context.Context, r schema.GroupVersionResource, ns string, obj runtime.Object) error {
	res, ok := s.cfg.Catalog.Lookup(r)
	if !ok {
		return fmt.Errorf("bootstrap: %s is not served", r)
	}
	c := &call{s: s, ctx: ctx, res: res, gr: qualified(res), ri: requestInfo{gv: res.GroupVersion, namespace: ns, resource: res.Resource}}
	obj.GetObjectKind().SetGroupVersionKind(c.storageGVK())
	_, _, err := c.createObject(ctx, obj, writeOpts{manager: bootstrapManager, validation: metav1.FieldValidationIgnore})
	if err != nil && !apierrors.IsAlreadyExists(err) && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("bootstrap: create %s %s: %w", res.Kind, objName(obj), err)
	}
	return nil
}

func objName(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetName()
	}
	return ""
}

// ensureKubernetesService creates default/kubernetes (first Service IP,
// port 443 → the API server's port) and its endpoints.
func (s *Server) ensureKubernetesService(ctx context.Context) error {
	addr := s.cfg.AdvertiseAddress.String()
	port := int32(s.cfg.SecurePort)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			ClusterIP:       s.alloc.firstIP().String(),
			SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt32(port)}},
		},
	}
	if err := s.ensure(ctx, gvr("", "v1", "services"), "default", svc); err != nil {
		return err
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := s.ensure(ctx, gvr("", "v1", "endpoints"), "default", ep); err != nil {
		return err
	}
	// The node's address may have changed since the last start (DHCP):
	// point the existing endpoints at this server again.
	err := s.reconcile(ctx, gvr("", "v1", "endpoints"), "default", "kubernetes", func(cur runtime.Object) bool {
		e := cur.(*corev1.Endpoints)
		if len(e.Subsets) == 1 && len(e.Subsets[0].Addresses) == 1 && e.Subsets[0].Addresses[0].IP == addr &&
			len(e.Subsets[0].Ports) == 1 && e.Subsets[0].Ports[0].Port == port {
			return false
		}
		e.Subsets = ep.Subsets
		return true
	})
	if err != nil {
		return err
	}
	ready := true
	name, proto := "https", corev1.ProtocolTCP
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	if s.cfg.AdvertiseAddress.Is6() {
		slice.AddressType = discoveryv1.AddressTypeIPv6
	}
	if err := s.ensure(ctx, gvr("discovery.k8s.io", "v1", "endpointslices"), "default", slice); err != nil {
		return err
	}
	return s.reconcile(ctx, gvr("discovery.k8s.io", "v1", "endpointslices"), "default", "kubernetes", func(cur runtime.Object) bool {
		es := cur.(*discoveryv1.EndpointSlice)
		if len(es.Endpoints) == 1 && len(es.Endpoints[0].Addresses) == 1 && es.Endpoints[0].Addresses[0] == addr &&
			len(es.Ports) == 1 && es.Ports[0].Port != nil && *es.Ports[0].Port == port && es.AddressType == slice.AddressType {
			return false
		}
		es.AddressType, es.Endpoints, es.Ports = slice.AddressType, slice.Endpoints, slice.Ports
		return true
	})
}

// reconcile updates an existing object with fix when fix reports a change.
func (s *Server) reconcile(ctx context.Context, r schema.GroupVersionResource, ns, name string, fix func(runtime.Object) bool) error {
	res, ok := s.cfg.Catalog.Lookup(r)
	if !ok {
		return fmt.Errorf("bootstrap: %s is not served", r)
	}
	c := &call{s: s, ctx: ctx, res: res, gr: qualified(res), ri: requestInfo{gv: res.GroupVersion, namespace: ns, resource: res.Resource, name: name}}
	o := writeOpts{manager: bootstrapManager, validation: metav1.FieldValidationIgnore}
	_, _, _, err := c.updateObject(ctx, o, "", func(cur runtime.Object) (runtime.Object, error) {
		if cur == nil {
			return nil, apierrors.NewNotFound(c.gr, name)
		}
		fix(cur)
		mustAccessor(cur).SetResourceVersion("")
		return cur, nil
	})
	if err != nil {
		return fmt.Errorf("bootstrap: update %s %s: %w", res.Kind, name, err)
	}
	return nil
}
