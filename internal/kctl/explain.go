package kctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/mitchellh/go-wordwrap"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/kctl/discovery"
)

func newExplainCommand(f *Factory) *cobra.Command {
	var recursive bool
	var apiVersion, output string
	cmd := &cobra.Command{
		Use:   "explain TYPE [--recursive=FALSE|TRUE] [--api-version=api-version-group] [-o|--output=plaintext|plaintext-openapiv2]",
		Short: "Get documentation for a resource",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(cmd.CommandPath(), "You must specify the type of resource to explain. Use \"kubectl api-resources\" for a complete list of supported resources.\n")
			}
			if output != "plaintext" {
				return fmt.Errorf("unsupported output format: %s", output)
			}
			parts := strings.Split(args[0], ".")
			gvr, err := explainResource(f, parts[0], apiVersion)
			if err != nil {
				return explainError(err)
			}
			doc, err := openAPIDocument(f, gvr.GroupVersion())
			if err != nil {
				return err
			}
			// Like kubectl's template, the header is out before a missing
			// field is noticed.
			text, err := (&explainer3{doc: doc, recursive: recursive}).render(gvr, parts[1:])
			fmt.Fprint(f.IO.Out, text)
			return err
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "When true, print the name of all the fields recursively. Otherwise, print the available fields with their description.")
	cmd.Flags().StringVar(&apiVersion, "api-version", "", "Use given api-version (group/version) of the resource.")
	cmd.Flags().StringVarP(&output, "output", "o", "plaintext", "Format in which to render the schema. Valid values are: (plaintext, plaintext-openapiv2).")
	return cmd
}

func explainResource(f *Factory, res, apiVersion string) (schema.GroupVersionResource, error) {
	m, err := f.Mapper()
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	gvr, err := m.ResourceFor(schema.GroupVersionResource{Resource: strings.ToLower(res)})
	if err != nil {
		if derr := discoveryError(f); derr != nil {
			return gvr, derr
		}
		return gvr, &noMatch{res}
	}
	if apiVersion != "" {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return gvr, err
		}
		gvr.Group, gvr.Version = gv.Group, gv.Version
	}
	return gvr, nil
}

type noMatch struct{ res string }

// explainError is kubectl explain's unprefixed message for an unknown type.
func explainError(err error) error {
	if nm, ok := err.(*noMatch); ok {
		return &ExitError{Code: 1, Msg: nm.Error()}
	}
	return err
}

func (n *noMatch) Error() string {
	return fmt.Sprintf("the server doesn't have a resource type %q", n.res)
}

// openAPIDocument fetches the OpenAPI v3 document of a group version.
func openAPIDocument(f *Factory, gv schema.GroupVersion) (map[string]any, error) {
	disc, err := f.Discovery()
	if err != nil {
		return nil, err
	}
	b, err := disc.OpenAPIV3(gv)
	if errors.Is(err, discovery.ErrNoOpenAPI) {
		return nil, fmt.Errorf("couldn't find resource for %q", gv.String())
	}
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	return doc, json.Unmarshal(b, &doc)
}

// explainer3 renders kubectl's plaintext explain template from an
// OpenAPI v3 document.
type explainer3 struct {
	doc       map[string]any
	recursive bool
}

func mp(v any) map[string]any { m, _ := v.(map[string]any); return m }

func (e *explainer3) resolve(s map[string]any) map[string]any {
	if ref, _ := s["$ref"].(string); ref != "" {
		name := ref[strings.LastIndex(ref, "/")+1:]
		if r := mp(mp(mp(e.doc["components"])["schemas"])[name]); r != nil {
			return r
		}
	}
	return s
}

