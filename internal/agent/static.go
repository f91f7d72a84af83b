package agent

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// Static pods, as the kubelet's file source: every manifest in
// Config.StaticPodDir is a pod this node runs whatever the API says,
// named <name>-<node>, with a UID derived from the node, the file and its
// content (so an edited manifest is a new pod), and shown in the API as a
// mirror pod (annotation kubernetes.io/config.mirror, owned by the Node)
// that carries its status. A deleted mirror pod is created again; a
// removed manifest stops the pod and deletes its mirror.

// Annotations of static and mirror pods (upstream's kubetypes).
const (
	annotationConfigHash   = "kubernetes.io/config.hash"
	annotationConfigMirror = "kubernetes.io/config.mirror"
	annotationConfigSeen   = "kubernetes.io/config.seen"
	annotationConfigSource = "kubernetes.io/config.source"
)

// staticRescan is how often the folder is read again besides its inotify
// events (the kubelet's fileCheckFrequency).
const staticRescan = 20 * time.Second

func isMirrorPod(p *corev1.Pod) bool {
	_, ok := p.Annotations[annotationConfigMirror]
	return ok
}

func isStaticPod(p *corev1.Pod) bool { return p.Annotations[annotationConfigSource] == "file" }

type staticPods struct {
	a   *Agent
	dir string

	mu     sync.Mutex
	byFile map[string]*corev1.Pod
	kick   chan struct{}

	// deletedAt is when syncMirrors deleted a mirror pod that is to come
	// back (namespace/name); only the run goroutine uses it.
	deletedAt map[string]time.Time
}

// mirrorRecreateDelay is how long a deleted mirror pod stays away before
// it is created again. `kubectl delete pod` waits by reading the pod and
// then listing and watching it by name; a mirror back within those few
// milliseconds is taken for the pod it waits on, and kubectl waits for
// its deletion for ever.
const mirrorRecreateDelay = time.Second

func newStaticPods(a *Agent, dir string) *staticPods {
	return &staticPods{a: a, dir: dir, byFile: map[string]*corev1.Pod{}, kick: make(chan struct{}, 1),
		deletedAt: map[string]time.Time{}}
}

// pods are the static pods of the node.
func (s *staticPods) pods() []*corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(s.byFile))
	for _, p := range s.byFile {
		out = append(out, p)
	}
	return out
}

// load reads the folder before the pod workers start.
func (s *staticPods) load() { s.rescan() }

// run follows the folder and keeps the mirror pods until ctx ends.
func (s *staticPods) run(ctx context.Context) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		s.a.log.Warn("static pod folder", "dir", s.dir, "err", err)
	}
	var events <-chan fsnotify.Event
	if w, err := fsnotify.NewWatcher(); err == nil {
		defer w.Close()
		if err := w.Add(s.dir); err == nil {
			events = w.Events
		}
	}
	tick := time.NewTicker(staticRescan)
	defer tick.Stop()
	s.rescan()
	s.syncMirrors(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
			s.rescan()
			s.syncMirrors(ctx)
		case <-tick.C:
			s.rescan()
			s.syncMirrors(ctx)
		case <-s.kick:
			s.syncMirrors(ctx)
		}
	}
}

