package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Control-plane benchmarks: a real `kserver server --runtime sim`
// (controllers, scheduler, its own simulated node) and `kserver sim` with
// 100 simulated nodes in a second process; workloads are created through
// the API over HTTPS as a user would.

const (
	cpNodes    = 100
	cpReplicas = 1000
	cpPods     = 5000
)

// cpCluster starts the server and the simulated nodes and waits for them.
func cpCluster(ctx context.Context, env *Env) (*apiServer, *agentProc, error) {
	s, err := startServerWithAgent(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	p, err := startJoiner(env, s, "sim", "--nodes", strconv.Itoa(cpNodes), "--node-label", "bench=joiner")
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	if _, err := s.waitNodes(ctx, "bench%3Djoiner", cpNodes, exited(p.cmd, &p.stderr)); err != nil {
		p.stop()
		s.Close()
		return nil, nil, err
	}
	return s, p, nil
}

// createDeployment creates Deployment name with replicas pods.
func (s *apiServer) createDeployment(ctx context.Context, name string, replicas int) error {
	body := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q},"spec":{"replicas":%d,`+
		`"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},`+
		`"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}}}`, name, replicas, name, name)
	code, resp, err := s.do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", "application/json", []byte(body), false)
	if err != nil {
		return err
	}
	if code != http.StatusCreated {
		return fmt.Errorf("create deployment %s: %d %s", name, code, resp)
	}
	return nil
}

// waitDeploymentReady polls every 20 ms until Deployment name has replicas
// ready pods (Running and Ready on their nodes).
func (s *apiServer) waitDeploymentReady(ctx context.Context, name string, replicas int, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := 0
	for time.Now().Before(deadline) {
		code, body, err := s.do(ctx, http.MethodGet, "/apis/apps/v1/namespaces/default/deployments/"+name, "", nil, true)
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			var d struct {
				Status struct{ ReadyReplicas int }
			}
			if err := json.Unmarshal(body, &d); err != nil {
				return err
			}
			if last = d.Status.ReadyReplicas; last >= replicas {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("deployment %s: %d of %d pods ready after %s", name, last, replicas, within)
}

func c1() Benchmark {
	return Benchmark{
		ID:    "C1",
		Title: "Deployment of 1,000 replicas to all Running, 100 simulated nodes",
		Method: fmt.Sprintf("`kserver server --runtime sim` (every controller and the scheduler in-process) and `kserver sim --nodes %d`\n"+
			"in a second process; one Deployment of %d replicas is created over HTTPS; the figure is the time from the\n"+
			"create to the Deployment's status.readyReplicas = %d (every pod scheduled, started by its simulated node and\n"+
			"Ready, as reported through the ReplicaSet), polled every 20 ms, and the CPU time the server and the sim process\n"+
			"used meanwhile (less dependent on how busy the machine is). `bin/kbench --only C1`", cpNodes, cpReplicas, cpReplicas),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, p, err := cpCluster(ctx, env)
			if err != nil {
				return nil, err
			}
			defer s.Close()
			defer p.stop()
			start, serverCPU, simCPU := time.Now(), childCPU(s.cmd.Process.Pid), childCPU(p.cmd.Process.Pid)
			if err := s.createDeployment(ctx, "big", cpReplicas); err != nil {
				return nil, err
			}
			if err := s.waitDeploymentReady(ctx, "big", cpReplicas, 5*time.Minute); err != nil {
				return nil, err
			}
			elapsed := time.Since(start)
			return []Sample{
				{Metric: "create → all 1,000 pods Running and Ready", Value: elapsed.Seconds(), Unit: "s"},
				{Metric: "server CPU time for the rollout", Value: (childCPU(s.cmd.Process.Pid) - serverCPU).Seconds(), Unit: "s"},
				{Metric: "kserver sim CPU time for the rollout", Value: (childCPU(p.cmd.Process.Pid) - simCPU).Seconds(), Unit: "s"},
			}, nil
		},
	}
}

func c2() Benchmark {
	return Benchmark{
		ID:    "C2",
		Title: "Server RSS at 100 simulated nodes and 5,000 pods",
		Method: fmt.Sprintf("As C1, with five Deployments of %d replicas (%d pods) on the %d simulated nodes; once all are Ready\n"+
			"and after 30 s of quiet, VmRSS and RssAnon of the server process (API server, datastore, every controller,\n"+
			"the scheduler, its own simulated node) and VmRSS of the `kserver sim` process. `bin/kbench --only C2`",
			cpPods/5, cpPods, cpNodes),
		Run: func(ctx context.Context, env *Env, _ any) ([]Sample, error) {
			s, p, err := cpCluster(ctx, env)
			if err != nil {
				return nil, err
			}
			defer s.Close()
			defer p.stop()
			for i := range 5 {
				if err := s.createDeployment(ctx, fmt.Sprintf("load-%d", i), cpPods/5); err != nil {
					return nil, err
				}
			}
			for i := range 5 {
				if err := s.waitDeploymentReady(ctx, fmt.Sprintf("load-%d", i), cpPods/5, 10*time.Minute); err != nil {
					return nil, err
				}
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(30 * time.Second):
			}
			rss, err := s.procStatus("VmRSS")
			if err != nil {
				return nil, err
			}
			anon, err := s.procStatus("RssAnon")
			if err != nil {
				return nil, err
			}
			simRSS, err := p.procStatus("VmRSS")
			if err != nil {
				return nil, err
			}
			return []Sample{
				{Metric: "server RSS", Value: float64(rss) / 1024, Unit: "MiB"},
				{Metric: "server RSS, anonymous only", Value: float64(anon) / 1024, Unit: "MiB"},
				{Metric: "kserver sim (100 nodes) RSS", Value: float64(simRSS) / 1024, Unit: "MiB"},
			}, nil
		},
	}
}

// childCPU is the user+system CPU time process pid has used so far
// (/proc/<pid>/stat, in clock ticks of 10 ms).
func childCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from after it.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
