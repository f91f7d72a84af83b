package printers

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestRelaxedJSONPath(t *testing.T) {
	for in, want := range map[string]string{"a.b": "{.a.b}", ".a.b": "{.a.b}", "{a.b}": "{.a.b}", "{.a.b}": "{.a.b}", "": ""} {
		if got, err := RelaxedJSONPath(in); err != nil || got != want {
			t.Errorf("%q → %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := RelaxedJSONPath("{a}{b}"); err == nil {
		t.Error("two templates must be rejected")
	}
}

func TestSorterComparesLikeKubectl(t *testing.T) {
	items := []map[string]any{
		{"name": "c", "mem": "1Gi", "n": int64(10)},
		{"name": "a", "mem": "900Mi", "n": int64(9)},
		{"name": "missing"},
		{"name": "b", "mem": "2Gi", "n": int64(100)},
	}
	order := func(path string) string {
		xs := append([]map[string]any(nil), items...)
		s, err := NewSorter(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Sort(len(xs), func(i int) map[string]any { return xs[i] }, func(i, j int) { xs[i], xs[j] = xs[j], xs[i] }); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range xs {
			names = append(names, x["name"].(string))
		}
		return strings.Join(names, ",")
	}
	if got := order(".mem"); got != "missing,a,c,b" {
		t.Errorf("quantities: %s", got)
	}
	if got := order("{.n}"); got != "missing,a,c,b" {
		t.Errorf("numbers: %s", got)
	}
	if got := order("name"); got != "a,b,c,missing" {
		t.Errorf("strings: %s", got)
	}
	s, _ := NewSorter(".nothing")
	if err := s.Sort(1, func(int) map[string]any { return items[0] }, func(i, j int) {}); err == nil ||
		err.Error() != `couldn't find any field with path "{.nothing}" in the list of objects` {
		t.Errorf("missing everywhere: %v", err)
	}
}

func TestCustomColumnsFile(t *testing.T) {
	p, err := ReadCustomColumnsFile(strings.NewReader("NAME             RSRC\n.metadata.name   .metadata.resourceVersion\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "kubia-manual", "resourceVersion": "42"}}}
	if err := p.PrintObj(u, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "NAME           RSRC\nkubia-manual   42\n" {
		t.Errorf("%q", b.String())
	}
}
