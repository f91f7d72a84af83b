package loop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestRunRetriesUntilSuccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := NewQueue("test")
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	reconcile := func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		if key == "ns/flaky" && calls[key] < 3 {
			return errors.New("transient")
		}
		if calls["ns/flaky"] == 3 && calls["ns/ok"] == 1 {
			select {
			case <-done:
			default:
				close(done)
			}
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Name: "test", Queue: q, Workers: 2, Sync: reconcile, Logger: slog.New(slog.DiscardHandler)})
	}()
	q.Add("ns/flaky")
	q.Add("ns/ok")
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("keys not reconciled: %v", calls)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if q.NumRequeues("ns/flaky") != 0 {
		t.Fatal("a key that succeeded must be forgotten by the rate limiter")
	}
}
