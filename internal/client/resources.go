package client

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
)

// Typed clients of the resources kserver's components use. Namespace ""
// means all namespaces (or a cluster-scoped resource). Other resources are
// reached with For.

func (s *Set) Pods(ns string) *Typed[*corev1.Pod, *corev1.PodList] {
	return For[*corev1.Pod, *corev1.PodList](s, corev1.SchemeGroupVersion.WithResource("pods"), ns)
}

func (s *Set) Services(ns string) *Typed[*corev1.Service, *corev1.ServiceList] {
	return For[*corev1.Service, *corev1.ServiceList](s, corev1.SchemeGroupVersion.WithResource("services"), ns)
}

func (s *Set) Endpoints(ns string) *Typed[*corev1.Endpoints, *corev1.EndpointsList] {
	return For[*corev1.Endpoints, *corev1.EndpointsList](s, corev1.SchemeGroupVersion.WithResource("endpoints"), ns)
}

func (s *Set) ConfigMaps(ns string) *Typed[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return For[*corev1.ConfigMap, *corev1.ConfigMapList](s, corev1.SchemeGroupVersion.WithResource("configmaps"), ns)
}

func (s *Set) Secrets(ns string) *Typed[*corev1.Secret, *corev1.SecretList] {
	return For[*corev1.Secret, *corev1.SecretList](s, corev1.SchemeGroupVersion.WithResource("secrets"), ns)
}

func (s *Set) ServiceAccounts(ns string) *Typed[*corev1.ServiceAccount, *corev1.ServiceAccountList] {
	return For[*corev1.ServiceAccount, *corev1.ServiceAccountList](s, corev1.SchemeGroupVersion.WithResource("serviceaccounts"), ns)
}

func (s *Set) Nodes() *Typed[*corev1.Node, *corev1.NodeList] {
	return For[*corev1.Node, *corev1.NodeList](s, corev1.SchemeGroupVersion.WithResource("nodes"), "")
}

func (s *Set) Namespaces() *Typed[*corev1.Namespace, *corev1.NamespaceList] {
	return For[*corev1.Namespace, *corev1.NamespaceList](s, corev1.SchemeGroupVersion.WithResource("namespaces"), "")
}

func (s *Set) Events(ns string) *Typed[*corev1.Event, *corev1.EventList] {
	return For[*corev1.Event, *corev1.EventList](s, corev1.SchemeGroupVersion.WithResource("events"), ns)
}

func (s *Set) ReplicationControllers(ns string) *Typed[*corev1.ReplicationController, *corev1.ReplicationControllerList] {
	return For[*corev1.ReplicationController, *corev1.ReplicationControllerList](s, corev1.SchemeGroupVersion.WithResource("replicationcontrollers"), ns)
}

func (s *Set) PersistentVolumes() *Typed[*corev1.PersistentVolume, *corev1.PersistentVolumeList] {
	return For[*corev1.PersistentVolume, *corev1.PersistentVolumeList](s, corev1.SchemeGroupVersion.WithResource("persistentvolumes"), "")
}

func (s *Set) PersistentVolumeClaims(ns string) *Typed[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList] {
	return For[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList](s, corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), ns)
}

func (s *Set) ResourceQuotas(ns string) *Typed[*corev1.ResourceQuota, *corev1.ResourceQuotaList] {
	return For[*corev1.ResourceQuota, *corev1.ResourceQuotaList](s, corev1.SchemeGroupVersion.WithResource("resourcequotas"), ns)
}

func (s *Set) LimitRanges(ns string) *Typed[*corev1.LimitRange, *corev1.LimitRangeList] {
	return For[*corev1.LimitRange, *corev1.LimitRangeList](s, corev1.SchemeGroupVersion.WithResource("limitranges"), ns)
}

func (s *Set) Deployments(ns string) *Typed[*appsv1.Deployment, *appsv1.DeploymentList] {
	return For[*appsv1.Deployment, *appsv1.DeploymentList](s, appsv1.SchemeGroupVersion.WithResource("deployments"), ns)
}

func (s *Set) ReplicaSets(ns string) *Typed[*appsv1.ReplicaSet, *appsv1.ReplicaSetList] {
	return For[*appsv1.ReplicaSet, *appsv1.ReplicaSetList](s, appsv1.SchemeGroupVersion.WithResource("replicasets"), ns)
}

func (s *Set) StatefulSets(ns string) *Typed[*appsv1.StatefulSet, *appsv1.StatefulSetList] {
	return For[*appsv1.StatefulSet, *appsv1.StatefulSetList](s, appsv1.SchemeGroupVersion.WithResource("statefulsets"), ns)
}

func (s *Set) DaemonSets(ns string) *Typed[*appsv1.DaemonSet, *appsv1.DaemonSetList] {
	return For[*appsv1.DaemonSet, *appsv1.DaemonSetList](s, appsv1.SchemeGroupVersion.WithResource("daemonsets"), ns)
}

func (s *Set) ControllerRevisions(ns string) *Typed[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList] {
	return For[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList](s, appsv1.SchemeGroupVersion.WithResource("controllerrevisions"), ns)
}

func (s *Set) Jobs(ns string) *Typed[*batchv1.Job, *batchv1.JobList] {
	return For[*batchv1.Job, *batchv1.JobList](s, batchv1.SchemeGroupVersion.WithResource("jobs"), ns)
}

func (s *Set) CronJobs(ns string) *Typed[*batchv1.CronJob, *batchv1.CronJobList] {
	return For[*batchv1.CronJob, *batchv1.CronJobList](s, batchv1.SchemeGroupVersion.WithResource("cronjobs"), ns)
}

func (s *Set) Leases(ns string) *Typed[*coordinationv1.Lease, *coordinationv1.LeaseList] {
	return For[*coordinationv1.Lease, *coordinationv1.LeaseList](s, coordinationv1.SchemeGroupVersion.WithResource("leases"), ns)
}

func (s *Set) EndpointSlices(ns string) *Typed[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList] {
	return For[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList](s, discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), ns)
}

func (s *Set) PodDisruptionBudgets(ns string) *Typed[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList] {
	return For[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList](s, policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"), ns)
}

func (s *Set) NetworkPolicies(ns string) *Typed[*networkingv1.NetworkPolicy, *networkingv1.NetworkPolicyList] {
	return For[*networkingv1.NetworkPolicy, *networkingv1.NetworkPolicyList](s, networkingv1.SchemeGroupVersion.WithResource("networkpolicies"), ns)
}

func (s *Set) Ingresses(ns string) *Typed[*networkingv1.Ingress, *networkingv1.IngressList] {
	return For[*networkingv1.Ingress, *networkingv1.IngressList](s, networkingv1.SchemeGroupVersion.WithResource("ingresses"), ns)
}

func (s *Set) PriorityClasses() *Typed[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList] {
	return For[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList](s, schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), "")
}

func (s *Set) StorageClasses() *Typed[*storagev1.StorageClass, *storagev1.StorageClassList] {
	return For[*storagev1.StorageClass, *storagev1.StorageClassList](s, storagev1.SchemeGroupVersion.WithResource("storageclasses"), "")
}

func (s *Set) HorizontalPodAutoscalers(ns string) *Typed[*autoscalingv2.HorizontalPodAutoscaler, *autoscalingv2.HorizontalPodAutoscalerList] {
	return For[*autoscalingv2.HorizontalPodAutoscaler, *autoscalingv2.HorizontalPodAutoscalerList](s, autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"), ns)
}
