package parity

import (
	"os"
	"path/filepath"
	"testing"
)

// manifests are the study-note files the corpus refers to by name.
var manifests = map[string]string{
	"tomcat-deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
spec:
  replicas: 1
  selector:
    matchLabels: {tier: frontend}
  template:
    metadata:
      labels: {app: app-demo, tier: frontend}
    spec:
      containers:
      - name: tomcat-demo
        image: tomcat
        ports: [{containerPort: 8080}]
`,
	"tomcat-service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: tomcat-service
spec:
  type: NodePort
  ports: [{port: 8080}]
  selector: {tier: frontend}
`,
	"kubia-manual.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: kubia-manual
spec:
  containers:
  - image: luksa/kubia
    name: kubia
    ports: [{containerPort: 8080, protocol: TCP}]
`,
	"rc.yaml": `apiVersion: v1
kind: ReplicationController
metadata:
  name: redis-slave
  labels: {name: redis-slave}
spec:
  replicas: 2
  selector: {name: redis-slave}
  template:
    metadata:
      labels: {name: redis-slave}
    spec:
      containers: [{name: slave, image: redis, ports: [{containerPort: 6379}]}]
`,
	"service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: redis-slave
  labels: {name: redis-slave}
spec:
  ports: [{port: 6379}]
  selector: {name: redis-slave}
`,
	"limitrange-file.yaml": `apiVersion: v1
kind: LimitRange
metadata:
  name: mylimits
spec:
  limits:
  - type: Container
    max: {cpu: "2", memory: 1Gi}
    min: {cpu: 100m, memory: 3Mi}
    default: {cpu: 300m, memory: 200Mi}
`,
	"cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: fortunes-config
data:
  sleep-interval: "25"
`,
	"cm-v2.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: fortunes-config
data:
  sleep-interval: "30"
  extra: "yes"
`,
	"old-deploy.yaml": `apiVersion: extensions/v1beta1
kind: Deployment
metadata:
  name: old
spec:
  replicas: 1
  template:
    metadata:
      labels: {app: old}
    spec:
      containers: [{name: c, image: nginx}]
`,
	"template.txt": "NAME             RSRC\n.metadata.name   .metadata.resourceVersion\n",
	"https.key":    "not really a key\n",
	"kubia-dep-v1.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubia
spec:
  replicas: 3
  selector: {matchLabels: {app: kubia}}
  template:
    metadata: {labels: {app: kubia}}
    spec:
      containers: [{name: nodejs, image: luksa/kubia:v1}]
`,
	"event.yaml": `apiVersion: v1
kind: Event
metadata:
  name: kubia-manual.seen
involvedObject: {apiVersion: v1, kind: Pod, name: kubia-manual}
reason: Seen
message: "the parity suite looked at this pod"
type: Warning
count: 3
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:05:00Z"
source: {component: parity}
`,
	"csr-ns-kubectl.yaml": csrFixture("ns-kubectl"),
	"csr-ns-kctl.yaml":    csrFixture("ns-kctl"),
	"kc-ns-kubectl.yaml":  kubeconfigFixture,
	"kc-ns-kctl.yaml":     kubeconfigFixture,
	"dir/a.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dir-a}\ndata: {k: a}\n",
	"dir/b.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dir-b}\ndata: {k: b}\n",
}

// writeManifests puts the files in a fresh directory and returns it.
func writeManifests(t *testing.T) string {
	dir := t.TempDir()
	for name, body := range manifests {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// kubeconfigFixture is a study-note kubeconfig that `config` subcommands
// edit; each tool gets its own copy.
const kubeconfigFixture = `apiVersion: v1
kind: Config
clusters:
- name: kubernetes-cluster
  cluster: {server: "https://localhost:8080", certificate-authority-data: QUJD}
contexts:
- name: default
  context: {cluster: kubernetes-cluster, user: admin}
current-context: default
users:
- name: admin
  user: {token: abc}
`

// csrFixture is a CertificateSigningRequest (cluster-scoped, so one per
// tool) for a client certificate of CN=bob.
func csrFixture(ns string) string {
	return `apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: ` + ns + `-csr
spec:
  signerName: kubernetes.io/kube-apiserver-client
  usages: [client auth]
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlISk1IQUNBUUF3RGpFTU1Bb0dBMVVFQXd3RFltOWlNRmt3RXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRApRZ0FFd1M5N2hST1VPbDNaUWgvMXlTWDF1YTY1dGRMT3ExMU5MbGJ2QXFxUy9OZWo3MTJJQ0NScFh3ZlZVSFRPCjFhdE90QVVJdmQvMTNTdDF5MUk3Sno2MFVhQUFNQW9HQ0NxR1NNNDlCQU1DQTBrQU1FWUNJUURVZkVTSmVrRm0KTjZqTUpNSDhHLzJYSlFhRFZKWEE2blZ2VmdhTTRVaFg4d0loQUxTTDZFQ0pUUVBSb3ZySFlLa1RJYUlTWTZIQQpKUFVyeFRxSHdldWJtR1FoCi0tLS0tRU5EIENFUlRJRklDQVRFIFJFUVVFU1QtLS0tLQo=
`
}
