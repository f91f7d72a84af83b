package apiserver

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/store"
)

// gzipThreshold: responses at least this large are compressed when the
// client accepts gzip (upstream uses 128 KiB).
const gzipThreshold = 128 * 1024

// toServed converts a storage-version object to the request's version.
func (c *call) toServed(obj runtime.Object) (runtime.Object, error) {
	if c.servedAsStored() {
		return obj, nil
	}
	if c.res.Converter == nil {
		return nil, fmt.Errorf("no converter from %s to %s for %s", c.res.StorageVersion, c.res.GroupVersion, c.res.Resource)
	}
	out, err := c.res.Converter.Convert(obj, c.res.GroupVersion)
	if err != nil {
		return nil, err
	}
	out.GetObjectKind().SetGroupVersionKind(c.res.GroupVersionKind())
	return out, nil
}

// toStorage converts a request-version object to the storage version.
func (c *call) toStorage(obj runtime.Object) (runtime.Object, error) {
	if c.servedAsStored() {
		obj.GetObjectKind().SetGroupVersionKind(c.storageGVK())
		return obj, nil
	}
	if c.res.Converter == nil {
		return nil, fmt.Errorf("no converter from %s to %s for %s", c.res.GroupVersion, c.res.StorageVersion, c.res.Resource)
	}
	out, err := c.res.Converter.Convert(obj, c.res.StorageVersion)
	if err != nil {
		return nil, err
	}
	out.GetObjectKind().SetGroupVersionKind(c.storageGVK())
	return out, nil
}

// respondStored answers with one stored object.
func (c *call) respondStored(kv store.KeyValue, code int) {
	if c.out.as == "" && c.out.media == mediaJSON && !c.out.pretty && c.servedAsStored() {
		c.flushWarnings()
		c.w.Header().Set("Content-Type", mediaJSON)
		c.w.WriteHeader(code)
		_ = writeWithRV(c.w, kv.Value, kv.ModRevision)
		return
	}
	obj, err := c.s.decodeStored(c.storageGVK(), kv)
	if err != nil {
		c.fail(err)
		return
	}
	c.respondObject(obj, code)
}

// respondObject answers with one typed object of the storage version.
func (c *call) respondObject(obj runtime.Object, code int) {
	served, err := c.toServed(obj)
	if err != nil {
		c.fail(err)
		return
	}
	var body []byte
	switch c.out.as {
	case "Table":
		var t *metav1.Table
		if t, err = c.table([]runtime.Object{obj}, resourceVersion(obj), true); err == nil {
			body, err = c.encodeMeta(t)
		}
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		var m metav1.Object
		if m, err = meta.Accessor(served); err == nil {
			body, err = c.encodeMeta(partialMeta(m, c.out.asVersion))
		}
	default:
		body, err = c.s.codecs.encodeObject(c.out, served)
	}
	if err != nil {
		c.fail(err)
		return
	}
	c.write(code, body)
}

// resourceVersion is obj's metadata.resourceVersion ("" without metadata).
func resourceVersion(obj runtime.Object) string {
	if m, err := meta.Accessor(obj); err == nil {
		return m.GetResourceVersion()
	}
	return ""
}

// encodeMeta encodes a meta.k8s.io object (Table, PartialObjectMetadata).
func (c *call) encodeMeta(obj runtime.Object) ([]byte, error) {
	if c.out.media == mediaProtobuf {
		return c.s.codecs.encodeObject(c.out, obj)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if c.out.media == mediaYAML {
		return yaml.JSONToYAML(data)
	}
	return append(data, '\n'), nil
}

// write sends a complete body, compressed when large and accepted.
func (c *call) write(code int, body []byte) {
	c.flushWarnings()
	h := c.w.Header()
	h.Set("Content-Type", c.out.contentType())
	if len(body) >= gzipThreshold && acceptsGzip(c.r) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		c.w.WriteHeader(code)
		gz := gzip.NewWriter(c.w)
		_, _ = gz.Write(body)
		_ = gz.Close()
		return
	}
	c.w.WriteHeader(code)
	_, _ = c.w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

// partialMeta is a PartialObjectMetadata of m in meta.k8s.io/<version>.
func partialMeta(m metav1.Object, version string) *metav1.PartialObjectMetadata {
	if version == "" {
		version = "v1"
	}
	p := &metav1.PartialObjectMetadata{}
	p.TypeMeta = metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/" + version}
	if om, ok := m.(*metav1.ObjectMeta); ok {
		p.ObjectMeta = *om
		return p
	}
	p.ObjectMeta = metav1.ObjectMeta{
		Name: m.GetName(), GenerateName: m.GetGenerateName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), Generation: m.GetGeneration(),
		CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp(),
		DeletionGracePeriodSeconds: m.GetDeletionGracePeriodSeconds(), Labels: m.GetLabels(),
		Annotations: m.GetAnnotations(), OwnerReferences: m.GetOwnerReferences(), Finalizers: m.GetFinalizers(),
		ManagedFields: m.GetManagedFields(),
	}
	return p
}
