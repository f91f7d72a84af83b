package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/leader"
	"kserver.dev/kserver/internal/scheduler"
)

// The control plane of `kserver server`: every controller and the
// scheduler, in-process on the API server's in-memory transport, each
// group under a Lease of its own as upstream (kube-system/
// kube-controller-manager, kube-system/kube-scheduler) so that a second
// server never runs them twice. They share one informer factory — each
// resource is watched once — and one event broadcaster. A term of
// leadership builds the components afresh on a scoped view of the shared
// informers; when the term ends the components stop and their handlers are
// removed, while the informers keep running for the next term.

// Identities of the in-process components (users, field managers).
const (
	controllerManagerUser = "system:kube-controller-manager"
	schedulerUser         = "system:kube-scheduler"
)

// informerResync is the shared informers' resync period: none. The
// controllers are level-triggered and requeue themselves (failures with
// back-off, timed work with AddAfter), and a resync would cost a goroutine
// per informer and a burst of work for nothing.
const informerResync = 0

// controlPlane runs the controllers and the scheduler.
type controlPlane struct {
	api         *apiserver.Server
	logger      *slog.Logger
	controllers bool
	scheduler   bool
	serviceLB   bool
	identity    string
	clusterCIDR netip.Prefix
	rootCA      []byte
	// lease returns the election config of a lease (tests shorten it).
	lease func(name, identity string) leader.Config
	// leading, when set, is told when a group starts and stops leading.
	leading func(group string, on bool)
}

// newControlPlane prepares the control plane of cfg. It tells the API
// server right away whether the namespace and garbage-collector
// controllers will run, so that no deletion is processed twice.
func newControlPlane(cfg Config, api *apiserver.Server, rootCA []byte, logger *slog.Logger) *controlPlane {
	cp := &controlPlane{
		api: api, logger: logger.With("component", "control-plane"),
		controllers: !cfg.Disabled("controllers"), scheduler: !cfg.Disabled("scheduler"),
		serviceLB: !cfg.Disabled("servicelb"),
		// The node name is stable across restarts: a restarted server
		// takes its own lease back at once instead of waiting it out.
		identity: cfg.NodeName, rootCA: rootCA, lease: leader.DefaultConfig,
	}
	cp.clusterCIDR, _ = netip.ParsePrefix(cfg.ClusterCIDR)
	api.SetLifecycleControllers(cp.controllers)
	return cp
}

// Run campaigns for both leases and runs what it wins until ctx ends.
func (cp *controlPlane) Run(ctx context.Context) error {
	if !cp.controllers && !cp.scheduler {
		return nil
	}
	cmSet, err := client.New(cp.api.RestConfig(apiserver.User{Name: controllerManagerUser}))
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	schedSet, err := client.New(cp.api.RestConfig(apiserver.User{Name: schedulerUser}))
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	shared := client.NewInformers(cmSet, informerResync)
	events := client.NewBroadcaster(cmSet)
	defer events.Shutdown()
	recorder := func(component string) record.EventRecorder {
		return events.NewRecorder(cmSet.Scheme(), corev1.EventSource{Component: component})
	}
	var wg sync.WaitGroup
	var errs []error
	var mu sync.Mutex
	campaign := func(group string, set *client.Set, lead func(lctx context.Context)) {
		el, err := leader.New(cp.lease(group, cp.identity), set, cp.logger)
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = el.Run(ctx, func(lctx context.Context) {
				cp.tell(group, true)
				defer cp.tell(group, false)
				lead(lctx)
			})
		}()
	}
	if cp.controllers {
		campaign("kube-controller-manager", cmSet, func(lctx context.Context) {
			cp.runControllers(lctx, ctx, cmSet, shared, recorder)
		})
	}
	if cp.scheduler {
		campaign("kube-scheduler", schedSet, func(lctx context.Context) {
			cp.runScheduler(lctx, ctx, schedSet, shared, recorder)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (cp *controlPlane) tell(group string, on bool) {
	if cp.leading != nil {
		cp.leading(group, on)
	}
}

// runScheduler runs the scheduler for one term of leadership.
func (cp *controlPlane) runScheduler(lctx, root context.Context, set *client.Set, shared *client.Informers,
	recorder func(string) record.EventRecorder) {
	scope := shared.Scope(root)
	defer scope.Close()
	s, err := scheduler.New(scheduler.DefaultConfig(), set, scope, recorder(corev1.DefaultSchedulerName), cp.logger)
	if err == nil {
		err = s.Run(lctx)
	}
	if err != nil {
		cp.logger.Error("scheduler stopped", "err", err)
	}
	<-lctx.Done() // keep the term (and the lease) until it ends
}

// runControllers builds every controller on a scoped view of the shared
// informers and runs them for one term of leadership.
func (cp *controlPlane) runControllers(lctx, root context.Context, set *client.Set, shared *client.Informers,
	recorder func(string) record.EventRecorder) {
	scope := shared.Scope(root)
	defer scope.Close()
	runs := buildControllers(controllerDeps{
		set: set, informers: scope, recorder: recorder, logger: cp.logger,
		clusterCIDR: cp.clusterCIDR, rootCA: cp.rootCA, serviceLB: cp.serviceLB,
	})
	scope.Start(lctx)
	cp.logger.Info("controllers started", "count", len(runs))
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(lctx, r.workers); err != nil {
				cp.logger.Error("controller stopped", "controller", r.name, "err", err)
			}
		}()
	}
	wg.Wait()
	<-lctx.Done()
}
