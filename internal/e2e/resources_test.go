package e2e

import (
	"strings"
	"testing"
)

// manifest is one object of each resource the API issue lists, in the
// smallest form upstream accepts.
type manifest struct {
	resource string // as kubectl names it, e.g. "deployments.apps"
	name     string
	yaml     string
}

const podSpec = `      containers:
      - name: c
        image: nginx:1.27`

var manifests = []manifest{
	{"pods", "p", `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: nginx:1.27`},
	{"services", "s", `apiVersion: v1
kind: Service
metadata: {name: s}
spec:
  selector: {app: s}
  ports:
  - port: 80
    targetPort: 8080`},
	{"endpoints", "s", `apiVersion: v1
kind: Endpoints
metadata: {name: s}
subsets:
- addresses: [{ip: 10.42.0.5}]
  ports: [{port: 8080}]`},
	{"configmaps", "cm", `apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: b}`},
	{"secrets", "sec", `apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: hunter2}`},
	{"serviceaccounts", "sa", `apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}`},
	{"nodes", "n1", `apiVersion: v1
kind: Node
metadata: {name: n1}`},
	{"events", "ev", `apiVersion: v1
kind: Event
metadata: {name: ev}
involvedObject: {kind: Pod, name: p, namespace: default}
reason: Testing
message: hello
type: Normal`},
	{"replicationcontrollers", "rc", `apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  replicas: 1
  selector: {app: rc}
  template:
    metadata:
      labels: {app: rc}
    spec:
` + podSpec},
	{"persistentvolumes", "pv", `apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /tmp/pv}`},
	{"persistentvolumeclaims", "pvc", `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc}
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {storage: 1Gi}`},
	{"limitranges", "lr", `apiVersion: v1
kind: LimitRange
metadata: {name: lr}
spec:
  limits:
  - type: Container
    default: {cpu: 100m}`},
	{"resourcequotas", "rq", `apiVersion: v1
kind: ResourceQuota
metadata: {name: rq}
spec:
  hard: {pods: "10"}`},
	{"podtemplates", "pt", `apiVersion: v1
kind: PodTemplate
metadata: {name: pt}
template:
  spec:
    containers:
    - name: c
      image: nginx:1.27`},
	{"deployments.apps", "d", `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
` + podSpec},
	{"replicasets.apps", "rs", `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  selector:
    matchLabels: {app: rs}
  template:
    metadata:
      labels: {app: rs}
    spec:
` + podSpec},
	{"statefulsets.apps", "sts", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec:
  serviceName: sts
  selector:
    matchLabels: {app: sts}
  template:
    metadata:
      labels: {app: sts}
    spec:
` + podSpec},
	{"daemonsets.apps", "ds", `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector:
    matchLabels: {app: ds}
  template:
    metadata:
      labels: {app: ds}
    spec:
` + podSpec},
	{"controllerrevisions.apps", "cr", `apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: cr}
revision: 1
data: {spec: {}}`},
	{"jobs.batch", "job", `apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec:
  template:
    spec:
      restartPolicy: Never
` + podSpec},
	{"cronjobs.batch", "cj", `apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: nginx:1.27`},
	{"horizontalpodautoscalers.autoscaling", "hpa", `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: hpa}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 80}`},
	{"horizontalpodautoscalers.v1.autoscaling", "hpa1", `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: hpa1}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}
  maxReplicas: 3
  targetCPUUtilizationPercentage: 50`},
	{"leases.coordination.k8s.io", "lease", `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lease}
spec:
  holderIdentity: me
  leaseDurationSeconds: 15`},
	{"endpointslices.discovery.k8s.io", "s-abc", `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: s-abc
  labels: {kubernetes.io/service-name: s}
addressType: IPv4
endpoints:
- addresses: [10.42.0.5]
ports:
- port: 8080`},
	{"events.events.k8s.io", "ev2", `apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: ev2}
eventTime: "2026-01-01T00:00:00.000000Z"
reportingController: example.com/test
reportingInstance: test-1
action: Testing
reason: Testing
type: Normal
regarding: {kind: Pod, name: p, namespace: default}`},
	{"ingresses.networking.k8s.io", "ing", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing}
spec:
  rules:
  - host: example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: s, port: {number: 80}}`},
	{"ingressclasses.networking.k8s.io", "nginx", `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec:
  controller: example.com/ingress`},
	{"networkpolicies.networking.k8s.io", "np", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np}
spec:
  podSelector: {}
  policyTypes: [Ingress]`},
	{"poddisruptionbudgets.policy", "pdb", `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: pdb}
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: d}`},
	{"roles.rbac.authorization.k8s.io", "r", `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]`},
	{"rolebindings.rbac.authorization.k8s.io", "rb", `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
- {kind: ServiceAccount, name: sa, namespace: default}`},
	{"clusterroles.rbac.authorization.k8s.io", "cr1", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr1}
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [get]`},
	{"clusterrolebindings.rbac.authorization.k8s.io", "crb", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr1}
subjects:
- {kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}`},
	{"storageclasses.storage.k8s.io", "fast", `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: example.com/fast`},
	{"priorityclasses.scheduling.k8s.io", "high", `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000`},
}

// TestKubectlEveryResource drives each listed resource through stock
// kubectl: client-side apply, get (table, wide, yaml, name), label,
// server-side apply of the same manifest, and delete.
func TestKubectlEveryResource(t *testing.T) {
	k := FindKubectl(t)
	c := Start(t)
	for _, m := range manifests {
		kind := m.yaml[strings.Index(m.yaml, "kind: ")+6:]
		kind = strings.ToLower(kind[:strings.IndexByte(kind, '\n')])
		group := ""
		if i := strings.IndexByte(m.resource, '.'); i > 0 {
			group = m.resource[i+1:]
			if strings.HasPrefix(group, "v1.") {
				group = group[3:]
			}
		}
		ref := kind
		if group != "" {
			ref += "." + group
		}
		ref += "/" + m.name
		// Event tables have no NAME column (upstream's printer).
		cell, header := m.name, "NAME"
		if strings.HasPrefix(m.resource, "events") {
			cell, header = "Testing", "REASON"
		}
		t.Run(m.resource, func(t *testing.T) {
			runSteps(t, k, c, []step{
				{args: []string{"apply", "-f", "-"}, stdin: m.yaml, wantOut: out(ref + " created\n")},
				{args: []string{"get", m.resource, m.name}, containsOut: []string{cell}},
				{args: []string{"get", m.resource, m.name, "-o", "wide"}, containsOut: []string{header, cell}},
				{args: []string{"get", m.resource, m.name, "-o", "yaml"}, containsOut: []string{"name: " + m.name, "uid: "}},
				{args: []string{"get", m.resource, "-o", "name"}, containsOut: []string{ref + "\n"}},
				{args: []string{"label", m.resource, m.name, "e2e=yes"}, wantOut: out(ref + " labeled\n")},
				{args: []string{"get", m.resource, "-l", "e2e=yes", "-o", "name"}, wantOut: out(ref + "\n")},
				{args: []string{"apply", "--server-side", "--force-conflicts", "-f", "-"}, stdin: m.yaml, wantOut: out(ref + " serverside-applied\n")},
				{args: []string{"delete", m.resource, m.name, "--wait=false"}, containsOut: []string{"deleted"}},
			})
		})
	}
}
