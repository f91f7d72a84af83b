package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is everything `kserver server` is told by flags, the config file and
// KSERVER_* environment variables. Field comments give the flag name; the
// flag name is also the config-file key.
type Config struct {
	DataDir              string   // --data-dir
	DatastoreEndpoint    string   // --datastore-endpoint
	BindAddress          string   // --bind-address
	HTTPSListenPort      int      // --https-listen-port
	TLSSANs              []string // --tls-san
	NodeName             string   // --node-name
	NodeIP               string   // --node-ip
	NodeExternalIP       []string // --node-external-ip
	NodeLabels           []string // --node-label
	NodeTaints           []string // --node-taint
	ClusterCIDR          string   // --cluster-cidr
	ServiceCIDR          string   // --service-cidr
	ServiceNodePortRange string   // --service-node-port-range
	ClusterDNS           string   // --cluster-dns
	ClusterDomain        string   // --cluster-domain
	WriteKubeconfig      string   // --write-kubeconfig
	WriteKubeconfigMode  string   // --write-kubeconfig-mode
	DisableAgent         bool     // --disable-agent
	Disable              []string // --disable
	FlannelBackend       string   // --flannel-backend
	FlannelIface         string   // --flannel-iface
	Runtime              string   // --runtime
	Token                string   // --token
	Debug                bool     // --debug
	// Agent holds settings of the embedded agent without a flag (tests).
	Agent AgentOptions
}

// Disableable lists the components that --disable accepts.
func Disableable() []string {
	return []string{"servicelb", "proxy", "dns", "network-policy", "metrics", "scheduler", "controllers"}
}

// disableAlias maps k3s's names of the same components to ours, so that a
// k3s command line or config file works unchanged; other names are kept.
func disableAlias(name string) string {
	switch name {
	case "coredns":
		return "dns"
	case "metrics-server":
		return "metrics"
	}
	return name
}

// DefaultConfig returns the k3s-like defaults documented in docs/architecture.md.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DataDir:              "/var/lib/kserver",
		BindAddress:          "0.0.0.0",
		HTTPSListenPort:      6443,
		NodeName:             strings.ToLower(host),
		ClusterCIDR:          "10.42.0.0/16",
		ServiceCIDR:          "10.43.0.0/16",
		ServiceNodePortRange: "30000-32767",
		ClusterDNS:           "10.43.0.10",
		ClusterDomain:        "cluster.local",
		WriteKubeconfig:      "/etc/kserver/kserver.yaml",
		WriteKubeconfigMode:  "0600",
		FlannelBackend:       "vxlan",
		Runtime:              "runc",
	}
}

// DatabasePath is where the embedded SQLite database lives.
func (c Config) DatabasePath() string {
	if p, ok := strings.CutPrefix(c.DatastoreEndpoint, "sqlite://"); ok {
		return p
	}
	return filepath.Join(c.DataDir, "server", "db", "state.db")
}

