package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
)

// Upstream's defaults (kubelet configuration and node lease controller).
const (
	// DefaultLeaseDuration is nodeLeaseDurationSeconds.
	DefaultLeaseDuration = 40 * time.Second
	// DefaultLeaseRenewInterval is a quarter of the lease, as upstream.
	DefaultLeaseRenewInterval = 10 * time.Second
	// DefaultStatusUpdateInterval is nodeStatusUpdateFrequency: how often
	// the node status is computed and compared.
	DefaultStatusUpdateInterval = 10 * time.Second
	// DefaultStatusReportInterval is nodeStatusReportFrequency: the status
	// is written at least this often even when nothing changed.
	DefaultStatusReportInterval = 5 * time.Minute
	// DefaultMaxPods is the kubelet's maxPods.
	DefaultMaxPods = 110
	// DefaultKubeletPort is where the node's streaming server listens.
	DefaultKubeletPort = 10250
)

// Config configures one node agent.
type Config struct {
	NodeName string
	// NodeIP is the node's InternalIP address.
	NodeIP netip.Addr
	// NodeExternalIPs are its ExternalIP addresses (--node-external-ip),
	// if any.
	NodeExternalIPs []netip.Addr
	// Hostname is the Hostname address and the kubernetes.io/hostname
	// label; empty means NodeName.
	Hostname string
	// ControlPlane marks the embedded agent of `kserver server`
	// (node-role.kubernetes.io/control-plane and …/master labels).
	ControlPlane bool
	// Labels are added to the node's own (--node-label); they are
	// re-applied at every start.
	Labels map[string]string
	// Taints are set when the node is registered (--node-taint), as the
	// kubelet's --register-with-taints; later changes are the user's.
	Taints []corev1.Taint

	// Simulated nodes (sim runtime) make up their machine: Capacity (or
	// simulated defaults) instead of the host's, IDs derived from the
	// node name, no memory or disk pressure.
	Simulated bool
	// Capacity replaces the capacity read from the host, resource by
	// resource (cpu, memory, pods, ephemeral-storage, …).
	Capacity corev1.ResourceList
	// FallbackPodCIDR is where simulated pod IPs come from while the Node
	// has no spec.podCIDR (no node IPAM running).
	FallbackPodCIDR netip.Prefix
	// DataDir is <data-dir>; its file system is the ephemeral storage.
	DataDir string
	// KubeletPort is status.daemonEndpoints.kubeletEndpoint.port.
	KubeletPort int32

	// ClusterDNS and ClusterDomain are what ClusterFirst pods resolve with
	// (--cluster-dns, --cluster-domain); an invalid ClusterDNS makes such
	// pods fall back to the node's resolvers, with a warning event.
	ClusterDNS    netip.Addr
	ClusterDomain string
	// ResolvConf is the node's resolver file (default /etc/resolv.conf).
	ResolvConf string
	// HostsFile is the node's /etc/hosts (hostNetwork pods get a copy).
	HostsFile string
	// SeccompRoot holds Localhost seccomp profiles
	// (<data-dir>/agent/seccomp).
	SeccompRoot string
	// StaticPodDir holds static pod manifests
	// (<data-dir>/agent/pod-manifests); empty runs none.
	StaticPodDir string
	// LogRoot is where pod log folders are (runtime.DefaultLogRoot when
	// empty); the agent removes a pod's folder when the pod is gone.
	LogRoot string
	// HostNetNS, when set, is the network namespace hostNetwork pods join
	// instead of the agent's own (tests run a node inside a namespace).
	HostNetNS string

	LeaseDuration        time.Duration
	LeaseRenewInterval   time.Duration
	StatusUpdateInterval time.Duration
	StatusReportInterval time.Duration

	// Clock drives timers (back-off, probes, heartbeats); nil means the
	// real clock. Tests pass a fake clock.
	Clock  clock.WithTickerAndDelayedExecution
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Hostname == "" {
		c.Hostname = c.NodeName
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = DefaultKubeletPort
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.HostsFile == "" {
		c.HostsFile = "/etc/hosts"
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.LeaseRenewInterval == 0 {
		c.LeaseRenewInterval = DefaultLeaseRenewInterval
	}
	if c.StatusUpdateInterval == 0 {
		c.StatusUpdateInterval = DefaultStatusUpdateInterval
	}
	if c.StatusReportInterval == 0 {
		c.StatusReportInterval = DefaultStatusReportInterval
	}
	if !c.FallbackPodCIDR.IsValid() {
		c.FallbackPodCIDR = netip.MustParsePrefix("10.42.0.0/24")
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate fills defaults and reports every bad value.
func (c *Config) Validate() error {
	c.setDefaults()
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(c.NodeName); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("node name %q: %s", c.NodeName, strings.Join(msgs, "; ")))
	}
	if !c.NodeIP.IsValid() {
		errs = append(errs, errors.New("node IP is required"))
	}
	for _, ip := range c.NodeExternalIPs {
		if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() {
			errs = append(errs, fmt.Errorf("node external IP %s: want a unicast address that is not loopback", ip))
		}
	}
	for k, v := range c.Labels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("label key %q: %s", k, strings.Join(msgs, "; ")))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("label %s value %q: %s", k, v, strings.Join(msgs, "; ")))
		}
	}
	if c.LeaseRenewInterval >= c.LeaseDuration {
		errs = append(errs, fmt.Errorf("lease renew interval %s must be shorter than the lease duration %s",
			c.LeaseRenewInterval, c.LeaseDuration))
	}
	if c.FallbackPodCIDR.Bits() > 30 {
		errs = append(errs, fmt.Errorf("fallback pod CIDR %s is too small", c.FallbackPodCIDR))
	}
	return errors.Join(errs...)
}

// ParseTaint parses key[=value]:Effect (the --node-taint syntax).
func ParseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q: want key[=value]:Effect", s)
	}
	switch corev1.TaintEffect(effect) {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return corev1.Taint{}, fmt.Errorf("taint %q: effect %q is not one of NoSchedule, PreferNoSchedule, NoExecute", s, effect)
	}
	k, v, _ := strings.Cut(kv, "=")
	if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
		return corev1.Taint{}, fmt.Errorf("taint %q: key: %s", s, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return corev1.Taint{}, fmt.Errorf("taint %q: value: %s", s, strings.Join(msgs, "; "))
	}
	return corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)}, nil
}

// ParseLabels parses key=value items (the --node-label syntax).
func ParseLabels(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range items {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value", s)
		}
		out[k] = v
	}
	return out, nil
}
