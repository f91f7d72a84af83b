package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"kserver.dev/kserver/internal/memtrim"
	"kserver.dev/kserver/internal/server"
)

// newLogger logs text to stderr, at debug level with --debug.
func newLogger(debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newAgentCommand() *cobra.Command {
	cfg := server.DefaultAgentConfig()
	trim := memtrim.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join a kserver cluster as a worker node",
		Long: "Join a kserver cluster as a worker node. The token is the content of <data-dir>/server/node-token on the\n" +
			"server (K10<CA hash>::server:<secret>); after the first join the node keeps its credentials in\n" +
			"<data-dir>/agent and needs no token to restart.",
		Example: "  kserver agent --server https://192.168.1.10:6443 --token K10…::server:…\n" +
			"  kserver agent --server https://127.0.0.1:6443 --token-file node-token --runtime sim --node-name sim-a",
		Args: cobra.NoArgs,
		// Closures, not method values: the checks must see the parsed flags.
		PreRunE: loadAndValidate(func() error { return trim.Validate() }, func() error { return cfg.Validate() }),
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(cfg.Debug)
			return runTrimmed(cmd.Context(), trim, logger, func(ctx context.Context) error {
				return server.RunAgent(ctx, cfg, logger)
			})
		},
	}
	f := cmd.Flags()
	f.String("config", defaultConfigFile, "config file; keys are flag names; empty for none (env KSERVER_CONFIG)")
	f.StringVar(&cfg.Server, "server", cfg.Server, "URL of the kserver server to join (https://HOST:6443)")
	f.StringVar(&cfg.Token, "token", cfg.Token, "node token of the server (<data-dir>/server/node-token there)")
	f.StringVar(&cfg.TokenFile, "token-file", cfg.TokenFile, "file holding the node token")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for the agent's state (credentials, runtime, images)")
	f.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, "name of this node")
	f.StringVar(&cfg.NodeIP, "node-ip", cfg.NodeIP, "IP address to advertise for this node (default: the address of the default route)")
	f.StringSliceVar(&cfg.NodeExternalIP, "node-external-ip", cfg.NodeExternalIP, "external IP address(es) of this node: its ExternalIP, used by ServiceLB and answering NodePorts")
	f.StringVar(&cfg.FlannelIface, "flannel-iface", cfg.FlannelIface, "uplink interface for the overlay (default: the one of --node-ip)")
	f.StringSliceVar(&cfg.NodeLabels, "node-label", cfg.NodeLabels, "label key=value for this node (repeatable)")
	f.StringSliceVar(&cfg.NodeTaints, "node-taint", cfg.NodeTaints, "taint key=value:Effect set when the node registers (repeatable)")
	f.StringVar(&cfg.Runtime, "runtime", cfg.Runtime, "container runtime: runc, crun, or sim (simulated pods, no processes)")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", cfg.KubeletPort, "port of the node's HTTPS API (logs, exec, port-forward, stats) on the node IP; 0 picks a free one")
	addMemTrimFlag(f, &trim)
	f.BoolVar(&cfg.Debug, "debug", cfg.Debug, "log at debug level")
	return cmd
}

func newSimCommand() *cobra.Command {
	cfg := server.DefaultSimConfig()
	trim := memtrim.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run simulated nodes (no containers, like kwok) that join a kserver cluster",
		Long: "Run --nodes simulated nodes in this process. They register, heartbeat and run pods as real nodes do,\n" +
			"but their containers are simulated: pod annotations sim.kserver.dev/* script them (run-for,\n" +
			"exit-code, ready-after, …). Nodes are named <prefix>-0 … and advertise loopback addresses.",
		Example: "  kserver sim --server https://127.0.0.1:6443 --token-file /var/lib/kserver/server/node-token --nodes 100\n" +
			"  kserver sim --server https://127.0.0.1:6443 --token K10… --nodes 5 --capacity cpu=4,memory=8Gi --node-taint gpu=true:NoSchedule",
		Args: cobra.NoArgs,
		// Closures, not method values: the checks must see the parsed flags.
		PreRunE: loadAndValidate(func() error { return trim.Validate() }, func() error { return cfg.Validate() }),
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(cfg.Debug)
			return runTrimmed(cmd.Context(), trim, logger, func(ctx context.Context) error {
				return server.RunSim(ctx, cfg, logger)
			})
		},
	}
	f := cmd.Flags()
	f.String("config", defaultConfigFile, "config file; keys are flag names; empty for none (env KSERVER_CONFIG)")
	f.StringVar(&cfg.Server, "server", cfg.Server, "URL of the kserver server to join (https://HOST:6443)")
	f.StringVar(&cfg.Token, "token", cfg.Token, "node token of the server (<data-dir>/server/node-token there)")
	f.StringVar(&cfg.TokenFile, "token-file", cfg.TokenFile, "file holding the node token")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for the simulated nodes' credentials (<data-dir>/sim)")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "number of simulated nodes")
	f.StringVar(&cfg.NamePrefix, "name-prefix", cfg.NamePrefix, "node names are <prefix>-<i>")
	f.StringSliceVar(&cfg.NodeLabels, "node-label", cfg.NodeLabels, "label key=value for every node (repeatable)")
	f.StringSliceVar(&cfg.NodeTaints, "node-taint", cfg.NodeTaints, "taint key=value:Effect for every node (repeatable)")
	f.StringSliceVar(&cfg.Capacity, "capacity", cfg.Capacity, "capacity name=quantity of every node (default cpu=8,memory=32Gi,pods=110,ephemeral-storage=100Gi)")
	f.StringVar(&cfg.PodCIDRBase, "pod-cidr-base", cfg.PodCIDRBase, "simulated pod addresses: node i uses the i-th /24 of it until node IPAM assigns a podCIDR")
	f.IntVar(&cfg.KubeletPort, "kubelet-port", cfg.KubeletPort, "port of each node's HTTPS API (logs, exec, port-forward, stats) on its address; 0 picks a free one per node")
	addMemTrimFlag(f, &trim)
	f.BoolVar(&cfg.Debug, "debug", cfg.Debug, "log at debug level")
	return cmd
}
