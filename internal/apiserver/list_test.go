package apiserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

func makeConfigMaps(t *testing.T, cs kubernetes.Interface, ns string, n int) {
	t.Helper()
	for i := range n {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%02d", i), Labels: map[string]string{"parity": []string{"even", "odd"}[i%2]}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestListPagingAndSelectors(t *testing.T) {
	ts := newTestServer(t)
	cs := clientset(t, ts.admin)
	ctx := context.Background()
	makeConfigMaps(t, cs, "default", 7)
	cms := cs.CoreV1().ConfigMaps("default")

	var names []string
	opts := metav1.ListOptions{Limit: 3, LabelSelector: "parity=odd"}
	pages := 0
	var firstRV string
	for {
		l, err := cms.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if firstRV == "" {
			firstRV = l.ResourceVersion
		} else if l.ResourceVersion != firstRV {
			t.Errorf("page %d at RV %s, first page at %s", pages, l.ResourceVersion, firstRV)
		}
		for _, cm := range l.Items {
			names = append(names, cm.Name)
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if got := strings.Join(names, ","); got != "cm-01,cm-03,cm-05" {
		t.Errorf("paged selection = %s", got)
	}

	// Unselective pages report what remains.
	l, err := cms.List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil || len(l.Items) != 2 || l.RemainingItemCount == nil || *l.RemainingItemCount != 5 {
		t.Fatalf("first page: %v %d items remaining %v", err, len(l.Items), l.RemainingItemCount)
	}

	// Field selectors: metadata.name works; unknown labels are 400 with
	// upstream's text.
	l, err = cms.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=cm-04"})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "cm-04" {
		t.Fatalf("field selector: %v %+v", err, l)
	}
	_, err = cms.List(ctx, metav1.ListOptions{FieldSelector: "spec.foo=bar"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "spec.foo") {
		t.Errorf("unknown field label: %v", err)
	}

	// resourceVersionMatch without resourceVersion is 422 on ListOptions.
	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "resourceVersionMatch is forbidden unless resourceVersion is provided") {
		t.Errorf("rvMatch without rv: %v", err)
	}
	// An exact list at an older revision shows the state of then.
	makeConfigMaps(t, cs, "kube-public", 1)
	old, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: firstRV, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil || len(old.Items) != 7 {
		t.Fatalf("exact list: %v", err)
	}
	if err := cms.Delete(ctx, "cm-00", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	old, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: firstRV, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil || len(old.Items) != 7 {
		t.Fatalf("exact list after delete: %v %d", err, len(old.Items))
	}
	// A too-new resourceVersion times out as upstream (504 with the
	// ResourceVersionTooLarge cause).
	// (client-go would retry it ten times after Retry-After; ask once.)
	err = cs.CoreV1().RESTClient().Get().Namespace("default").Resource("configmaps").
		Param("resourceVersion", "999999").MaxRetries(0).Do(ctx).Error()
	if !apierrors.IsTimeout(err) || !strings.Contains(err.Error(), "Too large resource version") {
		t.Errorf("too new RV: %v", err)
	}
}

func TestWatchSemantics(t *testing.T) {
	ts := newTestServer(t)
	cs := clientset(t, ts.admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cms := cs.CoreV1().ConfigMaps("default")
	makeConfigMaps(t, cs, "default", 2)

	// RV unset: synthetic ADDED for existing objects, then changes.
	w, err := cms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(w watch.Interface, typ watch.EventType, name string) *corev1.ConfigMap {
		t.Helper()
		select {
		case ev := <-w.ResultChan():
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if ev.Type != typ || !ok || cm.Name != name {
				t.Fatalf("event %s %+v, want %s %s", ev.Type, ev.Object, typ, name)
			}
			return cm
		case <-ctx.Done():
			t.Fatalf("no %s event for %s", typ, name)
		}
		return nil
	}
	expect(w, watch.Added, "cm-00")
	expect(w, watch.Added, "cm-01")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	added := expect(w, watch.Added, "new")
	w.Stop()

	// Label selector transitions: leaving the selection is DELETED.
	w, err = cms.Watch(ctx, metav1.ListOptions{LabelSelector: "parity=even", ResourceVersion: added.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	cm0, _ := cms.Get(ctx, "cm-00", metav1.GetOptions{})
	cm0.Labels["parity"] = "odd"
	if _, err := cms.Update(ctx, cm0, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(w, watch.Deleted, "cm-00")
	w.Stop()

	// Bookmarks only when asked; watch-list ends its initial events with
	// the annotated bookmark.
	send := true
	w, err = cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: &send, AllowWatchBookmarks: true,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"cm-00", "cm-01", "new"} {
		expect(w, watch.Added, n)
	}
	select {
	case ev := <-w.ResultChan():
		cm, _ := ev.Object.(*corev1.ConfigMap)
		if ev.Type != watch.Bookmark || cm == nil || cm.Annotations[metav1.InitialEventsAnnotationKey] != "true" || cm.ResourceVersion == "" {
			t.Fatalf("after initial events: %s %+v", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no initial-events-end bookmark")
	}
	w.Stop()

	// resourceVersionMatch on a plain watch is 422.
	_, err = cms.Watch(ctx, metav1.ListOptions{ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if !apierrors.IsInvalid(err) {
		t.Errorf("watch with rvMatch and no sendInitialEvents: %v", err)
	}
}

func TestWatchTooOldIsExpired(t *testing.T) {
	ts := newTestServer(t)
	cs := clientset(t, ts.admin)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	makeConfigMaps(t, cs, "default", 3)
	if err := ts.cfg.Store.Compact(ctx, ts.cfg.Store.CurrentRevision()); err != nil {
		t.Fatal(err)
	}
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: "2"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok || st.Code != 410 || st.Reason != metav1.StatusReasonExpired {
			t.Fatalf("event %s %+v, want ERROR 410 Expired", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no error event for a compacted resourceVersion")
	}
}
