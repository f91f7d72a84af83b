package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pods/proxy and services/proxy, the way learners use them: `kubectl
// proxy` then a browser (here an HTTP client) on
// http://127.0.0.1:PORT/api/v1/namespaces/NS/services/NAME/proxy/, and
// `kubectl get --raw`. The API server sends the request to the agent of
// the pod's node, which dials the pod from the node's network namespace.

const proxyManifest = `apiVersion: v1
kind: Pod
metadata:
  name: kubia
  labels: {app: kubia}
spec:
  containers:
  - name: c
    image: luksa/kubia:v1
    ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector: {app: kubia}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: plain
spec:
  selector: {app: kubia}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: nothing
spec:
  selector: {app: nothing}
  ports: [{name: http, port: 80}]
`

// startKubectlProxy runs `kubectl proxy --port=0` and returns its base
// URL once it serves.
func startKubectlProxy(t *testing.T, k *Kubectl, c *Cluster) string {
	t.Helper()
	p, err := k.Start(c, "proxy", "--port=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	re := regexp.MustCompile(`Starting to serve on (127\.0\.0\.1:\d+)`)
	var addr string
	waitFor(t, func() bool {
		if m := re.FindStringSubmatch(p.Stdout()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return "http://" + addr
}

// httpDo sends one request and returns the status and body.
func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProxyToRealPod: on a runc node, services/plain/proxy/ (a port
// without a name), services/kubia:http/proxy/ and pods/kubia:8080/proxy/
// through `kubectl proxy` reach the kubia container, which answers with its hostname; so does `kubectl get
// --raw` with the port given by name. Root only.
func TestProxyToRealPod(t *testing.T) {
	n := StartNode(t, NodeOptions{})
	k := FindKubectl(t)
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`(?m)^e2e\s+Ready\s`), "get", "nodes")
	k.applyYAML(t, n.Cluster, proxyManifest)
	k.waitRunning(t, n.Cluster, "kubia")
	k.waitOutput(t, n.Cluster, regexp.MustCompile(`\d`), "get", "endpointslices", "-l", "kubernetes.io/service-name=kubia",
		"-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")

	base := startKubectlProxy(t, k, n.Cluster) + "/api/v1/namespaces/default"
	for _, path := range []string{"/services/plain/proxy/", "/services/kubia:http/proxy/", "/services/kubia:80/proxy/", "/services/http:kubia:http/proxy/",
		"/pods/kubia:8080/proxy/", "/pods/kubia/proxy/some/path?x=1"} {
		for _, method := range []string{"GET", "POST"} {
			code, body := httpDo(t, method, base+path, "data")
			if code != 200 || body != "You've hit kubia\n" {
				t.Errorf("%s %s through kubectl proxy = %d %q, want 200 \"You've hit kubia\\n\"", method, path, code, body)
			}
		}
	}
	if out := k.must(t, n.Cluster, "", "get", "--raw", "/api/v1/namespaces/default/services/kubia:http/proxy/"); out != "You've hit kubia\n" {
		t.Errorf("get --raw services/kubia:http/proxy/ = %q", out)
	}
	// Nothing listens on 8081 in the pod: the node's dial error comes back.
	r := k.Run(n.Cluster, "", "get", "--raw", "/api/v1/namespaces/default/pods/kubia:8081/proxy/")
	if r.Err == nil || !regexp.MustCompile(`^Error from server \(ServiceUnavailable\): error trying to reach service: dial tcp [0-9.]+:8081: connect: connection refused\n$`).MatchString(r.Stderr) {
		t.Errorf("proxy to a closed port: %v %q", r.Err, r.Stderr)
	}
	code, body := httpDo(t, "GET", base+"/services/nothing/proxy/", "")
	if code != 503 || !strings.Contains(body, `"message":"no endpoints available for service \"nothing\""`) {
		t.Errorf("service without endpoints = %d %s", code, body)
	}
}

// TestProxyErrors: with the simulated runtime (no pod network), the
// errors kubectl prints for pods/proxy and services/proxy.
func TestProxyErrors(t *testing.T) {
	c := startSimCluster(t)
	k := FindKubectl(t)
	k.applyYAML(t, c, strings.ReplaceAll(proxyManifest, "luksa/kubia:v1", "busybox"))
	k.waitRunning(t, c, "kubia")
	k.waitOutput(t, c, regexp.MustCompile(`\d`), "get", "endpointslices", "-l", "kubernetes.io/service-name=kubia",
		"-o", "jsonpath={.items[*].endpoints[*].addresses[0]}")
	for path, want := range map[string]*regexp.Regexp{
		"pods/nope/proxy/":     regexp.MustCompile(`^Error from server \(NotFound\): pods "nope" not found\n$`),
		"pods/a:b:c:d/proxy/":  regexp.MustCompile(`^Error from server \(BadRequest\): invalid pod request "a:b:c:d"\n$`),
		"services/nope/proxy/": regexp.MustCompile(`^Error from server \(NotFound\): services "nope" not found\n$`),
		"services/nothing/proxy/": regexp.MustCompile(
			`^Error from server \(ServiceUnavailable\): no endpoints available for service "nothing"\n$`),
		// As upstream, a named port must be named (the slice has no port
		// without a name); the message then names the whole request.
		"services/kubia:metrics/proxy/": regexp.MustCompile(
			`^Error from server \(ServiceUnavailable\): no endpoints available for service "kubia:metrics"\n$`),
		"services/kubia/proxy/": regexp.MustCompile(
			`^Error from server \(ServiceUnavailable\): no endpoints available for service "kubia"\n$`),
		"services/kubia:81/proxy/": regexp.MustCompile(
			`^Error from server \(ServiceUnavailable\): no service port 81 found for service "kubia"\n$`),
		"services/kubia:http/proxy/": regexp.MustCompile(`^Error from server \(ServiceUnavailable\): error trying to reach service: ` +
			`dial tcp [0-9.]+:8080: node e2e is simulated, its pods have no network\n$`),
		"pods/kubia:9000/proxy/x": regexp.MustCompile(`^Error from server \(ServiceUnavailable\): error trying to reach service: ` +
			`dial tcp [0-9.]+:9000: node e2e is simulated, its pods have no network\n$`),
	} {
		r := k.Run(c, "", "get", "--raw", "/api/v1/namespaces/default/"+path)
		if r.Err == nil || !want.MatchString(r.Stderr) {
			t.Errorf("get --raw %s: %v %q %q, want %s", path, r.Err, r.Stdout, r.Stderr, want)
		}
	}
	// Discovery lists the subresources as upstream does.
	var list metav1.APIResourceList
	if err := json.Unmarshal([]byte(k.must(t, c, "", "get", "--raw", "/api/v1")), &list); err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, r := range list.APIResources {
		found[r.Name] = fmt.Sprintf("%s %v %v", r.Kind, r.Namespaced, r.Verbs)
	}
	for name, want := range map[string]string{"pods/proxy": "PodProxyOptions true [create delete get patch update]",
		"services/proxy": "ServiceProxyOptions true [create delete get patch update]"} {
		if found[name] != want {
			t.Errorf("discovery: %s is %q, want %q", name, found[name], want)
		}
	}
}
