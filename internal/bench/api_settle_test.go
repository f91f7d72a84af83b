package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// settle returns once the revision stops moving for two windows in a row,
// not at a single quiet window between busy ones.
func TestSettleWaitsForQuietWindows(t *testing.T) {
	// Revisions the server answers, one per poll: busy (+100 per poll), one
	// quiet poll, busy again, then idle.
	revs := []int64{100, 200, 300, 300, 400, 500, 501, 501, 501, 501}
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces" || r.URL.RawQuery != "limit=1" {
			http.NotFound(w, r)
			return
		}
		i := min(int(polls.Add(1))-1, len(revs)-1)
		fmt.Fprintf(w, `{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"%d"},"items":[]}`, revs[i])
	}))
	defer srv.Close()
	s := &apiServer{url: srv.URL, client: srv.Client()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.settle(ctx, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Quiet windows: 300→300 (then busy again), then 500→501 and 501→501:
	// settled at the 8th poll.
	if n := polls.Load(); n != 8 {
		t.Fatalf("settled after %d polls, want 8", n)
	}
}
