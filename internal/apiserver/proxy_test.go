package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// proxyFixture is a test server whose node agents are one fake agent:
// it answers every /podProxy request with what it received, so the tests
// see where the API server sent a pods/proxy or services/proxy request.
type proxyFixture struct {
	ts     *testServer
	client *http.Client
	mu     sync.Mutex
	dialed []string // node addr
}

func newProxyFixture(t *testing.T) *proxyFixture {
	t.Helper()
	f := &proxyFixture{ts: newTestServer(t)}
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.HasSuffix(r.URL.Path, "/refused"):
			w.Header().Set(podProxyErrorHeader, "true")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "error trying to reach service: dial tcp 10.42.0.5:8080: connect: connection refused\n")
			return
		case strings.HasSuffix(r.URL.Path, "/go"):
			w.Header().Set("Location", "/there?x=1")
			w.WriteHeader(http.StatusFound)
			return
		case r.Header.Get("Upgrade") == "echo":
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "echo")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			line, _ := rw.ReadString('\n')
			_, _ = rw.WriteString("echo " + r.URL.Path + " " + line)
			_ = rw.Flush()
			return
		case strings.HasSuffix(r.URL.Path, "/pod503"):
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "the pod's own 503")
			return
		}
		_, _ = io.WriteString(w, r.Method+" "+r.URL.EscapedPath()+" ?"+r.URL.RawQuery+" body="+string(body)+
			" auth="+r.Header.Get("Authorization"))
	}))
	t.Cleanup(agent.Close)
	f.ts.kubelet = newKubeletClient(func(ctx context.Context, node, addr string) (net.Conn, error) {
		f.mu.Lock()
		f.dialed = append(f.dialed, node+" "+addr)
		f.mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, "tcp", agent.Listener.Addr().String())
	})
	var err error
	if f.client, err = rest.HTTPClientFor(f.ts.admin); err != nil {
		t.Fatal(err)
	}
	f.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.objects(t)
	return f
}

