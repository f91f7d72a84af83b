package apiserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// metrics.k8s.io/v1beta1, served in-process as metrics-server serves it
// behind an APIService: NodeMetrics and PodMetrics (get, list) from the
// node agents' /stats/summary, scraped when asked (metrics_scrape.go).
// kubectl top finds the group in discovery and reads these lists.

const metricsGroup = "metrics.k8s.io"

var metricsGV = schema.GroupVersion{Group: metricsGroup, Version: "v1beta1"}

// The metrics.k8s.io/v1beta1 objects, in the JSON of
// k8s.io/metrics/pkg/apis/metrics/v1beta1 (declared here: that package's
// scheme, conversions and protobuf code would cost the binary more than
// these few fields; clients read the JSON).
type (
	metricsNode struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata,omitempty"`
		Timestamp         metav1.Time         `json:"timestamp"`
		Window            metav1.Duration     `json:"window"`
		Usage             corev1.ResourceList `json:"usage"`
	}
	metricsNodeList struct {
		metav1.TypeMeta `json:",inline"`
		metav1.ListMeta `json:"metadata,omitempty"`
		Items           []metricsNode `json:"items"`
	}
	metricsPod struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata,omitempty"`
		Timestamp         metav1.Time        `json:"timestamp"`
		Window            metav1.Duration    `json:"window"`
		Containers        []metricsContainer `json:"containers"`
	}
	metricsPodList struct {
		metav1.TypeMeta `json:",inline"`
		metav1.ListMeta `json:"metadata,omitempty"`
		Items           []metricsPod `json:"items"`
	}
	metricsContainer struct {
		Name  string              `json:"name"`
		Usage corev1.ResourceList `json:"usage"`
	}
)

// metricsCatalog adds metrics.k8s.io to what discovery lists; nothing
// else sees it (the group has no storage).
type metricsCatalog struct{ Catalog }

func (m metricsCatalog) Groups() []registry.Group {
	return append(slices.Clip(m.Catalog.Groups()), registry.Group{Name: metricsGroup, Versions: []string{metricsGV.Version}})
}

func (m metricsCatalog) Resources(gv schema.GroupVersion) []*registry.Resource {
	if gv == metricsGV {
		return []*registry.Resource{
			{GroupVersion: metricsGV, Resource: "nodes", Kind: "NodeMetrics", Verbs: []string{"get", "list"}, StorageVersion: metricsGV},
			{GroupVersion: metricsGV, Resource: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: []string{"get", "list"}, StorageVersion: metricsGV},
		}
	}
	return m.Catalog.Resources(gv)
}

// metricsServed: node agents can be reached and metrics are not disabled.
func (s *Server) metricsServed() bool { return s.kubelet != nil && !s.cfg.DisableMetrics }

// discoveryCatalog is the catalog discovery renders: with metrics.k8s.io
// when it is served.
func (s *Server) discoveryCatalog() Catalog {
	if !s.metricsServed() {
		return s.cfg.Catalog
	}
	return metricsCatalog{s.cfg.Catalog}
}

// serveMetrics answers /apis/metrics.k8s.io/v1beta1/... .
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	gres := schema.GroupResource{Group: metricsGroup, Resource: ri.resource}
	fail := func(err error) { writeError(w, err, gres, ri.name) }
	switch {
	case ri.gv != metricsGV || ri.subresource != "" ||
		(ri.resource != "nodes" && ri.resource != "pods") || (ri.resource == "nodes" && ri.namespace != ""):
		fail(notFoundPath())
		return
	case ri.verb != "get" && ri.verb != "list":
		fail(methodNotAllowed(ri.verb, gres))
		return
	}
	q := r.URL.Query()
	sel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		fail(badRequest("unable to parse requirement: %v", err))
		return
	}
	fsel, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		fail(badRequest("%v", err))
		return
	}
	var out any
	if ri.resource == "nodes" {
		out, err = s.nodeMetrics(r, ri.name, sel, fsel)
	} else {
		out, err = s.podMetrics(r, ri.namespace, ri.name, sel, fsel)
	}
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", mediaJSON)
	_ = json.NewEncoder(w).Encode(out)
}

