package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/apiserver/openapi"
	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/scheduler"
	"kserver.dev/kserver/internal/store"
	"kserver.dev/kserver/internal/store/sqlite"
)

// Scheduler benchmarks: the API server, its SQLite store and the scheduler
// run in this process, as `kserver server` runs them, talking through the
// in-memory transport.

const (
	s1Nodes = 100
	s1Pods  = 5000
)

// schedCluster is an in-process API server on a fresh store.
type schedCluster struct {
	dir   string
	store *sqlite.Store
	set   *client.Set
}

func startSchedCluster(ctx context.Context, env *Env) (*schedCluster, error) {
	dir, err := os.MkdirTemp(env.Dir, "sched-")
	if err != nil {
		return nil, err
	}
	c := &schedCluster{dir: dir}
	if c.store, err = openStore(ctx, env, filepath.Join(dir, "state.db")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The OpenAPI documents give managed fields the real schema (list
	// keys, atomic maps), as `kserver server` configures them.
	catalog := registry.New()
	docs, err := openapi.New(openapi.Config{Resources: catalog.All()})
	if err != nil {
		c.Close()
		return nil, err
	}
	api, err := apiserver.New(apiserver.Config{
		Store: c.store, Catalog: catalog, OpenAPI: docs, Logger: env.Logger,
		ServiceCIDR: netip.MustParsePrefix("10.43.0.0/16"), NodePortRange: [2]int{30000, 32767},
		ClusterDNS: netip.MustParseAddr("10.43.0.10"), AdvertiseAddress: netip.MustParseAddr("127.0.0.1"), SecurePort: 6443,
	})
	if err == nil {
		err = api.Bootstrap(ctx)
	}
	if err == nil {
		api.SetReady(true)
		c.set, err = client.New(api.RestConfig(apiserver.User{Name: "system:kube-scheduler", Groups: []string{"system:masters"}}))
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *schedCluster) Close() error {
	if c.store != nil {
		c.store.Close()
	}
	return os.RemoveAll(c.dir)
}

// createNodes creates n Ready nodes of 16 CPUs, 64 GiB and 110 pods.
func (c *schedCluster) createNodes(ctx context.Context, n int) error {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16"), corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	for i := range n {
		name := fmt.Sprintf("node-%03d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name,
				corev1.LabelTopologyZone: fmt.Sprintf("zone-%d", i%3)}},
			Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}},
		}
		got, err := c.set.Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
		if len(got.Status.Allocatable) == 0 {
			got.Status = node.Status
			if _, err := c.set.Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("node %s status: %w", name, err)
			}
		}
	}
	return nil
}

// createPods creates n pending pods (100m CPU, 128 MiB each) with workers
// concurrent clients; start is called just before the first create.
func (c *schedCluster) createPods(ctx context.Context, n, workers int) error {
	pods := c.set.Pods("default")
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "s1"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
				}
				if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
					errc <- fmt.Errorf("create pod %d: %w", i, err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// watchBound watches the store for pods written with a node name and
// returns a channel closed when n distinct pods are bound. It reads the
// stored bytes, so observing costs the benchmark almost nothing.
func (c *schedCluster) watchBound(ctx context.Context, n int) (<-chan struct{}, error) {
	w, err := c.store.Watch(ctx, "/registry/pods/", c.store.CurrentRevision())
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		bound := map[string]bool{}
		for ev := range w.Events() {
			if ev.Type != store.EventDelete && bytes.Contains(ev.KV.Value, []byte(`"nodeName":"`)) && !bound[ev.KV.Key] {
				bound[ev.KV.Key] = true
				if len(bound) == n {
					close(done)
					for range w.Events() {
					}
					return
				}
			}
		}
	}()
	return done, nil
}

