package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// S2, S3, F1 and F6-RUNC: pods on a real runtime (node_real.go).

// nodeSetup is what the real-node benchmarks share: the image archive,
// and for S2/S3 one node started in Setup and reused by every run.
type nodeSetup struct {
	dir, archive string
	node         *realNode
}

func (s *nodeSetup) Close() error {
	var errs []error
	if s.node != nil {
		errs = append(errs, s.node.Close())
	}
	return errors.Join(append(errs, os.RemoveAll(s.dir))...)
}

// realNodeSetup builds the demo images and, unless rtName is empty,
// starts a node on that runtime and waits for it to be Ready.
func realNodeSetup(rtName string) func(ctx context.Context, env *Env) (any, error) {
	return func(ctx context.Context, env *Env) (any, error) {
		if err := needRoot(); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(env.Dir, "images-")
		if err != nil {
			return nil, err
		}
		s := &nodeSetup{dir: dir}
		if s.archive, err = nodeImages(env, dir); err != nil {
			return nil, errors.Join(err, s.Close())
		}
		if rtName == "" {
			return s, nil
		}
		if s.node, err = startRealNode(ctx, env, rtName, s.archive); err != nil {
			return nil, errors.Join(err, s.Close())
		}
		if _, err := s.node.waitNodes(ctx, "", 1, exited(s.node.cmd, &s.node.stderr)); err != nil {
			return nil, errors.Join(err, s.Close())
		}
		return s, nil
	}
}

