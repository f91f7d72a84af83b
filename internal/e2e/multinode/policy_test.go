package multinode

import (
	"strings"
	"testing"
)

// testNetworkPolicy: a policy selecting the web pod on agent-1 denies
// what pods on agent-2 send it, across the overlay, while the
// unselected web pod on the server still answers; an allow rule for
// role=client lets clients in and keeps other pods out.
func testNetworkPolicy(t *testing.T, e *env) {
	target, other := e.webPod("agent-1"), e.webPod("server")
	deny := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-a1-deny}
spec:
  podSelector: {matchLabels: {app: web, node: agent-1}}
  policyTypes: [Ingress]
`
	allow := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-a1-allow-clients}
spec:
  podSelector: {matchLabels: {app: web, node: agent-1}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
`
	t.Cleanup(func() {
		e.k.Run(e.m.Cluster, "", "delete", "networkpolicy", "web-a1-deny", "web-a1-allow-clients", "--ignore-not-found")
	})
	check := func(ip string) string {
		return httpGet(ip, 8080) + " | grep -q \"You've hit\" && echo REACHED-" + ip + " || echo BLOCKED-" + ip
	}
	script := check(target.Status.PodIP) + "; " + check(other.Status.PodIP)
	// probe runs the script in a fresh pod until the policy shows (the
	// agents program it within moments of the API write).
	probe := func(name, labels, want string) {
		t.Helper()
		var out string
		for i := range 5 {
			_, out = e.probe(t, "agent-2", name+"-"+string(rune('a'+i)), labels, script)
			if strings.Contains(out, want) {
				return
			}
		}
		t.Errorf("%s: want %s, got:\n%s", name, want, out)
	}
	e.kubectl(t, deny, "apply", "-f", "-")
	probe("denied", "role: client", "BLOCKED-"+target.Status.PodIP+"\nREACHED-"+other.Status.PodIP)
	e.kubectl(t, allow, "apply", "-f", "-")
	probe("allowed", "role: client", "REACHED-"+target.Status.PodIP+"\nREACHED-"+other.Status.PodIP)
	probe("other", "role: other", "BLOCKED-"+target.Status.PodIP+"\nREACHED-"+other.Status.PodIP)
}
