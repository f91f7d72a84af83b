package kctl

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func pod(ns, name, ownerKind string, emptyDir bool) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("u-" + name)}}
	if ownerKind != "" {
		t := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: ownerKind, Name: "owner", Controller: &t}}
	}
	if emptyDir {
		p.Spec.Volumes = []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}
	return p
}

func TestPlanDrainFilters(t *testing.T) {
	pods := []corev1.Pod{
		pod("kube-system", "proxy-x", "DaemonSet", false),
		pod("default", "web-1", "ReplicaSet", false),
		pod("default", "cache-1", "ReplicaSet", true),
		pod("default", "bare", "", false),
	}
	mirror := pod("kube-system", "static", "", false)
	mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	pods = append(pods, mirror)
	exists := func(ns, name string) bool { return true }

	plan := planDrain(pods, drainPolicy{}, exists)
	got := joinGroups(plan.errors)
	want := "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/proxy-x; cannot delete Pods that declare no controller (use --force to override): default/bare; cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache-1"
	if got != want {
		t.Errorf("errors:\n%s\nwant\n%s", got, want)
	}
	plan = planDrain(pods, drainPolicy{ignoreDaemonSets: true, deleteEmptyDir: true, force: true}, exists)
	if len(plan.errors) != 0 {
		t.Fatalf("unexpected errors %v", plan.errors)
	}
	if w := joinGroups(plan.warnings); w != "deleting Pods that declare no controller: default/bare; ignoring DaemonSet-managed Pods: kube-system/proxy-x" {
		t.Errorf("warnings: %s", w)
	}
	var names []string
	for _, p := range plan.evict {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "web-1,cache-1,bare" {
		t.Errorf("evict %v", names)
	}
}

// fakeEvictor refuses the first evictions of a pod with 429 (a PDB) and
// reports pods gone after they were evicted.
type fakeEvictor struct {
	mu       sync.Mutex
	blocked  map[string]int
	evicted  map[string]bool
	attempts map[string]int
}

func (e *fakeEvictor) evict(ctx context.Context, p *corev1.Pod) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.attempts[p.Name]++
	if e.blocked[p.Name] > 0 {
		e.blocked[p.Name]--
		return apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	}
	e.evicted[p.Name] = true
	return nil
}
func (e *fakeEvictor) remove(ctx context.Context, p *corev1.Pod) error { return e.evict(ctx, p) }
func (e *fakeEvictor) gone(ctx context.Context, p *corev1.Pod) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.evicted[p.Name], nil
}

func TestDrainRetriesPDBBlockedEvictions(t *testing.T) {
	ev := &fakeEvictor{blocked: map[string]int{"web-1": 2}, evicted: map[string]bool{}, attempts: map[string]int{}}
	var out, errOut bytes.Buffer
	d := &drainRun{out: &out, errOut: &errOut, ev: ev, useEviction: true, retryInterval: time.Millisecond, pollInterval: time.Millisecond}
	pods := []corev1.Pod{pod("default", "web-1", "ReplicaSet", false), pod("default", "web-2", "ReplicaSet", false)}
	if err := d.run(context.Background(), pods); err != nil {
		t.Fatal(err)
	}
	if ev.attempts["web-1"] != 3 {
		t.Errorf("web-1 eviction attempts = %d, want 3", ev.attempts["web-1"])
	}
	wantOut := "evicting pod default/web-1\nevicting pod default/web-2\npod/web-1 evicted\npod/web-2 evicted\n"
	if out.String() != wantOut {
		t.Errorf("stdout %q want %q", out.String(), wantOut)
	}
	if n := strings.Count(errOut.String(), `error when evicting pods/"web-1" -n "default" (will retry after 1ms): Cannot evict pod`); n != 2 {
		t.Errorf("want two retry messages, got:\n%s", errOut.String())
	}
}

func TestDrainGivesUpAtTimeout(t *testing.T) {
	ev := &fakeEvictor{blocked: map[string]int{"web-1": 1 << 30}, evicted: map[string]bool{}, attempts: map[string]int{}}
	var out, errOut bytes.Buffer
	d := &drainRun{out: &out, errOut: &errOut, ev: ev, useEviction: true, retryInterval: time.Millisecond, pollInterval: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := d.run(ctx, []corev1.Pod{pod("default", "web-1", "ReplicaSet", false)})
	if err == nil || !strings.Contains(err.Error(), "global timeout reached") {
		t.Fatalf("err = %v, want global timeout", err)
	}
}

// --skip-wait-for-delete-timeout: a pod whose deletion started longer ago
// than the limit is no longer waited for, with kubectl's note; without the
// flag drain keeps waiting.
func TestDrainSkipWaitForDeleteTimeout(t *testing.T) {
	pod := obj("v1", "Pod", "default", "stuck", nil, nil)
	pod.SetUID("uid-stuck")
	del := metav1.NewTime(time.Now().Add(-time.Minute))
	pod.SetDeletionTimestamp(&del)
	fs := newFakeServer(t, pod)
	var out bytes.Buffer
	f := NewFactory(genericiooptions.IOStreams{Out: &out, ErrOut: &out}, &Prefs{})
	f.Flags.Kubeconfig = fs.kubeconfig()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "stuck", UID: "uid-stuck"}}
	done, err := (&apiEvictor{f: f}).gone(context.Background(), p)
	if done || err != nil {
		t.Errorf("without the flag: gone %v, err %v", done, err)
	}
	done, err = (&apiEvictor{f: f, skipWaitSeconds: 10}).gone(context.Background(), p)
	if done || !errors.Is(err, errSkipWait) || out.String() != "pod \"stuck\" has DeletionTimestamp older than 10 seconds, skipping\n" {
		t.Errorf("deleted a minute ago, limit 10s: gone %v, err %v, out %q", done, err, out.String())
	}
	out.Reset()
	done, err = (&apiEvictor{f: f, skipWaitSeconds: 120}).gone(context.Background(), p)
	if done || err != nil || out.Len() != 0 {
		t.Errorf("deleted a minute ago, limit 120s: gone %v, err %v, out %q", done, err, out.String())
	}
}