// objects: node n1 at 192.0.2.10, pod web (10.42.0.5, port http 8080) and
// pod pending (unscheduled), service web (http 80→8080, metrics 9090)
// with one ready and one unready endpoint, service empty without any.
func (f *proxyFixture) objects(t *testing.T) {
	ctx := context.Background()
	cs := clientset(t, f.ts.admin)
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = 10250
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := testPod("web", map[string]string{"app": "web"})
	pod.Spec.NodeName = "n1"
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	if pod, err = cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod.Status.PodIP, pod.Status.PodIPs = "10.42.0.5", []corev1.PodIP{{IP: "10.42.0.5"}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, testPod("pending", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, ports := range map[string][]corev1.ServicePort{
		"web":   {{Name: "http", Port: 80}, {Name: "metrics", Port: 9090}},
		"empty": {{Port: 80}},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: ports}}
		if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, NodeName: ptr.To("n1"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}},
			{Addresses: []string{"10.42.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}, NodeName: ptr.To("n1"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "other"}},
		},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (f *proxyFixture) do(t *testing.T, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const nsPath = "/api/v1/namespaces/default"

func TestPodAndServiceProxyRouting(t *testing.T) {
	f := newProxyFixture(t)
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/pods/web/proxy/", "", "GET /podProxy/default/web/http/10.42.0.5/8080/ ? body= auth="},
		{"GET", "/pods/web:9000/proxy/a/b%2Fc?x=1&y=a%20b", "", "GET /podProxy/default/web/http/10.42.0.5/9000/a/b%2Fc ?x=1&y=a%20b body= auth="},
		{"GET", "/pods/https:web:8443/proxy/", "", "GET /podProxy/default/web/https/10.42.0.5/8443/ ? body= auth="},
		{"GET", "/pods/web:http/proxy/x", "", "GET /podProxy/default/web/http/10.42.0.5/8080/x ? body= auth="},
		{"POST", "/pods/web/proxy/submit", "form=1", "POST /podProxy/default/web/http/10.42.0.5/8080/submit ? body=form=1 auth="},
		{"PUT", "/pods/web/proxy/item", "v", "PUT /podProxy/default/web/http/10.42.0.5/8080/item ? body=v auth="},
		{"PATCH", "/pods/web/proxy/item", "p", "PATCH /podProxy/default/web/http/10.42.0.5/8080/item ? body=p auth="},
		{"DELETE", "/pods/web/proxy/item", "", "DELETE /podProxy/default/web/http/10.42.0.5/8080/item ? body= auth="},
		{"OPTIONS", "/pods/web/proxy/item", "", "OPTIONS /podProxy/default/web/http/10.42.0.5/8080/item ? body= auth="},
		{"GET", "/services/web:http/proxy/", "", "GET /podProxy/default/web/http/10.42.0.5/8080/ ? body= auth="},
		{"GET", "/services/web:80/proxy/healthz?v=2", "", "GET /podProxy/default/web/http/10.42.0.5/8080/healthz ?v=2 body= auth="},
		{"GET", "/services/https:web:http/proxy/", "", "GET /podProxy/default/web/https/10.42.0.5/8080/ ? body= auth="},
	} {
		// The unready endpoint 10.42.0.6 must never be picked.
		for range 3 {
			resp, body := f.do(t, tc.method, nsPath+tc.path, tc.body)
			if resp.StatusCode != 200 || body != tc.want {
				t.Errorf("%s %s = %d %q, want 200 %q", tc.method, tc.path, resp.StatusCode, body, tc.want)
				break
			}
		}
	}
	if resp, body := f.do(t, "HEAD", nsPath+"/pods/web/proxy/", ""); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD = %d %q", resp.StatusCode, body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.dialed {
		if d != "n1 192.0.2.10:10250" {
			t.Errorf("dialed %q, want the node's agent n1 192.0.2.10:10250", d)
		}
	}
}

func TestPodAndServiceProxyRedirects(t *testing.T) {
	f := newProxyFixture(t)
	resp, _ := f.do(t, "GET", nsPath+"/services/web:http/proxy?a=1", "")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != nsPath+"/services/web:http/proxy/?a=1" {
		t.Errorf("…/proxy without slash = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = f.do(t, "GET", nsPath+"/pods/web/proxy/go", "")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != nsPath+"/pods/web/proxy/there?x=1" {
		t.Errorf("pod's redirect = %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for loc, want := range map[string]string{
		"/x":                          "/p/proxy/x",
		"http://10.42.0.5:8080/y?q=1": "/p/proxy/y?q=1",
		"http://example.com/z":        "http://example.com/z",
		"relative/path":               "relative/path",
		"/p/proxy/already":            "/p/proxy/already",
		"/with%2Fslash":               "/p/proxy/with%2Fslash",
	} {
		if got := rewriteLocation(loc, "/p/proxy", "10.42.0.5:8080"); got != want {
			t.Errorf("rewriteLocation(%q) = %q, want %q", loc, got, want)
		}
	}
}

func TestPodAndServiceProxyErrors(t *testing.T) {
	f := newProxyFixture(t)
	for _, tc := range []struct {
		path   string
		code   int
		reason metav1.StatusReason
		msg    string
	}{
		{"/pods/nope/proxy/", 404, metav1.StatusReasonNotFound, `pods "nope" not found`},
		{"/pods/nope:80/proxy/", 404, metav1.StatusReasonNotFound, `pods "nope" not found`},
		{"/pods/a:b:c:d/proxy/", 400, metav1.StatusReasonBadRequest, `invalid pod request "a:b:c:d"`},
		{"/pods/ftp:web:80/proxy/", 400, metav1.StatusReasonBadRequest, `invalid pod request "ftp:web:80"`},
		{"/pods/web:admin/proxy/", 400, metav1.StatusReasonBadRequest,
			`invalid pod request "web:admin": "admin" is neither a port number nor the name of a container port of pod web`},
		{"/pods/pending/proxy/", 503, metav1.StatusReasonServiceUnavailable, "pod pending does not have a host assigned"},
		{"/services/nope/proxy/", 404, metav1.StatusReasonNotFound, `services "nope" not found`},
		{"/services/:80/proxy/", 400, metav1.StatusReasonBadRequest, `invalid service request ":80"`},
		{"/services/empty/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "empty"`},
		// The slices have no port "metrics" and none without a name.
		{"/services/web:metrics/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "web:metrics"`},
		{"/services/web/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "web"`},
		{"/services/https:web:9090/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no endpoints available for service "https:web:9090"`},
		{"/services/web:81/proxy/", 503, metav1.StatusReasonServiceUnavailable, `no service port 81 found for service "web"`},
		{"/pods/web/proxy/refused", 503, metav1.StatusReasonServiceUnavailable,
			"error trying to reach service: dial tcp 10.42.0.5:8080: connect: connection refused"},
	} {
		resp, body := f.do(t, "GET", nsPath+tc.path, "")
		var st metav1.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != tc.code || st.Kind != "Status" ||
			int(st.Code) != tc.code || st.Reason != tc.reason || st.Message != tc.msg {
			t.Errorf("GET %s = %d %s, want %d %s %q", tc.path, resp.StatusCode, body, tc.code, tc.reason, tc.msg)
		}
	}
	// A 503 of the pod itself is passed on as it is, not as a Status.
	if resp, body := f.do(t, "GET", nsPath+"/pods/web/proxy/pod503", ""); resp.StatusCode != 503 || body != "the pod's own 503" {
		t.Errorf("pod's own 503 = %d %q", resp.StatusCode, body)
	}
}

// TestPodAndServiceProxyUpgrade: an upgraded connection (WebSocket and
// the like) is spliced through to the agent.
func TestPodAndServiceProxyUpgrade(t *testing.T) {
	f := newProxyFixture(t)
	tlsCfg, err := rest.TLSConfigFor(f.ts.admin)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(f.ts.url, "https://"), tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET "+nsPath+"/services/web:http/proxy/ws HTTP/1.1\r\nHost: x\r\n"+
		"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	_, _ = io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo /podProxy/default/web/http/10.42.0.5/8080/ws ping\n" {
		t.Errorf("after upgrade: %q %v", line, err)
	}
}