// Validate checks every value and names the flag of each bad one. It touches
// nothing on disk.
func (c Config) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if !filepath.IsAbs(c.DataDir) {
		bad("data-dir", "%q is not an absolute path", c.DataDir)
	}
	if c.DatastoreEndpoint != "" && !strings.HasPrefix(c.DatastoreEndpoint, "sqlite://") {
		bad("datastore-endpoint", "%q is not supported: only sqlite:///path/to/file.db is available in this build", c.DatastoreEndpoint)
	}
	if net.ParseIP(c.BindAddress) == nil {
		bad("bind-address", "%q is not an IP address", c.BindAddress)
	}
	if c.HTTPSListenPort < 1 || c.HTTPSListenPort > 65535 {
		bad("https-listen-port", "%d is not a port number (1-65535)", c.HTTPSListenPort)
	}
	if msgs := validation.IsDNS1123Subdomain(c.NodeName); len(msgs) > 0 {
		bad("node-name", "%q is not a valid node name: %s", c.NodeName, strings.Join(msgs, "; "))
	}
	if c.NodeIP != "" && net.ParseIP(c.NodeIP) == nil {
		bad("node-ip", "%q is not an IP address", c.NodeIP)
	}
	for _, msg := range externalIPProblems(c.NodeExternalIP) {
		bad("node-external-ip", "%s", msg)
	}
	for _, l := range c.NodeLabels {
		if err := validateLabel(l); err != nil {
			bad("node-label", "%q: %v", l, err)
		}
	}
	for _, t := range c.NodeTaints {
		if err := validateTaint(t); err != nil {
			bad("node-taint", "%q: %v", t, err)
		}
	}
	clusterCIDR, err := netip.ParsePrefix(c.ClusterCIDR)
	if err != nil {
		bad("cluster-cidr", "%q is not a CIDR", c.ClusterCIDR)
	} else if clusterCIDR.Bits() > 24 {
		bad("cluster-cidr", "%q is too small: each node gets a /24 from it", c.ClusterCIDR)
	}
	serviceCIDR, err := netip.ParsePrefix(c.ServiceCIDR)
	if err != nil {
		bad("service-cidr", "%q is not a CIDR", c.ServiceCIDR)
	} else if serviceCIDR.Bits() > 30 {
		bad("service-cidr", "%q is too small", c.ServiceCIDR)
	}
	if err == nil && clusterCIDR.IsValid() && serviceCIDR.Overlaps(clusterCIDR) {
		bad("service-cidr", "%q overlaps --cluster-cidr %q", c.ServiceCIDR, c.ClusterCIDR)
	}
	if _, _, err := ParsePortRange(c.ServiceNodePortRange); err != nil {
		bad("service-node-port-range", "%v", err)
	}
	dns, err := netip.ParseAddr(c.ClusterDNS)
	if err != nil {
		bad("cluster-dns", "%q is not an IP address", c.ClusterDNS)
	} else if serviceCIDR.IsValid() && !serviceCIDR.Contains(dns) {
		bad("cluster-dns", "%s is not inside --service-cidr %s", c.ClusterDNS, c.ServiceCIDR)
	}
	if msgs := validation.IsDNS1123Subdomain(c.ClusterDomain); len(msgs) > 0 {
		bad("cluster-domain", "%q is not a DNS domain: %s", c.ClusterDomain, strings.Join(msgs, "; "))
	}
	if c.WriteKubeconfig != "" && !filepath.IsAbs(c.WriteKubeconfig) {
		bad("write-kubeconfig", "%q is not an absolute path", c.WriteKubeconfig)
	}
	if _, err := c.KubeconfigMode(); err != nil {
		bad("write-kubeconfig-mode", "%v", err)
	}
	for _, d := range c.Disable {
		if !slices.Contains(Disableable(), disableAlias(d)) {
			bad("disable", "unknown component %q (one of %s)", d, strings.Join(Disableable(), ", "))
		}
	}
	if !slices.Contains([]string{"vxlan", "host-gw", "none"}, c.FlannelBackend) {
		bad("flannel-backend", "%q is not one of vxlan, host-gw, none", c.FlannelBackend)
	}
	if !slices.Contains([]string{"runc", "crun", "sim"}, c.Runtime) {
		bad("runtime", "%q is not one of runc, crun, sim", c.Runtime)
	}
	return errors.Join(errs...)
}

// Disabled reports whether --disable names the component.
func (c Config) Disabled(component string) bool {
	for _, d := range c.Disable {
		if disableAlias(d) == component {
			return true
		}
	}
	return false
}

// KubeconfigMode parses --write-kubeconfig-mode as an octal file mode.
func (c Config) KubeconfigMode() (os.FileMode, error) {
	m, err := strconv.ParseUint(c.WriteKubeconfigMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q is not an octal file mode such as 0600", c.WriteKubeconfigMode)
	}
	return os.FileMode(m), nil
}

// ParsePortRange parses "30000-32767".
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a port range such as 30000-32767", s)
	}
	return lo, hi, nil
}

func validateLabel(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want key=value")
	}
	if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
		return fmt.Errorf("key: %s", strings.Join(msgs, "; "))
	}
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return fmt.Errorf("value: %s", strings.Join(msgs, "; "))
	}
	return nil
}

func validateTaint(s string) error {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return errors.New("want key[=value]:Effect")
	}
	if !slices.Contains([]string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, effect) {
		return fmt.Errorf("effect %q is not one of NoSchedule, PreferNoSchedule, NoExecute", effect)
	}
	k, v, _ := strings.Cut(kv, "=")
	if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
		return fmt.Errorf("key: %s", strings.Join(msgs, "; "))
	}
	if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
		return fmt.Errorf("value: %s", strings.Join(msgs, "; "))
	}
	return nil
}
