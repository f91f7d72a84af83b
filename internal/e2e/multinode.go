package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/server"
)

// MultiNode is a cluster of real kserver processes, one `kserver server`
// and its agents (`kserver agent`), each in a network namespace of its
// own. The node namespaces hang off an underlay: a bridge in a namespace
// of its own, one veth pair per node, addresses from UnderlaySubnet — a
// small LAN the way a homelab has one. Pods run in real containers
// (runc), the overlay, the proxy, NetworkPolicy and DNS are whatever
// kserver sets up on each node, and stock kubectl reaches the API server
// from the test process through a loopback relay into the underlay.
//
// Each node is its own process (the test binary re-executed as the node,
// see RunNodeProcess), started from a thread inside the node's namespace,
// so everything it does to the network — links, routes, nftables, its
// listening sockets — happens there. The root namespace is never
// changed. Everything the cluster made is removed when the test ends, also
// when it fails: the processes, their containers and monitors, pod
// cgroups, mounts, the runtime's run folders, pod logs, the namespaces
// with their links, and the data folders.
type MultiNode struct {
	// Cluster has the admin kubeconfig (through the relay) for Kubectl.
	*Cluster
	// Underlay is the bridge's namespace; UnderlayName its `ip netns` name.
	Underlay     *netns.NS
	UnderlayName string
	// Nodes are the server (first) and the agents, by name.
	Nodes []*ClusterNode
	// Token joins agents (the server's node-token).
	Token string

	t       *testing.T
	runtime string
	archive string
	relay   *relay
}

// ClusterNode is one node of a MultiNode.
type ClusterNode struct {
	Name      string
	IP        string // on the underlay
	Server    bool
	NetNS     *netns.NS
	NetNSName string
	DataDir   string
	// LogRoot holds the pod logs of the server's node (agents write to
	// the default /var/log/pods; the harness removes their folders).
	LogRoot string

	proc *nodeProc
}

// MultiNodeOptions adjust StartMultiNode.
type MultiNodeOptions struct {
	// Agents is how many agents join (default 2).
	Agents int
	// Runtime is "runc" (default) or "crun".
	Runtime string
	// Configure changes the server's configuration after the defaults.
	Configure func(*server.Config)
}

// The underlay: the bridge has .1, the server .10, agents .11, .12, …
const (
	UnderlaySubnet = "172.30.0.0/24"
	underlayBridge = "172.30.0.1"
	underlayPrefix = "172.30.0."
	apiPort        = 6443
)

// StartMultiNode builds the underlay, starts the server and the agents
// and waits until every node is Ready with a pod CIDR. It skips the test
// when not root or when runc, conmon, iptables, the CNI plugins or the
// static busybox are missing.
func StartMultiNode(t *testing.T, o MultiNodeOptions) *MultiNode {
	t.Helper()
	if o.Agents == 0 {
		o.Agents = 2
	}
	if o.Runtime == "" {
		o.Runtime = "runc"
	}
	requireNodeTools(t, o.Runtime)
	m := &MultiNode{t: t, runtime: o.Runtime, archive: demoArchive(t)}
	root := t.TempDir()
	m.Underlay = netnstest.New(t, "ksu")
	m.UnderlayName = netnstest.Name(m.Underlay)
	m.ip(t, m.UnderlayName, "link", "add", "br0", "type", "bridge")
	m.ip(t, m.UnderlayName, "addr", "add", underlayBridge+"/24", "dev", "br0")
	m.ip(t, m.UnderlayName, "link", "set", "br0", "up")
	keepCgroups(t)
	logs := newPodLogs(t) // removes the agents' pod log folders after the nodes stopped

	srv := m.addNode(t, root, "server", underlayPrefix+"10", true)
	for i := range o.Agents {
		m.addNode(t, root, fmt.Sprintf("agent-%d", i+1), fmt.Sprintf("%s%d", underlayPrefix, 11+i), false)
	}
	m.startServer(t, srv, o.Configure)
	m.relay = startRelay(t, m.Underlay, fmt.Sprintf("%s:%d", srv.IP, apiPort))
	m.Cluster = &Cluster{DataDir: root, Kubeconfig: filepath.Join(root, "kubeconfig.yaml")}
	m.writeKubeconfig(t, filepath.Join(srv.DataDir, "kubeconfig.yaml"))
	logs.follow(t, m.Client(t))
	token, err := os.ReadFile(filepath.Join(srv.DataDir, "server", "node-token"))
	if err != nil {
		t.Fatal(err)
	}
	m.Token = strings.TrimSpace(string(token))
	for _, n := range m.Nodes[1:] {
		m.StartAgent(t, n)
	}
	for _, n := range m.Nodes {
		m.WaitNodeReady(t, n.Name)
	}
	return m
}

// requireNodeTools skips the test when something a real node needs is
// missing.
func requireNodeTools(t *testing.T, rt string) {
	t.Helper()
	netnstest.RequireRoot(t)
	for _, tool := range []string{rt, "conmon", "iptables", "ip"} {
		netnstest.RequireTool(t, tool)
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			t.Skipf("CNI plugin %s is not installed in /usr/lib/cni (scripts/setup.sh installs containernetworking-plugins)", p)
		}
	}
}

