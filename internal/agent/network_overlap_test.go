package agent

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/runtime"
	"kserver.dev/kserver/internal/runtime/sim"
)

// preparingRuntime is the simulated runtime with the split start of
// runtime/oci, recording the order of what the agent asks.
type preparingRuntime struct {
	*sim.Runtime
	log *opLog
}

func (r *preparingRuntime) CreateContainer(ctx context.Context, sb string, cfg runtime.ContainerConfig) (string, error) {
	r.log.add("create " + strings.Join(cfg.Env, " "))
	return r.Runtime.CreateContainer(ctx, sb, cfg)
}

func (r *preparingRuntime) PrepareContainer(context.Context, string) error {
	r.log.add("prepare")
	return nil
}

func (r *preparingRuntime) StartContainer(ctx context.Context, id string) error {
	r.log.add("start")
	return r.Runtime.StartContainer(ctx, id)
}

// gatedNetwork attaches only once the test opens its gate.
type gatedNetwork struct {
	*SimNetwork
	log  *opLog
	gate chan struct{}
}

func (n *gatedNetwork) Attach(ctx context.Context, pod *corev1.Pod, sb runtime.SandboxStatus) ([]netip.Addr, error) {
	n.log.add("attach begins")
	<-n.gate
	ips, err := n.SimNetwork.Attach(ctx, pod, sb)
	n.log.add("attach ends")
	return ips, err
}

type opLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *opLog) add(op string) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

func (l *opLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

func (l *opLog) index(prefix string) int {
	return slices.IndexFunc(l.get(), func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func overlapNode(t *testing.T) (*opLog, *gatedNetwork, func(*corev1.Pod) *corev1.Pod) {
	set := startAPI(t)
	ops := &opLog{}
	net := &gatedNetwork{SimNetwork: NewSimNetwork(func() netip.Prefix { return netip.MustParsePrefix("10.42.7.0/24") }),
		log: ops, gate: make(chan struct{})}
	n := &node{rt: sim.New(sim.Config{}), parts: Parts{Network: net}}
	n.parts.Runtime = &preparingRuntime{Runtime: n.rt, log: ops}
	cfg := simConfig("n1", nil)
	cfg.Logger = testLogger(t)
	n.run(t, set, cfg)
	waitNodeReady(t, set, "n1")
	run := func(p *corev1.Pod) *corev1.Pod {
		createPod(t, set, p)
		return waitPod(t, set, "default", p.Name, "Running", running)
	}
	return ops, net, run
}

// With a runtime that prepares containers, a pod's network is attached
// while its container is created and prepared; the container is started
// only once the pod has its address.
func TestNetworkAttachBesideCreate(t *testing.T) {
	ops, net, run := overlapNode(t)
	done := make(chan *corev1.Pod)
	go func() { done <- run(simPod("web", "n1", nil, corev1.RestartPolicyAlways)) }()
	waitFor(t, "the container prepared while the attach runs", func() (bool, error) {
		return ops.index("prepare") >= 0, nil
	})
	if i := ops.index("start"); i >= 0 {
		t.Fatalf("container started before the network was attached: %v", ops.get())
	}
	close(net.gate)
	p := <-done
	if p.Status.PodIP == "" {
		t.Errorf("no pod IP in the Running pod's status")
	}
	got := ops.get()
	if !(ops.index("prepare") < ops.index("attach ends") && ops.index("attach ends") < ops.index("start")) {
		t.Errorf("order %q: want prepare, attach ends, start", got)
	}
}

// A pod whose environment names its IP waits for the attach before its
// containers are configured, and gets the address.
func TestNetworkAttachBeforeConfigWhenEnvNeedsIP(t *testing.T) {
	ops, net, run := overlapNode(t)
	close(net.gate)
	p := simPod("ip", "n1", nil, corev1.RestartPolicyAlways)
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "MY_IP", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	got := run(p)
	if ops.index("prepare") >= 0 {
		t.Errorf("prepared although the attach had to come first: %v", ops.get())
	}
	i := slices.IndexFunc(ops.get(), func(s string) bool { return strings.Contains(s, " MY_IP="+got.Status.PodIP) })
	if i < 0 || got.Status.PodIP == "" || ops.index("attach ends") > i {
		t.Errorf("ops %q, pod IP %q: want the container created after the attach with MY_IP set", ops.get(), got.Status.PodIP)
	}
}
