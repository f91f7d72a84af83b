package kctl

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// memRCs is an in-memory rcStore whose pods become ready as soon as an RC
// is scaled; it records every replica count it saw, to check the update
// never runs more than desired+1 pods.
type memRCs struct {
	rcs      map[string]*corev1.ReplicationController
	log      []string
	maxTotal int32
	relabel  []string
}

func (m *memRCs) get(_ context.Context, name string) (*corev1.ReplicationController, error) {
	rc, ok := m.rcs[name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "replicationcontrollers"}, name)
	}
	return rc.DeepCopy(), nil
}
func (m *memRCs) create(_ context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	m.log = append(m.log, "create "+rc.Name)
	m.rcs[rc.Name] = rc.DeepCopy()
	return rc, nil
}
func (m *memRCs) update(_ context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	c := rc.DeepCopy()
	c.Status.ReadyReplicas = ptrOr(c.Spec.Replicas, 1)
	m.rcs[rc.Name] = c
	var total int32
	for _, r := range m.rcs {
		total += ptrOr(r.Spec.Replicas, 1)
	}
	m.maxTotal = max(m.maxTotal, total)
	return c.DeepCopy(), nil
}
func (m *memRCs) delete(_ context.Context, name string) error {
	m.log = append(m.log, "delete "+name)
	delete(m.rcs, name)
	return nil
}
func (m *memRCs) relabelPods(_ context.Context, sel map[string]string, k, v string) error {
	m.relabel = append(m.relabel, fmt.Sprintf("%v +%s=%s", labelsString(sel), k, v))
	return nil
}

func rc(name string, replicas int32, sel map[string]string, image string) *corev1.ReplicationController {
	return &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-old"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &replicas, Selector: sel,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: copyMap(sel)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "redis", Image: image}}}}}}
}

func TestRollingUpdateWithImageRenames(t *testing.T) {
	old := rc("redis-master", 2, map[string]string{"name": "redis-master"}, "redis:1")
	store := &memRCs{rcs: map[string]*corev1.ReplicationController{"redis-master": old.DeepCopy()}}
	var out bytes.Buffer
	u := &rollingUpdater{store: store, out: &out, updatePeriod: time.Millisecond, pollInterval: time.Millisecond, timeout: time.Second}
	f := &Factory{}
	next, rename, err := newController(f, old, []string{"redis-master"}, fileOptions{}, "redis:2", "")
	if err != nil {
		t.Fatal(err)
	}
	if rename != "redis-master" || !strings.HasPrefix(next.Name, "redis-master-") {
		t.Fatalf("next %s rename %s", next.Name, rename)
	}
	if err := u.run(context.Background(), old, next, rename); err != nil {
		t.Fatal(err)
	}
	final, ok := store.rcs["redis-master"]
	if !ok || len(store.rcs) != 1 {
		t.Fatalf("want only the renamed RC, have %v", store.rcs)
	}
	if img := final.Spec.Template.Spec.Containers[0].Image; img != "redis:2" || ptrOr(final.Spec.Replicas, 0) != 2 {
		t.Errorf("final RC image %s replicas %d", img, ptrOr(final.Spec.Replicas, 0))
	}
	if store.maxTotal > 3 {
		t.Errorf("ran %d pods at once, want at most desired+1 = 3", store.maxTotal)
	}
	if len(store.relabel) != 1 || !strings.HasPrefix(store.relabel[0], "name=redis-master +deployment=") {
		t.Errorf("old pods relabel: %v", store.relabel)
	}
	wantLines := []string{"Created " + next.Name, "Scaling up " + next.Name + " from 0 to 2, scaling down redis-master from 2 to 0 (keep 2 pods available, don't exceed 3 pods)",
		"Scaling " + next.Name + " up to 1", "Scaling redis-master down to 1", "Scaling " + next.Name + " up to 2", "Scaling redis-master down to 0",
		"Update succeeded. Deleting old controller: redis-master", "Renaming " + next.Name + " to redis-master"}
	if got := strings.TrimSpace(out.String()); got != strings.Join(wantLines, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(wantLines, "\n"))
	}
}

func TestRollingUpdateValidation(t *testing.T) {
	old := rc("redis-master", 1, map[string]string{"name": "redis-master"}, "redis:1")
	if _, _, err := newController(&Factory{}, old, []string{"redis-master"}, fileOptions{}, "redis:1", ""); err == nil ||
		err.Error() != "Specified --image must be distinct from existing container image" {
		t.Errorf("same image: %v", err)
	}
	if selectorDiffers(map[string]string{"name": "a"}, map[string]string{"name": "a", "v": "2"}) {
		t.Error("selectors sharing every value must be rejected")
	}
	if !selectorDiffers(map[string]string{"name": "a", "v": "1"}, map[string]string{"name": "a", "v": "2"}) {
		t.Error("a differing common key is required and allowed")
	}
}

func TestRollingUpdateRollback(t *testing.T) {
	old := rc("web", 1, map[string]string{"app": "web", "deployment": "a"}, "x:1")
	next := rc("web-b", 2, map[string]string{"app": "web", "deployment": "b"}, "x:2")
	next.Annotations = map[string]string{desiredReplicasAnnotation: "3"}
	store := &memRCs{rcs: map[string]*corev1.ReplicationController{"web": old, "web-b": next}}
	var out bytes.Buffer
	u := &rollingUpdater{store: store, out: &out, updatePeriod: time.Millisecond, pollInterval: time.Millisecond, timeout: time.Second}
	if err := u.rollback(context.Background(), old, "web-b"); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.rcs["web-b"]; ok || ptrOr(store.rcs["web"].Spec.Replicas, 0) != 3 {
		t.Fatalf("after rollback: %v", store.rcs)
	}
}