func s2(id, rtName string) Benchmark {
	const pods = 40
	return Benchmark{
		ID:    id,
		Title: fmt.Sprintf("Pod start latency (create → Running, image present, %s)", rtName),
		Method: fmt.Sprintf("`kserver server --runtime %s` (embedded agent, CNI bridge, conmon) in a network namespace of its\n"+
			"own, busybox imported from the offline demo archive. %d pods (one busybox `sleep` container each) are\n"+
			"created one after another, the next 100 ms after the previous one was Running; latency = POST sent →\n"+
			"phase Running seen on a watch. Every other pod requests 100m CPU (Burstable) and is reported\n"+
			"separately: a BestEffort pod's cgroup has the minimal CPU weight, which the OCI runtime's own set-up\n"+
			"inside the container's cgroup shares on a busy machine. The pods are deleted after each run.\n"+
			"`sudo bin/kbench --only %s`", rtName, pods, id),
		Setup: realNodeSetup(rtName),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			n := setup.(*nodeSetup).node
			w, err := n.watchRunning(ctx, "s2")
			if err != nil {
				return nil, err
			}
			defer w.Close()
			var all, burst, best []time.Duration
			for i := range pods {
				name := fmt.Sprintf("s2-%d-%d", time.Now().UnixNano()%1e6, i)
				cpu := ""
				if i%2 == 1 {
					cpu = "100m"
				}
				start := time.Now()
				if err := n.createPod(ctx, busyboxPodCPU(name, "s2", cpu)); err != nil {
					return nil, err
				}
				at, err := w.wait(ctx, 60*time.Second, name)
				if err != nil {
					return nil, fmt.Errorf("%w: %s", err, n.podState(ctx, name))
				}
				d := at[0].Sub(start)
				all = append(all, d)
				if cpu == "" {
					best = append(best, d)
				} else {
					burst = append(burst, d)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := n.deleteAllPods(ctx, 2*time.Minute); err != nil {
				return nil, err
			}
			for _, s := range [][]time.Duration{all, best, burst} {
				slices.Sort(s)
			}
			return []Sample{
				{Metric: "create → Running p50", Value: percentile(all, 50), Unit: "ms", Target: Target{"<=", 100}},
				{Metric: "create → Running p99", Value: percentile(all, 99), Unit: "ms", Target: Target{"<=", 500}},
				{Metric: "create → Running p50, BestEffort pods", Value: percentile(best, 50), Unit: "ms"},
				{Metric: "create → Running p50, Burstable pods (100m CPU)", Value: percentile(burst, 50), Unit: "ms"},
			}, nil
		},
	}
}

func s3() Benchmark {
	const pods, posters = 100, 8
	return Benchmark{
		ID:    "S3",
		Title: "100-pod burst to all Running (runc, one node)",
		Method: fmt.Sprintf("A node as in S2 (runc). %d busybox pods are created at once (%d concurrent clients); time = first POST\n"+
			"sent → the last pod's phase Running seen on a watch; the CPU kserver used meanwhile (API server,\n"+
			"controllers, scheduler, agent) and that of the child processes it waited for (CNI plugins, conmon's\n"+
			"launcher; the OCI runtime runs under conmon and is not counted). Then all are deleted and the time\n"+
			"until the API has none left is reported too. `sudo bin/kbench --only S3`",
			pods, posters),
		Setup: realNodeSetup("runc"),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			n := setup.(*nodeSetup).node
			w, err := n.watchRunning(ctx, "s3")
			if err != nil {
				return nil, err
			}
			defer w.Close()
			prefix := fmt.Sprintf("s3-%d", time.Now().UnixNano()%1e6)
			names := make([]string, pods)
			for i := range names {
				names[i] = fmt.Sprintf("%s-%d", prefix, i)
			}
			self0, kids0 := procCPU(n.cmd.Process.Pid)
			start := time.Now()
			if err := createConcurrently(ctx, n, names, posters); err != nil {
				return nil, err
			}
			posted := time.Since(start)
			at, err := w.wait(ctx, 3*time.Minute, names...)
			if err != nil {
				return nil, err
			}
			last := slices.MaxFunc(at, func(a, b time.Time) int { return a.Compare(b) })
			self1, kids1 := procCPU(n.cmd.Process.Pid)
			delStart := time.Now()
			if err := n.deleteAllPods(ctx, 3*time.Minute); err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "first create → all Running", Value: ms(last.Sub(start)), Unit: "ms", Target: Target{"<=", 3000}},
				{Metric: "creates posted", Value: ms(posted), Unit: "ms"},
				{Metric: "kserver's own CPU for the burst", Value: ms(self1 - self0), Unit: "ms"},
				{Metric: "CPU of the processes kserver waited for (CNI plugins, monitor launchers)", Value: ms(kids1 - kids0), Unit: "ms"},
				{Metric: "delete all → none left", Value: ms(time.Since(delStart)), Unit: "ms"},
			}, nil
		},
	}
}

