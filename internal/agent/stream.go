package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"kserver.dev/kserver/internal/runtime"
)

// The node's HTTP API: what kube-apiserver calls on a kubelet. The API
// server reaches it for pods/log, exec, attach, portforward, nodes/proxy and
// the metrics API; docs/streaming.md has the design.
//
//	GET  /healthz
//	GET  /containerLogs/{ns}/{pod}/{container}?follow&previous&timestamps&sinceSeconds&sinceTime&tailLines&limitBytes
//	*    /exec/{ns}/{pod}[/{uid}]/{container}?command=…&input=1&output=1&error=1&tty=1
//	*    /attach/{ns}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
//	*    /portForward/{ns}/{pod}[/{uid}][?port=80,443]
//	GET  /stats/summary
//	GET  /pods
//	*    /podProxy/{ns}/{pod}/{scheme}/{ip}/{port}/{path} (pods/proxy, services/proxy)

const (
	// streamIdleTimeout closes a streaming connection that carried nothing
	// for that long (the kubelet's streamingConnectionIdleTimeout).
	streamIdleTimeout = 4 * time.Hour
	// streamCreationTimeout bounds the wait for the SPDY streams a client
	// announced (upstream's DefaultStreamCreationTimeout).
	streamCreationTimeout = 30 * time.Second
)

// StreamConfig configures a node's HTTP API.
type StreamConfig struct {
	// Authorize admits a request (nil) or says why not. Nil admits every
	// request: for connections that can only come from inside the process.
	Authorize func(*http.Request) error
}

// streamHost is what the HTTP API needs of its node.
type streamHost struct {
	node string
	rt   runtime.Runtime
	// pod finds a pod bound to the node; false while the agent has not
	// synced its pods yet.
	pod  func(namespace, name string) (*corev1.Pod, bool)
	pods func() []*corev1.Pod
	// simulated nodes report the sum of their pods as the node's usage.
	simulated bool
	// netns is the node's network namespace (Config.HostNetNS), where
	// /podProxy dials pods; "" is the agent's own.
	netns string
	log   *slog.Logger
}

// StreamServer serves a node's HTTP API over its runtime.
type StreamServer struct {
	h     streamHost
	cfg   StreamConfig
	mux   *http.ServeMux
	stats *statsCollector
	// libLog is the streaming libraries' logger (debugHandler).
	libLog logr.Logger
}

// StreamServer returns the HTTP API of the agent's node. It serves the
// pods the agent runs once the agent has synced them.
func (a *Agent) StreamServer(cfg StreamConfig) *StreamServer {
	return newStreamServer(streamHost{
		node: a.cfg.NodeName, rt: a.parts.Runtime, pod: a.streamPod, pods: a.streamPods,
		simulated: a.cfg.Simulated, netns: a.cfg.HostNetNS, log: a.log.With("component", "kubelet-api"),
	}, cfg)
}

// streamPod finds a pod in the agent's source once the pod workers have
// started (which is after the source is set, so reading it is safe).
func (a *Agent) streamPod(namespace, name string) (*corev1.Pod, bool) {
	if !a.podsSynced() {
		return nil, false
	}
	return a.src.pod(namespace, name)
}

func (a *Agent) streamPods() []*corev1.Pod {
	if !a.podsSynced() {
		return nil
	}
	return a.src.pods()
}

func (a *Agent) podsSynced() bool {
	a.workers.mu.Lock()
	defer a.workers.mu.Unlock()
	return a.workers.started
}

