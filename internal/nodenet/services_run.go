package nodenet

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/nft"
	"kserver.dev/kserver/internal/proxy"
)

// byService indexes EndpointSlices by the Service they belong to.
const byService = "nodenet-service"

// serviceDriver keeps the proxy's table in step with Services and
// EndpointSlices: events mark Services dirty, the worker programs only
// those (proxy.Update), and every ResyncPeriod it recomputes all of them
// from the caches (proxy.Sync sends only differences) while the proxier
// checks the kernel for drift.
type serviceDriver struct {
	n        *Network
	services cache.SharedIndexInformer
	slices   cache.SharedIndexInformer
	indexed  bool // slices carry the byService index
	k        kicker

	mu    sync.Mutex
	dirty map[string]bool
	all   bool
	// ports are the proxy keys programmed per Service (to remove them).
	ports map[string][]string
}

func newServiceDriver(n *Network) (*serviceDriver, error) {
	d := &serviceDriver{n: n, services: n.inf.Services(), slices: n.inf.EndpointSlices(), k: newKicker(),
		dirty: map[string]bool{}, ports: map[string][]string{}}
	err := d.slices.AddIndexers(cache.Indexers{byService: func(obj any) ([]string, error) {
		sl, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || sl.Labels[discoveryv1.LabelServiceName] == "" {
			return nil, nil
		}
		return []string{serviceKey(sl.Namespace, sl.Labels[discoveryv1.LabelServiceName])}, nil
	}})
	d.indexed = err == nil // an informer already running takes no index: scan the namespace
	return d, nil
}

func (d *serviceDriver) mark(key string) {
	d.mu.Lock()
	d.dirty[key] = true
	d.mu.Unlock()
	d.k.kick()
}

func (d *serviceDriver) handlers() (svc, slice cache.ResourceEventHandler) {
	key := func(obj any) (string, bool) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		switch o := obj.(type) {
		case *corev1.Service:
			return serviceKey(o.Namespace, o.Name), true
		case *discoveryv1.EndpointSlice:
			name := o.Labels[discoveryv1.LabelServiceName]
			return serviceKey(o.Namespace, name), name != ""
		}
		return "", false
	}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { d.markObj(key(o)) },
		UpdateFunc: func(_, o any) { d.markObj(key(o)) },
		DeleteFunc: func(o any) { d.markObj(key(o)) },
	}
	return h, h
}

func (d *serviceDriver) markObj(k string, ok bool) {
	if ok {
		d.mark(k)
	}
}

func (d *serviceDriver) run(ctx context.Context, fd int) error {
	cfg := d.n.cfg
	px, err := proxy.New(proxy.Config{Family: nft.IPv4, ClusterCIDRs: []netip.Prefix{cfg.ClusterCIDR},
		NodePortAddresses: cfg.ExternalIPs, ResyncPeriod: cfg.ResyncPeriod, NetNSFd: fd}, d.n.log)
	if err != nil {
		return fmt.Errorf("nodenet: %w", err)
	}
	defer px.Close()
	sh, slh := d.handlers()
	r1, err := d.services.AddEventHandler(sh)
	if err != nil {
		return fmt.Errorf("nodenet: %w", err)
	}
	defer func() { _ = d.services.RemoveEventHandler(r1) }()
	r2, err := d.slices.AddEventHandler(slh)
	if err != nil {
		return fmt.Errorf("nodenet: %w", err)
	}
	defer func() { _ = d.slices.RemoveEventHandler(r2) }()
	d.n.inf.Start(ctx)
	if !waitSynced(ctx, r1.HasSynced, r2.HasSynced) {
		return nil
	}
	drift := make(chan struct{})
	go func() { defer close(drift); _ = px.Run(ctx) }() // drift checks
	defer func() { <-drift }()                          // before px.Close
	d.all = true
	tick := time.NewTicker(cfg.ResyncPeriod)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	delay := retryDelay
	for {
		if err := d.sync(px); err != nil {
			d.n.log.Error("programming Services failed; retrying with a full sync", "err", err, "retry", delay)
			d.mu.Lock()
			d.all = true
			d.mu.Unlock()
			retry.Reset(delay)
			delay = min(2*delay, maxRetryDelay)
		} else {
			delay = retryDelay
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.k:
		case <-retry.C:
		case <-tick.C:
			d.mu.Lock()
			d.all = true
			d.mu.Unlock()
		}
	}
}

// sync programs the dirty Services, or all of them after a resync tick or
// an error.
func (d *serviceDriver) sync(px *proxy.Proxier) error {
	d.mu.Lock()
	all, dirty := d.all, d.dirty
	d.all, d.dirty = false, map[string]bool{}
	d.mu.Unlock()
	start := time.Now()
	if all {
		var every []proxy.Service
		ports := map[string][]string{}
		for _, obj := range d.services.GetStore().List() {
			svc, ok := obj.(*corev1.Service)
			if !ok {
				continue
			}
			k := serviceKey(svc.Namespace, svc.Name)
			sp := ServicePorts(svc, d.slicesOf(k), d.n.cfg.NodeName, false)
			every = append(every, sp...)
			ports[k] = portKeys(sp)
		}
		if err := px.Sync(every); err != nil {
			return err
		}
		d.ports = ports
		d.n.log.Debug("Services synced", "ports", len(every), "elapsed", time.Since(start))
		return nil
	}
	var ups []proxy.Service
	var removed []string
	next := map[string][]string{}
	for k := range dirty {
		var sp []proxy.Service
		if obj, ok, _ := d.services.GetStore().GetByKey(k); ok {
			if svc, ok := obj.(*corev1.Service); ok {
				sp = ServicePorts(svc, d.slicesOf(k), d.n.cfg.NodeName, false)
			}
		}
		keys := portKeys(sp)
		for _, old := range d.ports[k] {
			if !contains(keys, old) {
				removed = append(removed, old)
			}
		}
		ups = append(ups, sp...)
		next[k] = keys
	}
	if err := px.Update(ups, removed); err != nil {
		return err
	}
	for k, keys := range next {
		if len(keys) == 0 {
			delete(d.ports, k)
		} else {
			d.ports[k] = keys
		}
	}
	return nil
}

func (d *serviceDriver) slicesOf(key string) []*discoveryv1.EndpointSlice {
	var objs []any
	if d.indexed {
		objs, _ = d.slices.GetIndexer().ByIndex(byService, key)
	} else {
		ns, name := splitKey(key)
		all, _ := d.slices.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		for _, o := range all {
			if sl, ok := o.(*discoveryv1.EndpointSlice); ok && sl.Labels[discoveryv1.LabelServiceName] == name {
				objs = append(objs, o)
			}
		}
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
			out = append(out, sl)
		}
	}
	return out
}

func portKeys(sp []proxy.Service) []string {
	out := make([]string, len(sp))
	for i := range sp {
		out[i] = sp[i].Key()
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// cleanupProxy removes our Service table (--disable proxy, Teardown).
func (n *Network) cleanupProxy(fd int) error {
	px, err := proxy.New(proxy.Config{Family: nft.IPv4, NetNSFd: fd}, n.log)
	if err != nil {
		return err
	}
	defer px.Close()
	return px.Cleanup()
}
