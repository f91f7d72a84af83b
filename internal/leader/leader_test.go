package leader_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/leader"
)

func fastConfig(identity string) leader.Config {
	c := leader.DefaultConfig("test-lease", identity)
	c.LeaseDuration, c.RenewPeriod, c.RetryPeriod = 3*time.Second, 200*time.Millisecond, 100*time.Millisecond
	return c
}

func TestOneLeaderAtATimeAndHandover(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var leaders atomic.Int32
	var maxLeaders atomic.Int32
	leading := map[string]chan struct{}{"a": make(chan struct{}, 10), "b": make(chan struct{}, 10)}
	run := func(ctx context.Context, id string) {
		e, err := leader.New(fastConfig(id), set, logger)
		if err != nil {
			t.Error(err)
			return
		}
		_ = e.Run(ctx, func(ctx context.Context) {
			n := leaders.Add(1)
			if n > maxLeaders.Load() {
				maxLeaders.Store(n)
			}
			leading[id] <- struct{}{}
			<-ctx.Done()
			leaders.Add(-1)
		})
	}
	ctxA, stopA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { run(ctxA, "a"); close(doneA) }()
	waitChan(t, leading["a"], "a to lead")

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	go run(ctxB, "b")
	select {
	case <-leading["b"]:
		t.Fatal("b leads while a holds the lease")
	case <-time.After(time.Second):
	}

	// a stops and releases the lease: b takes over well before expiry.
	start := time.Now()
	stopA()
	<-doneA
	waitChan(t, leading["b"], "b to lead after a released")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("handover took %s; release should make it immediate", took)
	}
	if maxLeaders.Load() != 1 {
		t.Errorf("%d leaders at once", maxLeaders.Load())
	}
	lease, err := set.Leases("kube-system").Get(context.Background(), "test-lease", metav1.GetOptions{})
	if err != nil || ptr.Deref(lease.Spec.HolderIdentity, "") != "b" || ptr.Deref(lease.Spec.LeaseTransitions, 0) < 1 {
		t.Fatalf("lease after handover: %+v %v", lease.Spec, err)
	}
}

func TestLeadershipLostWhenLeaseTaken(t *testing.T) {
	cl := e2e.Start(t)
	set, err := client.New(cl.RestConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := leader.New(fastConfig("a"), set, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started, lost := make(chan struct{}, 2), make(chan struct{}, 2)
	go func() {
		_ = e.Run(ctx, func(lctx context.Context) {
			started <- struct{}{}
			<-lctx.Done()
			lost <- struct{}{}
		})
	}()
	waitChan(t, started, "leadership")
	// Another holder takes the lease with a fresh renew time (as a second
	// server would after a partition); a must notice on its next renewal.
	leases := set.Leases("kube-system")
	l, err := leases.Get(ctx, "test-lease", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.HolderIdentity = ptr.To("intruder")
	now := metav1.NewMicroTime(time.Now())
	l.Spec.RenewTime = &now
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitChan(t, lost, "a to notice the lost lease")
}

func TestConfigValidate(t *testing.T) {
	c := leader.DefaultConfig("x", "id")
	c.LeaseDuration = c.RenewPeriod
	if err := c.Validate(); err == nil {
		t.Fatal("lease duration equal to renew period must be refused")
	}
	if err := leader.DefaultConfig("", "id").Validate(); err == nil {
		t.Fatal("empty name must be refused")
	}
}

func waitChan(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
