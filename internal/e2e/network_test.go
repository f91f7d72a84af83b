package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"kserver.dev/kserver/internal/server"
)

// The cluster network on one real node (internal/nodenet wired into the
// server's embedded agent): Services through the nftables proxy, NodePort
// on the node address, cluster DNS at the kube-dns ClusterIP answered by
// the node's own DNS server, NetworkPolicy deny and allow. Root only.

// netNodeIP is the node's address on an uplink (a veth pair) inside its namespace
// (the overlay, the node's DNS server and NodePorts use it).
const netNodeIP = "192.168.231.2"

// startNetNode starts a node whose namespace has an uplink with netNodeIP.
func startNetNode(t *testing.T) *Node {
	t.Helper()
	return StartNode(t, NodeOptions{Configure: func(c *server.Config) {
		ns := filepath.Base(c.Agent.NetNS)
		for _, args := range [][]string{
			{"link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1"}, // no dummy module on every kernel
			{"link", "set", "uplink1", "up"},
			{"addr", "add", netNodeIP + "/24", "dev", "uplink0"},
			{"link", "set", "uplink0", "up"},
			// A default route as a real node has: the node reaches
			// ClusterIPs (DNAT happens after the route lookup).
			{"route", "add", "default", "dev", "uplink0"},
		} {
			if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v: %s", args, err, out)
			}
		}
		c.NodeIP = netNodeIP
	}})
}

const netWorkloads = `
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: kubia
    image: luksa/kubia:v1
    ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: web.default.svc.cluster.local
`

// probePod runs script in a busybox pod with the given labels until it
// exits and returns what it wrote to its termination log.
func probePod(t *testing.T, k *Kubectl, n *Node, name, labels, script string) string {
	t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {%s}}
spec:
  restartPolicy: Never
  containers:
  - name: probe
    image: busybox
    command: ["sh", "-c", %q]
