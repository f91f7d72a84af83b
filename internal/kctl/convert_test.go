package kctl

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestConvertOldManifests(t *testing.T) {
	dep := mustU(t, `{"apiVersion":"extensions/v1beta1","kind":"Deployment","metadata":{"name":"web"},
		"spec":{"replicas":1,"rollbackTo":{"revision":1},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`)
	ing := mustU(t, `{"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"i","annotations":{"kubernetes.io/ingress.class":"nginx"}},
		"spec":{"backend":{"serviceName":"def","servicePort":80},"rules":[{"host":"a.example.com","http":{"paths":[{"path":"/","backend":{"serviceName":"web","servicePort":"http"}}]}}]}}`)
	hpa := mustU(t, `{"apiVersion":"autoscaling/v2beta1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},
		"spec":{"metrics":[{"type":"Resource","resource":{"name":"cpu","targetAverageUtilization":50}}]}}`)
	ms := []manifest{{obj: dep}, {obj: ing}, {obj: hpa}}
	convertManifests(ms)

	if dep.GetAPIVersion() != "apps/v1" {
		t.Errorf("deployment apiVersion %s", dep.GetAPIVersion())
	}
	if sel, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels"); sel["app"] != "web" {
		t.Errorf("selector not derived from template labels: %v", sel)
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "rollbackTo"); ok {
		t.Error("rollbackTo kept")
	}
	if ing.GetAPIVersion() != "networking.k8s.io/v1" {
		t.Errorf("ingress apiVersion %s", ing.GetAPIVersion())
	}
	if n, _, _ := unstructured.NestedInt64(ing.Object, "spec", "defaultBackend", "service", "port", "number"); n != 80 {
		t.Errorf("defaultBackend port %d: %v", n, ing.Object["spec"])
	}
	paths, _, _ := unstructured.NestedSlice(ing.Object, "spec", "rules")
	p := paths[0].(map[string]any)["http"].(map[string]any)["paths"].([]any)[0].(map[string]any)
	if p["pathType"] != "ImplementationSpecific" || p["backend"].(map[string]any)["service"].(map[string]any)["port"].(map[string]any)["name"] != "http" {
		t.Errorf("path %v", p)
	}
	if cls, _, _ := unstructured.NestedString(ing.Object, "spec", "ingressClassName"); cls != "nginx" {
		t.Errorf("ingressClassName %q", cls)
	}
	if v, _, _ := unstructured.NestedInt64(hpa.Object["spec"].(map[string]any)["metrics"].([]any)[0].(map[string]any), "resource", "target", "averageUtilization"); v != 50 || hpa.GetAPIVersion() != "autoscaling/v2" {
		t.Errorf("hpa %v", hpa.Object)
	}
}

func TestOldAPIVersionMessage(t *testing.T) {
	fs := podServer(t)
	manifest := "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: old\nspec:\n  template:\n    metadata:\n      labels: {app: old}\n    spec:\n      containers: [{name: c, image: nginx}]\n"
	_, errOut, code := fs.run(manifest, "create", "-f", "-")
	if code != 1 {
		t.Fatalf("code %d", code)
	}
	for _, want := range []string{
		`error: resource mapping not found for name: "old" namespace: "" from "STDIN": no matches for kind "Deployment" in version "extensions/v1beta1"`,
		"ensure CRDs are installed first",
		"kctl: Deployment moved from extensions/v1beta1 to apps/v1",
		"spec.selector is now required",
		"Add --convert",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	out, errOut, code := fs.run(manifest, "create", "-f", "-", "--convert")
	if code != 0 || out != "deployment.apps/old created\n" {
		t.Errorf("--convert: %q %q %d", out, errOut, code)
	}
}

func TestDidYouMean(t *testing.T) {
	fs := podServer(t)
	_, errOut, code := fs.run("", "context", "use-context", "dev")
	if code != 1 || !strings.HasPrefix(errOut, "error: unknown command \"context\" for \"kctl\"\n\nDid you mean this?\n\tkctl ") ||
		!strings.HasSuffix(errOut, " config use-context dev\n") {
		t.Errorf("slip hint: %q", errOut)
	}
	_, errOut, _ = fs.run("", "get", "pods--namespaces=kube-system")
	if !strings.Contains(errOut, "\tpods --namespace=kube-system") {
		t.Errorf("glued flag hint: %q", errOut)
	}
}
