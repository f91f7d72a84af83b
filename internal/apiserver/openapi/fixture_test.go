package openapi

import (
	"encoding/json"
	"sync"
	"testing"

	"kserver.dev/kserver/internal/apiserver/registry"
)

// The documents of the whole catalog take a second or two to build; tests
// share one set.
var (
	sharedOnce sync.Once
	sharedDocs *Docs
	sharedErr  error
)

func testDocs(t *testing.T) *Docs {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDocs, sharedErr = New(Config{Resources: registry.New().All(), Version: "v1.37.2"})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedDocs
}

// v3Doc returns one v3 document decoded into plain maps.
func v3Doc(t *testing.T, d *Docs, key string) map[string]any {
	t.Helper()
	raw, _, ok, err := d.V3(key)
	if err != nil || !ok {
		t.Fatalf("v3 document %s: ok=%v err=%v", key, ok, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("v3 document %s: %v", key, err)
	}
	return doc
}

// obj walks nested maps: obj(doc, "components", "schemas", name).
func obj(v any, keys ...string) map[string]any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	m, _ := v.(map[string]any)
	return m
}
