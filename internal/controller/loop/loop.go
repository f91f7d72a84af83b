// Package loop is the work loop every kserver controller runs: a
// rate-limited client-go workqueue of object keys, informer handlers that
// only enqueue, and workers that call the controller's sync function for one
// key at a time — requeued with exponential back-off while it fails,
// forgotten once it succeeds (sample-controller's shape).
package loop

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Queue is a controller's queue of "namespace/name" keys.
type Queue = workqueue.TypedRateLimitingInterface[string]

// NewQueue returns a queue with client-go's default controller rate limiter
// (per-item exponential back-off from 5 ms to 1000 s, and an overall bucket).
func NewQueue(name string) Queue {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// Enqueue adds the key of obj (a live object or a tombstone) to q.
func Enqueue(q Queue, obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	q.Add(key)
}

// Config is what Run needs.
type Config struct {
	Name    string // for logs, e.g. "deployment"
	Queue   Queue
	Workers int
	// Synced are the HasSynced functions of every informer the controller
	// reads; Run waits for them before starting workers.
	Synced []cache.InformerSynced
	// Sync reconciles one key; an error requeues it with back-off.
	Sync   func(ctx context.Context, key string) error
	Logger *slog.Logger
}

// maxRetriesLogged is how many consecutive failures of one key are logged
// at warning level before further ones go to debug.
const maxRetriesLogged = 15

// Run waits for the caches, then runs cfg.Workers workers until ctx ends;
// it shuts the queue down and waits for the workers before returning.
func Run(ctx context.Context, cfg Config) error {
	defer cfg.Queue.ShutDown()
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if !cache.WaitForCacheSync(ctx.Done(), cfg.Synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s controller: caches did not sync", cfg.Name)
	}
	cfg.Logger.Debug("controller started", "workers", cfg.Workers)
	var wg sync.WaitGroup
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for processNext(ctx, cfg) {
				}
			}, time.Second)
		}()
	}
	<-ctx.Done()
	cfg.Queue.ShutDown()
	wg.Wait()
	return nil
}

func processNext(ctx context.Context, cfg Config) bool {
	key, quit := cfg.Queue.Get()
	if quit {
		return false
	}
	defer cfg.Queue.Done(key)
	err := cfg.Sync(ctx, key)
	if err == nil {
		cfg.Queue.Forget(key)
		return true
	}
	if ctx.Err() != nil {
		return true
	}
	n := cfg.Queue.NumRequeues(key)
	level := slog.LevelWarn
	// A write that lost a race with another (the cache was a step behind)
	// is routine: the retry reads the newer object.
	if n >= maxRetriesLogged || (apierrors.IsConflict(err) && n < maxRetriesLogged/3) {
		level = slog.LevelDebug
	}
	cfg.Logger.Log(ctx, level, "sync failed, requeued", "key", key, "retries", n, "err", err)
	cfg.Queue.AddRateLimited(key)
	return true
}
