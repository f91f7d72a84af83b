package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cache is the scheduler's picture of the cluster: node infos with the pods
// bound or assumed on them, and the pods nominated to nodes by preemption.
// Informer handlers update it incrementally; a scheduling cycle reads it
// with mu held, so no snapshot copy is needed.
type cache struct {
	mu sync.Mutex

	nodes      map[string]*nodeInfo
	list       []*nodeInfo // nodes with a Node object, in arrival order
	pods       map[types.UID]*cachedPod
	imageNodes map[string]int // normalized image name → nodes that have it

	nominated map[string][]*podInfo // node → pods nominated to it
	nominee   map[types.UID]string  // pod → node it is nominated to
}

type cachedPod struct {
	info    *podInfo
	assumed bool // placed by this scheduler, not yet seen bound by the informer
}

func newCache() *cache {
	return &cache{
		nodes:      map[string]*nodeInfo{},
		pods:       map[types.UID]*cachedPod{},
		imageNodes: map[string]int{},
		nominated:  map[string][]*podInfo{},
		nominee:    map[types.UID]string{},
	}
}

// setNode adds or updates a Node.
func (c *cache) setNode(node *corev1.Node) {
	ni, ok := c.nodes[node.Name]
	if !ok {
		ni = newNodeInfo(nil)
		c.nodes[node.Name] = ni
	}
	if ni.node == nil {
		c.list = append(c.list, ni)
	}
	c.countImages(ni, -1)
	ni.setNode(node)
	c.countImages(ni, 1)
}

// removeNode forgets a Node; its pods stay accounted until they go.
func (c *cache) removeNode(name string) {
	ni, ok := c.nodes[name]
	if !ok || ni.node == nil {
		return
	}
	c.countImages(ni, -1)
	for i, n := range c.list {
		if n == ni {
			c.list = append(c.list[:i], c.list[i+1:]...)
			break
		}
	}
	ni.node, ni.images = nil, nil
	if len(ni.pods) == 0 {
		delete(c.nodes, name)
	}
}

func (c *cache) countImages(ni *nodeInfo, delta int) {
	for name := range ni.images {
		c.imageNodes[name] += delta
		if c.imageNodes[name] <= 0 {
			delete(c.imageNodes, name)
		}
	}
}

func (c *cache) nodeFor(name string) *nodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = newNodeInfo(nil)
		c.nodes[name] = ni
	}
	return ni
}

// setPod records a pod the informer reports bound to a node (an add or
// update, which also confirms a pod this scheduler assumed).
func (c *cache) setPod(pi *podInfo) {
	if old, ok := c.pods[pi.uid]; ok {
		c.unplace(old.info)
	}
	c.pods[pi.uid] = &cachedPod{info: pi}
	c.nodeFor(pi.nodeName).addPod(pi)
	c.clearNomination(pi.uid)
}

// removePod forgets a pod (deleted, finished, or a failed assumption).
func (c *cache) removePod(uid types.UID) *podInfo {
	cp, ok := c.pods[uid]
	if !ok {
		return nil
	}
	delete(c.pods, uid)
	c.unplace(cp.info)
	return cp.info
}

func (c *cache) unplace(pi *podInfo) {
	ni, ok := c.nodes[pi.nodeName]
	if !ok {
		return
	}
	ni.removePod(pi.uid)
	if ni.node == nil && len(ni.pods) == 0 {
		delete(c.nodes, pi.nodeName)
	}
}

// assume places a pod on its chosen node before the binding is written, so
// the next cycles see the node's resources taken.
func (c *cache) assume(pi *podInfo) {
	c.setPod(pi)
	c.pods[pi.uid].assumed = true
}

// forget undoes assume when binding failed; a pod the informer has since
// confirmed is left alone.
func (c *cache) forget(uid types.UID) {
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		c.removePod(uid)
	}
}

func (c *cache) isAssumed(uid types.UID) bool {
	cp, ok := c.pods[uid]
	return ok && cp.assumed
}

// nominate records that pi is expected to run on node once preemption's
// victims are gone; other pods' cycles count it there.
func (c *cache) nominate(pi *podInfo, node string) {
	c.clearNomination(pi.uid)
	if node == "" {
		return
	}
	c.nominated[node] = append(c.nominated[node], pi)
	c.nominee[pi.uid] = node
}

func (c *cache) clearNomination(uid types.UID) {
	node, ok := c.nominee[uid]
	if !ok {
		return
	}
	delete(c.nominee, uid)
	list := c.nominated[node]
	if i := indexOf(list, uid); i >= 0 {
		list = removeAt(list, i)
	}
	if len(list) == 0 {
		delete(c.nominated, node)
	} else {
		c.nominated[node] = list
	}
}

// nominatedFor lists the pods nominated to node that pi must leave room
// for: those of at least its priority, other than itself.
func (c *cache) nominatedFor(node string, pi *podInfo) []*podInfo {
	list := c.nominated[node]
	if len(list) == 0 {
		return nil
	}
	var out []*podInfo
	for _, np := range list {
		if np.uid != pi.uid && np.priority >= pi.priority {
			out = append(out, np)
		}
	}
	return out
}
