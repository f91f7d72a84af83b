package multinode

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The Services every traffic subtest uses; the web pods (one kubia per
// node, "You've hit web-<node>") come from webPods.
const services = `---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 8081, targetPort: http, nodePort: 30081}]
---
apiVersion: v1
kind: Service
metadata: {name: web-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web, node: agent-1}
  ports: [{name: http, port: 8082, targetPort: http, nodePort: 30082}]
---
apiVersion: v1
kind: Service
metadata: {name: web-sticky}
spec:
  sessionAffinity: ClientIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: web.default.svc.cluster.local
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: tcp, port: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  nodeName: agent-1
  terminationGracePeriodSeconds: 0
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    # A CGI script answers with the client address the pod sees.
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho client=$REMOTE_ADDR\\n' >/www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www"]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: echo-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080, nodePort: 30090}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-cluster}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080, nodePort: 30091}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: db
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
`

// webPods is one kubia pod per node.
func webPods(e *env) string {
	var b strings.Builder
	for _, n := range e.m.Nodes {
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: Pod
metadata: {name: web-%[1]s, labels: {app: web, node: %[1]s}}
spec:
  nodeName: %[1]s
  terminationGracePeriodSeconds: 0
  containers:
  - name: kubia
    image: luksa/kubia:v1
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
`, n.Name)
	}
	return b.String()
}

// deployWorkloads applies the web pods and the Services with stock
// kubectl and waits for the pods and for every Service's endpoints.
func (e *env) deployWorkloads(t *testing.T) {
	e.kubectl(t, webPods(e)+services, "apply", "-f", "-")
	var names []string
	for _, n := range e.m.Nodes {
		names = append(names, "web-"+n.Name)
	}
	e.web = e.running(t, names...)
	e.db = e.running(t, "db-0", "db-1")
	e.running(t, "echo")
	for svc, n := range map[string]int{"echo-local": 1, "echo-cluster": 1, "web": 3, "web-np": 3, "web-lb": 3, "web-local": 1, "web-sticky": 3, "web-headless": 3, "db": 2} {
		e.eventually(t, fmt.Sprintf(`^(\S+ ){%d}$`, n), "get", "endpointslices", "-l", "kubernetes.io/service-name="+svc,
			"-o", `jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]} {end}`)
	}
	e.clusterIP = map[string]string{}
	for _, svc := range []string{"web", "web-sticky"} {
		e.clusterIP[svc] = strings.TrimSpace(e.kubectl(t, "", "get", "svc", svc, "-o", "jsonpath={.spec.clusterIP}"))
	}
}

// webPod is the web pod on node.
func (e *env) webPod(node string) *corev1.Pod {
	for _, p := range e.web {
		if p.Spec.NodeName == node {
			return p
		}
	}
	return nil
}