func newStreamServer(h streamHost, cfg StreamConfig) *StreamServer {
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	s := &StreamServer{h: h, cfg: cfg, mux: http.NewServeMux(), stats: newStatsCollector(h),
		libLog: logr.FromSlogHandler(debugHandler{h.log.Handler()})}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	s.mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.serveLogs)
	for _, p := range []string{"/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"} {
		s.mux.HandleFunc(p, s.serveExec)
	}
	for _, p := range []string{"/attach/{ns}/{pod}/{container}", "/attach/{ns}/{pod}/{uid}/{container}"} {
		s.mux.HandleFunc(p, s.serveAttach)
	}
	for _, p := range []string{"/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"} {
		s.mux.HandleFunc(p, s.servePortForward)
	}
	s.mux.HandleFunc("GET /stats/summary", s.serveStats)
	s.mux.HandleFunc("GET /pods", s.servePods)
	s.mux.Handle("/podProxy/", newPodProxy(h))
	return s
}

// ServeHTTP authorizes and routes one request.
func (s *StreamServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Authorize != nil {
		if err := s.cfg.Authorize(r); err != nil {
			if errors.Is(err, ErrUnauthenticated) {
				plainError(w, http.StatusUnauthorized, "Unauthorized")
				return
			}
			plainError(w, http.StatusForbidden, "Forbidden ("+err.Error()+")")
			return
		}
	}
	s.mux.ServeHTTP(w, r.WithContext(klog.NewContext(r.Context(), s.libLog)))
}

// debugHandler logs every record at debug level: the streaming libraries
// (klog's contextual logger) report sockets closed by the other side as
// errors, which they are not for a node.
type debugHandler struct{ slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, r)
}

func (h debugHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return debugHandler{h.Handler.WithAttrs(as)}
}
func (h debugHandler) WithGroup(n string) slog.Handler { return debugHandler{h.Handler.WithGroup(n)} }

// ErrUnauthenticated is what an Authorize function returns for a request
// without acceptable credentials (answered 401; other errors are 403).
var ErrUnauthenticated = errors.New("unauthenticated")

// plainError answers with a plain-text message, as the kubelet does.
func plainError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

// servePods lists the pods bound to the node, as the kubelet's /pods.
func (s *StreamServer) servePods(w http.ResponseWriter, _ *http.Request) {
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{}}
	for _, p := range s.h.pods() {
		list.Items = append(list.Items, *p)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

// podSandbox is the newest sandbox of a pod (ready ones first), or false.
func (s *StreamServer) podSandbox(r *http.Request, uid string) (runtime.SandboxStatus, bool, error) {
	all, err := s.h.rt.ListSandboxes(r.Context())
	if err != nil {
		return runtime.SandboxStatus{}, false, err
	}
	var best *runtime.SandboxStatus
	for i := range all {
		sb := &all[i]
		if sb.UID != uid {
			continue
		}
		if best == nil || better(sb, best) {
			best = sb
		}
	}
	if best == nil {
		return runtime.SandboxStatus{}, false, nil
	}
	return *best, true, nil
}

func better(a, b *runtime.SandboxStatus) bool {
	ar, br := a.State == runtime.SandboxReady, b.State == runtime.SandboxReady
	if ar != br {
		return ar
	}
	return a.Attempt > b.Attempt
}

// newestContainer is the newest attempt of a pod's container across the
// pod's sandboxes; running restricts it to a running one in a ready
// sandbox.
func (s *StreamServer) newestContainer(r *http.Request, uid, name string, running bool) (*runtime.ContainerStatus, error) {
	sbs, err := s.h.rt.ListSandboxes(r.Context())
	if err != nil {
		return nil, err
	}
	var best *runtime.ContainerStatus
	for _, sb := range sbs {
		if sb.UID != uid || (running && sb.State != runtime.SandboxReady) {
			continue
		}
		f := runtime.ContainerFilter{SandboxID: sb.ID, Name: name}
		if running {
			f.State = runtime.StateRunning
		}
		cs, err := s.h.rt.ListContainers(r.Context(), f)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			if best == nil || cs[i].Attempt > best.Attempt {
				best = &cs[i]
			}
		}
	}
	return best, nil
}

// specHas says whether the pod declares a container (app, init or
// ephemeral) of that name.
func specHas(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
