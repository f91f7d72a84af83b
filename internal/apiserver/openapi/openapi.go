package openapi

import (
	"errors"
	"reflect"
	"runtime/debug"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"kserver.dev/kserver/internal/apiserver/registry"
	"kserver.dev/kserver/internal/client"
)

// Config is what New needs.
type Config struct {
	// Resources are the served resources, as the registry catalogs them.
	Resources []*registry.Resource
	// Scheme knows the Go type of every served kind, its list kind and the
	// kinds of its subresources. nil means the scheme of the served API
	// versions (internal/client.NewScheme).
	Scheme *runtime.Scheme
	// Version is info.version of the documents, e.g. "v1.37.2".
	Version string
}

// Docs builds and holds the OpenAPI documents of one server and the type
// converter server-side apply uses. Nothing is built by New: each kind's
// merge schema on its first server-side apply or managed-fields update, the
// v2 document on the first /openapi/v2 request and all v3 documents on the
// first /openapi/v3 request (their index needs every document's hash).
// Only compressed bytes are kept. Safe for concurrent use.
type Docs struct {
	resources []*registry.Resource
	scheme    *runtime.Scheme
	version   string
	tc        *typeConverter

	marksOnce sync.Once
	marks     markers

	mu      sync.Mutex
	v2JSON  *blob
	v2Proto *blob
	v3      *v3Set
}

// New returns the documents of the resources cfg lists.
func New(cfg Config) (*Docs, error) {
	if len(cfg.Resources) == 0 {
		return nil, errors.New("openapi: no resources to describe")
	}
	d := &Docs{resources: cfg.Resources, scheme: cfg.Scheme, version: cfg.Version}
	d.tc = &typeConverter{docs: d, byGVK: map[schema.GroupVersionKind]managedfields.TypeConverter{}}
	if d.version == "" {
		d.version = "unversioned"
	}
	if d.scheme == nil {
		s, err := defaultScheme()
		if err != nil {
			return nil, err
		}
		d.scheme = s
	}
	return d, nil
}

// defaultScheme is the scheme of the served API versions.
func defaultScheme() (*runtime.Scheme, error) { return client.NewScheme() }

// TypeConverter converts the built-in types to and from the typed values
// server-side apply merges, with upstream's list types, list-map keys, map
// types and defaults.
func (d *Docs) TypeConverter() managedfields.TypeConverter { return d.tc }

// markers returns the parsed markers table.
func (d *Docs) markers() markers {
	d.marksOnce.Do(func() { d.marks = parseMarkers(apiMarkers) })
	return d.marks
}

// releaseMemory hands the garbage of a one-time build back to the
// operating system: building all documents leaves 10–20 MB of garbage that
// an idle server would otherwise keep resident until the runtime's next
// forced collection. Each document set is built once per process.
func releaseMemory() { debug.FreeOSMemory() }

// V2JSON returns the Swagger 2.0 document as JSON and its ETag.
func (d *Docs) V2JSON() ([]byte, string, error) {
	b, _, err := d.v2()
	if err != nil {
		return nil, "", err
	}
	doc, err := b.bytes()
	return doc, b.etag(), err
}

// V2Protobuf returns the Swagger 2.0 document in gnostic's protobuf
// encoding (what client-go asks for) and its ETag.
func (d *Docs) V2Protobuf() ([]byte, string, error) {
	_, b, err := d.v2()
	if err != nil {
		return nil, "", err
	}
	doc, err := b.bytes()
	return doc, b.etag(), err
}

// V3Index returns the /openapi/v3 discovery document.
func (d *Docs) V3Index() ([]byte, error) {
	set, err := d.v3Set()
	if err != nil {
		return nil, err
	}
	return set.index.bytes()
}

// V3Keys lists the keys of the v3 documents: "api", "api/v1", "apis",
// "apis/apps", "apis/apps/v1", …, "version".
func (d *Docs) V3Keys() ([]string, error) {
	set, err := d.v3Set()
	if err != nil {
		return nil, err
	}
	return set.keys, nil
}

// V3 returns the OpenAPI 3.0 document of one key and its hash (the ETag
// without quotes); ok is false for unknown keys.
func (d *Docs) V3(key string) (doc []byte, hash string, ok bool, err error) {
	set, err := d.v3Set()
	if err != nil {
		return nil, "", false, err
	}
	b, ok := set.docs[key]
	if !ok {
		return nil, "", false, nil
	}
	doc, err = b.bytes()
	return doc, b.hash, true, err
}

func (d *Docs) v2() (*blob, *blob, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.v2JSON == nil {
		j, p, err := d.buildV2()
		if err != nil {
			return nil, nil, err
		}
		d.v2JSON, d.v2Proto = j, p
		releaseMemory()
	}
	return d.v2JSON, d.v2Proto, nil
}

func (d *Docs) v3Set() (*v3Set, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.v3 == nil {
		set, err := d.buildV3()
		if err != nil {
			return nil, err
		}
		d.v3 = set
		releaseMemory()
	}
	return d.v3, nil
}

// typeIndex is what the scheme knows, seen both ways.
type typeIndex struct {
	types map[schema.GroupVersionKind]reflect.Type
	// gvks are the kinds each Go type is registered as, for
	// x-kubernetes-group-version-kind; internal versions and meta.k8s.io
	// are left out as upstream does.
	gvks map[reflect.Type][]schema.GroupVersionKind
}

func (d *Docs) typeIndex() typeIndex {
	all := d.scheme.AllKnownTypes()
	idx := typeIndex{types: all, gvks: map[reflect.Type][]schema.GroupVersionKind{}}
	for gvk, t := range all {
		if gvk.Version == runtime.APIVersionInternal || gvk.Group == metav1.GroupName {
			continue
		}
		idx.gvks[t] = append(idx.gvks[t], gvk)
	}
	for _, list := range idx.gvks {
		sort.Slice(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if a.Group != b.Group {
				return a.Group < b.Group
			}
			if a.Version != b.Version {
				return a.Version < b.Version
			}
			return a.Kind < b.Kind
		})
	}
	return idx
}
