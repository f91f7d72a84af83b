package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"kserver.dev/kserver/internal/agent"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/image"
	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/runtime/oci"
	"kserver.dev/kserver/internal/runtime/sim"
)

// AgentOptions are settings of the embedded node agent that have no flag:
// tests use them to run a real node inside a network namespace of their
// own, with pod logs in a folder of their own.
type AgentOptions struct {
	// NetNS is the path of the network namespace the pod network (bridge,
	// routes, hostPort rules) is made in and hostNetwork pods join; empty
	// means kserver's own.
	NetNS string
	// LogRoot is where pod logs go (default /var/log/pods).
	LogRoot string
}

// RuntimeRunDir is where the OCI runtime keeps what dies with the machine:
// /run/kserver/runtime for the default data directory, and a folder of its
// own for any other, so that two kserver processes on one machine never
// share (and so never remove) each other's containers.
func RuntimeRunDir(dataDir string) string {
	if dataDir == DefaultConfig().DataDir {
		return oci.DefaultRunDir
	}
	sum := sha256.Sum256([]byte(filepath.Clean(dataDir)))
	return filepath.Join("/run/kserver", hex.EncodeToString(sum[:6]), "runtime")
}

// openParts opens what the agent drives for a runtime name: for runc and
// crun the OCI runtime, the image store (which imports the air-gap
// archives of <data-dir>/agent/images in the background; pods wait for
// it), the CNI pod network with the cluster network around it (overlay,
// Service proxy, NetworkPolicy, DNS: network.go), host volumes and the
// prober. It fills the agent configuration that follows from them.
func openParts(ctx context.Context, g *errgroup.Group, rtName, dataDir string, acfg *agent.Config, set *client.Set,
	nn nodeNetwork, logger *slog.Logger) (agent.Parts, error) {
	if rtName == "sim" {
		return agent.Parts{Runtime: sim.New(sim.Config{Logger: logger})}, nil
	}
	agentDir := filepath.Join(dataDir, "agent")
	if acfg.SeccompRoot == "" {
		acfg.SeccompRoot = filepath.Join(agentDir, "seccomp")
	}
	if acfg.StaticPodDir == "" {
		acfg.StaticPodDir = filepath.Join(agentDir, "pod-manifests")
	}
	rt, err := oci.Open(ctx, oci.Config{Runtime: rtName, RunDir: RuntimeRunDir(dataDir), StateDir: filepath.Join(agentDir, "runtime"),
		LogRoot: acfg.LogRoot, Logger: logger})
	if err != nil {
		return agent.Parts{}, fmt.Errorf("%w\n(run `kserver check-config` to check this host, or --runtime sim for simulated pods)", err)
	}
	g.Go(func() error { return rt.Run(ctx) })
	store, err := image.Open(image.DefaultConfig(dataDir), logger)
	if err != nil {
		return agent.Parts{}, err
	}
	images := &importingStore{Store: store, ready: make(chan struct{})}
	g.Go(func() error {
		defer store.Close()
		images.importArchives(ctx, logger)
		return store.Run(ctx)
	})
	cniCfg := agent.CNIConfig{Dir: agentDir, ConfDir: filepath.Join(agentDir, "etc", "cni", "net.d")}
	if acfg.HostNetNS != "" {
		ns, err := netns.Open(acfg.HostNetNS)
		if err != nil {
			return agent.Parts{}, err
		}
		g.Go(func() error { <-ctx.Done(); return ns.Close() })
		cniCfg.NetNSFd = ns.Fd()
	}
	if cniCfg.MTU, err = startNodeNetwork(ctx, g, nn, acfg, set, logger); err != nil {
		return agent.Parts{}, err
	}
	return agent.Parts{
		Runtime: rt,
		Images:  images,
		Network: agent.NewCNINetwork(cniCfg, logger),
		Volumes: agent.NewHostVolumes(filepath.Join(agentDir, "pods")),
		Probes:  agent.NewHostProber(rt),
	}, nil
}

// importingStore is the image store while the air-gap archives are being
// imported: pulls wait for the import, so an image an archive holds is
// never fetched from a registry for nothing.
type importingStore struct {
	*image.Store
	ready chan struct{}
}

func (s *importingStore) importArchives(ctx context.Context, logger *slog.Logger) {
	defer close(s.ready)
	start := time.Now()
	imgs, err := s.ImportDir(ctx)
	if err != nil {
		logger.Warn("importing air-gap image archives", "err", err)
	}
	if len(imgs) > 0 {
		logger.Info("imported air-gap images", "images", len(imgs), "elapsed", time.Since(start).Round(time.Millisecond))
	}
}

// Ensure waits for the import, then applies the pull policy.
func (s *importingStore) Ensure(ctx context.Context, req image.EnsureRequest) (image.Image, []image.Event, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return image.Image{}, nil, ctx.Err()
	}
	return s.Store.Ensure(ctx, req)
}
