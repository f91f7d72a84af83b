package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
)

// statusManager writes pod statuses, as the kubelet's status manager:
// workers set the status they computed, the manager coalesces (only the
// newest status of a pod is written), skips writes that would change
// nothing, and writes with a strategic merge patch of pods/status that
// carries the pod's UID, so conditions others own are never overwritten
// and a re-created pod of the same name is never touched. A pod whose
// containers all stopped after a graceful deletion is then deleted with
// grace period 0. One manager can serve many agents (kserver sim).
type statusManager struct {
	api   *client.Set
	log   *slog.Logger
	queue workqueue.TypedRateLimitingInterface[types.UID]

	mu      sync.Mutex
	entries map[types.UID]*statusEntry
}

type statusEntry struct {
	agent           *Agent
	namespace, name string
	status          corev1.PodStatus // the newest computed status
	delete          bool             // delete the pod once the status is written
	deleted         bool             // the delete was sent
	written         *corev1.PodStatus
	writtenRV       uint64
}

func newStatusManager(set *client.Set, log *slog.Logger) *statusManager {
	return &statusManager{
		api: set, log: log.With("component", "agent-status"),
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.UID]()),
		entries: map[types.UID]*statusEntry{},
	}
}

// set records the status computed for pod and schedules the write.
func (m *statusManager) set(a *Agent, pod *corev1.Pod, st corev1.PodStatus, deleteAfter bool) {
	m.mu.Lock()
	e := m.entries[pod.UID]
	if e == nil {
		e = &statusEntry{agent: a, namespace: pod.Namespace, name: pod.Name}
		m.entries[pod.UID] = e
	}
	e.status = st
	e.delete = e.delete || deleteAfter
	m.mu.Unlock()
	m.queue.Add(pod.UID)
}

// forget drops what the manager knows of a pod that is gone.
func (m *statusManager) forget(uid types.UID) {
	m.mu.Lock()
	delete(m.entries, uid)
	m.mu.Unlock()
}

// run writes statuses with n workers until ctx ends.
func (m *statusManager) run(ctx context.Context, n int) {
	go func() {
		<-ctx.Done()
		m.queue.ShutDown()
	}()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m.next(ctx) {
			}
		}()
	}
	wg.Wait()
}

func (m *statusManager) next(ctx context.Context) bool {
	uid, quit := m.queue.Get()
	if quit {
		return false
	}
	defer m.queue.Done(uid)
	if err := m.write(ctx, uid); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("pod status write failed; retrying", "err", err)
			m.queue.AddRateLimited(uid)
		}
		return true
	}
	m.queue.Forget(uid)
	return true
}

// write brings the stored status of one pod to the newest computed one.
func (m *statusManager) write(ctx context.Context, uid types.UID) error {
	m.mu.Lock()
	e := m.entries[uid]
	if e == nil {
		m.mu.Unlock()
		return nil
	}
	want, del, done := e.status, e.delete, e.deleted
	written, writtenRV := e.written, e.writtenRV
	a, ns, name := e.agent, e.namespace, e.name
	m.mu.Unlock()
	cur, ok := a.src.pod(ns, name)
	mirror := ok && cur.Annotations[annotationConfigMirror] == string(uid) // a static pod's status goes to its mirror
	if !ok || (cur.UID != uid && !mirror) {
		return nil // gone: nothing to write
	}
	base := &cur.Status
	if written != nil && resourceVersion(cur) < writtenRV {
		base = written // the cache has not seen our last write yet
	}
	merged := mergeStatus(base, &want)
	if !equality.Semantic.DeepEqual(base, merged) {
		got, err := m.patch(ctx, cur, base, merged)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		m.mu.Lock()
		e.written, e.writtenRV = got.Status.DeepCopy(), resourceVersion(got)
		m.mu.Unlock()
	}
	if !del || done || mirror {
		return nil
	}
	err := m.api.Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0),
		Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", ns, name, err)
	}
	m.mu.Lock()
	e.deleted = true
	m.mu.Unlock()
	return nil
}

// patch sends the difference from base to want as a strategic merge patch
// of pods/status with the pod's UID as precondition.
func (m *statusManager) patch(ctx context.Context, pod *corev1.Pod, base, want *corev1.PodStatus) (*corev1.Pod, error) {
	oldJSON, err := json.Marshal(corev1.Pod{Status: *base})
	if err != nil {
		return nil, err
	}
	newJSON, err := json.Marshal(corev1.Pod{Status: *want})
	if err != nil {
		return nil, err
	}
	p, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("pod status patch: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(p, &doc); err != nil {
		return nil, err
	}
	doc["metadata"] = map[string]any{"uid": string(pod.UID)}
	if p, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	got, err := m.api.Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, p, metav1.PatchOptions{}, "status")
	if err != nil {
		return nil, fmt.Errorf("patch status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return got, nil
}

// mergeStatus is base with the fields the agent owns taken from want;
// conditions others own and fields such as qosClass stay as base has them.
func mergeStatus(base, want *corev1.PodStatus) *corev1.PodStatus {
	out := base.DeepCopy()
	if !isTerminalPhase(base.Phase) {
		out.Phase = want.Phase
	}
	out.HostIP, out.HostIPs = want.HostIP, want.HostIPs
	out.PodIP, out.PodIPs = want.PodIP, want.PodIPs
	out.StartTime = want.StartTime
	out.InitContainerStatuses = want.InitContainerStatuses
	out.ContainerStatuses = want.ContainerStatuses
	out.EphemeralContainerStatuses = want.EphemeralContainerStatuses
	out.ObservedGeneration = want.ObservedGeneration
	var conds []corev1.PodCondition
	for _, c := range want.Conditions {
		if ownedPodCondition(c.Type) {
			conds = append(conds, c)
		}
	}
	for _, c := range base.Conditions {
		if !ownedPodCondition(c.Type) {
			conds = append(conds, c)
		}
	}
	out.Conditions = conds
	return out
}

// resourceVersion reads kserver's resource versions, which are store
// revisions and so ordered (0 when unreadable).
func resourceVersion(o metav1.Object) uint64 {
	v, _ := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	return v
}
