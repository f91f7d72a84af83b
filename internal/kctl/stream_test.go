package kctl

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
)

func TestProxyFilter(t *testing.T) {
	var reached []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Method+" "+r.URL.Path)
		w.Write([]byte("ok"))
	}))
	defer api.Close()
	f := &proxyFilter{}
	f.acceptHosts, _ = compileAll(defaultAcceptHosts)
	f.acceptPaths, _ = compileAll("^.*")
	f.rejectPaths, _ = compileAll(`^/api/v1/pods`)
	f.rejectMethods, _ = compileAll(defaultRejectMethod)
	h, err := proxyHandler(&rest.Config{Host: api.URL}, "/", f, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, path string
		code       int
	}{
		{"localhost:8001", "/api/v1/namespaces/default/pods", 200},
		{"127.0.0.1:8001", "/api/v1/pods", 403},
		{"evil.example.com", "/api/v1/namespaces", 403},
	} {
		req := httptest.NewRequest("GET", "http://"+c.host+c.path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code {
			t.Errorf("%s%s: code %d want %d", c.host, c.path, rec.Code, c.code)
		}
	}
	if len(reached) != 1 || reached[0] != "GET /api/v1/namespaces/default/pods" {
		t.Errorf("API saw %v", reached)
	}
}

// TestExecOverWebSocket serves a pod and an exec endpoint speaking
// v5.channel.k8s.io: the output arrives on channel 1 and the remote exit
// code 3 on channel 3 becomes kctl's exit code.
func TestExecOverWebSocket(t *testing.T) {
	fs := podServer(t)
	var gotQuery string
	up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
	exec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.WriteMessage(websocket.BinaryMessage, append([]byte{1}, "hello from c\n"...))
		c.WriteMessage(websocket.BinaryMessage, append([]byte{3},
			`{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`...))
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	})
	base := fs.srv.Config.Handler
	fs.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/exec") {
			exec.ServeHTTP(w, r)
			return
		}
		base.ServeHTTP(w, r)
	})
	fs.objs["pods/default/web-1"].Object["spec"] = map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x"}}}
	out, errOut, code := fs.run("", "exec", "web-1", "--", "sh", "-c", "exit 3")
	if out != "hello from c\n" || code != 3 || errOut != "command terminated with exit code 3\n" {
		t.Fatalf("stdout %q stderr %q code %d", out, errOut, code)
	}
	if gotQuery != "command=sh&command=-c&command=exit+3&container=c&stderr=true&stdout=true" {
		t.Errorf("query %s", gotQuery)
	}
	_, errOut, code = fs.run("", "exec", "web-1", "date")
	if code != 1 || !strings.Contains(errOut, "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead") {
		t.Errorf("old exec form: %q %d", errOut, code)
	}
}
