package client

import (
	"fmt"
	"net/http"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// Object is what typed clients and informers handle: a pointer to a
// built-in API type.
type Object interface {
	runtime.Object
	metav1.Object
}

// Typed is a typed client of one resource in one namespace ("" for
// cluster-scoped resources or all namespaces): Get, List, Watch, Create,
// Update, UpdateStatus, Patch (with subresources), Delete, DeleteCollection.
type Typed[T Object, L runtime.Object] = gentype.ClientWithList[T, L]

// Set holds the REST clients of one identity for every served group version.
// It is safe for concurrent use; typed clients made from it are cheap.
type Set struct {
	scheme *runtime.Scheme
	params runtime.ParameterCodec
	config *rest.Config
	http   *http.Client
	rest   map[schema.GroupVersion]*rest.RESTClient
	meta   metadata.Interface
}

// ContentTypeJSON makes New use JSON instead of the default protobuf (for
// debugging traffic by eye).
const ContentTypeJSON = "application/json"

// New builds the clients for cfg. Request bodies are protobuf, as client-go's
// own typed clients send since 1.32, unless cfg.ContentType says otherwise.
func New(cfg *rest.Config) (*Set, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	if c.ContentType == "" {
		c.ContentType = "application/vnd.kubernetes.protobuf"
		c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	hc, err := rest.HTTPClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	s := &Set{
		scheme: scheme,
		params: runtime.NewParameterCodec(scheme),
		config: c,
		http:   hc,
		rest:   map[schema.GroupVersion]*rest.RESTClient{},
	}
	codecs := serializer.NewCodecFactory(scheme)
	for _, gv := range scheme.PrioritizedVersionsAllGroups() {
		rc := rest.CopyConfig(c)
		gv := gv
		rc.GroupVersion = &gv
		rc.APIPath = "/apis"
		if gv.Group == "" {
			rc.APIPath = "/api"
		}
		rc.NegotiatedSerializer = codecs.WithoutConversion()
		client, err := rest.RESTClientForConfigAndClient(rc, hc)
		if err != nil {
			return nil, fmt.Errorf("rest client for %s: %w", gv, err)
		}
		s.rest[gv] = client
	}
	if err := newMetadataClient(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Scheme is the scheme the clients encode and decode with.
func (s *Set) Scheme() *runtime.Scheme { return s.scheme }

// Config is the REST configuration the clients were built from.
func (s *Set) Config() *rest.Config { return rest.CopyConfig(s.config) }

// REST is the raw REST client of one group version, for subresources and
// requests the typed clients do not cover. It panics for a group version
// kserver does not serve: that is a programming error.
func (s *Set) REST(gv schema.GroupVersion) rest.Interface {
	rc, ok := s.rest[gv]
	if !ok {
		panic(fmt.Sprintf("client: group version %s is not served", gv))
	}
	return rc
}

// For returns a typed client of resource gvr in namespace.
func For[T Object, L runtime.Object](s *Set, gvr schema.GroupVersionResource, namespace string) *Typed[T, L] {
	return gentype.NewClientWithList[T, L](gvr.Resource, s.REST(gvr.GroupVersion()), s.params, namespace,
		newOf[T], newOf[L])
}

// newOf returns a new zero value of the type a pointer type T points to.
func newOf[T runtime.Object]() T {
	var zero T
	return reflect.New(reflect.TypeOf(zero).Elem()).Interface().(T)
}
