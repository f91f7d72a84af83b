package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// nodeInfo is the scheduler's view of one node: the Node object and the pods
// on it (bound or assumed), with their requests summed so that filters and
// scores cost O(1) per node. It is updated incrementally from informer
// events; a copy is made only for preemption's what-if simulations.
type nodeInfo struct {
	node        *corev1.Node // nil while only pods naming the node are known
	allocatable resources
	images      map[string]int64 // normalized image name → size

	pods             []*podInfo
	affinityPods     []*podInfo // pods with any (anti-)affinity terms
	antiAffinityPods []*podInfo // pods with required anti-affinity terms
	requested        resources
	nonZeroCPU       int64
	nonZeroMemory    int64
	ports            []hostPort
}

func newNodeInfo(node *corev1.Node) *nodeInfo {
	ni := &nodeInfo{}
	if node != nil {
		ni.setNode(node)
	}
	return ni
}

// setNode records a new version of the Node object.
func (ni *nodeInfo) setNode(node *corev1.Node) {
	ni.node = node
	ni.allocatable = resourcesOf(node.Status.Allocatable)
	ni.images = nil
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			if ni.images == nil {
				ni.images = make(map[string]int64, len(node.Status.Images))
			}
			ni.images[normalizedImageName(name)] = img.SizeBytes
		}
	}
}

func (ni *nodeInfo) name() string {
	if ni.node == nil {
		return ""
	}
	return ni.node.Name
}

// addPod accounts for a pod placed on this node.
func (ni *nodeInfo) addPod(pi *podInfo) {
	ni.pods = append(ni.pods, pi)
	if pi.hasAffinity() {
		ni.affinityPods = append(ni.affinityPods, pi)
	}
	if len(pi.requiredAntiAffinity) > 0 {
		ni.antiAffinityPods = append(ni.antiAffinityPods, pi)
	}
	ni.requested.add(&pi.req)
	ni.nonZeroCPU += pi.nonZeroCPU
	ni.nonZeroMemory += pi.nonZeroMemory
	ni.ports = append(ni.ports, pi.ports...)
}

// removePod undoes addPod for the pod with uid; it reports whether the pod
// was there.
func (ni *nodeInfo) removePod(uid types.UID) bool {
	i := indexOf(ni.pods, uid)
	if i < 0 {
		return false
	}
	pi := ni.pods[i]
	ni.pods = removeAt(ni.pods, i)
	if j := indexOf(ni.affinityPods, uid); j >= 0 {
		ni.affinityPods = removeAt(ni.affinityPods, j)
	}
	if j := indexOf(ni.antiAffinityPods, uid); j >= 0 {
		ni.antiAffinityPods = removeAt(ni.antiAffinityPods, j)
	}
	ni.requested.sub(&pi.req)
	ni.nonZeroCPU -= pi.nonZeroCPU
	ni.nonZeroMemory -= pi.nonZeroMemory
	ni.removePorts(pi.ports)
	return true
}

func (ni *nodeInfo) removePorts(ports []hostPort) {
	for _, p := range ports {
		for k, q := range ni.ports {
			if p == q {
				ni.ports = append(ni.ports[:k], ni.ports[k+1:]...)
				break
			}
		}
	}
}

// clone copies the node's accounting so that a simulation can add and
// remove pods without touching the cache. Pod infos are shared.
func (ni *nodeInfo) clone() *nodeInfo {
	c := *ni
	c.pods = append([]*podInfo(nil), ni.pods...)
	c.affinityPods = append([]*podInfo(nil), ni.affinityPods...)
	c.antiAffinityPods = append([]*podInfo(nil), ni.antiAffinityPods...)
	c.ports = append([]hostPort(nil), ni.ports...)
	c.requested = ni.requested.clone()
	return &c
}

func indexOf(pods []*podInfo, uid types.UID) int {
	for i, p := range pods {
		if p.uid == uid {
			return i
		}
	}
	return -1
}

// removeAt removes element i in place, keeping the order of the rest
// (clones copy their slices, so they never share a backing array).
func removeAt(pods []*podInfo, i int) []*podInfo {
	copy(pods[i:], pods[i+1:])
	pods[len(pods)-1] = nil
	return pods[:len(pods)-1]
}

// normalizedImageName adds ":latest" to a name without a tag, as upstream's
// ImageLocality does before comparing names.
func normalizedImageName(name string) string {
	if strings.LastIndex(name, ":") <= strings.LastIndex(name, "/") {
		name += ":latest"
	}
	return name
}
