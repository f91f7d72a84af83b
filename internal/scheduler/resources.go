package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Defaults the scoring plugins assume for a container that requests no CPU
// or memory, as upstream (so best-effort pods still spread).
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// resources is a resource list in the units the scheduler compares: CPU in
// millicores, memory and ephemeral storage in bytes, scalar resources
// (extended resources, hugepages, attachable volumes) by name, and for a
// node's allocatable the number of pods it allows.
type resources struct {
	milliCPU  int64
	memory    int64
	ephemeral int64
	pods      int
	scalar    map[corev1.ResourceName]int64
}

// resourcesOf converts a resource list, summing like upstream's Resource.Add.
func resourcesOf(rl corev1.ResourceList) resources {
	var r resources
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeral += q.Value()
		case corev1.ResourcePods:
			r.pods += int(q.Value())
		default:
			if isScalarResource(name) {
				r.addScalar(name, q.Value())
			}
		}
	}
	return r
}

func (r *resources) addScalar(name corev1.ResourceName, v int64) {
	if r.scalar == nil {
		r.scalar = make(map[corev1.ResourceName]int64, 1)
	}
	r.scalar[name] += v
}

// add adds o to r (pods are not added: they are counted per node).
func (r *resources) add(o *resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.ephemeral += o.ephemeral
	for n, v := range o.scalar {
		r.addScalar(n, v)
	}
}

// sub subtracts o from r.
func (r *resources) sub(o *resources) {
	r.milliCPU -= o.milliCPU
	r.memory -= o.memory
	r.ephemeral -= o.ephemeral
	for n, v := range o.scalar {
		r.addScalar(n, -v)
	}
}

// clone copies r, including its scalar map.
func (r resources) clone() resources {
	if r.scalar != nil {
		m := make(map[corev1.ResourceName]int64, len(r.scalar))
		for k, v := range r.scalar {
			m[k] = v
		}
		r.scalar = m
	}
	return r
}

// empty reports whether r requests nothing (pods aside).
func (r *resources) empty() bool {
	return r.milliCPU == 0 && r.memory == 0 && r.ephemeral == 0 && len(r.scalar) == 0
}

// isScalarResource is upstream's IsScalarResourceName: extended resources
// (a domain-qualified name outside kubernetes.io), hugepages, prefixed
// native resources and attachable volumes.
func isScalarResource(name corev1.ResourceName) bool {
	s := string(name)
	switch {
	case strings.HasPrefix(s, corev1.ResourceHugePagesPrefix), strings.HasPrefix(s, corev1.ResourceAttachableVolumesPrefix):
		return true
	case strings.Contains(s, "kubernetes.io/"):
		return true
	case strings.Contains(s, "/"):
		return !strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) &&
			len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
	}
	return false
}

// isExtendedResource is upstream's IsExtendedResourceName.
func isExtendedResource(name corev1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.Contains(s, "kubernetes.io/") {
		return false
	}
	return !strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) &&
		len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
}

// podRequests computes what a pod asks of a node as upstream does: the sum
// of its containers and sidecars (restartable init containers) or the
// largest init container, whichever is more for each resource, pod-level
// resources when set, plus the pod overhead. nonZeroCPU and nonZeroMemory
// are the same with upstream's defaults for containers that request no CPU
// or memory, which the scoring plugins use.
func podRequests(pod *corev1.Pod) (req resources, nonZeroCPU, nonZeroMemory int64) {
	req = resourcesOf(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	req.pods = 0
	defaults := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.DecimalSI),
	}
	if resourcehelper.IsPodLevelRequestsSet(pod) {
		for name := range pod.Spec.Resources.Requests {
			delete(defaults, name)
		}
	}
	nz := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: defaults})
	return req, nz.Cpu().MilliValue(), nz.Memory().Value()
}
