package client

import (
	"context"
	"time"

	"k8s.io/client-go/tools/cache"
)

// Scope returns a view of f for something that runs for a while and then
// stops while the process goes on — the controllers or the scheduler for
// one term of leadership. Informers got through the view are f's own
// (shared, each resource watched once); event handlers added through them
// are recorded and removed by Close, so that components built again for a
// later term do not find the previous term's handlers still attached.
// Start on the view starts informers with root (normally the process's
// context), never with the caller's shorter one, so that stopping one
// component never stops an informer another still reads.
func (f *Informers) Scope(root context.Context) *Informers {
	base := f
	for base.parent != nil {
		base = base.parent
	}
	return &Informers{set: base.set, resync: base.resync, parent: base, root: root}
}

// Close removes every event handler added through this view. It does
// nothing on a factory that is not a view.
func (f *Informers) Close() {
	f.mu.Lock()
	regs := f.regs
	f.regs = nil
	f.mu.Unlock()
	for _, r := range regs {
		_ = r.inf.RemoveEventHandler(r.reg)
	}
}

type handlerReg struct {
	inf cache.SharedIndexInformer
	reg cache.ResourceEventHandlerRegistration
}

func (f *Informers) record(inf cache.SharedIndexInformer, reg cache.ResourceEventHandlerRegistration, err error) (cache.ResourceEventHandlerRegistration, error) {
	if err == nil {
		f.mu.Lock()
		f.regs = append(f.regs, handlerReg{inf: inf, reg: reg})
		f.mu.Unlock()
	}
	return reg, err
}

// scopedInformer is a shared informer seen through a Scope: adding a
// handler is recorded so Close can remove it; everything else is the
// shared informer's.
type scopedInformer struct {
	cache.SharedIndexInformer
	scope *Informers
}

func (s *scopedInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	reg, err := s.SharedIndexInformer.AddEventHandler(h)
	return s.scope.record(s.SharedIndexInformer, reg, err)
}

func (s *scopedInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, resync time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	reg, err := s.SharedIndexInformer.AddEventHandlerWithResyncPeriod(h, resync)
	return s.scope.record(s.SharedIndexInformer, reg, err)
}

func (s *scopedInformer) AddEventHandlerWithOptions(h cache.ResourceEventHandler, o cache.HandlerOptions) (cache.ResourceEventHandlerRegistration, error) {
	reg, err := s.SharedIndexInformer.AddEventHandlerWithOptions(h, o)
	return s.scope.record(s.SharedIndexInformer, reg, err)
}
