package registry

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// catalogGroups lists every group kube-apiserver serves by default, in the
// order of /apis (kube-aggregator's group priorities: apps 17800,
// events.k8s.io 17750, authentication 17700, … storagemigration 15800).
// Groups served by other servers in upstream (apiregistration.k8s.io,
// apiextensions.k8s.io) are not in k8s.io/api and are not listed here.
// Only versions enabled by default are served: v1 (and autoscaling/v2);
// every beta and alpha version is off by default upstream.
func catalogGroups() []groupSpec {
	s := newStrategies()
	const ns, cluster = true, false
	apiExt := cats("api-extensions")
	return []groupSpec{
		coreGroup(&s.core),
		{name: "apps", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("controllerrevisions", "controllerrevision", "ControllerRevision", ns, strategy(s.controllerRevision)),
			res("daemonsets", "daemonset", "DaemonSet", ns, short("ds"), inAll(), withStatus(), strategy(s.daemonSet)),
			res("deployments", "deployment", "Deployment", ns, short("deploy"), inAll(), withScale(), withStatus(),
				strategy(s.deployment)),
			res("replicasets", "replicaset", "ReplicaSet", ns, short("rs"), inAll(), withScale(), withStatus(),
				strategy(s.replicaSet)),
			res("statefulsets", "statefulset", "StatefulSet", ns, short("sts"), inAll(), withScale(), withStatus(),
				strategy(s.statefulSet)),
		}}}},
		{name: "events.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("events", "event", "Event", ns, short("ev"), strategy(s.core.event), converter(s.core.eventConverter),
				storedAs(schema.GroupVersion{Version: "v1"}),
				// upstream's field label conversion for events.k8s.io/v1
				fieldLabels("regarding.kind=involvedObject.kind", "regarding.namespace=involvedObject.namespace",
					"regarding.name=involvedObject.name", "regarding.uid=involvedObject.uid",
					"regarding.apiVersion=involvedObject.apiVersion", "regarding.resourceVersion=involvedObject.resourceVersion",
					"regarding.fieldPath=involvedObject.fieldPath", "reason", "reportingController=reportingComponent", "type")),
		}}}},
		{name: "authentication.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", cluster, verbs("create")),
			res("tokenreviews", "tokenreview", "TokenReview", cluster, verbs("create")),
		}}}},
		{name: "authorization.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("localsubjectaccessreviews", "localsubjectaccessreview", "LocalSubjectAccessReview", ns, verbs("create")),
			res("selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", cluster, verbs("create")),
			res("selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", cluster, verbs("create")),
			res("subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", cluster, verbs("create")),
		}}}},
		{name: "autoscaling", versions: []versionSpec{
			{version: "v2", resources: []*Resource{hpaResource(s)}},
			{version: "v1", resources: []*Resource{hpaResource(s)}},
		}},
		{name: "batch", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("cronjobs", "cronjob", "CronJob", ns, short("cj"), inAll(), withStatus(), strategy(s.cronJob)),
			res("jobs", "job", "Job", ns, inAll(), withStatus(), strategy(s.job), fieldLabels("status.successful")),
		}}}},
		{name: "certificates.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", cluster, short("csr"),
				sub("approval", "get", "patch", "update"), withStatus(), strategy(s.csr), fieldLabels("spec.signerName")),
			res("clustertrustbundles", "clustertrustbundle", "ClusterTrustBundle", cluster),
			res("podcertificaterequests", "podcertificaterequest", "PodCertificateRequest", ns, withStatus()),
		}}}},
		{name: "networking.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("ingressclasses", "ingressclass", "IngressClass", cluster, strategy(s.ingressClass)),
			res("ingresses", "ingress", "Ingress", ns, short("ing"), withStatus(), strategy(s.ingress)),
			res("ipaddresses", "ipaddress", "IPAddress", cluster, short("ip"), strategy(s.ipAddress)),
			res("networkpolicies", "networkpolicy", "NetworkPolicy", ns, short("netpol"), strategy(s.networkPolicy)),
			res("servicecidrs", "servicecidr", "ServiceCIDR", cluster, withStatus(), strategy(s.serviceCIDR)),
		}}}},
		{name: "policy", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", ns, short("pdb"), withStatus(),
				strategy(s.pdb)),
		}}}},
		{name: "rbac.authorization.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", cluster, strategy(s.clusterRoleBinding)),
			res("clusterroles", "clusterrole", "ClusterRole", cluster, strategy(s.clusterRole)),
			res("rolebindings", "rolebinding", "RoleBinding", ns, strategy(s.roleBinding)),
			res("roles", "role", "Role", ns, strategy(s.role)),
		}}}},
		{name: "storage.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("csidrivers", "csidriver", "CSIDriver", cluster, strategy(s.csiDriver)),
			res("csinodes", "csinode", "CSINode", cluster, strategy(s.csiNode)),
			res("csistoragecapacities", "csistoragecapacity", "CSIStorageCapacity", ns),
			res("storageclasses", "storageclass", "StorageClass", cluster, short("sc"), strategy(s.storageClass)),
			res("volumeattachments", "volumeattachment", "VolumeAttachment", cluster, withStatus(),
				strategy(s.volumeAttachment)),
			res("volumeattributesclasses", "volumeattributesclass", "VolumeAttributesClass", cluster, short("vac"),
				strategy(s.volumeAttributesClass)),
		}}}},
		{name: "admissionregistration.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("mutatingadmissionpolicies", "mutatingadmissionpolicy", "MutatingAdmissionPolicy", cluster, apiExt, tracksGeneration()),
			res("mutatingadmissionpolicybindings", "mutatingadmissionpolicybinding", "MutatingAdmissionPolicyBinding", cluster, apiExt, tracksGeneration()),
			res("mutatingwebhookconfigurations", "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", cluster, apiExt,
				strategy(s.mutatingWebhooks)),
			res("validatingadmissionpolicies", "validatingadmissionpolicy", "ValidatingAdmissionPolicy", cluster, apiExt, withStatus(), tracksGeneration()),
			res("validatingadmissionpolicybindings", "validatingadmissionpolicybinding", "ValidatingAdmissionPolicyBinding", cluster, apiExt, tracksGeneration()),
			res("validatingwebhookconfigurations", "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", cluster, apiExt,
				strategy(s.validatingWebhooks)),
		}}}},
		{name: "scheduling.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("priorityclasses", "priorityclass", "PriorityClass", cluster, short("pc"), strategy(s.priorityClass)),
		}}}},
		{name: "coordination.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("leases", "lease", "Lease", ns, strategy(s.lease)),
		}}}},
		{name: "node.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("runtimeclasses", "runtimeclass", "RuntimeClass", cluster, strategy(s.runtimeClass)),
		}}}},
		{name: "discovery.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("endpointslices", "endpointslice", "EndpointSlice", ns, strategy(s.endpointSlice)),
		}}}},
		{name: "flowcontrol.apiserver.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("flowschemas", "flowschema", "FlowSchema", cluster, withStatus(), strategy(s.flowSchema)),
			res("prioritylevelconfigurations", "prioritylevelconfiguration", "PriorityLevelConfiguration", cluster, withStatus(),
				strategy(s.priorityLevel)),
		}}}},
		{name: "resource.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("deviceclasses", "deviceclass", "DeviceClass", cluster, tracksGeneration()),
			res("devicetaintrules", "devicetaintrule", "DeviceTaintRule", cluster, withStatus(), tracksGeneration()),
			res("resourceclaims", "resourceclaim", "ResourceClaim", ns, withStatus()),
			res("resourceclaimtemplates", "resourceclaimtemplate", "ResourceClaimTemplate", ns),
			res("resourceslices", "resourceslice", "ResourceSlice", cluster, tracksGeneration()),
		}}}},
		{name: "storagemigration.k8s.io", versions: []versionSpec{{version: "v1", resources: []*Resource{
			res("storageversionmigrations", "storageversionmigration", "StorageVersionMigration", cluster, withStatus()),
		}}}},
	}
}

// hpaResource is horizontalpodautoscalers as served in autoscaling/v1 and
// v2; both versions are stored as autoscaling/v2.
func hpaResource(s *strategies) *Resource {
	return res("horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true,
		short("hpa"), inAll(), withStatus(), strategy(s.hpa), converter(s.hpaConverter),
		storedAs(schema.GroupVersion{Group: "autoscaling", Version: "v2"}))
}