// nodeMetrics lists (or gets) NodeMetrics of the nodes whose agents
// reported usage.
func (s *Server) nodeMetrics(r *http.Request, name string, sel labels.Selector, fsel fields.Selector) (any, error) {
	objs, err := s.listStored(r.Context(), gvr("", "v1", "nodes"), "")
	if err != nil {
		return nil, err
	}
	var nodes []*corev1.Node
	for _, o := range objs {
		n, ok := o.(*corev1.Node)
		if !ok || (name != "" && n.Name != name) || !sel.Matches(labels.Set(n.Labels)) ||
			!fsel.Matches(fields.Set{"metadata.name": n.Name}) {
			continue
		}
		nodes = append(nodes, n)
	}
	if name != "" && len(nodes) == 0 {
		return nil, apierrors.NewNotFound(gr("", "nodes"), name)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	scraped := s.kubelet.metrics.summaries(r.Context(), s, names)
	now := metav1.Now()
	list := &metricsNodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: metricsGV.String()},
		Items: []metricsNode{}}
	for _, n := range nodes {
		sc := scraped[n.Name]
		if sc.sum == nil || sc.sum.Node.CPU == nil || sc.sum.Node.CPU.UsageNanoCores == nil ||
			sc.sum.Node.Memory == nil || sc.sum.Node.Memory.WorkingSetBytes == nil {
			continue
		}
		list.Items = append(list.Items, metricsNode{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: now},
			Timestamp:  sc.sum.Node.CPU.Time, Window: metav1.Duration{Duration: sc.window},
			Usage: usage(*sc.sum.Node.CPU.UsageNanoCores, *sc.sum.Node.Memory.WorkingSetBytes),
		})
	}
	if name == "" {
		return list, nil
	}
	if len(list.Items) == 0 {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "nodemetrics"}, name)
	}
	item := list.Items[0]
	item.TypeMeta = metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsGV.String()}
	return &item, nil
}

// podMetrics lists (or gets) PodMetrics of pods whose every running
// container has a usage sample.
func (s *Server) podMetrics(r *http.Request, ns, name string, sel labels.Selector, fsel fields.Selector) (any, error) {
	objs, err := s.listStored(r.Context(), gvr("", "v1", "pods"), ns)
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	nodeSet := map[string]bool{}
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		if !ok || (name != "" && p.Name != name) || !sel.Matches(labels.Set(p.Labels)) ||
			!fsel.Matches(fields.Set{"metadata.name": p.Name, "metadata.namespace": p.Namespace}) {
			continue
		}
		pods = append(pods, p)
		if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			nodeSet[p.Spec.NodeName] = true
		}
	}
	if name != "" && len(pods) == 0 {
		return nil, apierrors.NewNotFound(gr("", "pods"), ns+"/"+name)
	}
	nodes := make([]string, 0, len(nodeSet))
	for n := range nodeSet {
		nodes = append(nodes, n)
	}
	scraped := s.kubelet.metrics.summaries(r.Context(), s, nodes)
	list := &metricsPodList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsGV.String()},
		Items: []metricsPod{}}
	now := metav1.Now()
	for _, p := range pods {
		if !nodeSet[p.Spec.NodeName] || p.Status.Phase != corev1.PodRunning {
			continue
		}
		if m, ok := podMetricsOf(p, scraped[p.Spec.NodeName], now); ok {
			list.Items = append(list.Items, m)
		}
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		return a.Namespace < b.Namespace || (a.Namespace == b.Namespace && a.Name < b.Name)
	})
	if name == "" {
		return list, nil
	}
	if len(list.Items) == 0 {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: "podmetrics"}, ns+"/"+name)
	}
	item := list.Items[0]
	item.TypeMeta = metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsGV.String()}
	return &item, nil
}

// podMetricsOf finds a pod in its node's summary; containers are listed
// in the order of the pod's spec.
func podMetricsOf(p *corev1.Pod, sc scrape, now metav1.Time) (metricsPod, bool) {
	if sc.sum == nil {
		return metricsPod{}, false
	}
	for _, ps := range sc.sum.Pods {
		if ps.PodRef.Name != p.Name || ps.PodRef.Namespace != p.Namespace || (ps.PodRef.UID != "" && ps.PodRef.UID != string(p.UID)) {
			continue
		}
		m := metricsPod{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, CreationTimestamp: now},
			Window:     metav1.Duration{Duration: sc.window},
		}
		for _, c := range ps.Containers {
			if c.CPU == nil || c.CPU.UsageNanoCores == nil || c.Memory == nil || c.Memory.WorkingSetBytes == nil {
				return m, false // a container without a rate yet: the pod waits for the next sample
			}
			if m.Timestamp.IsZero() || c.CPU.Time.Before(&m.Timestamp) {
				m.Timestamp = c.CPU.Time
			}
			m.Containers = append(m.Containers, metricsContainer{Name: c.Name,
				Usage: usage(*c.CPU.UsageNanoCores, *c.Memory.WorkingSetBytes)})
		}
		order := map[string]int{}
		for i, c := range p.Spec.Containers {
			order[c.Name] = i
		}
		slices.SortStableFunc(m.Containers, func(a, b metricsContainer) int {
			return order[a.Name] - order[b.Name]
		})
		return m, len(m.Containers) > 0
	}
	return metricsPod{}, false
}

// usage renders a rate and a working set as metrics-server does: CPU in
// nano-cores (canonical form, "250m", "137284n"), memory in bytes
// (binary form, "64Mi", "24372Ki").
func usage(nanoCores, workingSet uint64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(nanoCores), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(workingSet), resource.BinarySI),
	}
}
