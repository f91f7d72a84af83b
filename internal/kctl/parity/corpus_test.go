package parity

// pcase is one command line of the corpus. {NS} is the tool's own
// namespace (kubectl and kctl each get one, prepared identically), {F} the
// folder of manifests. Every command runs with `-n {NS}` unless noNS.
type pcase struct {
	args  string
	setup []string // run with kubectl in both namespaces first
	stdin string
	noNS  bool
	// minMinor is the oldest kubectl whose output this case expects (the
	// output changed in that release, or in one between 1.34 and 1.37 that
	// could not be pinned down here); older reference kubectls skip it.
	minMinor int
	// unordered compares sorted lines (kubectl's order is not stable).
	unordered bool
	// maskDigits hides numbers (resource versions differ between runs).
	maskDigits bool
	// known documents a deliberate difference; the case still counts as
	// a difference in the parity rate.
	known string
}

const hintDiff = "kctl adds a learner hint to the error on stderr"

// corpus is every command form of the seed study notes (§5 of
// seed-features.md) plus the flags of issue 7.
var corpus = []pcase{
	// get
	{args: "get nodes"}, {args: "get node"}, {args: "get cs"},
	{args: "get pods"}, {args: "get pod"}, {args: "get pods -o wide"},
	{args: "get pods kubia-manual -o wide"}, {args: "get pods kubia-manual -o yaml"},
	{args: "get pods kubia-manual -o=custom-columns=NAME:.metadata.name,RSRC:.metadata.resourceVersion", maskDigits: true},
	{args: "get pods kubia-manual -o=custom-columns-file={F}/template.txt", maskDigits: true},
	{args: "get pods --sort-by=.metadata.name"},
	{args: "get pods kubia-manual -o go-template"},
	{args: "get pods kubia-manual -o go-template --template={{.metadata.name}}"},
	{args: "get deployments"}, {args: "get rs"}, {args: "get rc"}, {args: "get rc,service"},
	{args: "get endpoints"}, {args: "get svc tomcat-service -o yaml"},
	{args: "get namespaces {NS}"}, {args: "get ns {NS} -o name"},
	{args: "get po --show-labels"}, {args: "get po -l createtion_method=manual"},
	{args: "get pod kubia-manual -Lrole"}, {args: "get jobs -l jobgroup=jobexample"},
	{args: "get sa"}, {args: "get secrets"}, {args: "get psp", known: hintDiff},
	{args: "get podSecurityPolicy", known: hintDiff}, {args: "get sc"}, {args: "get limits"},
	{args: "get pods--namespaces=kube-system", known: hintDiff},
	{args: "get pods kubia-manual nope"}, {args: "get pods/kubia-manual rc/redis-slave"},
	{args: "get all"}, {args: "get all -o wide"}, {args: "get pods -o json"}, {args: "get pods -o name"},
	{args: "get pods -o jsonpath={.items[*].metadata.name}"}, {args: "get pods --no-headers"},
	{args: "get pods --field-selector=metadata.name=kubia-manual"}, {args: "get deploy,svc -o name"},
	{args: "get pods -l tier=frontend --show-labels"}, {args: "get cm -o custom-columns=NAME:.metadata.name,DATA:.data"},
	{args: "get pods --sort-by=.metadata.creationTimestamp -o name"}, {args: "get pods nope --ignore-not-found"},
	{args: "get pods -o foo", minMinor: 34}, {args: "get"}, {args: "get pods --foo"},
	{args: "get ev --field-selector involvedObject.name=nope"},
	{args: "get pods -w --request-timeout=1s"}, {args: "get pods -w -o name --request-timeout=1s"},
	{args: "get pod kubia-manual -w -o yaml --request-timeout=1s"}, {args: "get cm -w -o name --output-watch-events --request-timeout=1s"},
	{args: "get deploy frontend --subresource=scale -o yaml"}, {args: "get deploy frontend --subresource=status -o name"},
	{args: "get deploy --subresource=status"}, {args: "get pod kubia-manual --subresource=nope"},
	{args: "get ns", noNS: true, unordered: true}, {args: "get po,no -A", noNS: true, unordered: true},
	{args: "get pods --namespace=kube-system", noNS: true}, {args: "get po -n kube-system", noNS: true},
	{args: "-n kube-system get pod -l k8s-app=metrics-server", noNS: true},
	{args: "-s http://127.0.0.1:1 get pods", known: "kubectl logs client-go's \"Couldn't get current server API group list\" five times before the error; kctl prints the error only"},
	// describe
	{args: "describe nodes", minMinor: 36}, {args: "describe pod kubia-manual"}, {args: "describe pods/kubia-manual"},
	{args: "describe pods kubia", minMinor: 36}, {args: "describe deployments"}, {args: "describe serviceaccounts"},
	{args: "describe quota rq-name --namespce=ns-name"}, {args: "describe svc tomcat-service"},
	{args: "describe rc redis-slave"}, {args: "describe cm fortunes-config"}, {args: "describe ns {NS}"},
	{args: "describe limits"}, {args: "describe pod nope"},
	{args: "describe nodes {NS}-node", noNS: true, minMinor: 36},
	// events (kubectl's fixed columns)
	{args: "events", setup: []string{"create -n {NS} -f {F}/event.yaml"}}, {args: "events --for pod/kubia-manual"},
	{args: "events --for pods/kubia-manual --types=Normal"}, {args: "events --types=Warning,Normal --no-headers"},
	{args: "events -o yaml --for pod/kubia-manual"}, {args: "events -o name"}, {args: "events --types=Info"},
	{args: "events --for nosuch/x"}, {args: "events --for kubia-manual"},
	// explain (OpenAPI v3)
	{args: "explain pods"}, {args: "explain deploy.spec.strategy"}, {args: "explain pods.spec.containers.ports"},
	{args: "explain svc --recursive"}, {args: "explain pods.spec.nope"}, {args: "explain nope"},
	// create
	{args: "create -f {F}/kubia-manual.yaml"}, {args: "create -f {F}/dir"},
	{args: "create -f {F}/service.yaml -f {F}/rc.yaml"}, {args: "create -f {F}/limitrange-file.yaml"},
	{args: "create namespace {NS}-custom", noNS: true}, {args: "create serviceaccount foo"},
	{args: "create configmap fortunes-config2 --from-literal=sleep-interval=25"},
	{args: "create secret generic fortune-https --from-file={F}/https.key"}, {args: "describe secret fortune-https"},
	{args: "create -f {F}/kubia-dep-v1.yaml --record"}, {args: "create -f {F}/kubia-manual.yaml --namespce=ns-name"},
	{args: "create configmap cm2 --from-file={F}/dir --from-literal=a=b"},
	{args: "create configmap cm3 --from-literal=key1=value1 --from-literal=key2=value2 --dry-run=client -o yaml", minMinor: 35},
	{args: "create rolebinding my-sa-view --clusterrole=view --serviceaccount={NS}:my-sa"},
	{args: "create clusterrolebinding {NS}-add-ons --clusterrole=cluster-admin --serviceaccount=kube-system:default", noNS: true},
	{args: "create rolebinding bob-admin-binding --clusterrole=admin --user=bob"},
	{args: "create rolebinding default-view --clusterrole=view --serviceaccount={NS}:default"},
	{args: "create rolebinding serviceaccounts-view --clusterrole=view --group=system:serviceaccounts:{NS}"},
	{args: "create clusterrolebinding {NS}-sa-view --clusterrole=view --group=system:serviceaccounts", noNS: true},
	{args: "create clusterrolebinding {NS}-service-account-binding --clusterrole=view --serviceaccount=acme:myapp", noNS: true},
	{args: "create clusterrolebinding {NS}-cluster-binding --clusterrole=cluster-admin --user=root", noNS: true},
	{args: "create deployment web --image=nginx --dry-run=client -o yaml", minMinor: 35}, {args: "create deployment web --image=nginx"},
	{args: "create job j --image=busybox -- echo hi"},
	{args: "create cronjob cj --image=busybox --schedule='*/5 * * * *'"},
	{args: "create service nodeport np --tcp=80:8080 --dry-run=client -o yaml", minMinor: 35},
	{args: "create role r --verb=get,list --resource=pods,deployments.apps"},
	// apply / replace / patch / edit
	{args: "apply -f {F}/cm.yaml"}, {args: "apply -f {F}/cm.yaml"}, {args: "apply -f {F}/cm-v2.yaml"},
	{args: "apply -f {F}/cm.yaml --dry-run=server"}, {args: "apply -f {F}/cm.yaml --dry-run=client -o yaml", minMinor: 35},
	{args: "apply -f {F}/cm.yaml -f {F}/kubia-manual.yaml"},
	{args: "apply -f {F}/old-deploy.yaml", known: "kctl names apps/v1 and the field changes under kubectl's error (learner help)"},
	{args: "apply --server-side -f {F}/dir"},
	{args: "replace -f {F}/cm.yaml"}, {args: "patch cm fortunes-config -p {\"data\":{\"a\":\"b\"}}"},
	{args: "patch cm fortunes-config --type=merge -p {\"data\":{\"a\":\"b\"}}"},
	{args: "patch cm fortunes-config --type=json -p [{\"op\":\"remove\",\"path\":\"/data/a\"}]"},
	{args: "edit configmap fortunes-config"},
	// the last-applied annotation
	{args: "apply view-last-applied cm/fortunes-config"}, {args: "apply view-last-applied -f {F}/cm.yaml -o json"},
	{args: "apply view-last-applied pod kubia-manual"}, {args: "apply view-last-applied"},
	{args: "apply set-last-applied -f {F}/cm-v2.yaml"}, {args: "apply set-last-applied -f {F}/cm-v2.yaml"},
	{args: "apply set-last-applied -f {F}/kubia-manual.yaml --dry-run=client"},
	{args: "apply set-last-applied -f {F}/kubia-manual.yaml --create-annotation -o name"},
	{args: "apply view-last-applied cm fortunes-config"},
	{args: "apply edit-last-applied cm/fortunes-config"}, {args: "apply view-last-applied cm/fortunes-config -o json"},
	{args: "apply edit-last-applied cm/dir-a"},
	// labels and annotations
	{args: "label po kubia-manual createtion_method=manual"},
	{args: "label pod kubia-manual createtion_method=x"},
	{args: "label pod kubia-manual createtion_method=x --overwrite"},
	{args: "label pod kubia-manual createtion_method-", minMinor: 36},
	{args: "annotate pod kubia-manual wang.ismy/name=cxk"},
	{args: "annotate pod kubia-manual wang.ismy/name=other"},
	// scale, autoscale, expose, run, set, rollout
	{args: "scale rc redis-slave --replicas=3"}, {args: "scale rc redis-slave --replicas=2 --current-replicas=5"},
	{args: "scale deploy frontend --replicas=2"},
	{args: "autoscale deployment frontend --cpu-percent=30 --min=1 --max=5", minMinor: 35},
	{args: "autoscale rc redis-slave --min=1 --max=10 --cpu=50% --dry-run=client -o yaml", minMinor: 35},
	{args: "expose rc redis-slave --name=rs-exposed --port=6379"}, {args: "expose rc redis-slave"},
	{args: "autoscale rc redis-slave --min=1 --max=10 --cpu-percent=50", minMinor: 35},
	{args: "expose deploy frontend --port=80 --target-port=8080 --type=NodePort --dry-run=client -o yaml", minMinor: 35},
	{args: "run kubia --image=luksa/kubia --port=8080"}, {args: "scale rc kubia --replicas=3", minMinor: 34},
	{args: "run nginx --image=nginx --dry-run=client -o yaml", minMinor: 35},
	{args: "run -i -t busybox --image=busybox --rm --restart=Never --pod-running-timeout=2s -- sh", minMinor: 34},
	{args: "set image deployment frontend tomcat-demo=tomcat:10"},
	{args: "set image deployment/frontend nope=x"},
	{args: "set env deploy/frontend A=b"}, {args: "set resources deploy/frontend --limits=cpu=200m"},
	{args: "rollout history deployment frontend"}, {args: "rollout pause deployment frontend"},
	{args: "rollout pause deployment frontend"}, {args: "rollout resume deployment frontend"},
	{args: "rollout restart deployment nope"},
	{args: "set image deployment kubia nodejs=luksa/kubia:v2"}, {args: "rollout history deployment kubia"},
	{args: "rollout undo deployment kubia"}, {args: "rollout undo deployment kubia --to-revision=1"},
	{args: "set image deployment kubia nodejs=luksa/kubia:v3 --record"}, {args: "rollout history deployment kubia"},
	{args: "get deploy kubia -o jsonpath={.metadata.annotations}"},
	{args: "rolling-update nope --image=redis-master:2.0", known: "kubectl removed rolling-update in 1.18; kctl keeps the legacy verb for the study notes"},
	// nodes
	{args: "cordon {NS}-node", noNS: true}, {args: "cordon {NS}-node", noNS: true},
	{args: "uncordon {NS}-node", noNS: true},
	{args: "taint node {NS}-node node-type=production:NoSchedule", noNS: true},
	{args: "taint node {NS}-node node-type=production:NoSchedule", noNS: true},
	{args: "taint node {NS}-node node-type-", noNS: true},
	{args: "label nodes {NS}-node zone=north", noNS: true}, {args: "label node {NS}-node super=true", noNS: true},
	{args: "patch node {NS}-node -p {\"spec\":{\"unschedulable\":true}}", noNS: true},
	{args: "drain {NS}-node --ignore-daemonsets", noNS: true, unordered: true},
	{args: "describe node {NS}-node", noNS: true, minMinor: 36},
	// pods that never run (no node agent here)
	{args: "exec kubia-manual -- env", minMinor: 34}, {args: "exec kubia-manual date"},
	{args: "exec kubia-manual -c kubia date"}, {args: "exec kubia-manual -c nope -- /bin/bash", minMinor: 34},
	{args: "logs kubia-manual"}, {args: "logs -f kubia-manual -c kubia", known: "kubectl -f retries a failing log request for --pod-running-timeout (20s), printing each failure; kctl reports the server's error once"},
	{args: "port-forward kubia-manual 8080:8080"},
	{args: "top nodes"}, {args: "top pods"},
	// debug (ephemeral containers, pod copies, node pods)
	{args: "debug kubia-manual --image=busybox", minMinor: 34}, {args: "debug kubia-manual --image=busybox -c dbg --target=kubia -- sleep 1", minMinor: 34},
	{args: "debug node/{NS}-node --image=busybox", minMinor: 34}, {args: "get pods -l app.kubernetes.io/managed-by=kubectl-debug -o yaml", minMinor: 34},
	{args: "debug kubia-manual --copy-to=kubia-copy --image=busybox --share-processes=false", minMinor: 34},
	{args: "debug kubia-manual --copy-to=kubia-copy2 --set-image=*=busybox:1 --profile=sysadmin --keep-labels", minMinor: 34},
	{args: "get pods kubia-copy kubia-copy2 -o yaml", minMinor: 34},
	{args: "delete pods -l app.kubernetes.io/managed-by=kubectl-debug --grace-period=0 --force", minMinor: 34},
	{args: "logs kubia-manual -c nope", minMinor: 34}, {args: "logs kubia-manual --all-containers", minMinor: 34},
	{args: "debug kubia-manual", minMinor: 34}, {args: "debug --image=busybox", minMinor: 34}, {args: "debug kubia-manual --image=busybox -t", minMinor: 34},
	{args: "debug kubia-manual --image=busybox --profile=nope", minMinor: 34}, {args: "debug kubia-manual --image=Bad:Image", minMinor: 34},
	{args: "debug svc/tomcat-service --image=busybox", minMinor: 34}, {args: "debug nope --image=busybox", minMinor: 34},
	// certificates
	{args: "create -f {F}/csr-{NS}.yaml", noNS: true}, {args: "certificate approve {NS}-csr", noNS: true},
	{args: "certificate approve {NS}-csr -o name", noNS: true}, {args: "certificate deny {NS}-csr", noNS: true},
	{args: "certificate approve {NS}-csr nope", noNS: true}, {args: "certificate deny", noNS: true},
	{args: "get csr {NS}-csr -o jsonpath={.status.conditions[*].reason}", noNS: true},
	// cluster, config
	{args: "cluster-info"}, {args: "cluster-info dump --namespaces={NS}", maskDigits: true, minMinor: 34}, {args: "cluster-info dump -o wide", minMinor: 34},
	{args: "cluster-info dump --namespaces={NS} -o yaml --output-directory={F}/dump-{NS}", maskDigits: true, minMinor: 34}, {args: "version", minMinor: 36}, {args: "version --client", minMinor: 36},
	{args: "config view", minMinor: 35}, {args: "config get-contexts"}, {args: "config current-context"},
	{args: "context use-context default", known: hintDiff},
	{args: "context set-cluster kubernetes-cluster --server=https://localhost:8080", known: hintDiff},
	{args: "config set-cluster kubernetes-cluster --server=https://localhost:8080 --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config set-context context-name --namespace=ns-name --cluster=kubernetes-cluster --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config set-context context-name --user=admin --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config use-context context-name --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config use-context nope --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config set-credentials bob --token=xyz --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config get-contexts --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config current-context --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config view --kubeconfig={F}/kc-{NS}.yaml", noNS: true, minMinor: 35},
	{args: "config view --minify --flatten --kubeconfig={F}/kc-{NS}.yaml", noNS: true, minMinor: 35},
	{args: "config rename-context context-name dev --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config delete-context dev --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "config get-clusters --kubeconfig={F}/kc-{NS}.yaml", noNS: true},
	{args: "api-resources"}, {args: "api-resources --namespaced=false -o name"}, {args: "api-versions"},
	{args: "auth can-i create pods"}, {args: "auth can-i get nodes"},
	{args: "wait --for=condition=Ready pod/kubia-manual --timeout=1s"},
	{args: "wait --for=delete pod/nope --timeout=1s"},
	{args: "diff -f {F}/cm.yaml"},
	// raw requests, access lists, a namespace that does not exist
	{args: "get --raw /api/v1/namespaces/{NS}/configmaps/nope"}, {args: "get --raw /healthz"},
	{args: "get --raw /x -o yaml"}, {args: "get pods --raw /x"}, {args: "create --raw /api/v1/namespaces/{NS}/configmaps -f {F}/dir/a.yaml -f {F}/dir/b.yaml"},
	{args: "auth can-i --list"}, {args: "auth can-i --list --no-headers"}, {args: "auth can-i --list pods"},
	{args: "auth can-i get pods --no-headers"},
	{args: "get pod kubia-manual -n {NS}-nope", noNS: true}, {args: "describe pod kubia-manual -n {NS}-nope", noNS: true},
	{args: "label pod kubia-manual a=b -n {NS}-nope", noNS: true}, {args: "logs kubia-manual -n {NS}-nope", noNS: true},
	{args: "delete pod kubia-manual -n {NS}-nope", noNS: true}, {args: "get cm nope -o yaml"}, {args: "get cm nope -o json --ignore-not-found"},
	{args: "replace --force -f {F}/kubia-manual.yaml", minMinor: 34}, {args: "replace --force -f {F}/kubia-manual.yaml --grace-period=0 -o name", minMinor: 34},
	// set env
	{args: "set env deployment frontend GREETING=hi MODE=test"}, {args: "set env deployment frontend --list"},
	{args: "set env deployment frontend GREETING=bye --overwrite=false"}, {args: "set env deployment frontend GREETING=hi --overwrite=false"},
	{args: "set env deployment frontend --from=configmap/fortunes-config --prefix=APP_"}, {args: "set env deployment frontend --list MODE-"},
	{args: "set env deployment frontend --keys=x"}, {args: "set env deployment frontend --list -o yaml"},
	{args: "set env deployment frontend --from=deploy/frontend"}, {args: "set env deployment frontend MODE- --dry-run=client -o jsonpath={.spec.template.spec.containers[0].env[*].name}"},
	// --record on annotate and apply; diff after an apply
	{args: "annotate cm dir-a note=x --record"}, {args: "apply -f {F}/dir/a.yaml --record"},
	{args: "get cm dir-a -o jsonpath={.metadata.annotations.kubernetes\\.io/change-cause}"},
	{args: "diff -f {F}/dir/a.yaml"}, {args: "apply -f {F}/dir/a.yaml"}, {args: "diff -f {F}/dir/a.yaml"},
	// delete last
	{args: "delete -f {F}/service.yaml", minMinor: 34}, {args: "delete pods,services -l name=redis-slave", minMinor: 34},
	{args: "delete po kubia-manual", minMinor: 34}, {args: "delete pods --all", minMinor: 34}, {args: "delete cm nope"},
	{args: "delete cm -l nothing=here"},
	{args: "delete namespace {NS}-custom", noNS: true},
}
