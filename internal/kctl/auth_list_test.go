package kctl

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The rules of a review are broken down, simple ones merged across verbs
// (in the order the verbs first appear), sorted by kubectl's rule string
// (verbs first, so [create] < [get list watch] < [get list] < [get] <
// [update]; an empty group's "[]" before "[apps]") and printed in its four
// columns.
func TestPrintAccessList(t *testing.T) {
	resp := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"resourceRules": []any{
			map[string]any{"verbs": []any{"get", "list"}, "apiGroups": []any{"", "apps"}, "resources": []any{"pods", "deployments/scale"}},
			map[string]any{"verbs": []any{"watch", "get"}, "apiGroups": []any{""}, "resources": []any{"pods"}},
			map[string]any{"verbs": []any{"update"}, "apiGroups": []any{""}, "resources": []any{"configmaps"}, "resourceNames": []any{"a", "b"}},
			map[string]any{"verbs": []any{"create"}, "apiGroups": []any{"authorization.k8s.io"}, "resources": []any{"selfsubjectrulesreviews"}},
		},
		"nonResourceRules": []any{
			map[string]any{"verbs": []any{"get"}, "nonResourceURLs": []any{"/healthz", "/version"}},
		},
	}}}
	var out bytes.Buffer
	if err := printAccessList(&out, resp, false); err != nil {
		t.Fatal(err)
	}
	want := `Resources                                      Non-Resource URLs   Resource Names   Verbs
selfsubjectrulesreviews.authorization.k8s.io   []                  []               [create]
pods                                           []                  []               [get list watch]
deployments/scale                              []                  []               [get list]
deployments.apps/scale                         []                  []               [get list]
pods.apps                                      []                  []               [get list]
                                               [/healthz]          []               [get]
                                               [/version]          []               [get]
configmaps                                     []                  [a]              [update]
configmaps                                     []                  [b]              [update]
`
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	out.Reset()
	if err := printAccessList(&out, resp, true); err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(out.Bytes(), []byte("Resources")) {
		t.Errorf("--no-headers printed the header:\n%s", out.String())
	}
}
