package registry

// coreStrategies are the strategies of core/v1 resources with special
// behaviour; a nil one means the generic strategy.
type coreStrategies struct {
	componentStatus, configMap, endpoints, event, limitRange, namespace, node *typeStrategy
	pvc, pv, pod, podTemplate, rc, quota, secret, serviceAccount, service     *typeStrategy
	eventConverter                                                            Converter
}

// strategies holds one strategy per resource with special behaviour. It is
// built afresh by every New, so registries never share state.
type strategies struct {
	core coreStrategies

	controllerRevision, daemonSet, deployment, replicaSet, statefulSet *typeStrategy
	hpa                                                                *typeStrategy
	hpaConverter                                                       Converter
	cronJob, job, csr                                                  *typeStrategy
	ingressClass, ingress, ipAddress, networkPolicy, serviceCIDR       *typeStrategy
	pdb, clusterRoleBinding, clusterRole, roleBinding, role            *typeStrategy
	csiDriver, csiNode, storageClass, volumeAttachment                 *typeStrategy
	volumeAttributesClass, mutatingWebhooks, validatingWebhooks        *typeStrategy
	priorityClass, lease, runtimeClass, endpointSlice                  *typeStrategy
	flowSchema, priorityLevel                                          *typeStrategy
}

func newStrategies() *strategies {
	s := &strategies{}
	s.core = coreStrategies{
		componentStatus: componentStatusStrategy(),
		configMap:       configMapStrategy(),
		endpoints:       endpointsStrategy(),
		event:           eventStrategy(),
		eventConverter:  eventConverter{},
		limitRange:      limitRangeStrategy(),
		namespace:       namespaceStrategy(),
		node:            nodeStrategy(),
		pvc:             pvcStrategy(),
		pv:              pvStrategy(),
		pod:             podStrategy(),
		podTemplate:     podTemplateStrategy(),
		rc:              rcStrategy(),
		quota:           &typeStrategy{namespaced: true, status: true, columns: resourceQuotaColumns(), row: resourceQuotaRow},
		secret:          secretStrategy(),
		serviceAccount:  serviceAccountStrategy(),
		service:         serviceStrategy(),
	}
	s.controllerRevision = controllerRevisionStrategy()
	s.deployment = deploymentStrategy()
	s.replicaSet = replicaSetStrategy()
	s.statefulSet = statefulSetStrategy()
	s.daemonSet = daemonSetStrategy()
	s.job = jobStrategy()
	s.cronJob = cronJobStrategy()
	s.hpa = hpaStrategy()
	s.hpaConverter = hpaConverter{}
	s.csr = csrStrategy()
	s.ingress = ingressStrategy()
	s.ingressClass = ingressClassStrategy()
	s.networkPolicy = networkPolicyStrategy()
	s.ipAddress = ipAddressStrategy()
	s.serviceCIDR = serviceCIDRStrategy()
	s.pdb = pdbStrategy()
	s.lease = leaseStrategy()
	s.priorityClass = priorityClassStrategy()
	s.role = rbacRoleStrategy(true)
	s.clusterRole = rbacRoleStrategy(false)
	s.roleBinding = roleBindingStrategy(true)
	s.clusterRoleBinding = roleBindingStrategy(false)
	s.endpointSlice = endpointSliceStrategy()
	s.storageClass = storageClassStrategy()
	s.csiDriver = csiDriverStrategy()
	s.csiNode = csiNodeStrategy()
	s.volumeAttachment = volumeAttachmentStrategy()
	s.volumeAttributesClass = volumeAttributesClassStrategy()
	s.runtimeClass = runtimeClassStrategy()
	s.mutatingWebhooks = webhookStrategy(true)
	s.validatingWebhooks = webhookStrategy(false)
	s.flowSchema = flowSchemaStrategy()
	s.priorityLevel = priorityLevelStrategy()
	withTemplateWarnings(s.deployment, s.replicaSet, s.statefulSet, s.daemonSet, s.job, s.cronJob, s.core.rc, s.core.podTemplate)
	for _, st := range []*typeStrategy{s.core.node, s.core.namespace, s.core.service, s.core.pvc, s.core.pv, s.core.rc, s.core.quota,
		s.replicaSet, s.statefulSet, s.daemonSet, s.job, s.cronJob, s.hpa, s.pdb, s.ingress} {
		st.statusMeta = statusSpecOnly
	}
	s.deployment.statusMeta = statusKeepsLabels
	s.core.pod.statusMeta = statusKeepsOwners
	return s
}