func (e *explainer3) render(gvr schema.GroupVersionResource, fields []string) (string, error) {
	gvk := e.findGVK(gvr)
	if gvk == nil {
		return "", fmt.Errorf("GVR (%s) not found in OpenAPI schema", gvr.String())
	}
	var b strings.Builder
	if g, _ := gvk["group"].(string); g != "" {
		fmt.Fprintf(&b, "GROUP:      %s\n", g)
	}
	fmt.Fprintf(&b, "KIND:       %s\nVERSION:    %s\n\n", gvk["kind"], gvk["version"])
	var root map[string]any
	names := sortedAnyKeys(mp(mp(e.doc["components"])["schemas"]))
	for _, n := range names {
		s := mp(mp(mp(e.doc["components"])["schemas"])[n])
		for _, x := range asList(s["x-kubernetes-group-version-kind"]) {
			if reflect.DeepEqual(x, gvk) {
				root = s
			}
		}
		if root != nil {
			break
		}
	}
	if root == nil {
		return "", fmt.Errorf("GVK %v not found in OpenAPI schema", gvk)
	}
	out, ok := e.output(root, fields, map[string]bool{})
	if !ok {
		return b.String(), fmt.Errorf("field %q does not exist", fields[len(fields)-1])
	}
	b.WriteString(out)
	b.WriteString("\n")
	return b.String(), nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

func sortedAnyKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *explainer3) findGVK(gvr schema.GroupVersionResource) map[string]any {
	prefix := "/api"
	if gvr.Group != "" {
		prefix = "/apis/" + gvr.Group
	}
	base := prefix + "/" + gvr.Version
	for _, p := range []string{base + "/" + gvr.Resource, base + "/" + gvr.Resource + "/{name}",
		base + "/namespaces/{namespace}/" + gvr.Resource, base + "/namespaces/{namespace}/" + gvr.Resource + "/{name}"} {
		el := mp(mp(e.doc["paths"])[p])
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			if g := mp(mp(el[method])["x-kubernetes-group-version-kind"]); g != nil {
				return g
			}
		}
	}
	return nil
}

