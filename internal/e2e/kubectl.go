package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pinnedKubectl is the version built when no stock kubectl ≥ 1.28 is
// installed (the k8s.io modules we build against).
const pinnedKubectl = "v0.37.2"

// Kubectl is a stock kubectl binary.
type Kubectl struct {
	Path  string
	Minor int // 37 for v1.37.x
}

var kubectlMinor = regexp.MustCompile(`^kubectl\.1\.(\d+)$`)

// FindKubectl returns $KSERVER_E2E_KUBECTL, else the newest kubectl.1.NN
// (NN ≥ 28) beside the kubectl on PATH (symlinks resolved), else a kubectl
// built from k8s.io/kubectl at pinnedKubectl (internal/e2e/kubectl, its own
// module) and cached under the user cache directory.
func FindKubectl(t testing.TB) *Kubectl {
	t.Helper()
	if p := os.Getenv("KSERVER_E2E_KUBECTL"); p != "" {
		return &Kubectl{Path: p, Minor: versionOf(p)}
	}
	if k := installedKubectl(); k != nil {
		return k
	}
	p, err := buildKubectl()
	if err != nil {
		t.Fatalf("no stock kubectl ≥ 1.28 installed and building one failed: %v", err)
	}
	return &Kubectl{Path: p, Minor: 37}
}

func installedKubectl() *Kubectl {
	onPath, err := exec.LookPath("kubectl")
	if err != nil {
		return nil
	}
	if real, err := filepath.EvalSymlinks(onPath); err == nil {
		onPath = real
	}
	entries, err := os.ReadDir(filepath.Dir(onPath))
	if err != nil {
		return nil
	}
	var best *Kubectl
	for _, e := range entries {
		m := kubectlMinor.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		minor, _ := strconv.Atoi(m[1])
		if minor >= 28 && (best == nil || minor > best.Minor) {
			best = &Kubectl{Path: filepath.Join(filepath.Dir(onPath), e.Name()), Minor: minor}
		}
	}
	return best
}

// versionOf is the minor version of a kubectl binary: from its name
// (kubectl.1.NN), else from `kubectl version --client -o json`; 0 if
// unknown.
func versionOf(path string) int {
	if m := kubectlMinor.FindStringSubmatch(filepath.Base(path)); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	out, err := exec.Command(path, "version", "--client", "-o", "json").Output()
	if err != nil {
		return 0
	}
	var v struct {
		ClientVersion struct{ Minor string } `json:"clientVersion"`
	}
	if json.Unmarshal(out, &v) != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(v.ClientVersion.Minor, "+"))
	return n
}

// buildKubectl builds the pinned kubectl once per machine.
func buildKubectl() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	out := filepath.Join(cache, "kserver-e2e", "kubectl-"+pinnedKubectl+"-"+runtime.GOARCH)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "kubectl")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags",
		"-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37",
		"-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = env(map[string]string{"GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"})
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build kubectl: %v: %s", err, stderr.String())
	}
	return out, os.Rename(tmp, out)
}

// Result is the outcome of one kubectl run.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Run runs kubectl against c with a fresh discovery cache per cluster and
// returns its output; it never fails the test by itself.
func (k *Kubectl) Run(c *Cluster, stdin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Path, args...)
	cmd.Env = env(map[string]string{
		"KUBECONFIG":   c.Kubeconfig,
		"KUBECACHEDIR": filepath.Join(c.DataDir, "kubectl-cache"),
		"HOME":         c.DataDir,
	})
	if stdin != "" {
		cmd.Stdin = bytes.NewBufferString(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// Proc is a kubectl left running (get -w).
type Proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

// Start runs kubectl in the background; Stop ends it.
func (k *Kubectl) Start(c *Cluster, args ...string) (*Proc, error) {
	p := &Proc{done: make(chan error, 1)}
	p.cmd = exec.Command(k.Path, args...)
	p.cmd.Env = env(map[string]string{
		"KUBECONFIG":   c.Kubeconfig,
		"KUBECACHEDIR": filepath.Join(c.DataDir, "kubectl-cache"),
		"HOME":         c.DataDir,
	})
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, &p.stdout}, lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p, nil
}

// Stdout is what the process printed so far.
func (p *Proc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stop kills the process and returns its output.
func (p *Proc) Stop() (string, string) {
	_ = p.cmd.Process.Kill()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Deleted is what this kubectl prints after deleting what (`pod "web"`)
// in namespace ns ("" for cluster-scoped objects): 1.34 added the
// namespace.
func (k *Kubectl) Deleted(what, ns string) string {
	if ns != "" && (k.Minor == 0 || k.Minor >= 34) {
		return what + " deleted from " + ns + " namespace\n"
	}
	return what + " deleted\n"
}
