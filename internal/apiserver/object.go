package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/store"
)

// Stored encoding. Objects are stored as the JSON of their storage version,
// with kind and apiVersion set and metadata.resourceVersion left out: the
// resourceVersion is the store revision of the key, so it is spliced in on
// the way out. Because JSON is also what most clients read, a GET or LIST
// in the storage version with a JSON Accept copies stored bytes to the
// response without decoding them (writeWithRV); only Tables, other
// versions, YAML, protobuf, selectors on fields and writes decode.

// keyNames maps upstream's etcd key names that differ from the resource name.
var keyNames = map[schema.GroupResource]string{
	{Group: "", Resource: "services"}:                                      "services/specs",
	{Group: "", Resource: "endpoints"}:                                     "services/endpoints",
	{Group: "", Resource: "nodes"}:                                         "minions",
	{Group: "networking.k8s.io", Resource: "ingresses"}:                    "ingress",
	{Group: "events.k8s.io", Resource: "events"}:                           "events",
	{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}: "apiextensions.k8s.io/customresourcedefinitions",
}

// keyPrefix is the store prefix of every object of res, ending in "/".
// Built-in groups live directly under /registry as in upstream's etcd
// layout; others are group-qualified.
func keyPrefix(res *registry.Resource) string {
	gr := schema.GroupResource{Group: res.StorageVersion.Group, Resource: res.Resource}
	if n, ok := keyNames[gr]; ok {
		return "/registry/" + n + "/"
	}
	if gr.Group == "" || builtinGroup(gr.Group) {
		return "/registry/" + gr.Resource + "/"
	}
	return "/registry/" + gr.Group + "/" + gr.Resource + "/"
}

func builtinGroup(g string) bool {
	switch g {
	case "apps", "batch", "autoscaling", "policy":
		return true
	}
	return len(g) > len(".k8s.io") && g[len(g)-len(".k8s.io"):] == ".k8s.io" && g != "apiextensions.k8s.io"
}

// listPrefix is the prefix for a list in namespace ns ("" = all).
func listPrefix(res *registry.Resource, ns string) string {
	if !res.Namespaced || ns == "" {
		return keyPrefix(res)
	}
	return keyPrefix(res) + ns + "/"
}

func objectKey(res *registry.Resource, ns, name string) string {
	if res.Namespaced {
		return keyPrefix(res) + ns + "/" + name
	}
	return keyPrefix(res) + name
}

// encodeStored renders obj (storage version, kind set) for the store with
// resourceVersion cleared.
func encodeStored(obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	data, err := json.Marshal(obj)
	m.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return data, nil
}

// decodeStored decodes a stored value into a new typed object of gvk and
// sets its resourceVersion from the key's revision.
func (s *Server) decodeStored(gvk schema.GroupVersionKind, kv store.KeyValue) (runtime.Object, error) {
	cacheable := kv.Key != "" && len(kv.Value) <= decodedCacheMaxBytes
	if cacheable {
		if obj, ok := s.decoded.get(kv.Key, kv.ModRevision); ok && obj.GetObjectKind().GroupVersionKind() == gvk {
			return obj, nil
		}
	}
	obj, err := s.decodeValue(gvk, kv)
	if err == nil && cacheable {
		s.decoded.put(kv.Key, kv.ModRevision, len(kv.Value), obj)
	}
	return obj, err
}

func (s *Server) decodeValue(gvk schema.GroupVersionKind, kv store.KeyValue) (runtime.Object, error) {
	obj, err := s.codecs.scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", kv.Key, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(kv.ModRevision, 10))
	}
	return obj, nil
}

var metadataOpen = []byte(`"metadata":{`)

// writeWithRV writes a stored JSON object with its resourceVersion spliced
// into metadata. The stored bytes are shared with the store and never
// modified.
func writeWithRV(w io.Writer, stored []byte, rv int64) error {
	i := bytes.Index(stored, metadataOpen)
	if i < 0 {
		_, err := w.Write(stored)
		return err
	}
	i += len(metadataOpen)
	var buf [48]byte
	field := append(buf[:0], `"resourceVersion":"`...)
	field = strconv.AppendInt(field, rv, 10)
	field = append(field, '"')
	if i < len(stored) && stored[i] != '}' {
		field = append(field, ',')
	}
	if _, err := w.Write(stored[:i]); err != nil {
		return err
	}
	if _, err := w.Write(field); err != nil {
		return err
	}
	_, err := w.Write(stored[i:])
	return err
}

// withRV returns a copy of stored with its resourceVersion spliced in.
func withRV(stored []byte, rv int64) []byte {
	var b bytes.Buffer
	b.Grow(len(stored) + 32)
	_ = writeWithRV(&b, stored, rv)
	return b.Bytes()
}

// objectMeta decodes only the metadata of a stored object (for label
// selectors and partial-metadata responses).
func objectMeta(stored []byte) (metav1.ObjectMeta, error) {
	var v struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	err := json.Unmarshal(stored, &v)
	return v.Metadata, err
}

func parseRV(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("invalid resource version %q", s)
	}
	return n, nil
}

func gr(group, resource string) schema.GroupResource {
	return schema.GroupResource{Group: group, Resource: resource}
}

// qualified is the group/resource used in error messages ("pods",
// "deployments.apps").
func qualified(res *registry.Resource) schema.GroupResource {
	return gr(res.GroupVersion.Group, res.Resource)
}
