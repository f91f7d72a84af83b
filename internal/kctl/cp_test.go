package kctl

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// execServer wraps the fake API with an exec endpoint: fn gets the query
// and the stdin bytes (until the client half-closes) and returns stdout.
func execServer(t *testing.T, fs *fakeServer, fn func(query string, stdin []byte) []byte) {
	up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
	base := fs.srv.Config.Handler
	fs.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/exec") {
			base.ServeHTTP(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		var stdin []byte
		if r.URL.Query().Get("stdin") == "true" {
			for {
				_, msg, err := c.ReadMessage()
				if err != nil || len(msg) == 0 || (msg[0] == 255 && len(msg) == 2 && msg[1] == 0) {
					break
				}
				if msg[0] == 0 {
					stdin = append(stdin, msg[1:]...)
				}
			}
		}
		if out := fn(r.URL.RawQuery, stdin); len(out) > 0 {
			c.WriteMessage(websocket.BinaryMessage, append([]byte{1}, out...))
		}
		c.WriteMessage(websocket.BinaryMessage, append([]byte{3}, `{"metadata":{},"status":"Success"}`...))
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	})
	fs.objs["pods/default/web-1"].Object["spec"] = map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x"}}}
}

func TestCpToPodSendsTarToTarX(t *testing.T) {
	fs := podServer(t)
	var gotQuery string
	var gotTar []byte
	execServer(t, fs, func(q string, stdin []byte) []byte { gotQuery, gotTar = q, stdin; return nil })
	local := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(local, []byte("hello pod\n"), 0o644)
	_, errOut, code := fs.run("", "cp", local, "web-1:/tmp/renamed.txt")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if gotQuery != "command=tar&command=-xmf&command=-&command=-C&command=%2Ftmp&container=c&stderr=true&stdin=true&stdout=true" {
		t.Errorf("query %s", gotQuery)
	}
	tr := tar.NewReader(bytes.NewReader(gotTar))
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(tr)
	if h.Name != "renamed.txt" || string(body) != "hello pod\n" {
		t.Errorf("tar entry %q = %q", h.Name, body)
	}
}

func TestCpFromPodUnpacks(t *testing.T) {
	fs := podServer(t)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for name, body := range map[string]string{"etc/app/a.conf": "a=1\n", "etc/app/sub/b.conf": "b=2\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	var gotQuery string
	execServer(t, fs, func(q string, _ []byte) []byte { gotQuery = q; return archive.Bytes() })
	dest := filepath.Join(t.TempDir(), "app")
	_, errOut, code := fs.run("", "cp", "web-1:/etc/app", dest)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	if !strings.HasPrefix(gotQuery, "command=tar&command=cf&command=-&command=%2Fetc%2Fapp&") {
		t.Errorf("query %s", gotQuery)
	}
	for name, want := range map[string]string{"a.conf": "a=1\n", "sub/b.conf": "b=2\n"} {
		b, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v", name, b, err)
		}
	}
}
