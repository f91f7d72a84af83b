package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"kserver.dev/kserver/internal/store"
)

func testRevisions(t *testing.T, s *suite) {
	if r := s.b.CurrentRevision(); r != 0 {
		t.Fatalf("empty store at revision %d, want 0", r)
	}
	a := s.create(t, "/registry/a/ns/x", "1")
	if a.CreateRevision != 1 || a.ModRevision != 1 {
		t.Fatalf("first create: %s", fmtKV(a))
	}
	// Failed writes consume no revision.
	if _, err := s.b.Create(s.ctx, "/registry/a/ns/x", []byte("again"), store.WriteOptions{}); err == nil {
		t.Fatal("second create of the same key succeeded")
	}
	u := s.update(t, "/registry/a/ns/x", "2")
	if u.CreateRevision != 1 || u.ModRevision != 2 {
		t.Fatalf("update: %s", fmtKV(u))
	}
	d := s.delete(t, "/registry/a/ns/x")
	if d.ModRevision != 3 || string(d.Value) != "2" || d.CreateRevision != 1 {
		t.Fatalf("delete returned %s, want the deleted value at revision 3", fmtKV(d))
	}
	c := s.create(t, "/registry/a/ns/x", "3")
	if c.CreateRevision != 4 {
		t.Fatalf("re-create after delete: %s, want create revision 4", fmtKV(c))
	}
	s.churn(t, 40)
	if got, want := s.b.CurrentRevision(), int64(len(s.m.events)); got != want {
		t.Fatalf("current revision %d, want %d", got, want)
	}
}

func testCreateGet(t *testing.T, s *suite) {
	kv := s.create(t, "/registry/cm/ns/a", "hello")
	got, err := s.b.Get(s.ctx, "/registry/cm/ns/a")
	if err != nil || !sameKV(got, kv) {
		t.Fatalf("get: %s, %v; want %s", fmtKV(got), err, fmtKV(kv))
	}
	_, err = s.b.Get(s.ctx, "/registry/cm/ns/missing")
	wantErr(t, "get missing", err, store.ErrNotFound)
	_, err = s.b.Create(s.ctx, "/registry/cm/ns/a", []byte("x"), store.WriteOptions{})
	wantErr(t, "create existing", err, store.ErrExists)
	_, err = s.b.Update(s.ctx, "/registry/cm/ns/missing", []byte("x"), 0, store.WriteOptions{})
	wantErr(t, "update missing", err, store.ErrNotFound)
	_, err = s.b.Delete(s.ctx, "/registry/cm/ns/missing", 0)
	wantErr(t, "delete missing", err, store.ErrNotFound)
	if _, err := s.b.Create(s.ctx, "", []byte("x"), store.WriteOptions{}); err == nil {
		t.Fatal("create with an empty key succeeded")
	}
	empty := s.create(t, "/registry/cm/ns/empty", "")
	if got, _ := s.b.Get(s.ctx, empty.Key); len(got.Value) != 0 {
		t.Fatalf("empty value came back as %q", got.Value)
	}
	if r := s.b.CurrentRevision(); r != 2 {
		t.Fatalf("revision %d after two successful writes", r)
	}
}

func testCAS(t *testing.T, s *suite) {
	v1 := s.create(t, "/registry/cm/ns/a", "1")
	v2 := s.update(t, "/registry/cm/ns/a", "2")
	_, err := s.b.Update(s.ctx, v1.Key, []byte("stale"), v1.ModRevision, store.WriteOptions{})
	wantErr(t, "update with stale revision", err, store.ErrConflict)
	_, err = s.b.Delete(s.ctx, v1.Key, v1.ModRevision)
	wantErr(t, "delete with stale revision", err, store.ErrConflict)
	got, _ := s.b.Get(s.ctx, v1.Key)
	if !sameKV(got, v2) {
		t.Fatalf("after failed CAS: %s, want %s", fmtKV(got), fmtKV(v2))
	}
	// Expected revision 0 means unconditionally.
	kv, err := s.b.Update(s.ctx, v1.Key, []byte("3"), 0, store.WriteOptions{})
	if err != nil {
		t.Fatalf("unconditional update: %v", err)
	}
	s.m.record(t, store.Event{Type: store.EventUpdate, KV: kv, Prev: &v2})
	if r := s.b.CurrentRevision(); r != 3 {
		t.Fatalf("revision %d, want 3: failed CAS must not write", r)
	}
}

// testConcurrentCAS: many goroutines increment one counter with a
// read-modify-CAS loop; no increment may be lost.
func testConcurrentCAS(t *testing.T, s *suite) {
	const workers, each = 8, 25
	key := "/registry/counters/ns/c"
	s.create(t, key, "0")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				kv, err := s.b.Get(s.ctx, key)
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(string(kv.Value), &n)
				_, err = s.b.Update(s.ctx, key, []byte(fmt.Sprint(n+1)), kv.ModRevision, store.WriteOptions{})
				if err == nil {
					done++
				} else if !isConflict(err) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	kv, _ := s.b.Get(s.ctx, key)
	if string(kv.Value) != fmt.Sprint(workers*each) || kv.ModRevision != workers*each+1 {
		t.Fatalf("counter %s, want %d at revision %d", fmtKV(kv), workers*each, workers*each+1)
	}
}

