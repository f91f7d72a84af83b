package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kctl against stock kubectl: both binaries run the same command line
// against the same kserver, alternately, in the same run.

const (
	k1Pods        = 5
	k1Invocations = 15 // per tool and run, alternating
)

// kctlBinary is bin/kctl beside this program (make build builds both), or
// $KCTL_BIN.
func kctlBinary(env *Env) (string, error) {
	if p := os.Getenv("KCTL_BIN"); p != "" {
		return p, nil
	}
	p := filepath.Join(filepath.Dir(env.Exe), "kctl")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("K1 needs the kctl binary beside kbench (make build), or KCTL_BIN: %w", err)
	}
	return p, nil
}

var kubectlMinorName = regexp.MustCompile(`^kubectl\.1\.(\d+)$`)

// stockKubectl is $KUBECTL_BIN, else the kubectl 1.37 the e2e harness
// builds into the user cache, else the newest kubectl.1.NN beside the
// kubectl on PATH (a version dispatcher there would add its own start-up),
// else the kubectl on PATH.
func stockKubectl() (string, error) {
	if p := os.Getenv("KUBECTL_BIN"); p != "" {
		return p, nil
	}
	if cache, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(cache, "kserver-e2e", "kubectl-v0.37.2-"+runtime.GOARCH)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	onPath, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("K1 needs a stock kubectl (KUBECTL_BIN, or kubectl on PATH): %w", err)
	}
	if real, err := filepath.EvalSymlinks(onPath); err == nil {
		onPath = real
	}
	best, bestMinor := onPath, -1
	entries, _ := os.ReadDir(filepath.Dir(onPath))
	for _, e := range entries {
		if m := kubectlMinorName.FindStringSubmatch(e.Name()); m != nil {
			if minor, _ := strconv.Atoi(m[1]); minor > bestMinor {
				best, bestMinor = filepath.Join(filepath.Dir(onPath), e.Name()), minor
			}
		}
	}
	return best, nil
}

// cliSetup is the server K1 runs against and the two programs.
type cliSetup struct {
	*apiServer
	kctl, kubectl string
}

// cliRun is one timed invocation.
type cliRun struct {
	wall, cpu time.Duration
}

// runCLI runs bin with args against the setup's server, its discovery
// cache in cacheDir, and checks that it succeeded and listed the pods.
func (c *cliSetup) runCLI(ctx context.Context, bin, cacheDir string, args ...string) (cliRun, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(c.dir, "kubeconfig.yaml"), "KUBECACHEDIR="+cacheDir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return cliRun{}, fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, errOut.String())
	}
	if n := strings.Count(out.String(), "k1-"); n != k1Pods {
		return cliRun{}, fmt.Errorf("%s %s listed %d of the %d pods:\n%s", filepath.Base(bin), strings.Join(args, " "), n, k1Pods, out.String())
	}
	st := cmd.ProcessState
	return cliRun{wall: wall, cpu: st.UserTime() + st.SystemTime()}, nil
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func fileMiB(p string) (float64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return float64(st.Size()) / (1 << 20), nil
}

func k1() Benchmark {
	return Benchmark{
		ID:    "K1",
		Title: "kctl start-up (`get pods`) against stock kubectl, and binary size",
		Method: fmt.Sprintf("`kserver server --runtime sim` with a Deployment of %d Running pods; `kctl get pods` and stock kubectl's\n"+
			"`kubectl get pods` (bin/kctl and $KUBECTL_BIN, else the kubectl 1.37 the e2e harness builds, else the newest\n"+
			"kubectl on PATH) run as child processes against it with the same kubeconfig, each with its own warm discovery\n"+
			"cache, %d times each, alternating, per run; the figures are the medians of wall time (process start → exit)\n"+
			"and of user+system CPU time, their ratio, one start each with an empty discovery cache, and the size of both\n"+
			"files. `bin/kbench --only K1`", k1Pods, k1Invocations),
		Setup: func(ctx context.Context, env *Env) (any, error) {
			kc, err := kctlBinary(env)
			if err != nil {
				return nil, err
			}
			kb, err := stockKubectl()
			if err != nil {
				return nil, err
			}
			s, err := startServerWithAgent(ctx, env)
			if err != nil {
				return nil, err
			}
			if err := s.createDeployment(ctx, "k1", k1Pods); err == nil {
				err = s.waitDeploymentReady(ctx, "k1", k1Pods, time.Minute)
			}
			if err != nil {
				s.Close()
				return nil, err
			}
			return &cliSetup{apiServer: s, kctl: kc, kubectl: kb}, nil
		},
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			return k1Run(ctx, setup.(*cliSetup))
		},
	}
}

func k1Run(ctx context.Context, c *cliSetup) ([]Sample, error) {
	cacheDir, err := os.MkdirTemp(c.dir, "cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cacheDir)
	bins := []string{c.kctl, c.kubectl}
	cold := make([]cliRun, 2)
	for i, bin := range bins { // the first start fills each tool's cache
		if cold[i], err = c.runCLI(ctx, bin, filepath.Join(cacheDir, strconv.Itoa(i)), "get", "pods"); err != nil {
			return nil, err
		}
	}
	wall, cpu := make([][]time.Duration, 2), make([][]time.Duration, 2)
	for range k1Invocations {
		for i, bin := range bins {
			r, err := c.runCLI(ctx, bin, filepath.Join(cacheDir, strconv.Itoa(i)), "get", "pods")
			if err != nil {
				return nil, err
			}
			wall[i], cpu[i] = append(wall[i], r.wall), append(cpu[i], r.cpu)
		}
	}
	kctlSize, err := fileMiB(c.kctl)
	if err != nil {
		return nil, err
	}
	kubectlSize, err := fileMiB(c.kubectl)
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	kw, bw := medianDuration(wall[0]), medianDuration(wall[1])
	return []Sample{
		{Metric: "kctl get pods, wall time (warm cache)", Value: ms(kw), Unit: "ms"},
		{Metric: "kubectl get pods, wall time (warm cache)", Value: ms(bw), Unit: "ms"},
		{Metric: "kubectl / kctl wall time", Value: float64(bw) / float64(max(kw, 1)), Unit: "×", Target: Target{">=", 1}},
		{Metric: "kctl get pods, CPU time", Value: ms(medianDuration(cpu[0])), Unit: "ms"},
		{Metric: "kubectl get pods, CPU time", Value: ms(medianDuration(cpu[1])), Unit: "ms"},
		{Metric: "kctl get pods, empty discovery cache", Value: ms(cold[0].wall), Unit: "ms"},
		{Metric: "kubectl get pods, empty discovery cache", Value: ms(cold[1].wall), Unit: "ms"},
		{Metric: "kctl binary size", Value: kctlSize, Unit: "MiB", Target: Target{"<=", 40}},
		{Metric: "kubectl binary size (" + filepath.Base(c.kubectl) + ")", Value: kubectlSize, Unit: "MiB"},
	}, nil
}
