package describe

import (
	"context"
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// compactRule is one row of the PolicyRule table.
type compactRule struct {
	resource, verbsKey string
	group, base        string
	urls, names, verbs []string
}

// compactRules splits every rule into single (group, resource, name) rules
// and merges equal ones, collecting their verbs in first-seen order.
func compactRules(rules []rbacv1.PolicyRule) []compactRule {
	var out []compactRule
	idx := map[string]int{}
	for _, r := range rules {
		for _, url := range r.NonResourceURLs {
			out = append(out, compactRule{urls: []string{url}, verbs: r.Verbs})
		}
		groups := r.APIGroups
		if len(groups) == 0 && len(r.Resources) > 0 {
			groups = []string{""}
		}
		for _, g := range groups {
			for _, res := range r.Resources {
				name := res
				if g != "" {
					if base, sub, ok := cutSub(res); ok {
						name = base + "." + g + "/" + sub
					} else {
						name = res + "." + g
					}
				}
				names := r.ResourceNames
				key := name + "|" + fmt.Sprint(names)
				if i, ok := idx[key]; ok {
					for _, v := range r.Verbs {
						if !containsStr(out[i].verbs, v) {
							out[i].verbs = append(out[i].verbs, v)
						}
					}
					continue
				}
				idx[key] = len(out)
				out = append(out, compactRule{resource: name, group: g, base: res, names: names, verbs: append([]string(nil), r.Verbs...)})
			}
		}
	}
	// kubectl sorts by the rule's debug string, which starts with the verbs.
	for i, r := range out {
		var groups, res []string
		if r.urls == nil {
			groups, res = []string{r.group}, []string{r.base}
		}
		out[i].verbsKey = fmt.Sprintf("&PolicyRule{Verbs:%v,APIGroups:%v,Resources:%v,ResourceNames:%v,NonResourceURLs:%v,}",
			r.verbs, groups, res, r.names, r.urls)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].verbsKey < out[j].verbsKey })
	return out
}

func cutSub(res string) (string, string, bool) {
	for i := 0; i < len(res); i++ {
		if res[i] == '/' {
			return res[:i], res[i+1:], true
		}
	}
	return res, "", false
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func slice(l []string) string {
	if l == nil {
		l = []string{}
	}
	return fmt.Sprint(l)
}

func describeRole(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	var rules []rbacv1.PolicyRule
	if u.GetKind() == "Role" {
		r, err := into[rbacv1.Role](u)
		if err != nil {
			return "", err
		}
		rules = r.Rules
	} else {
		r, err := into[rbacv1.ClusterRole](u)
		if err != nil {
			return "", err
		}
		rules = r.Rules
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", u.GetName())
		printLabels(w, "Labels", u.GetLabels(), L0)
		printAnnotations(w, u.GetAnnotations(), L0)
		w.Write(L0, "PolicyRule:\n")
		w.Write(L1, "Resources\tNon-Resource URLs\tResource Names\tVerbs\n")
		w.Write(L1, "---------\t-----------------\t--------------\t-----\n")
		for _, r := range compactRules(rules) {
			w.Write(L1, "%s\t%v\t%v\t%v\n", r.resource, slice(r.urls), slice(r.names), slice(r.verbs))
		}
		return nil
	})
}

func describeRoleBinding(ctx context.Context, d *Describer, u *unstructured.Unstructured) (string, error) {
	rb, err := into[rbacv1.RoleBinding](u)
	if err != nil {
		return "", err
	}
	return tabbed(func(w *prefixWriter) error {
		w.Write(L0, "Name:\t%s\n", rb.Name)
		printLabels(w, "Labels", rb.Labels, L0)
		printAnnotations(w, rb.Annotations, L0)
		w.Write(L0, "Role:\n")
		w.Write(L1, "Kind:\t%s\n", rb.RoleRef.Kind)
		w.Write(L1, "Name:\t%s\n", rb.RoleRef.Name)
		w.Write(L0, "Subjects:\n")
		w.Write(L1, "Kind\tName\tNamespace\n")
		w.Write(L1, "----\t----\t---------\n")
		for _, s := range rb.Subjects {
			w.Write(L1, "%s\t%s\t%s\n", s.Kind, s.Name, s.Namespace)
		}
		return nil
	})
}
