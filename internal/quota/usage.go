package quota

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	resourcehelper "k8s.io/component-helpers/resource"
)

var (
	podsGR     = schema.GroupResource{Resource: "pods"}
	servicesGR = schema.GroupResource{Resource: "services"}
	claimsGR   = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

// storageClassSuffix joins a storage class name and what a quota limits
// of its claims: gold.storageclass.storage.k8s.io/requests.storage.
const storageClassSuffix = ".storageclass.storage.k8s.io"

// legacyCounts are the resources with a count name of their own besides
// count/<resource>.
var legacyCounts = map[schema.GroupResource]corev1.ResourceName{
	{Resource: "pods"}:                   corev1.ResourcePods,
	{Resource: "services"}:               corev1.ResourceServices,
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
	{Resource: "persistentvolumeclaims"}: corev1.ResourcePersistentVolumeClaims,
}

// ObjectCountName is count/<resource>[.<group>].
func ObjectCountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// ParseObjectCountName is ObjectCountName backwards.
func ParseObjectCountName(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	r, g, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: g, Resource: r}, true
}

// CountedResource reports which resource a quota resource name counts
// objects of (pods for "pods", deployments.apps for
// "count/deployments.apps"), if any.
func CountedResource(name corev1.ResourceName) (schema.GroupResource, bool) {
	for gr, n := range legacyCounts {
		if n == name {
			return gr, true
		}
	}
	switch name {
	case corev1.ResourceServicesLoadBalancers, corev1.ResourceServicesNodePorts:
		return servicesGR, true
	}
	if strings.Contains(string(name), storageClassSuffix+"/") || name == corev1.ResourceRequestsStorage {
		return claimsGR, true
	}
	if gr, ok := ParseObjectCountName(name); ok {
		return gr, true
	}
	if isPodResource(name) {
		return podsGR, true
	}
	return schema.GroupResource{}, false
}

// Usage is what obj, an object of resource gr, uses. Objects other than
// pods, services and claims (read only through metav1.Object) count once.
func Usage(gr schema.GroupResource, obj metav1.Object, now time.Time) corev1.ResourceList {
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{ObjectCountName(gr): one}
	switch o := obj.(type) {
	case *corev1.Pod:
		if !PodCounts(o, now) {
			return out // count/pods counts every stored pod; the rest only live ones
		}
		add(out, podCompute(resourcehelper.PodRequests(o, resourcehelper.PodResourcesOptions{}),
			resourcehelper.PodLimits(o, resourcehelper.PodResourcesOptions{})))
		return out
	case *corev1.Service:
		out[corev1.ResourceServices] = one
		switch o.Spec.Type {
		case corev1.ServiceTypeLoadBalancer:
			out[corev1.ResourceServicesLoadBalancers] = one
			fallthrough
		case corev1.ServiceTypeNodePort:
			n := int64(0)
			for _, p := range o.Spec.Ports {
				if o.Spec.Type == corev1.ServiceTypeNodePort || p.NodePort != 0 || o.Spec.AllocateLoadBalancerNodePorts == nil || *o.Spec.AllocateLoadBalancerNodePorts {
					n++
				}
			}
			out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(n, resource.DecimalSI)
		}
		return out
	case *corev1.PersistentVolumeClaim:
		out[corev1.ResourcePersistentVolumeClaims] = one
		storage := o.Spec.Resources.Requests[corev1.ResourceStorage]
		if a, ok := o.Status.AllocatedResources[corev1.ResourceStorage]; ok && a.Cmp(storage) > 0 {
			storage = a
		}
		out[corev1.ResourceRequestsStorage] = storage
		if class := claimClass(o); class != "" {
			out[corev1.ResourceName(class+storageClassSuffix+"/"+string(corev1.ResourcePersistentVolumeClaims))] = one
			out[corev1.ResourceName(class+storageClassSuffix+"/"+string(corev1.ResourceRequestsStorage))] = storage
		}
		return out
	}
	if n, ok := legacyCounts[gr]; ok {
		out[n] = one
	}
	return out
}

// PodCounts reports whether a pod's compute resources count: it has not
// finished and is not past its deletion grace period.
func PodCounts(p *corev1.Pod, now time.Time) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds != nil {
		return !now.After(p.DeletionTimestamp.Add(time.Duration(*p.DeletionGracePeriodSeconds) * time.Second))
	}
	return true
}

// podCompute is upstream's mapping of requests and limits to quota names.
func podCompute(requests, limits corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(1, resource.DecimalSI)}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			out[r] = q
			out[corev1.DefaultResourceRequestsPrefix+r] = q
		}
		if q, ok := limits[r]; ok {
			out[corev1.ResourceName("limits.")+r] = q
		}
	}
	for r, q := range requests {
		switch {
		case strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix):
			out[r] = q
			out[corev1.DefaultResourceRequestsPrefix+r] = q
		case isExtended(r):
			out[corev1.DefaultResourceRequestsPrefix+r] = q
		}
	}
	return out
}

// isExtended reports an extended resource name (example.com/gpu): fully
// qualified, outside kubernetes.io, not requests.* itself.
func isExtended(r corev1.ResourceName) bool {
	s := string(r)
	if !strings.Contains(s, "/") || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	domain, _, _ := strings.Cut(s, "/")
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

func claimClass(c *corev1.PersistentVolumeClaim) string {
	if c.Spec.StorageClassName != nil {
		return *c.Spec.StorageClassName
	}
	return c.Annotations[corev1.BetaStorageClassAnnotation]
}

func add(into, more corev1.ResourceList) {
	for k, v := range more {
		cur := into[k]
		cur.Add(v)
		into[k] = cur
	}
}