func indentText(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// output follows the field path, then prints DESCRIPTION and FIELDS.
func (e *explainer3) output(s map[string]any, path []string, history map[string]bool) (string, bool) {
	ref, _ := s["$ref"].(string)
	resolved := e.resolve(s)
	if len(path) == 0 {
		var b strings.Builder
		desc := e.description(s)
		if desc == "" {
			desc = "<empty>"
		}
		b.WriteString("DESCRIPTION:\n" + indentText(4, wordwrap.WrapString(desc, 76)) + "\n")
		if ed := mp(resolved["externalDocs"]); ed != nil {
			b.WriteString("\n" + externalDocs(ed, 0))
		}
		if fl := e.fieldList(s, 1, map[string]bool{}); fl != "" {
			b.WriteString("FIELDS:\n" + fl)
		}
		return b.String(), true
	}
	if ref != "" && history[ref] {
		return "", false
	}
	next := map[string]bool{ref: true}
	for k := range history {
		next[k] = true
	}
	if sub := mp(mp(resolved["properties"])[path[0]]); sub != nil {
		var b strings.Builder
		if len(path) == 1 {
			fmt.Fprintf(&b, "FIELD: %s <%s>\n%s\n\n", path[0], e.typeGuess(sub), e.enum(sub, true, -1, 0))
		}
		out, ok := e.output(sub, path[1:], map[string]bool{})
		return b.String() + out, ok
	}
	if items := mp(resolved["items"]); items != nil {
		return e.output(items, path, next)
	}
	if ap := mp(resolved["additionalProperties"]); ap != nil {
		return e.output(ap, path, next)
	}
	for _, a := range asList(resolved["allOf"]) {
		if out, ok := e.output(mp(a), path, next); ok && out != "" {
			return out, true
		}
	}
	return "", false
}

func externalDocs(ed map[string]any, indent int) string {
	s := indentText(indent, "EXTERNAL DOCS:") + "\n"
	if d, _ := ed["description"].(string); d != "" {
		s += indentText(indent+4, wordwrap.WrapString(d, uint(76-indent))) + "\n"
	}
	if u, _ := ed["url"].(string); u != "" {
		s += indentText(indent+4, "URL: "+u) + "\n"
	}
	return s
}

func (e *explainer3) description(s map[string]any) string {
	r := e.resolve(s)
	var b strings.Builder
	if d, _ := r["description"].(string); d != "" {
		b.WriteString(d + "\n")
	}
	for _, a := range asList(r["allOf"]) {
		b.WriteString(e.description(mp(a)))
	}
	if it := mp(r["items"]); it != nil {
		b.WriteString(e.description(it))
	}
	if ap := mp(r["additionalProperties"]); ap != nil {
		b.WriteString(e.description(ap))
	}
	return b.String()
}

func (e *explainer3) fieldList(s map[string]any, level int, history map[string]bool) string {
	ref, _ := s["$ref"].(string)
	if ref != "" && history[ref] {
		return ""
	}
	next := map[string]bool{ref: true}
	for k := range history {
		next[k] = true
	}
	r := e.resolve(s)
	var b strings.Builder
	props := mp(r["properties"])
	required := map[string]bool{}
	for _, q := range asList(r["required"]) {
		required[fmt.Sprint(q)] = true
	}
	for _, name := range sortedAnyKeys(props) {
		fs := mp(props[name])
		ind := level * 2
		b.WriteString(indentText(ind, name) + "\t<" + e.typeGuess(fs) + ">")
		if required[name] {
			b.WriteString(" -required-")
		}
		b.WriteString(e.enum(fs, false, 4, ind) + "\n")
		if !e.recursive {
			d, _ := fs["description"].(string)
			if d == "" {
				d = "<no description>"
			}
			b.WriteString(indentText(ind+2, wordwrap.WrapString(d, uint(78-ind))) + "\n")
			if ed := mp(fs["externalDocs"]); ed != nil {
				b.WriteString("\n" + externalDocs(ed, ind+2))
			}
			b.WriteString("\n")
		} else {
			b.WriteString(e.fieldList(fs, level+1, next))
		}
	}
	for _, a := range asList(r["allOf"]) {
		b.WriteString(e.fieldList(mp(a), level, next))
	}
	if it := mp(r["items"]); it != nil {
		b.WriteString(e.fieldList(it, level, next))
	}
	if ap := mp(r["additionalProperties"]); ap != nil {
		b.WriteString(e.fieldList(ap, level, next))
	}
	return b.String()
}

func (e *explainer3) typeGuess(s map[string]any) string {
	switch {
	case mp(s["items"]) != nil:
		return "[]" + e.typeGuess(mp(s["items"]))
	case mp(s["additionalProperties"]) != nil:
		return "map[string]" + e.typeGuess(mp(s["additionalProperties"]))
	case len(asList(s["allOf"])) == 1 && s["properties"] == nil:
		return e.typeGuess(mp(asList(s["allOf"])[0]))
	}
	if ref, _ := s["$ref"].(string); ref != "" {
		r := e.resolve(s)
		if t, _ := r["type"].(string); t != "" && t != "object" {
			return t
		}
		name := ref[strings.LastIndex(ref, "/")+1:]
		if i := strings.LastIndex(name, "."); i >= 0 {
			name = name[i+1:]
		}
		if name == "" {
			return "Object"
		}
		return name
	}
	t, _ := s["type"].(string)
	if t == "" || t == "object" {
		return "Object"
	}
	return t
}

// enum is the `enum: a, b` suffix (list view, at most limit values) or the
// `ENUM:` block of the FIELD header (long view).
func (e *explainer3) enum(s map[string]any, long bool, limit, indent int) string {
	vals := asList(s["enum"])
	if len(vals) == 0 {
		return ""
	}
	var b strings.Builder
	if long {
		b.WriteString("ENUM:")
	} else {
		b.WriteString("\n" + strings.Repeat(" ", indent) + "enum: ")
	}
	for i, v := range vals {
		if limit > -1 && i >= limit {
			b.WriteString(", ....")
			break
		}
		if i > 0 && !long {
			b.WriteString(", ")
		} else if long {
			b.WriteString("\n    ")
		}
		if str, ok := v.(string); ok && str == "" {
			b.WriteString(`""`)
		} else {
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}
