package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/runtime"
)

// Version is reported in Info.
const Version = "0.1.0"

// Config configures a simulated runtime.
type Config struct {
	// Clock drives scripted exits, delays and timestamps; nil means the
	// real clock. Tests pass a fake clock and step it.
	Clock clock.WithDelayedExecution
	// LogRoot replaces runtime.DefaultLogRoot in reported log paths (sim
	// writes no files).
	LogRoot string
	Logger  *slog.Logger
}

// Runtime is a simulated runtime. One value is one node's runtime; they
// share nothing, so many can live in one process.
type Runtime struct {
	clock   clock.WithDelayedExecution
	logRoot string
	log     *slog.Logger
	notify  runtime.Notifier

	mu         sync.Mutex
	sandboxes  map[string]*sandbox
	containers map[string]*container
	pods       map[podKey]string // sandbox ID by pod UID and attempt
	nextPID    int
}

type podKey struct {
	uid     string
	attempt uint32
}

var (
	_ runtime.Runtime = (*Runtime)(nil)
	_ runtime.Prober  = (*Runtime)(nil)
)

type sandbox struct {
	id      string
	cfg     runtime.SandboxConfig
	created time.Time
	state   runtime.SandboxState
	netns   string
	// containers are the sandbox's containers by ID.
	containers map[string]*container
	// removed keeps the last removed container of each name, so that
	// Logs with Previous still works after the agent removed it.
	removed map[string]*container
}

// New returns a simulated runtime.
func New(cfg Config) *Runtime {
	c := cfg.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	root := cfg.LogRoot
	if root == "" {
		root = runtime.DefaultLogRoot
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Runtime{
		clock:      c,
		logRoot:    root,
		log:        lg.With("component", "runtime", "runtime", "sim"),
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		pods:       map[podKey]string{},
		nextPID:    1000,
	}
}

// Info names the runtime.
func (r *Runtime) Info(context.Context) (runtime.Info, error) {
	return runtime.Info{Name: "sim", Version: Version}, nil
}

// CreateSandbox records a sandbox; it is Ready at once.
func (r *Runtime) CreateSandbox(_ context.Context, cfg runtime.SandboxConfig) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := podKey{cfg.UID, cfg.Attempt}
	if _, dup := r.pods[key]; dup {
		return "", fmt.Errorf("sandbox for pod %s/%s attempt %d: %w", cfg.Namespace, cfg.Name, cfg.Attempt, runtime.ErrAlreadyExists)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Name
	}
	if cfg.LogDir == "" {
		cfg.LogDir = runtime.LogDir(r.logRoot, cfg.Namespace, cfg.Name, cfg.UID)
	}
	sb := &sandbox{id: newID(), cfg: cfg, created: r.clock.Now(), state: runtime.SandboxReady, netns: cfg.NetNSPath,
		containers: map[string]*container{}}
	if sb.netns == "" && !cfg.HostNetwork {
		sb.netns = "/run/netns/sim-" + sb.id[:12]
	}
	r.sandboxes[sb.id] = sb
	r.pods[key] = sb.id
	return sb.id, nil
}

// StopSandbox kills the sandbox's running containers and marks it NotReady.
func (r *Runtime) StopSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	for _, c := range sb.containers {
		if c.state == runtime.StateRunning {
			r.exitLocked(c, 137, runtime.ReasonError, "")
		}
	}
	sb.state = runtime.SandboxNotReady
	return nil
}

// RemoveSandbox stops the sandbox and forgets it and its containers.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	if err := r.StopSandbox(ctx, id); err != nil {
		return ignoreNotFound(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[id]
	for cid, c := range sb.containers {
		r.removeLocked(cid, c)
	}
	delete(r.sandboxes, id)
	delete(r.pods, podKey{sb.cfg.UID, sb.cfg.Attempt})
	return nil
}

// SandboxStatus reports one sandbox.
func (r *Runtime) SandboxStatus(_ context.Context, id string) (runtime.SandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return runtime.SandboxStatus{}, fmt.Errorf("sandbox %s: %w", id, runtime.ErrNotFound)
	}
	return sb.status(), nil
}

// ListSandboxes reports every sandbox, oldest first.
func (r *Runtime) ListSandboxes(context.Context) ([]runtime.SandboxStatus, error) {
	r.mu.Lock()
	out := make([]runtime.SandboxStatus, 0, len(r.sandboxes))
	for _, sb := range r.sandboxes {
		out = append(out, sb.status())
	}
	r.mu.Unlock()
	runtime.SortSandboxes(out)
	return out, nil
}

// Watch delivers container events.
func (r *Runtime) Watch(ctx context.Context) <-chan runtime.Event { return r.notify.Watch(ctx) }

func (sb *sandbox) status() runtime.SandboxStatus {
	return runtime.SandboxStatus{
		ID: sb.id, Name: sb.cfg.Name, Namespace: sb.cfg.Namespace, UID: sb.cfg.UID, Attempt: sb.cfg.Attempt,
		State: sb.state, CreatedAt: sb.created, NetNSPath: sb.netns, HostNetwork: sb.cfg.HostNetwork,
		LogDir: sb.cfg.LogDir, Labels: sb.cfg.Labels, Annotations: sb.cfg.Annotations,
	}
}

// newID is a random 64-hex-digit ID, the shape of upstream container IDs.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ignoreNotFound(err error) error {
	if err != nil && isNotFound(err) {
		return nil
	}
	return err
}
