package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"kserver.dev/kserver/internal/memtrim"
	"kserver.dev/kserver/internal/server"
)

func newServerCommand() *cobra.Command {
	cfg := server.DefaultConfig()
	trim := memtrim.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API server, datastore, controllers, scheduler) and an embedded node agent",
		Args:  cobra.NoArgs,
		// Closures, not method values: the checks must see the parsed flags.
		PreRunE: loadAndValidate(func() error { return trim.Validate() }, func() error { return cfg.Validate() }),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTrimmed(cmd.Context(), trim, newLogger(cfg.Debug), func(ctx context.Context) error {
				return server.Run(ctx, cfg)
			})
		},
	}
	f := cmd.Flags()
	f.String("config", defaultConfigFile, "config file; keys are flag names; empty for none (env KSERVER_CONFIG)")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "folder for all state: database, certificates, agent files")
	f.StringVar(&cfg.DatastoreEndpoint, "datastore-endpoint", cfg.DatastoreEndpoint, "datastore; empty means SQLite at <data-dir>/server/db/state.db, or sqlite:///path")
	f.StringVar(&cfg.BindAddress, "bind-address", cfg.BindAddress, "address the API server listens on")
	f.IntVar(&cfg.HTTPSListenPort, "https-listen-port", cfg.HTTPSListenPort, "HTTPS port of the API server")
	f.StringSliceVar(&cfg.TLSSANs, "tls-san", cfg.TLSSANs, "extra host names or IPs for the serving certificate")
	f.StringVar(&cfg.NodeName, "node-name", cfg.NodeName, "name of this node")
	f.StringVar(&cfg.NodeIP, "node-ip", cfg.NodeIP, "IP address to advertise for this node (default: the address of the default route)")
	f.StringSliceVar(&cfg.NodeExternalIP, "node-external-ip", cfg.NodeExternalIP, "external IP address(es) of this node: its ExternalIP, used by ServiceLB and answering NodePorts")
	f.StringSliceVar(&cfg.NodeLabels, "node-label", cfg.NodeLabels, "label key=value for this node (repeatable)")
	f.StringSliceVar(&cfg.NodeTaints, "node-taint", cfg.NodeTaints, "taint key=value:Effect for this node (repeatable)")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", cfg.ClusterCIDR, "pod network; each node gets a /24 from it")
	f.StringVar(&cfg.ServiceCIDR, "service-cidr", cfg.ServiceCIDR, "range for Service cluster IPs")
	f.StringVar(&cfg.ServiceNodePortRange, "service-node-port-range", cfg.ServiceNodePortRange, "range for NodePort Services")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", cfg.ClusterDNS, "cluster IP of the DNS Service")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", cfg.ClusterDomain, "cluster DNS domain")
	f.StringVar(&cfg.WriteKubeconfig, "write-kubeconfig", cfg.WriteKubeconfig, "where to write the admin kubeconfig")
	f.StringVar(&cfg.WriteKubeconfigMode, "write-kubeconfig-mode", cfg.WriteKubeconfigMode, "file mode of the admin kubeconfig")
	f.BoolVar(&cfg.DisableAgent, "disable-agent", cfg.DisableAgent, "run the control plane only, without the embedded node agent")
	f.StringSliceVar(&cfg.Disable, "disable", cfg.Disable, "components not to run: "+strings.Join(server.Disableable(), ", "))
	f.StringVar(&cfg.FlannelBackend, "flannel-backend", cfg.FlannelBackend, "pod network between nodes: vxlan, host-gw or none")
	f.StringVar(&cfg.FlannelIface, "flannel-iface", cfg.FlannelIface, "uplink interface for the overlay (default: the one of --node-ip)")
	f.StringVar(&cfg.Runtime, "runtime", cfg.Runtime, "container runtime: runc, crun, or sim (simulated pods, no processes)")
	f.StringVar(&cfg.Token, "token", cfg.Token, "shared secret agents use to join (default: generated in <data-dir>/server/node-token)")
	addMemTrimFlag(f, &trim)
	f.BoolVar(&cfg.Debug, "debug", cfg.Debug, "log at debug level")
	return cmd
}