// createConcurrently posts the pods with workers concurrent clients and
// returns the first error (the others then stop).
func createConcurrently(ctx context.Context, n *realNode, names []string, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range ch {
				if err := n.createPod(ctx, busyboxPod(name, "s3")); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for _, name := range names {
		select {
		case ch <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

func f6Runc() Benchmark {
	return Benchmark{
		ID:    "F6-RUNC",
		Title: "Cold start with a real runtime: node Ready and first pod Running",
		Method: "`kserver server --runtime runc` on an empty data directory in a network namespace of its own, the\n" +
			"offline demo archive in its air-gap folder: process start → /readyz, → its Node Ready (polled every\n" +
			"2 ms), → a busybox pod created as soon as the API answered is Running (polled every 5 ms).\n" +
			"`sudo bin/kbench --only F6-RUNC`",
		Setup: realNodeSetup(""),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			n, err := startRealNode(ctx, env, "runc", setup.(*nodeSetup).archive)
			if err != nil {
				return nil, err
			}
			defer n.Close()
			// The default service account may not exist yet: admission
			// then refuses the pod for a moment.
			deadline := time.Now().Add(30 * time.Second)
			for err = n.createPod(ctx, busyboxPod("first", "f6")); err != nil; err = n.createPod(ctx, busyboxPod("first", "f6")) {
				if time.Now().After(deadline) {
					return nil, err
				}
				time.Sleep(5 * time.Millisecond)
			}
			ready, err := n.waitNodes(ctx, "", 1, exited(n.cmd, &n.stderr))
			if err != nil {
				return nil, err
			}
			// Polled, not watched: a watch opened this early in the server's
			// life was once seen to miss the pod's updates.
			at, err := n.pollRunning(ctx, "first", time.Minute)
			if err != nil {
				return nil, fmt.Errorf("%w: %s", err, n.podState(ctx, "first"))
			}
			return []Sample{
				{Metric: "API ready", Value: ms(n.ready), Unit: "ms", Target: Target{"<=", 300}},
				{Metric: "node Ready", Value: ms(ready.Sub(n.started)), Unit: "ms", Target: Target{"<=", 1000}},
				{Metric: "first pod Running", Value: ms(at.Sub(n.started)), Unit: "ms", Target: Target{"<=", 2000}},
			}, nil
		},
	}
}

func f1() Benchmark {
	const pods, idle = 3, 20 * time.Second
	return Benchmark{
		ID:    "F1",
		Title: "Idle memory of the server, its embedded agent and the container monitors",
		Method: fmt.Sprintf("`kserver server --runtime runc` (control plane, embedded agent, CNI) in a network namespace of its\n"+
			"own with %d busybox pods Running, idle for %s. kserver's VmRSS and RssAnon; the pods' conmon monitors'\n"+
			"VmRSS summed and their PSS summed (they share conmon's libraries: RSS counts those once per monitor,\n"+
			"PSS splits them); total = kserver RSS + monitors' RSS (the target's measure) and kserver RSS + monitors'\n"+
			"PSS. The containers' own processes are the workload and are not counted. `sudo bin/kbench --only F1`", pods, idle),
		Setup: realNodeSetup(""),
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			n, err := startRealNode(ctx, env, "runc", setup.(*nodeSetup).archive)
			if err != nil {
				return nil, err
			}
			defer n.Close()
			if _, err := n.waitNodes(ctx, "", 1, exited(n.cmd, &n.stderr)); err != nil {
				return nil, err
			}
			w, err := n.watchRunning(ctx, "f1")
			if err != nil {
				return nil, err
			}
			defer w.Close()
			names := make([]string, pods)
			for i := range names {
				names[i] = fmt.Sprintf("idle-%d", i)
				if err := n.createPod(ctx, busyboxPod(names[i], "f1")); err != nil {
					return nil, err
				}
			}
			if _, err := w.wait(ctx, time.Minute, names...); err != nil {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(idle):
			}
			return n.idleMemory(pods)
		},
	}
}

// idleMemory samples kserver's and its monitors' memory.
func (n *realNode) idleMemory(pods int) ([]Sample, error) {
	server, err := procMemory(n.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	mons := n.monitors()
	if len(mons) != pods {
		return nil, fmt.Errorf("found %d conmon monitors for %d pods", len(mons), pods)
	}
	var sum memory
	for _, pid := range mons {
		m, err := procMemory(pid)
		if err != nil {
			return nil, err
		}
		sum.rss, sum.anon, sum.pss = sum.rss+m.rss, sum.anon+m.anon, sum.pss+m.pss
	}
	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	return []Sample{
		{Metric: "kserver RSS", Value: mib(server.rss), Unit: "MiB"},
		{Metric: "kserver RSS, anonymous only", Value: mib(server.anon), Unit: "MiB"},
		{Metric: "monitors RSS (sum)", Value: mib(sum.rss), Unit: "MiB"},
		{Metric: "monitors PSS (sum)", Value: mib(sum.pss), Unit: "MiB"},
		{Metric: "total RSS (kserver + monitors)", Value: mib(server.rss + sum.rss), Unit: "MiB", Target: Target{"<=", 50}},
		{Metric: "total, monitors by PSS", Value: mib(server.rss + sum.pss), Unit: "MiB"},
	}, nil
}
