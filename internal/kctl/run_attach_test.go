package kctl

import (
	"net/http"
	"strings"
	"testing"
)

// TestRunAttachedPodThatAlreadyFinished: `run -i --rm` of a pod whose
// container has exited before kctl could attach (a short command, a slow
// image pull) prints the container's log instead of nothing, deletes the
// pod, and ends with the container's exit code, as kubectl does.
func TestRunAttachedPodThatAlreadyFinished(t *testing.T) {
	fs := newFakeServer(t)
	base := fs.srv.Config.Handler
	var logged, deleted bool
	fs.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/pods/once/log"):
			logged = r.URL.Query().Get("container") == "once"
			w.Write([]byte("bye\n"))
			return
		case r.Method == http.MethodGet && strings.HasSuffix(p, "/pods/once"):
			if o, ok := fs.objs["pods/default/once"]; ok { // the created pod has run and failed
				o.Object["status"] = map[string]any{"phase": "Failed", "containerStatuses": []any{map[string]any{
					"name": "once", "state": map[string]any{"terminated": map[string]any{"exitCode": int64(3), "reason": "Error"}}}}}
			}
		case r.Method == http.MethodDelete && strings.HasSuffix(p, "/pods/once"):
			deleted = true
		}
		base.ServeHTTP(w, r)
	})
	out, errOut, code := fs.run("", "run", "once", "-i", "--rm", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo bye; exit 3")
	if out != "bye\npod \"once\" deleted from default namespace\n" || !logged || !deleted {
		t.Fatalf("stdout %q (log read %v, deleted %v)", out, logged, deleted)
	}
	if code != 3 || errOut != "pod default/once terminated (Error)\n" {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
}
