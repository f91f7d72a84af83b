package openapi

import (
	"encoding/json"
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
	dflt               any // nil: none
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
		m := &marker{}
		for rest != "" {
			var item string
			if strings.HasPrefix(rest, "default=") {
				item, rest = rest, "" // the JSON value may hold spaces; it is always last
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
	}
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
