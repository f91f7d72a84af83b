package openapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// Stock kubectl explain against the documents: v3 (the default since 1.27)
// and v2 protobuf (-o plaintext-openapiv2). The server here has just enough
// legacy discovery for kubectl to map names to resources. Skipped when no
// stock kubectl is installed.
func TestStockKubectlExplain(t *testing.T) {
	bins := stockKubectls()
	if len(bins) == 0 {
		t.Skip("no stock kubectl on this machine")
	}
	kubeconfig := discoveryServer(t, testDocs(t))
	for _, bin := range bins {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			out := kubectl(t, bin, kubeconfig, "explain", "pods.spec.containers")
			for _, want := range []string{"KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>",
				"List of containers belonging to the pod.", "name\t<string> -required-", "image\t<string>",
				"ports\t<[]ContainerPort>", "resources\t<ResourceRequirements>"} {
				if !strings.Contains(out, want) {
					t.Errorf("explain pods.spec.containers lacks %q:\n%s", want, out)
				}
			}
			out = kubectl(t, bin, kubeconfig, "explain", "deploy.spec.strategy.rollingUpdate.maxSurge")
			if !strings.Contains(out, "GROUP:      apps") || !strings.Contains(out, "FIELD: maxSurge <IntOrString>") {
				t.Errorf("explain deploy…maxSurge:\n%s", out)
			}
			out = kubectl(t, bin, kubeconfig, "explain", "pod.spec.containers.imagePullPolicy")
			if !strings.Contains(out, "Possible enum values:") || !strings.Contains(out, "- `\"IfNotPresent\"` means that kubelet pulls") {
				t.Errorf("explain imagePullPolicy lacks its enum values:\n%s", out)
			}
			out = kubectl(t, bin, kubeconfig, "explain", "pods.spec.containers", "--output=plaintext-openapiv2")
			if !strings.Contains(out, "RESOURCE: containers <[]Object>") || !strings.Contains(out, "List of containers belonging to the pod.") {
				t.Errorf("explain -o plaintext-openapiv2 (protobuf v2):\n%s", out)
			}
			cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "explain", "pods.spec.nosuchfield")
			if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), `field "nosuchfield" does not exist`) {
				t.Errorf("unknown field: err %v, output %s", err, msg)
			}
		})
	}
}

// stockKubectls are $KSERVER_E2E_KUBECTL (the e2e harness's choice), else the
// oldest and newest stock kubectl builds installed.
func stockKubectls() []string {
	if bin := os.Getenv("KSERVER_E2E_KUBECTL"); bin != "" {
		return []string{bin}
	}
	matches, _ := filepath.Glob("/usr/lib/google-cloud-sdk/bin/kubectl.1.*")
	if len(matches) > 2 {
		matches = []string{matches[0], matches[len(matches)-1]}
	}
	return matches
}

func kubectl(t *testing.T, bin, kubeconfig string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no discovery or HTTP cache from elsewhere
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// discoveryServer serves the documents and legacy discovery of the catalog
// and returns a kubeconfig pointing at it.
func discoveryServer(t *testing.T, d *Docs) string {
	t.Helper()
	reg := registry.New()
	mux := http.NewServeMux()
	mux.Handle("/openapi/", d.Handler())
	writeJSON := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	var groups metav1.APIGroupList
	for _, g := range reg.Groups() {
		gvs := make([]metav1.GroupVersionForDiscovery, 0, len(g.Versions))
		for _, v := range g.Versions {
			gvs = append(gvs, metav1.GroupVersionForDiscovery{GroupVersion: schema.GroupVersion{Group: g.Name, Version: v}.String(), Version: v})
		}
		if g.Name != "" {
			groups.Groups = append(groups.Groups, metav1.APIGroup{Name: g.Name, Versions: gvs, PreferredVersion: gvs[0]})
		}
	}
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		groups.Kind, groups.APIVersion = "APIGroupList", "v1"
		writeJSON(w, groups)
	})
	resources := func(gv schema.GroupVersion) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			for _, res := range reg.Resources(gv) {
				list.APIResources = append(list.APIResources, metav1.APIResource{Name: res.Resource, SingularName: res.SingularName,
					Namespaced: res.Namespaced, Kind: res.Kind, Verbs: res.Verbs, ShortNames: res.ShortNames, Categories: res.Categories})
			}
			writeJSON(w, list)
		}
	}
	for _, g := range reg.Groups() {
		for _, v := range g.Versions {
			gv := schema.GroupVersion{Group: g.Name, Version: v}
			mux.HandleFunc(gvPrefix(gv), resources(gv))
		}
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	kubeconfig := filepath.Join(t.TempDir(), "config")
	config := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + srv.URL +
		"\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user: {}\ncurrent-context: c\n"
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}
