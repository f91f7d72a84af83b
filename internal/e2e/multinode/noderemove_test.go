package multinode

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testNodeRemoved: agent-2 stops and its Node is deleted — the other
// nodes drop their route to its pod CIDR and ServiceLB drops its
// address; it starts again, registers anew, gets a pod CIDR, and pods on
// it and on the others reach each other again.
func testNodeRemoved(t *testing.T, e *env) {
	a1, a2 := e.m.Node("agent-1"), e.m.Node("agent-2")
	set := e.m.Client(t)
	ctx := context.Background()
	old, err := set.Nodes().Get(ctx, a2.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.m.StopNode(t, a2)
	e.kubectl(t, "", "delete", "node", a2.Name)
	e.eventually(t, `^server agent-1$|^agent-1 server$`, "get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
	gone := func(cidr string) func() error {
		return func() error {
			out, err := a1.Exec("ip", "route")
			if err != nil || strings.Contains(out, strings.TrimSuffix(cidr, "/24")) {
				return fmt.Errorf("agent-1 still routes %s: %v\n%s", cidr, err, out)
			}
			return nil
		}
	}
	until(t, "agent-1 forgets agent-2's pod CIDR", gone(old.Spec.PodCIDR))
	e.eventually(t, `^172\.30\.0\.10 172\.30\.0\.11$`, "get", "svc", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")

	e.m.StartAgent(t, a2)
	n := e.m.WaitNodeReady(t, a2.Name)
	if n.UID == old.UID {
		t.Fatalf("agent-2's Node was not registered anew")
	}
	until(t, "agent-1 routes agent-2's new pod CIDR "+n.Spec.PodCIDR, func() error {
		out, err := a1.Exec("ip", "route")
		if err != nil || !strings.Contains(out, strings.TrimSuffix(n.Spec.PodCIDR, "/24")+"/24 via") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	e.kubectl(t, `apiVersion: v1
kind: Pod
metadata: {name: web2-agent-2, labels: {app: web2}}
spec:
  nodeName: agent-2
  terminationGracePeriodSeconds: 0
  containers:
  - name: kubia
    image: luksa/kubia:v1
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
`, "apply", "-f", "-")
	p := e.running(t, "web2-agent-2")[0]
	_, out := e.probe(t, "agent-1", "readded-from-a1", "probe: readded", httpGet(p.Status.PodIP, 8080))
	if !strings.Contains(out, "You've hit web2-agent-2") {
		t.Errorf("pod on agent-1 → new pod on re-added agent-2 (%s): %s", p.Status.PodIP, out)
	}
	srv := e.webPod("server")
	_, out = e.probe(t, "agent-2", "readded-from-a2", "probe: readded", httpGet(srv.Status.PodIP, 8080))
	if !strings.Contains(out, "You've hit web-server") {
		t.Errorf("pod on re-added agent-2 → %s (%s): %s", srv.Name, srv.Status.PodIP, out)
	}
	e.eventually(t, `^172\.30\.0\.10 172\.30\.0\.11 172\.30\.0\.12$`, "get", "svc", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
}