// runScheduler starts a scheduler on c and returns a stop function that
// waits for it to exit.
func (c *schedCluster) runScheduler(ctx context.Context) (stop func(), ready <-chan struct{}, err error) {
	ctx, cancel := context.WithCancel(ctx)
	inf := client.NewInformers(c.set, 0)
	rec, b := client.NewRecorder(c.set, "default-scheduler")
	s, err := scheduler.New(scheduler.DefaultConfig(), c.set, inf, rec, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		b.Shutdown()
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	synced := make(chan struct{})
	go func() {
		if inf.WaitForCacheSync(ctx) {
			close(synced)
		}
	}()
	return func() { cancel(); <-done; b.Shutdown() }, synced, nil
}

func waitOrTimeout(ctx context.Context, ch <-chan struct{}, d time.Duration, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return errors.New(what + " timed out")
	}
}

func s1() Benchmark {
	return Benchmark{
		ID:    "S1",
		Title: "Scheduling throughput, 100 nodes, 5,000 pods",
		Method: fmt.Sprintf("In one process: the API server on a fresh SQLite store, the scheduler (default profile, binding\n"+
			"through pods/binding, Scheduled events) and %d Ready nodes (16 CPU, 64 GiB, 110 pods; 3 zones). Created while\n"+
			"scheduling: 8 clients create %d pods (100m, 128 MiB) through the in-memory transport while the scheduler runs;\n"+
			"pods/s = %d / (first create → last pod bound in the store), and the process CPU time per pod. Backlog: the same %d pods are created first, then the\n"+
			"scheduler starts; pods/s from its caches being synced to the last binding, and the CPU time the whole process (API\n"+
			"server, store, scheduler) used meanwhile per pod — the machine-independent cost. `bin/kbench --only S1`",
			s1Nodes, s1Pods, s1Pods, s1Pods),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			live, liveCPU, err := s1Live(ctx, env, s1Nodes, s1Pods)
			if err != nil {
				return nil, err
			}
			backlog, cpu, err := s1Backlog(ctx, env, s1Nodes, s1Pods)
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "throughput, pods created while scheduling", Value: live, Unit: "pods/s", Target: Target{">=", 1000}},
				{Metric: "created while scheduling: process CPU per pod", Value: liveCPU, Unit: "ms"},
				{Metric: "throughput, backlog of pending pods", Value: backlog, Unit: "pods/s"},
				{Metric: "backlog: process CPU per pod scheduled", Value: cpu, Unit: "ms"},
			}, nil
		},
	}
}

// s1Live measures pods created while the scheduler runs: pods/s and
// process CPU milliseconds per pod (creating it included).
func s1Live(ctx context.Context, env *Env, nodes, pods int) (float64, float64, error) {
	c, err := startSchedCluster(ctx, env)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if err := c.createNodes(ctx, nodes); err != nil {
		return 0, 0, err
	}
	stop, synced, err := c.runScheduler(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	if err := waitOrTimeout(ctx, synced, time.Minute, "scheduler start"); err != nil {
		return 0, 0, err
	}
	bound, err := c.watchBound(ctx, pods)
	if err != nil {
		return 0, 0, err
	}
	start, cpu0 := time.Now(), processCPU()
	if err := c.createPods(ctx, pods, 8); err != nil {
		return 0, 0, err
	}
	if err := waitOrTimeout(ctx, bound, 5*time.Minute, "binding all pods"); err != nil {
		return 0, 0, err
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	return float64(pods) / elapsed.Seconds(), ms(cpu) / float64(pods), nil
}

// s1Backlog measures a scheduler started with every pod pending: pods/s
// and process CPU milliseconds per pod.
func s1Backlog(ctx context.Context, env *Env, nodes, pods int) (float64, float64, error) {
	c, err := startSchedCluster(ctx, env)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if err := c.createNodes(ctx, nodes); err != nil {
		return 0, 0, err
	}
	if err := c.createPods(ctx, pods, 8); err != nil {
		return 0, 0, err
	}
	bound, err := c.watchBound(ctx, pods)
	if err != nil {
		return 0, 0, err
	}
	stop, synced, err := c.runScheduler(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	if err := waitOrTimeout(ctx, synced, time.Minute, "scheduler start"); err != nil {
		return 0, 0, err
	}
	start, cpu0 := time.Now(), processCPU()
	if err := waitOrTimeout(ctx, bound, 5*time.Minute, "binding all pods"); err != nil {
		return 0, 0, err
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	return float64(pods) / elapsed.Seconds(), ms(cpu) / float64(pods), nil
}
