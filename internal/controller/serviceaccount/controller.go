package serviceaccount

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/loop"
)

// Names upstream uses.
const (
	// DefaultName is the ServiceAccount every namespace gets.
	DefaultName = "default"
	// RootCAConfigMap is the ConfigMap holding the API server's CA bundle.
	RootCAConfigMap = "kube-root-ca.crt"
	// RootCAKey is the bundle's key in it.
	RootCAKey = "ca.crt"

	descriptionAnnotation = "kubernetes.io/description"
	description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Config is what New needs.
type Config struct {
	Set       *client.Set
	Informers *client.Informers
	// RootCA is the PEM bundle published as kube-root-ca.crt (nil: the
	// ConfigMap is not published).
	RootCA []byte
	Logger *slog.Logger
}

// Controller ensures each namespace's default ServiceAccount and root CA
// ConfigMap.
type Controller struct {
	set     *client.Set
	rootCA  string
	logger  *slog.Logger
	nsInf   cache.SharedIndexInformer
	saInf   cache.SharedIndexInformer
	cmInf   cache.SharedIndexInformer
	ns      corelisters.NamespaceLister
	sas     corelisters.ServiceAccountLister
	cms     corelisters.ConfigMapLister
	queue   loop.Queue
	synced  []cache.InformerSynced
	publish bool
}

// New builds the controller on cfg's informers (Namespaces,
// ServiceAccounts and, when a CA is published, ConfigMaps).
func New(cfg Config) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		set: cfg.Set, rootCA: string(cfg.RootCA), publish: len(cfg.RootCA) > 0,
		logger: cfg.Logger.With("component", "serviceaccount-controller"),
		nsInf:  cfg.Informers.Namespaces(), saInf: cfg.Informers.ServiceAccounts(),
		queue: loop.NewQueue("serviceaccount"),
	}
	c.ns = corelisters.NewNamespaceLister(c.nsInf.GetIndexer())
	c.sas = corelisters.NewServiceAccountLister(c.saInf.GetIndexer())
	c.synced = []cache.InformerSynced{c.nsInf.HasSynced, c.saInf.HasSynced}
	_, _ = c.nsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { loop.Enqueue(c.queue, o) },
		UpdateFunc: func(_, o any) { loop.Enqueue(c.queue, o) },
	})
	_, _ = c.saInf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.namespaceOf(DefaultName)})
	if c.publish {
		c.cmInf = cfg.Informers.ConfigMaps()
		c.cms = corelisters.NewConfigMapLister(c.cmInf.GetIndexer())
		c.synced = append(c.synced, c.cmInf.HasSynced)
		_, _ = c.cmInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, o any) { c.namespaceOf(RootCAConfigMap)(o) },
			DeleteFunc: c.namespaceOf(RootCAConfigMap),
		})
	}
	return c
}

// namespaceOf returns a handler enqueueing the namespace of an object
// named name.
func (c *Controller) namespaceOf(name string) func(any) {
	return func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		switch v := o.(type) {
		case *corev1.ServiceAccount:
			if v.Name == name {
				c.queue.Add(v.Namespace)
			}
		case *corev1.ConfigMap:
			if v.Name == name {
				c.queue.Add(v.Namespace)
			}
		}
	}
}

// Run runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return loop.Run(ctx, loop.Config{
		Name: "serviceaccount", Queue: c.queue, Workers: workers, Logger: c.logger, Sync: c.sync, Synced: c.synced,
	})
}
