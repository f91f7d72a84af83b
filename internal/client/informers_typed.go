package client

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/client-go/tools/cache"
)

// Shared informers of the resources kserver's components watch, over all
// namespaces and unfiltered. Build listers on GetIndexer(), e.g.
// corelisters.NewPodLister(f.Pods().GetIndexer()).

func (f *Informers) Pods() cache.SharedIndexInformer {
	return InformerFor[*corev1.Pod, *corev1.PodList](f, corev1.SchemeGroupVersion.WithResource("pods"), ListFilter{})
}

func (f *Informers) Services() cache.SharedIndexInformer {
	return InformerFor[*corev1.Service, *corev1.ServiceList](f, corev1.SchemeGroupVersion.WithResource("services"), ListFilter{})
}

func (f *Informers) Endpoints() cache.SharedIndexInformer {
	return InformerFor[*corev1.Endpoints, *corev1.EndpointsList](f, corev1.SchemeGroupVersion.WithResource("endpoints"), ListFilter{})
}

func (f *Informers) ConfigMaps() cache.SharedIndexInformer {
	return InformerFor[*corev1.ConfigMap, *corev1.ConfigMapList](f, corev1.SchemeGroupVersion.WithResource("configmaps"), ListFilter{})
}

func (f *Informers) Secrets() cache.SharedIndexInformer {
	return InformerFor[*corev1.Secret, *corev1.SecretList](f, corev1.SchemeGroupVersion.WithResource("secrets"), ListFilter{})
}

func (f *Informers) ServiceAccounts() cache.SharedIndexInformer {
	return InformerFor[*corev1.ServiceAccount, *corev1.ServiceAccountList](f, corev1.SchemeGroupVersion.WithResource("serviceaccounts"), ListFilter{})
}

func (f *Informers) Nodes() cache.SharedIndexInformer {
	return InformerFor[*corev1.Node, *corev1.NodeList](f, corev1.SchemeGroupVersion.WithResource("nodes"), ListFilter{})
}

func (f *Informers) Namespaces() cache.SharedIndexInformer {
	return InformerFor[*corev1.Namespace, *corev1.NamespaceList](f, corev1.SchemeGroupVersion.WithResource("namespaces"), ListFilter{})
}

func (f *Informers) ReplicationControllers() cache.SharedIndexInformer {
	return InformerFor[*corev1.ReplicationController, *corev1.ReplicationControllerList](f, corev1.SchemeGroupVersion.WithResource("replicationcontrollers"), ListFilter{})
}

func (f *Informers) PersistentVolumes() cache.SharedIndexInformer {
	return InformerFor[*corev1.PersistentVolume, *corev1.PersistentVolumeList](f, corev1.SchemeGroupVersion.WithResource("persistentvolumes"), ListFilter{})
}

func (f *Informers) PersistentVolumeClaims() cache.SharedIndexInformer {
	return InformerFor[*corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList](f, corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), ListFilter{})
}

func (f *Informers) ResourceQuotas() cache.SharedIndexInformer {
	return InformerFor[*corev1.ResourceQuota, *corev1.ResourceQuotaList](f, corev1.SchemeGroupVersion.WithResource("resourcequotas"), ListFilter{})
}

func (f *Informers) LimitRanges() cache.SharedIndexInformer {
	return InformerFor[*corev1.LimitRange, *corev1.LimitRangeList](f, corev1.SchemeGroupVersion.WithResource("limitranges"), ListFilter{})
}

func (f *Informers) Deployments() cache.SharedIndexInformer {
	return InformerFor[*appsv1.Deployment, *appsv1.DeploymentList](f, appsv1.SchemeGroupVersion.WithResource("deployments"), ListFilter{})
}

func (f *Informers) ReplicaSets() cache.SharedIndexInformer {
	return InformerFor[*appsv1.ReplicaSet, *appsv1.ReplicaSetList](f, appsv1.SchemeGroupVersion.WithResource("replicasets"), ListFilter{})
}

func (f *Informers) StatefulSets() cache.SharedIndexInformer {
	return InformerFor[*appsv1.StatefulSet, *appsv1.StatefulSetList](f, appsv1.SchemeGroupVersion.WithResource("statefulsets"), ListFilter{})
}

func (f *Informers) DaemonSets() cache.SharedIndexInformer {
	return InformerFor[*appsv1.DaemonSet, *appsv1.DaemonSetList](f, appsv1.SchemeGroupVersion.WithResource("daemonsets"), ListFilter{})
}

func (f *Informers) ControllerRevisions() cache.SharedIndexInformer {
	return InformerFor[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList](f, appsv1.SchemeGroupVersion.WithResource("controllerrevisions"), ListFilter{})
}

func (f *Informers) Jobs() cache.SharedIndexInformer {
	return InformerFor[*batchv1.Job, *batchv1.JobList](f, batchv1.SchemeGroupVersion.WithResource("jobs"), ListFilter{})
}

func (f *Informers) CronJobs() cache.SharedIndexInformer {
	return InformerFor[*batchv1.CronJob, *batchv1.CronJobList](f, batchv1.SchemeGroupVersion.WithResource("cronjobs"), ListFilter{})
}

func (f *Informers) Leases() cache.SharedIndexInformer {
	return InformerFor[*coordinationv1.Lease, *coordinationv1.LeaseList](f, coordinationv1.SchemeGroupVersion.WithResource("leases"), ListFilter{})
}

func (f *Informers) EndpointSlices() cache.SharedIndexInformer {
	return InformerFor[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList](f, discoveryv1.SchemeGroupVersion.WithResource("endpointslices"), ListFilter{})
}

func (f *Informers) PodDisruptionBudgets() cache.SharedIndexInformer {
	return InformerFor[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList](f, policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"), ListFilter{})
}

func (f *Informers) NetworkPolicies() cache.SharedIndexInformer {
	return InformerFor[*networkingv1.NetworkPolicy, *networkingv1.NetworkPolicyList](f, networkingv1.SchemeGroupVersion.WithResource("networkpolicies"), ListFilter{})
}

func (f *Informers) PriorityClasses() cache.SharedIndexInformer {
	return InformerFor[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList](f, schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), ListFilter{})
}

func (f *Informers) StorageClasses() cache.SharedIndexInformer {
	return InformerFor[*storagev1.StorageClass, *storagev1.StorageClassList](f, storagev1.SchemeGroupVersion.WithResource("storageclasses"), ListFilter{})
}
