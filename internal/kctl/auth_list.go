package kctl

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// `auth can-i --list`: a SelfSubjectRulesReview for the namespace, its
// rules broken down to one verb, resource and name each, then simple ones
// (one group, one resource, at most one name) merged again across verbs,
// sorted and printed in kubectl's four columns.

var gvrSSRR = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectrulesreviews"}

func runCanIList(cmd *cobra.Command, f *Factory, noHeaders bool) error {
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	dyn, err := f.Dynamic()
	if err != nil {
		return err
	}
	review := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
		"metadata": map[string]any{}, "spec": map[string]any{"namespace": ns}}}
	resp, err := dyn.Resource(gvrSSRR).Create(cmd.Context(), review, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if incomplete, _, _ := unstructured.NestedBool(resp.Object, "status", "incomplete"); incomplete {
		msg, _, _ := unstructured.NestedString(resp.Object, "status", "evaluationError")
		fmt.Fprintf(f.IO.ErrOut, "Warning: the list may be incomplete: %v\n", msg)
	}
	return printAccessList(f.IO.Out, resp, noHeaders)
}

// printAccessList prints a SelfSubjectRulesReview's rules as kubectl does.
func printAccessList(out io.Writer, resp *unstructured.Unstructured, noHeaders bool) error {
	var broken []rbacv1.PolicyRule
	for _, r := range reviewRules(resp) {
		broken = append(broken, breakdownRule(r)...)
	}
	rules := compactRules(broken)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].String() < rules[j].String() })
	w := newGetTabWriter(out)
	if !noHeaders {
		fmt.Fprintln(w, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
	}
	for _, r := range rules {
		fmt.Fprintf(w, "%s\t%v\t%v\t%v\n", combineResourceGroup(r.Resources, r.APIGroups), r.NonResourceURLs, r.ResourceNames, r.Verbs)
	}
	return w.Flush()
}

// reviewRules reads a SelfSubjectRulesReview's status as policy rules.
func reviewRules(resp *unstructured.Unstructured) []rbacv1.PolicyRule {
	strs := func(m map[string]any, k string) []string {
		s, _, _ := unstructured.NestedStringSlice(m, k)
		return s
	}
	var out []rbacv1.PolicyRule
	rr, _, _ := unstructured.NestedSlice(resp.Object, "status", "resourceRules")
	for _, x := range rr {
		if m, ok := x.(map[string]any); ok {
			out = append(out, rbacv1.PolicyRule{Verbs: strs(m, "verbs"), APIGroups: strs(m, "apiGroups"),
				Resources: strs(m, "resources"), ResourceNames: strs(m, "resourceNames")})
		}
	}
	nr, _, _ := unstructured.NestedSlice(resp.Object, "status", "nonResourceRules")
	for _, x := range nr {
		if m, ok := x.(map[string]any); ok {
			out = append(out, rbacv1.PolicyRule{Verbs: strs(m, "verbs"), NonResourceURLs: strs(m, "nonResourceURLs")})
		}
	}
	return out
}

// breakdownRule splits a rule into rules of one group, resource, verb and
// resource name each (non-resource URLs: one URL and verb each).
func breakdownRule(r rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, g := range r.APIGroups {
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				if len(r.ResourceNames) == 0 {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: []string{v}})
					continue
				}
				for _, n := range r.ResourceNames {
					out = append(out, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: []string{res}, Verbs: []string{v}, ResourceNames: []string{n}})
				}
			}
		}
	}
	for _, u := range r.NonResourceURLs {
		for _, v := range r.Verbs {
			out = append(out, rbacv1.PolicyRule{NonResourceURLs: []string{u}, Verbs: []string{v}})
		}
	}
	return out
}

// simpleKey identifies a rule of one group, one resource and at most one
// resource name; ok is false for any other rule.
func simpleKey(r rbacv1.PolicyRule) (key [4]string, ok bool) {
	if len(r.ResourceNames) > 1 || len(r.NonResourceURLs) > 0 || len(r.APIGroups) != 1 || len(r.Resources) != 1 {
		return key, false
	}
	plain := rbacv1.PolicyRule{APIGroups: r.APIGroups, Resources: r.Resources, Verbs: r.Verbs, ResourceNames: r.ResourceNames}
	if !reflect.DeepEqual(plain, r) {
		return key, false
	}
	key = [4]string{r.APIGroups[0], r.Resources[0], "", ""}
	if len(r.ResourceNames) == 1 {
		key[2], key[3] = "name", r.ResourceNames[0]
	}
	return key, true
}

// compactRules merges simple rules that differ only in their verbs; other
// rules pass through first, the merged ones follow.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	var order [][4]string
	merged := map[[4]string]*rbacv1.PolicyRule{}
	for _, r := range rules {
		key, ok := simpleKey(r)
		if !ok {
			out = append(out, r)
			continue
		}
		if m := merged[key]; m != nil {
			for _, v := range r.Verbs {
				if !slices.Contains(m.Verbs, v) {
					m.Verbs = append(m.Verbs, v)
				}
			}
			continue
		}
		merged[key] = r.DeepCopy()
		order = append(order, key)
	}
	for _, k := range order {
		out = append(out, *merged[k])
	}
	return out
}

// combineResourceGroup is kubectl's RESOURCE.GROUP[/SUBRESOURCE] column.
func combineResourceGroup(resources, groups []string) string {
	if len(resources) == 0 {
		return ""
	}
	res, sub, hasSub := strings.Cut(resources[0], "/")
	if len(groups) > 0 && groups[0] != "" {
		res += "." + groups[0]
	}
	if hasSub {
		res += "/" + sub
	}
	return res
}