// mirrorChanged is told of every event of a mirror pod on the node: the
// static pod picks up the mirror's status and the mirror is checked.
func (s *staticPods) mirrorChanged(mirror *corev1.Pod) {
	uid := types.UID(mirror.Annotations[annotationConfigMirror])
	s.mu.Lock()
	for _, p := range s.byFile {
		if p.UID == uid && mirror.DeletionTimestamp == nil {
			p.Status = *mirror.Status.DeepCopy()
			s.a.workers.update(p.DeepCopy())
		}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rescan reads every manifest and tells the pod workers what changed.
func (s *staticPods) rescan() {
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.a.log.Warn("read static pod folder", "dir", s.dir, "err", err)
		return
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		file := filepath.Join(s.dir, name)
		seen[file] = true
		pod, err := s.readManifest(file)
		if err != nil {
			s.a.log.Warn("static pod manifest refused", "file", file, "err", err)
			continue
		}
		s.mu.Lock()
		old := s.byFile[file]
		if old != nil && old.UID == pod.UID {
			s.mu.Unlock()
			continue
		}
		s.byFile[file] = pod
		s.mu.Unlock()
		if old != nil {
			s.a.workers.deleted(old)
		}
		s.a.log.Info("static pod", "file", file, "namespace", pod.Namespace, "pod", pod.Name)
		s.a.workers.update(pod.DeepCopy())
	}
	s.mu.Lock()
	var gone []*corev1.Pod
	for file, p := range s.byFile {
		if !seen[file] {
			gone = append(gone, p)
			delete(s.byFile, file)
		}
	}
	s.mu.Unlock()
	for _, p := range gone {
		s.a.workers.deleted(p)
	}
}

// readManifest turns one file into the static pod the node runs.
func (s *staticPods) readManifest(file string) (*corev1.Pod, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pod := &corev1.Pod{}
	if err := yaml.Unmarshal(data, pod); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		return nil, fmt.Errorf("kind %q apiVersion %q: want a v1 Pod", pod.Kind, pod.APIVersion)
	}
	if pod.Name == "" {
		return nil, errors.New("metadata.name is required")
	}
	node := s.a.cfg.NodeName
	pod.Name = strings.ToLower(pod.Name + "-" + node)
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	sum := md5.New()
	fmt.Fprintf(sum, "host:%s\nfile:%s\n", node, file)
	sum.Write(data)
	pod.UID = types.UID(hex.EncodeToString(sum.Sum(nil)))
	pod.Spec.NodeName = node
	registry.DefaultStaticPod(pod)
	if err := registry.ValidateStaticPodSpec(pod); err != nil {
		return nil, err
	}
	// Static pods tolerate every NoExecute taint, as upstream.
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotationConfigHash] = string(pod.UID)
	pod.Annotations[annotationConfigSeen] = time.Now().UTC().Format(time.RFC3339Nano)
	pod.Annotations[annotationConfigSource] = "file"
	pod.Status = corev1.PodStatus{}
	return pod, nil
}

// syncMirrors makes the API's mirror pods match the static pods: a mirror
// for each (created again after a deletion or a change of the manifest),
// none for pods that are gone.
func (s *staticPods) syncMirrors(ctx context.Context) {
	node, ok := s.a.getNode()
	if !ok {
		return
	}
	want := map[string]*corev1.Pod{}
	for _, p := range s.pods() {
		want[p.Namespace+"/"+p.Name] = p
	}
	for _, cur := range s.a.src.pods() {
		if !isMirrorPod(cur) {
			continue
		}
		p := want[cur.Namespace+"/"+cur.Name]
		if p != nil && cur.Annotations[annotationConfigMirror] == string(p.UID) && cur.DeletionTimestamp == nil {
			delete(want, cur.Namespace+"/"+cur.Name) // in place
			continue
		}
		s.deleteMirror(ctx, cur)
		if p != nil {
			delete(want, cur.Namespace+"/"+cur.Name) // created once the deletion is seen
			s.deletedAt[cur.Namespace+"/"+cur.Name] = time.Now()
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if wait := mirrorRecreateDelay - time.Since(s.deletedAt[k]); wait > 0 {
			time.AfterFunc(wait, s.kickSync)
			continue
		}
		delete(s.deletedAt, k)
		s.createMirror(ctx, want[k], node)
	}
	for k, t := range s.deletedAt { // static pods removed meanwhile
		if time.Since(t) > mirrorRecreateDelay {
			delete(s.deletedAt, k)
		}
	}
}

// kickSync asks the run loop for a syncMirrors.
func (s *staticPods) kickSync() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *staticPods) createMirror(ctx context.Context, p *corev1.Pod, node *corev1.Node) {
	m := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels,
		Annotations: map[string]string{}}, Spec: *p.Spec.DeepCopy()}
	for k, v := range p.Annotations {
		m.Annotations[k] = v
	}
	m.Annotations[annotationConfigMirror] = string(p.UID)
	m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
		Controller: ptr.To(true)}}
	_, err := s.a.set.Pods(p.Namespace).Create(ctx, m, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
		s.a.log.Warn("create mirror pod", "namespace", p.Namespace, "pod", p.Name, "err", err)
	}
}

func (s *staticPods) deleteMirror(ctx context.Context, m *corev1.Pod) {
	uid := m.UID
	err := s.a.set.Pods(m.Namespace).Delete(ctx, m.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0),
		Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		s.a.log.Warn("delete mirror pod", "namespace", m.Namespace, "pod", m.Name, "err", err)
	}
}