func isConflict(err error) bool { return err != nil && errors.Is(err, store.ErrConflict) }

func testListPrefix(t *testing.T, s *suite) {
	s.create(t, "/registry/pods/ns1/b", "1")
	s.create(t, "/registry/pods/ns1/a", "2")
	s.create(t, "/registry/pods/ns10/a", "3")
	s.create(t, "/registry/pods/ns2/a", "4")
	s.create(t, "/registry/services/ns1/a", "5")
	for _, prefix := range []string{"/registry/pods/ns1/", "/registry/pods/", "/registry/", "/registry/nodes/", ""} {
		res, err := s.b.List(s.ctx, prefix, store.ListOptions{})
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		rev := int64(len(s.m.events))
		checkKVs(t, "list "+prefix, res.KVs, s.m.list(prefix, rev))
		if res.Revision != rev || res.Continue != "" || res.Remaining != 0 {
			t.Fatalf("list %q: revision %d continue %q remaining %d", prefix, res.Revision, res.Continue, res.Remaining)
		}
		n, err := s.b.Count(s.ctx, prefix)
		if err != nil || n != int64(len(res.KVs)) {
			t.Fatalf("count %q = %d, %v; want %d", prefix, n, err, len(res.KVs))
		}
	}
}

func testListAtRevision(t *testing.T, s *suite) {
	s.churn(t, 60)
	cur := int64(len(s.m.events))
	for rev := int64(1); rev <= cur; rev += 7 {
		res, err := s.b.List(s.ctx, "/registry/pods/", store.ListOptions{Revision: rev})
		if err != nil {
			t.Fatalf("list at %d: %v", rev, err)
		}
		checkKVs(t, fmt.Sprintf("list at %d", rev), res.KVs, s.m.list("/registry/pods/", rev))
		if res.Revision != rev {
			t.Fatalf("list at %d says revision %d", rev, res.Revision)
		}
	}
	_, err := s.b.List(s.ctx, "/registry/pods/", store.ListOptions{Revision: cur + 1})
	wantErr(t, "list at a future revision", err, store.ErrFutureRevision)
}

func testPagination(t *testing.T, s *suite) {
	for i := range 25 {
		s.create(t, fmt.Sprintf("/registry/cm/ns/k%02d", i), fmt.Sprint(i))
	}
	s.create(t, "/registry/other/ns/x", "x")
	first, err := s.b.List(s.ctx, "/registry/cm/", store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	pinned := first.Revision
	if len(first.KVs) != 10 || first.Remaining != 15 || first.Continue == "" {
		t.Fatalf("first page: %d keys, remaining %d, continue %q", len(first.KVs), first.Remaining, first.Continue)
	}
	// Writes between pages must not show in later pages.
	s.delete(t, "/registry/cm/ns/k12")
	s.update(t, "/registry/cm/ns/k20", "changed")
	s.create(t, "/registry/cm/ns/k15a", "new")
	s.delete(t, "/registry/cm/ns/k03")
	got := append([]store.KeyValue(nil), first.KVs...)
	tok := first.Continue
	for pages := 1; tok != ""; pages++ {
		res, err := s.b.List(s.ctx, "/registry/cm/", store.ListOptions{Limit: 10, Continue: tok})
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		if res.Revision != pinned {
			t.Fatalf("page %d at revision %d, want the first page's %d", pages+1, res.Revision, pinned)
		}
		got = append(got, res.KVs...)
		if want := int64(25 - len(got)); res.Remaining != want {
			t.Fatalf("page %d: remaining %d, want %d", pages+1, res.Remaining, want)
		}
		tok = res.Continue
	}
	checkKVs(t, "all pages", got, s.m.list("/registry/cm/", pinned))
	_, err = s.b.List(s.ctx, "/registry/cm/", store.ListOptions{Continue: "garbage!"})
	wantErr(t, "garbage continue token", err, store.ErrInvalidContinue)
	_, err = s.b.List(s.ctx, "/registry/other/", store.ListOptions{Continue: first.Continue})
	wantErr(t, "continue token of another prefix", err, store.ErrInvalidContinue)
	// An explicit older revision pages the same way.
	old, err := s.b.List(s.ctx, "/registry/cm/", store.ListOptions{Revision: 5, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.b.List(s.ctx, "/registry/cm/", store.ListOptions{Limit: 10, Continue: old.Continue})
	if err != nil {
		t.Fatal(err)
	}
	checkKVs(t, "pages at revision 5", append(old.KVs, next.KVs...), s.m.list("/registry/cm/", 5))
}