`, name, labels, "exec >/dev/termination-log 2>&1\n"+script)
	kubectlOK(t, k, n.Cluster, manifest, "apply", "-f", "-")
	eventuallyOut(t, k, n.Cluster, `^(Succeeded|Failed)$`, "get", "pod", name, "-o", "jsonpath={.status.phase}")
	p := podJSON(t, k, n.Cluster, "default", name)
	kubectlOK(t, k, n.Cluster, "", "delete", "pod", name, "--wait=false")
	if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Fatalf("probe %s did not terminate: %+v", name, p.Status)
	}
	return p.Status.ContainerStatuses[0].State.Terminated.Message
}

// httpGet is a shell pipeline fetching / over HTTP with busybox nc (the
// static busybox's wget crashes resolving the "http" service name).
func httpGet(host, port string) string {
	return `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 ` + host + " " + port
}

func mustMatch(t *testing.T, what, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("%s: no match for %q in:\n%s", what, re, out)
		}
	}
}

func TestClusterNetworkOnNode(t *testing.T) {
	n := startNetNode(t)
	k := FindKubectl(t)
	eventuallyOut(t, k, n.Cluster, `(?m)^e2e\s+Ready\s`, "get", "nodes")

	// The node published its overlay side; the CNI MTU leaves room for VXLAN.
	node := &corev1.Node{}
	if err := json.Unmarshal([]byte(kubectlOK(t, k, n.Cluster, "", "get", "node", "e2e", "-o", "json")), node); err != nil {
		t.Fatal(err)
	}
	mustMatch(t, "node annotations", fmt.Sprint(node.Annotations),
		`flannel.alpha.coreos.com/backend-data:\{"VNI":1,"VtepMAC":"([0-9a-f]{2}:){5}[0-9a-f]{2}"\}`,
		`flannel.alpha.coreos.com/public-ip:`+regexp.QuoteMeta(netNodeIP))
	out, err := n.Exec(t, "ip", "-d", "link", "show", "flannel.1")
	if err != nil || !strings.Contains(out, "vxlan id 1") || !strings.Contains(out, "mtu 1450") {
		t.Errorf("flannel.1 in the node namespace: %v: %s", err, out)
	}
	conf, err := os.ReadFile(filepath.Join(n.DataDir, "agent", "etc", "cni", "net.d", "10-kserver.conflist"))
	if err != nil || !regexp.MustCompile(`"mtu":\s*1450`).Match(conf) {
		t.Errorf("the CNI configuration has not the overlay's MTU 1450: %v\n%s", err, conf)
	}

	// kube-dns as k3s has it, with this node's DNS server as its endpoint.
	eventuallyOut(t, k, n.Cluster, `^10\.43\.0\.10 Local$`, "get", "svc", "-n", "kube-system", "kube-dns",
		"-o", "jsonpath={.spec.clusterIP} {.spec.internalTrafficPolicy}")
	eventuallyOut(t, k, n.Cluster, `^`+regexp.QuoteMeta(netNodeIP)+` e2e$`, "get", "endpointslice", "-n", "kube-system", "kube-dns-nodes",
		"-o", "jsonpath={.endpoints[*].addresses[0]} {.endpoints[*].nodeName}")

	kubectlOK(t, k, n.Cluster, netWorkloads, "apply", "-f", "-")
	web := waitRunning(t, k, n.Cluster, "default", "web")
	clusterIP := strings.TrimSpace(kubectlOK(t, k, n.Cluster, "", "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"))
	eventuallyOut(t, k, n.Cluster, regexp.QuoteMeta(web.Status.PodIP), "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
		"-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")

	// From the node: the ClusterIP, the NodePort on the node address, and
	// DNS through the kube-dns ClusterIP.
	get := func(url string) {
		t.Helper()
		var out string
		var err error
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if out, err = n.Exec(t, "curl", "-sS", "--max-time", "5", url); err == nil && strings.Contains(out, "You've hit web") {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("curl %s from the node: %v: %s", url, err, out)
	}
	get("http://" + clusterIP + "/")
	get("http://" + netNodeIP + ":30080/")
	// A Service without endpoints is refused at once, not left to time out.
	kubectlOK(t, k, n.Cluster, "apiVersion: v1\nkind: Service\nmetadata: {name: empty}\nspec:\n  selector: {app: nothing}\n  ports: [{port: 80}]\n", "apply", "-f", "-")
	emptyIP := strings.TrimSpace(kubectlOK(t, k, n.Cluster, "", "get", "svc", "empty", "-o", "jsonpath={.spec.clusterIP}"))
	var refused string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		start := time.Now()
		out, _ := n.Exec(t, "curl", "-sS", "--max-time", "5", "http://"+emptyIP+"/")
		if strings.Contains(out, "Connection refused") || strings.Contains(out, "Couldn't connect") {
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Service without endpoints: refused only after %s", took)
			}
			refused = out
			break
		}
	}
	if refused == "" {
		t.Errorf("Service without endpoints %s was never refused", emptyIP)
	}
	out, err = n.Exec(t, "busybox", "nslookup", "web.default.svc.cluster.local", "10.43.0.10")
	if err != nil || !strings.Contains(out, clusterIP) {
		t.Errorf("nslookup from the node: %v: %s", err, out)
	}

	// From a pod: DNS names of every kind and the Service by name.
	dashed := strings.ReplaceAll(web.Status.PodIP, ".", "-")
	out = probePod(t, k, n, "dns-probe", "role: probe", strings.Join([]string{
		"cat /etc/resolv.conf",
		"nslookup web.default.svc.cluster.local",
		"nslookup web-headless.default.svc.cluster.local",
		"nslookup -type=SRV _http._tcp.web.default.svc.cluster.local",
		"nslookup ext.default.svc.cluster.local",
		"nslookup " + dashed + ".default.pod.cluster.local",
		"echo by-env: $(" + httpGet("$WEB_SERVICE_HOST", "$WEB_SERVICE_PORT") + ")",
		"echo by-ip: $(" + httpGet(clusterIP, "80") + ")",
	}, "\n"))
	ip := regexp.QuoteMeta(clusterIP)
	podIP := regexp.QuoteMeta(web.Status.PodIP)
	mustMatch(t, "pod DNS", out,
		`nameserver 10\.43\.0\.10`,
		`Name:\s+web\.default\.svc\.cluster\.local\s+Address:\s+`+ip,
		`Name:\s+web-headless\.default\.svc\.cluster\.local\s+Address:\s+`+podIP,
		`_http\._tcp\.web\.default\.svc\.cluster\.local\s+service = 0 100 80 web\.default\.svc\.cluster\.local`,
		`ext\.default\.svc\.cluster\.local\s+canonical name = web\.default\.svc\.cluster\.local`,
		`Name:\s+`+regexp.QuoteMeta(dashed)+`\.default\.pod\.cluster\.local\s+Address:\s+`+podIP,
		`by-env: .*You've hit web`,
		`by-ip: .*You've hit web`)

	// Hairpin: a pod reaches itself through its own Service.
	kubectlOK(t, k, n.Cluster, `apiVersion: v1
kind: Service
metadata: {name: selfie}
spec:
  selector: {app: selfie}
  ports: [{port: 80, targetPort: 8080}]
`, "apply", "-f", "-")
	out = probePod(t, k, n, "selfie", "app: selfie", strings.Join([]string{
		"mkdir -p /tmp/www && echo selfie-page > /tmp/www/index.html && httpd -p 8080 -h /tmp/www",
		"for i in $(seq 20); do " + httpGet("$SELFIE_SERVICE_HOST", "80") + " | grep selfie-page && break; sleep 0.5; done",
	}, "\n"))
	mustMatch(t, "hairpin", out, `selfie-page`)

	// NetworkPolicy: default deny for web, then allow from role=client.
	deny := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-deny}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
