package multinode

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// hits checks a fetched page: hits(curl(…))(want) is nil when the fetch
// worked and the page contains want.
func hits(out string, err error) func(want string) error {
	return func(want string) error {
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		if !strings.Contains(out, want) {
			return errors.New("got: " + out)
		}
		return nil
	}
}

var hitRE = regexp.MustCompile(`You've hit (web-[a-z0-9-]+)`)

// backends counts the answers of a probe by the pod that answered.
func backends(out string) map[string]int {
	got := map[string]int{}
	for _, m := range hitRE.FindAllStringSubmatch(out, -1) {
		got[m[1]]++
	}
	return got
}

// fetchN is a script fetching host:port n times, one answer a line.
func fetchN(host string, port, n int) string {
	return fmt.Sprintf("for i in $(seq %d); do %s | tail -n1; done", n, httpGet(host, port))
}

// testPodToPod: a pod on every node reaches the pods of every node by pod
// IP, across the overlay; every node reaches every pod too.
func testPodToPod(t *testing.T, e *env) {
	for _, from := range e.m.Nodes {
		var script strings.Builder
		for _, p := range e.web {
			fmt.Fprintf(&script, "%s | tail -n1; ", httpGet(p.Status.PodIP, 8080))
		}
		code, out := e.probe(t, from.Name, "p2p-"+from.Name, "probe: p2p", script.String())
		for _, p := range e.web {
			if !strings.Contains(out, "You've hit "+p.Name) {
				t.Errorf("pod on %s → %s (%s, on %s): exit %d, got:\n%s", from.Name, p.Name, p.Status.PodIP, p.Spec.NodeName, code, out)
			}
		}
		for _, p := range e.web {
			until(t, fmt.Sprintf("node %s → pod %s (%s)", from.Name, p.Name, p.Status.PodIP), func() error {
				return hits(curl(from.Exec, p.Status.PodIP, 8080))("You've hit " + p.Name)
			})
		}
	}
}

// testClusterIP: the ClusterIP answers on every node and in a pod on
// every node, spreading connections over the pods of all nodes.
func testClusterIP(t *testing.T, e *env) {
	vip := e.clusterIP["web"]
	for _, n := range e.m.Nodes {
		until(t, "node "+n.Name+" → ClusterIP "+vip, func() error { return hits(curl(n.Exec, vip, 80))("You've hit web-") })
		_, out := e.probe(t, n.Name, "cip-"+n.Name, "probe: cip", fetchN(vip, 80, 12))
		got := backends(out)
		total := 0
		for _, c := range got {
			total += c
		}
		if total != 12 || len(got) < 2 {
			t.Errorf("pod on %s → ClusterIP %s: 12 fetches answered by %v:\n%s", n.Name, vip, got, out)
		}
	}
}

// testNodePort: a machine on the underlay reaches the NodePort on every
// node's address, whichever node the answering pod is on.
func testNodePort(t *testing.T, e *env) {
	for _, n := range e.m.Nodes {
		until(t, "underlay → "+n.IP+":30080", func() error { return hits(curl(e.m.ExecUnderlay, n.IP, 30080))("You've hit web-") })
	}
}

// testLoadBalancer: ServiceLB gives the LoadBalancer Service every node's
// address, kubectl shows them as EXTERNAL-IP, and each answers on the
// Service's port from the underlay.
func testLoadBalancer(t *testing.T, e *env) {
	var ips []string
	for _, n := range e.m.Nodes {
		ips = append(ips, n.IP)
	}
	e.eventually(t, "^"+regexp.QuoteMeta(strings.Join(ips, " "))+"$", "get", "svc", "web-lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
	out := e.kubectl(t, "", "get", "svc", "web-lb")
	if !regexp.MustCompile(`web-lb\s+LoadBalancer\s+\S+\s+` + regexp.QuoteMeta(strings.Join(ips, ",")) + `\s+8081:30081/TCP`).MatchString(out) {
		t.Errorf("kubectl get svc web-lb:\n%s", out)
	}
	for _, ip := range ips {
		until(t, "underlay → LoadBalancer "+ip+":8081", func() error { return hits(curl(e.m.ExecUnderlay, ip, 8081))("You've hit web-") })
	}
	e.eventually(t, "EnsuredLoadBalancer", "get", "events", "--field-selector", "involvedObject.name=web-lb", "-o", "jsonpath={.items[*].reason}")
}

// testSessionAffinity: with sessionAffinity ClientIP every connection of
// a client goes to the same pod.
func testSessionAffinity(t *testing.T, e *env) {
	vip := e.clusterIP["web-sticky"]
	for _, n := range []string{e.m.Nodes[1].Name, e.m.Nodes[2].Name} {
		_, out := e.probe(t, n, "sticky-"+n, "probe: sticky", fetchN(vip, 80, 10))
		if got := backends(out); len(got) != 1 {
			t.Errorf("pod on %s → sticky ClusterIP %s: 10 fetches answered by %v:\n%s", n, vip, got, out)
		}
	}
}

// testExternalLocal: a LoadBalancer with externalTrafficPolicy Local whose
// only pod runs on agent-1 lists only agent-1's address, answers there,
// and its NodePort on another node drops the connection instead of
// forwarding it.
func testExternalLocal(t *testing.T, e *env) {
	a1, a2 := e.m.Node("agent-1"), e.m.Node("agent-2")
	e.eventually(t, "^"+regexp.QuoteMeta(a1.IP)+"$", "get", "svc", "web-local", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
	until(t, "underlay → "+a1.IP+":8082", func() error { return hits(curl(e.m.ExecUnderlay, a1.IP, 8082))("You've hit web-agent-1") })
	until(t, "underlay → "+a1.IP+":30082", func() error { return hits(curl(e.m.ExecUnderlay, a1.IP, 30082))("You've hit web-agent-1") })
	if out, err := curl(e.m.ExecUnderlay, a2.IP, 30082); err == nil || strings.Contains(out, "You've hit") {
		t.Errorf("NodePort of a Local Service on a node without its pod answered: %v: %s", err, out)
	}
	// The pod sees the client's own address with Local; with Cluster,
	// traffic forwarded from another node is masqueraded.
	// (busybox httpd listens on IPv6 too: IPv4 clients look like
	// [::ffff:a.b.c.d].)
	client := regexp.MustCompile(`client=\[?(::ffff:)?` + regexp.QuoteMeta(underlayClient) + `\]?\s`)
	until(t, "Local keeps the client address", func() error {
		out, err := curlPath(e.m.ExecUnderlay, a1.IP, 30090, "/cgi-bin/ip")
		if err := hits(out, err)("client="); err != nil {
			return err
		}
		if !client.MatchString(out) {
			return errors.New("the pod saw another address: " + out)
		}
		return nil
	})
	until(t, "Cluster from another node masquerades", func() error {
		out, err := curlPath(e.m.ExecUnderlay, a2.IP, 30091, "/cgi-bin/ip")
		if err := hits(out, err)("client="); err != nil {
			return err
		}
		if client.MatchString(out) {
			t.Errorf("a connection forwarded by agent-2 kept the client address: %s", out)
		}
		return nil
	})
}

// underlayClient is the underlay namespace's own address (the bridge's).
const underlayClient = "172.30.0.1"
