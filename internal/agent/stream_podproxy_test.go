package agent

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podProxyFixture is the agent's /podProxy over a fake node whose pod
// "web" has the loopback address, where a test backend listens.
type podProxyFixture struct {
	agent   *httptest.Server
	backend *httptest.Server
	port    string
}

func newPodProxyFixture(t *testing.T, simulated bool) *podProxyFixture {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "echo" {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "echo")
			w.WriteHeader(http.StatusSwitchingProtocols)
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			line, _ := rw.ReadString('\n')
			_, _ = rw.WriteString("echo " + line)
			_ = rw.Flush()
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend", "yes")
		if r.URL.Path == "/go" {
			http.Redirect(w, r, "/there", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, r.Method+" "+r.URL.EscapedPath()+" ?"+r.URL.RawQuery+" body="+string(body)+
			" fwd="+r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(backend.Close)
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Status: corev1.PodStatus{PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}}}
	h := streamHost{node: "n1", simulated: simulated, pod: func(ns, name string) (*corev1.Pod, bool) {
		if ns == "default" && name == "web" {
			return pod, true
		}
		return nil, false
	}}
	agent := httptest.NewServer(newPodProxy(h))
	t.Cleanup(agent.Close)
	return &podProxyFixture{agent: agent, backend: backend, port: port}
}

func (f *podProxyFixture) do(t *testing.T, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.agent.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPodProxyForwardsRequests(t *testing.T) {
	f := newPodProxyFixture(t, false)
	base := "/podProxy/default/web/http/127.0.0.1/" + f.port
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/", "", "GET / ?a=1&b=x%20y body= fwd=192.0.2.7"},
		{"POST", "/api/items", "hello", "POST /api/items ?a=1&b=x%20y body=hello fwd=192.0.2.7"},
		{"PUT", "/a%2Fb/c", "x", "PUT /a%2Fb/c ?a=1&b=x%20y body=x fwd=192.0.2.7"},
		{"DELETE", "/d", "", "DELETE /d ?a=1&b=x%20y body= fwd=192.0.2.7"},
		{"PATCH", "/p", "{}", "PATCH /p ?a=1&b=x%20y body={} fwd=192.0.2.7"},
	} {
		resp, body := f.do(t, tc.method, base+tc.path+"?a=1&b=x%20y", tc.body)
		if resp.StatusCode != 200 || body != tc.want || resp.Header.Get("X-Backend") != "yes" ||
			resp.Header.Get(podProxyErrorHeader) != "" {
			t.Errorf("%s %s = %d %q, want 200 %q", tc.method, tc.path, resp.StatusCode, body, tc.want)
		}
	}
	if resp, body := f.do(t, "HEAD", base+"/", ""); resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Backend") != "yes" {
		t.Errorf("HEAD = %d %q", resp.StatusCode, body)
	}
	if resp, _ := f.do(t, "GET", base+"/go", ""); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/there" {
		t.Errorf("redirect = %d %q (the API server rewrites it, not the agent)", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPodProxyUpgrade(t *testing.T) {
	f := newPodProxyFixture(t, false)
	u, _ := url.Parse(f.agent.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /podProxy/default/web/http/127.0.0.1/"+f.port+"/ws HTTP/1.1\r\nHost: x\r\n"+
		"Connection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	_, _ = io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
		t.Errorf("after upgrade: %q %v", line, err)
	}
}

func TestPodProxyErrors(t *testing.T) {
	f := newPodProxyFixture(t, false)
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := free.Addr().(*net.TCPAddr).Port
	_ = free.Close()
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/podProxy/default/nope/http/127.0.0.1/" + f.port + "/", 404, "pod default/nope is not on node n1\n"},
		{"/podProxy/default/web/http/10.0.0.9/" + f.port + "/", 400, "10.0.0.9 is not an address of pod default/web\n"},
		{"/podProxy/default/web/ftp/127.0.0.1/" + f.port + "/", 400, "scheme \"ftp\" is not http or https\n"},
		{"/podProxy/default/web/http/127.0.0.1/0/", 400, "port \"0\" is not a port number\n"},
		{"/podProxy/default/web/http/127.0.0.1/" + strconv.Itoa(closedPort) + "/", 503,
			"error trying to reach service: dial tcp 127.0.0.1:" + strconv.Itoa(closedPort) + ": connect: connection refused\n"},
	} {
		resp, body := f.do(t, "GET", tc.path, "")
		if resp.StatusCode != tc.code || body != tc.want || resp.Header.Get(podProxyErrorHeader) != "true" {
			t.Errorf("GET %s = %d %q (error header %q), want %d %q", tc.path, resp.StatusCode, body,
				resp.Header.Get(podProxyErrorHeader), tc.code, tc.want)
		}
	}
	sim := newPodProxyFixture(t, true)
	resp, body := sim.do(t, "GET", "/podProxy/default/web/http/127.0.0.1/"+sim.port+"/", "")
	if resp.StatusCode != 503 || !strings.Contains(body, "node n1 is simulated, its pods have no network") {
		t.Errorf("simulated node: %d %q", resp.StatusCode, body)
	}
}