`
	kubectlOK(t, k, n.Cluster, deny, "apply", "-f", "-")
	fetch := httpGet(clusterIP, "80") + " | grep -q \"You've hit\" && echo REACHED || echo BLOCKED"
	// The table follows the policy within moments; the probe pod's start
	// gives it that time, and a stray success is retried once.
	out = probePod(t, k, n, "denied", "role: client", fetch)
	if !strings.Contains(out, "BLOCKED") {
		out = probePod(t, k, n, "denied2", "role: client", fetch)
	}
	mustMatch(t, "default deny", out, `BLOCKED`)
	allow := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-allow-clients}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
`
	kubectlOK(t, k, n.Cluster, allow, "apply", "-f", "-")
	mustMatch(t, "allowed client", probePod(t, k, n, "allowed", "role: client", fetch), `REACHED`)
	mustMatch(t, "other pod still denied", probePod(t, k, n, "other", "role: other", fetch), `BLOCKED`)

	// Egress default-deny for clients: the Service is cut, DNS (answered
	// by the node itself, never forwarded) keeps working.
	egress := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: clients-no-egress}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
`
	kubectlOK(t, k, n.Cluster, egress, "apply", "-f", "-")
	out = probePod(t, k, n, "egress", "role: client", "nslookup web.default.svc.cluster.local\n"+fetch)
	mustMatch(t, "egress deny", out, `Address:\s+`+ip, `BLOCKED`)

	testNetworkRestart(t, n, clusterIP)
}

// testNetworkRestart: restarting kserver disturbs no traffic — the
// ClusterIP answers throughout (the kernel state stays and is taken over)
// and the VTEP MAC stays the same.
func testNetworkRestart(t *testing.T, n *Node, clusterIP string) {
	mac := func() string {
		out, err := n.Exec(t, "cat", "/sys/class/net/flannel.1/address")
		if err != nil {
			t.Fatalf("flannel.1: %v: %s", err, out)
		}
		return strings.TrimSpace(out)
	}
	before := mac()
	stop := make(chan struct{})
	type result struct{ ok, failed int }
	done := make(chan result)
	go func() {
		var r result
		for {
			select {
			case <-stop:
				done <- r
				return
			default:
			}
			if out, err := n.Exec(t, "curl", "-sS", "--max-time", "2", "http://"+clusterIP+"/"); err == nil && strings.Contains(out, "You've hit web") {
				r.ok++
			} else {
				r.failed++
				t.Logf("during the restart: %v: %s", err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	n.Restart(t)
	k := FindKubectl(t)
	eventuallyOut(t, k, n.Cluster, `(?m)^e2e\s+Ready\s`, "get", "nodes")
	close(stop)
	r := <-done
	t.Logf("ClusterIP during the restart: %d answers, %d failures", r.ok, r.failed)
	if r.failed > 0 || r.ok < 3 {
		t.Errorf("ClusterIP during the restart: %d answers, %d failures", r.ok, r.failed)
	}
	if after := mac(); after != before {
		t.Errorf("VTEP MAC changed across the restart: %s → %s", before, after)
	}
	// The node's DNS server is back once its agent runs again.
	var out string
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, err = n.Exec(t, "busybox", "nslookup", "web.default.svc.cluster.local", "10.43.0.10"); err == nil && strings.Contains(out, clusterIP) {
			return
		}
	}
	t.Errorf("DNS after the restart: %v: %s", err, out)
}
