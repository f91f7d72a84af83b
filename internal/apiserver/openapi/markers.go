package openapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// markers are the comment markers of the k8s.io/api sources that shape
// the OpenAPI schemas but are invisible to reflection (markers_table.go,
// generated from the sources and checked against them by a test):
//
//	required / optional   the field is (not) required although omitempty
//	                      says otherwise (upstream's openapi-gen rule: the
//	                      marker wins over the JSON tag)
//	listType=atomic|set|map, listMapKey=<key>   x-kubernetes-list-type and
//	                      x-kubernetes-list-map-keys: how server-side apply
//	                      merges the list
//	mapType=, structType=atomic|granular        x-kubernetes-map-type
//	default=<JSON>        the field's default value (v3 and apply)
//	enum=["<value>","<description>"]  one value of a +enum string type:
//	                      fields of the type list the values ("enum") and
//	                      describe them after their own description
//
// Field lines describe one field; "-" lines describe the type itself (a
// struct's map type, or a named slice or map type used by fields).
type markers map[string]*marker

// marker is what the markers say about one field or type.
type marker struct {
	required, optional bool
	listType           string
	listMapKeys        []string
	mapType            string
	dflt               any         // nil: none
	enum               [][2]string // value, description; sorted by value
}

// parseMarkers reads markers_table.go's lines.
func parseMarkers(table string) markers {
	out := markers{}
	for line := range strings.Lines(table) {
		def, rest, ok := strings.Cut(strings.TrimSpace(line), " ")
		field, rest, ok2 := strings.Cut(rest, " ")
		if !ok || !ok2 {
			continue
		}
		m := out[def+" "+field]
		if m == nil {
			m = &marker{}
		}
		for rest != "" {
			var item string
			if strings.HasPrefix(rest, "default=") || strings.HasPrefix(rest, "enum=") {
				item, rest = rest, "" // JSON values may hold spaces; they are always last
			} else {
				item, rest, _ = strings.Cut(rest, " ")
			}
			m.set(item)
		}
		out[def+" "+field] = m
	}
	return out
}

func (m *marker) set(item string) {
	k, v, _ := strings.Cut(item, "=")
	switch k {
	case "required":
		m.required = true
	case "optional":
		m.optional = true
	case "listType":
		m.listType = v
	case "listMapKey":
		m.listMapKeys = append(m.listMapKeys, v)
	case "mapType", "structType":
		m.mapType = v
	case "default":
		_ = json.Unmarshal([]byte(v), &m.dflt) // the test keeps the table valid JSON
	case "enum":
		var e [2]string
		if json.Unmarshal([]byte(v), &e) == nil {
			i := sort.Search(len(m.enum), func(i int) bool { return m.enum[i][0] >= e[0] })
			m.enum = slices.Insert(m.enum, i, e)
		}
	}
}

// enumValues are the values of an enum type, sorted.
func (m *marker) enumValues() []string {
	if m == nil {
		return nil
	}
	out := make([]string, len(m.enum))
	for i, e := range m.enum {
		out[i] = e[0]
	}
	return out
}

// enumDescription is what upstream appends to the description of a field
// of an enum type.
func (m *marker) enumDescription() string {
	if m == nil || len(m.enum) == 0 {
		return ""
	}
	lines := make([]string, len(m.enum))
	for i, e := range m.enum {
		lines[i] = strings.TrimRight(fmt.Sprintf(" - `%q` %s", e[0], e[1]), " ")
	}
	sort.Strings(lines)
	return "Possible enum values:\n" + strings.Join(lines, "\n")
}

// field returns the markers of one field of a definition, nil for none.
func (ms markers) field(def, field string) *marker { return ms[def+" "+field] }

// typ returns the markers of a type, nil for none.
func (ms markers) typ(def string) *marker { return ms[def+" -"] }

// apply puts list and map types onto the schema of a value.
func (m *marker) apply(n *node) {
	if m == nil {
		return
	}
	if m.listType != "" && n.typ == "array" {
		n.listType = m.listType
		if m.listType == "map" {
			n.listMapKeys = m.listMapKeys
		}
	}
	if m.mapType != "" && (n.typ == "object" || n.ref != "") {
		n.mapType = m.mapType
	}
}