// addNode makes a node's namespace, plugs it into the bridge and prepares
// its data folder with the demo images.
func (m *MultiNode) addNode(t *testing.T, root, name, ip string, isServer bool) *ClusterNode {
	t.Helper()
	ns := netnstest.New(t, "ksn")
	n := &ClusterNode{Name: name, IP: ip, Server: isServer, NetNS: ns, NetNSName: netnstest.Name(ns),
		DataDir: filepath.Join(root, name)}
	if isServer {
		n.LogRoot = filepath.Join(root, name+"-pod-logs")
	}
	port := fmt.Sprintf("v%d", len(m.Nodes))
	m.ip(t, m.UnderlayName, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", n.NetNSName)
	m.ip(t, m.UnderlayName, "link", "set", port, "master", "br0", "up")
	m.ip(t, n.NetNSName, "addr", "add", ip+"/24", "dev", "eth0")
	m.ip(t, n.NetNSName, "link", "set", "eth0", "up")
	m.ip(t, n.NetNSName, "route", "add", "default", "via", underlayBridge)
	images := filepath.Join(n.DataDir, "agent", "images")
	if err := os.MkdirAll(images, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(m.archive, filepath.Join(images, "demo.tar")); err != nil {
		t.Fatal(err)
	}
	// After the process stopped (cleanups run last first): containers,
	// mounts, run folders and pod logs.
	t.Cleanup(func() { cleanupClusterNode(t, m.runtime, n.DataDir) })
	m.Nodes = append(m.Nodes, n)
	return n
}

func (m *MultiNode) startServer(t *testing.T, n *ClusterNode, configure func(*server.Config)) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.NodeName, cfg.NodeIP, cfg.Runtime = n.DataDir, n.Name, n.IP, m.runtime
	cfg.BindAddress, cfg.HTTPSListenPort = n.IP, apiPort
	cfg.WriteKubeconfig = filepath.Join(n.DataDir, "kubeconfig.yaml")
	cfg.Agent = server.AgentOptions{LogRoot: n.LogRoot}
	if configure != nil {
		configure(&cfg)
	}
	n.proc = startNodeProc(t, n, nodeSpec{Server: &cfg})
	if err := n.proc.waitReady(60 * time.Second); err != nil {
		t.Fatalf("kserver server: %v\n%s", err, n.proc.logTail(40))
	}
}

// StartAgent starts (or starts again) an agent's process; it joins the
// cluster with the server's token, reusing its earlier credentials and
// data when it had joined before.
func (m *MultiNode) StartAgent(t *testing.T, n *ClusterNode) {
	t.Helper()
	cfg := server.DefaultAgentConfig()
	cfg.Server = fmt.Sprintf("https://%s:%d", m.Nodes[0].IP, apiPort)
	cfg.Token, cfg.DataDir, cfg.NodeName, cfg.NodeIP, cfg.Runtime = m.Token, n.DataDir, n.Name, n.IP, m.runtime
	n.proc = startNodeProc(t, n, nodeSpec{Agent: &cfg})
}

// StopNode stops a node's process as a service manager would (its
// containers keep running, as kserver's do across restarts).
func (m *MultiNode) StopNode(t *testing.T, n *ClusterNode) {
	t.Helper()
	if err := n.proc.stop(); err != nil {
		t.Errorf("stop %s: %v", n.Name, err)
	}
}

// Node returns the node called name.
func (m *MultiNode) Node(name string) *ClusterNode {
	for _, n := range m.Nodes {
		if n.Name == name {
			return n
		}
	}
	m.t.Fatalf("no node %q", name)
	return nil
}

// Exec runs a command inside the node's network namespace and returns its
// combined output.
func (n *ClusterNode) Exec(name string, args ...string) (string, error) {
	return netnsExec(n.NetNSName, name, args...)
}

// ExecUnderlay runs a command in the underlay's namespace: a machine on
// the nodes' LAN that is not a node.
func (m *MultiNode) ExecUnderlay(name string, args ...string) (string, error) {
	return netnsExec(m.UnderlayName, name, args...)
}

func netnsExec(ns, name string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s %v: timed out", name, args)
	}
}

func (m *MultiNode) ip(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s %v: %v: %s", ns, args, err, out)
	}
}

// writeKubeconfig copies the server's admin kubeconfig with the relay as
// the server address (127.0.0.1 is in the serving certificate).
func (m *MultiNode) writeKubeconfig(t *testing.T, from string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("https://%s:%d", m.Nodes[0].IP, apiPort)
	if !bytes.Contains(b, []byte(want)) {
		t.Fatalf("the server's kubeconfig does not point at %s:\n%s", want, b)
	}
	b = bytes.ReplaceAll(b, []byte(want), []byte("https://"+m.relay.addr()))
	if err := os.WriteFile(m.Kubeconfig, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
