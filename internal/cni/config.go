package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
)

// Config is the pod network of this node.
type Config struct {
	Name       string         // network name (default "kserver")
	Bridge     string         // default "cni0"
	PodCIDRs   []netip.Prefix // the node's podCIDRs (one per family)
	MTU        int            // from the overlay (uplink MTU − 50 for vxlan); 0: the plugin's default
	DataDir    string         // the agent's data dir; IPAM state and libcni's cache live below it
	PluginDirs []string       // default /usr/lib/cni, /opt/cni/bin
	// NetNSFd runs the plugins in this namespace instead of the caller's:
	// the bridge and the hostPort rules are made where the plugins run
	// (tests use a "node" namespace).
	NetNSFd int
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "kserver"
	}
	if c.Bridge == "" {
		c.Bridge = "cni0"
	}
	if len(c.PluginDirs) == 0 {
		c.PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
}

// Validate reports a configuration that cannot attach pods.
func (c Config) Validate() error {
	if len(c.PodCIDRs) == 0 {
		return errors.New("cni: the node has no podCIDR yet")
	}
	seen := map[bool]bool{}
	for _, p := range c.PodCIDRs {
		if !p.IsValid() || p.Bits() > p.Addr().BitLen()-2 {
			return fmt.Errorf("cni: podCIDR %s is too small for pods", p)
		}
		if seen[p.Addr().Is4()] {
			return fmt.Errorf("cni: two podCIDRs of one family (%v)", c.PodCIDRs)
		}
		seen[p.Addr().Is4()] = true
	}
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		return fmt.Errorf("cni: data dir %q must be an absolute path", c.DataDir)
	}
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535) {
		return fmt.Errorf("cni: MTU %d out of range", c.MTU)
	}
	return nil
}

// IPAMDir is where host-local keeps its allocations.
func (c Config) IPAMDir() string { return filepath.Join(c.DataDir, "cni", "networks") }

// CacheDir is libcni's cache of attachments (used to find leftovers).
func (c Config) CacheDir() string { return filepath.Join(c.DataDir, "cni", "cache") }

// Render returns the conflist for the pod network (cniVersion 1.0.0, the
// newest the Debian plugins speak) and the one for loopback.
func Render(c Config) (podNet, loopback []byte, err error) {
	c.defaults()
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	type obj = map[string]any
	var ranges []any
	for _, p := range c.PodCIDRs {
		ranges = append(ranges, []any{obj{"subnet": p.Masked().String()}})
	}
	bridge := obj{
		"type": "bridge", "bridge": c.Bridge,
		"isGateway": true, "isDefaultGateway": true, "forceAddress": true,
		"ipMasq": false, "hairpinMode": true,
		// isDefaultGateway gives the pod its default route(s) via the bridge.
		"ipam": obj{"type": "host-local", "ranges": ranges, "dataDir": c.IPAMDir()},
	}
	if c.MTU > 0 {
		bridge["mtu"] = c.MTU
	}
	list := obj{"cniVersion": "1.0.0", "name": c.Name, "plugins": []any{
		bridge,
		obj{"type": "portmap", "capabilities": obj{"portMappings": true}, "snat": true},
	}}
	podNet, err = json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	loopback, err = json.MarshalIndent(obj{"cniVersion": "1.0.0", "name": c.Name + "-loopback",
		"plugins": []any{obj{"type": "loopback"}}}, "", "  ")
	return podNet, loopback, err
}

// PortMapping is one hostPort of a pod.
type PortMapping struct {
	HostPort      uint16
	ContainerPort uint16
	Protocol      string // "tcp" or "udp" (lower case, as portmap wants)
	HostIP        string // optional
}

// Attachment is one pod sandbox on the network.
type Attachment struct {
	ContainerID                   string // the sandbox ID
	NetNS                         string // path of the sandbox's network namespace
	IfName                        string // default "eth0"
	PodNamespace, PodName, PodUID string
	PortMappings                  []PortMapping
}

// Result is what Add returns.
type Result struct {
	IPs     []netip.Prefix // the pod's addresses with their prefix length
	Gateway []netip.Addr
}

// IP is the pod's first address (status.podIP).
func (r Result) IP() netip.Addr {
	if len(r.IPs) == 0 {
		return netip.Addr{}
	}
	return r.IPs[0].Addr()
}
