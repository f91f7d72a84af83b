package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
)

// Config names the lease and sets the timings.
type Config struct {
	Namespace string // kube-system
	Name      string // e.g. kube-controller-manager
	Identity  string // unique per candidate, e.g. the node name plus a random suffix

	LeaseDuration time.Duration // how long a lease is valid without renewal
	RenewPeriod   time.Duration // how often the leader renews
	RetryPeriod   time.Duration // how often a follower tries to acquire

	// Now is the clock (tests inject one); defaults to time.Now.
	Now func() time.Time
}

// DefaultConfig returns the lease timings described in the package doc.
func DefaultConfig(name, identity string) Config {
	return Config{
		Namespace: "kube-system", Name: name, Identity: identity,
		LeaseDuration: 60 * time.Second, RenewPeriod: 15 * time.Second, RetryPeriod: 5 * time.Second,
	}
}

// Validate checks the timings make sense.
func (c Config) Validate() error {
	switch {
	case c.Namespace == "" || c.Name == "" || c.Identity == "":
		return errors.New("leader: namespace, name and identity are required")
	case c.RenewPeriod <= 0 || c.RetryPeriod <= 0:
		return errors.New("leader: renew and retry periods must be positive")
	case c.LeaseDuration <= c.RenewPeriod:
		return fmt.Errorf("leader: lease duration %s must exceed the renew period %s", c.LeaseDuration, c.RenewPeriod)
	}
	return nil
}

// Elector campaigns for one lease.
type Elector struct {
	cfg    Config
	leases *client.Typed[*coordinationv1.Lease, *coordinationv1.LeaseList]
	logger *slog.Logger
}

// New returns an elector; Run campaigns.
func New(cfg Config, set *client.Set, logger *slog.Logger) (*Elector, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Elector{cfg: cfg, leases: set.Leases(cfg.Namespace),
		logger: logger.With("component", "leader", "lease", cfg.Namespace+"/"+cfg.Name)}, nil
}

// Run campaigns until ctx ends. Each time it becomes leader it calls lead
// with a context that is cancelled when leadership is lost (a renewal could
// not be made before the lease would expire) or ctx ends, and waits for lead
// to return before campaigning again.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	for {
		if err := e.acquire(ctx); err != nil {
			return nil // ctx ended
		}
		e.logger.Info("became leader", "identity", e.cfg.Identity)
		leadCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			lead(leadCtx)
		}()
		e.renew(leadCtx)
		cancel()
		<-done
		if ctx.Err() != nil {
			e.release()
			return nil
		}
		e.logger.Warn("lost leadership", "identity", e.cfg.Identity)
	}
}

// acquire blocks until this candidate holds the lease or ctx ends.
func (e *Elector) acquire(ctx context.Context) error {
	for {
		if ok, err := e.tryAcquireOrRenew(ctx); ok {
			return nil
		} else if err != nil {
			e.logger.Debug("acquire failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(e.cfg.RetryPeriod):
		}
	}
}

// renew keeps the lease until a renewal fails for long enough that the lease
// may have expired, or ctx ends.
func (e *Elector) renew(ctx context.Context) {
	lastRenew := e.cfg.Now()
	t := time.NewTicker(e.cfg.RenewPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := e.tryAcquireOrRenew(ctx)
		if ok {
			lastRenew = e.cfg.Now()
			continue
		}
		if err != nil {
			e.logger.Warn("renew failed", "err", err)
		}
		// Give up before the lease can expire under us: someone else may
		// legitimately take it at lastRenew + LeaseDuration.
		if !ok && (err == nil || e.cfg.Now().Sub(lastRenew) > e.cfg.LeaseDuration-e.cfg.RenewPeriod) {
			return
		}
	}
}

// tryAcquireOrRenew takes or renews the lease if it is ours or expired. It
// reports ok=false, err=nil when another candidate validly holds it.
func (e *Elector) tryAcquireOrRenew(ctx context.Context) (bool, error) {
	now := metav1.NewMicroTime(e.cfg.Now())
	seconds := int32(e.cfg.LeaseDuration / time.Second)
	l, err := e.leases.Get(ctx, e.cfg.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = e.leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: e.cfg.Name, Namespace: e.cfg.Namespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(e.cfg.Identity), LeaseDurationSeconds: ptr.To(seconds),
				AcquireTime: &now, RenewTime: &now, LeaseTransitions: ptr.To(int32(0)),
			},
		}, metav1.CreateOptions{})
		return err == nil, ignoreConflict(err)
	}
	if err != nil {
		return false, err
	}
	holder := ptr.Deref(l.Spec.HolderIdentity, "")
	if holder != e.cfg.Identity && holder != "" && !e.expired(l) {
		return false, nil
	}
	l = l.DeepCopy()
	if holder != e.cfg.Identity {
		l.Spec.AcquireTime = &now
		l.Spec.LeaseTransitions = ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)
	}
	l.Spec.HolderIdentity = ptr.To(e.cfg.Identity)
	l.Spec.LeaseDurationSeconds = ptr.To(seconds)
	l.Spec.RenewTime = &now
	_, err = e.leases.Update(ctx, l, metav1.UpdateOptions{})
	return err == nil, ignoreConflict(err)
}

func (e *Elector) expired(l *coordinationv1.Lease) bool {
	if l.Spec.RenewTime == nil {
		return true
	}
	d := time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0)) * time.Second
	return e.cfg.Now().After(l.Spec.RenewTime.Add(d))
}

// release gives the lease up on shutdown so another server takes over at
// once instead of waiting for it to expire.
func (e *Elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := e.leases.Get(ctx, e.cfg.Name, metav1.GetOptions{})
	if err != nil || ptr.Deref(l.Spec.HolderIdentity, "") != e.cfg.Identity {
		return
	}
	l = l.DeepCopy()
	l.Spec.HolderIdentity = nil
	l.Spec.RenewTime = nil
	if _, err := e.leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		e.logger.Debug("release failed", "err", err)
	}
}

// ignoreConflict treats losing a write race as "not acquired", not an error.
func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
