package apiserver

import (
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	kjson "sigs.k8s.io/json"

	"kserver.dev/kserver/internal/client"
)

// Media types the server reads and writes.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// codecs holds the scheme of every built-in type and the serializers built
// on it. One per Server; all members are safe for concurrent use.
type codecs struct {
	scheme     *runtime.Scheme
	json       *json.Serializer // strict: reports unknown and duplicate fields
	yaml       *json.Serializer // strict
	protobuf   *protobuf.Serializer
	jsonPretty *json.Serializer
}

func newCodecs() (*codecs, error) {
	// Only the served API versions: client-go's scheme would also link
	// every alpha and beta version ever published (megabytes of binary).
	s, err := client.NewScheme()
	if err != nil {
		return nil, err
	}
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	return &codecs{
		scheme:     s,
		json:       json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Strict: true}),
		yaml:       json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true}),
		protobuf:   protobuf.NewSerializer(s, s),
		jsonPretty: json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Pretty: true}),
	}, nil
}

// decoded is a request body turned into a typed object.
type decoded struct {
	obj runtime.Object
	gvk schema.GroupVersionKind
	// unknown lists strict-decoding problems (unknown or duplicate fields),
	// reported according to fieldValidation.
	unknown []string
}

// decodeBody decodes a request body of the given Content-Type into a typed
// object, defaulting a missing apiVersion/kind to want. It does not check
// that the result is of kind want; callers do.
func (c *codecs) decodeBody(contentType string, body []byte, want schema.GroupVersionKind) (decoded, error) {
	media, _, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		media, err = mediaJSON, nil
	}
	if err != nil {
		return decoded{}, unsupportedMediaType(contentType)
	}
	var dec runtime.Decoder
	switch media {
	case mediaJSON:
		if out, ok := c.decodeJSON(body, want); ok {
			return out, nil
		}
		dec = c.json
	case mediaYAML:
		dec = c.yaml
	case mediaProtobuf:
		dec = c.protobuf
	default:
		return decoded{}, unsupportedMediaType(contentType)
	}
	into, err := c.scheme.New(want)
	if err != nil {
		return decoded{}, apierrors.NewInternalError(err)
	}
	obj, gvk, err := dec.Decode(body, &want, into)
	var out decoded
	if gvk != nil {
		out.gvk = *gvk
	}
	if err != nil {
		if strict, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
			for _, e := range strict.Errors() {
				out.unknown = append(out.unknown, e.Error())
			}
			out.obj = obj
			return out, nil
		}
		return out, decodeError(err, gvk, want, body)
	}
	out.obj = obj
	return out, nil
}

// decodeError is upstream's wording for a body that cannot be decoded.
func decodeError(err error, gvk *schema.GroupVersionKind, want schema.GroupVersionKind, body []byte) error {
	if gvk != nil && gvk.Kind != "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, want.Kind, err))
	}
	summary := string(body)
	if len(summary) > 30 {
		summary = summary[:30] + "..."
	}
	return apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v (%s)", want.Kind, err, summary))
}

func unsupportedMediaType(contentType string) error {
	return apierrors.NewGenericServerResponse(415, "", schema.GroupResource{}, "",
		"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false)
}

// output is what a response is encoded as.
type output struct {
	media string // mediaJSON, mediaYAML or mediaProtobuf
	// as is "" for the object itself, "Table", "PartialObjectMetadata" or
	// "PartialObjectMetadataList" (with asVersion v1 or v1beta1).
	as        string
	asVersion string
	pretty    bool
}

var errNotAcceptable = apierrors.NewGenericServerResponse(406, "", schema.GroupResource{}, "",
	"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false)

// negotiate picks the response encoding from an Accept header the way
// kube-apiserver does: the first acceptable clause wins (q-values are
// honoured), clauses asking for something we cannot produce are skipped.
// allowAs says whether Table/PartialObjectMetadata conversions are possible.
func negotiate(accept string, allowAs bool) (output, error) {
	switch strings.TrimSpace(accept) {
	case "", mediaJSON:
		// No choice to make: what client-go, kubectl -o json and most
		// callers send, answered without parsing.
		return output{media: mediaJSON}, nil
	}
	type clause struct {
		out output
		q   float64
	}
	var best *clause
	for _, part := range strings.Split(accept, ",") {
		media, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q <= 0 {
			continue
		}
		out, ok := acceptable(media, params, allowAs)
		if !ok {
			continue
		}
		if best == nil || q > best.q {
			best = &clause{out: out, q: q}
		}
	}
	if best == nil {
		return output{}, errNotAcceptable
	}
	return best.out, nil
}

func acceptable(media string, params map[string]string, allowAs bool) (output, bool) {
	out := output{media: media, pretty: params["pretty"] == "true"}
	switch media {
	case mediaJSON, mediaYAML, mediaProtobuf:
	case "*/*", "application/*":
		out.media = mediaJSON
	default:
		return output{}, false
	}
	as := params["as"]
	if as == "" {
		return out, true
	}
	if !allowAs || params["g"] != "meta.k8s.io" || (params["v"] != "v1" && params["v"] != "v1beta1") {
		return output{}, false
	}
	switch as {
	case "Table":
		if media == mediaProtobuf {
			return output{}, false // Tables have no protobuf form
		}
		out.as, out.asVersion = as, params["v"]
		return out, true
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		out.as, out.asVersion = as, params["v"]
		return out, true
	}
	return output{}, false
}

// contentType is the Content-Type header for an output; Tables and partial
// metadata are written with the plain media type, as upstream does.
func (o output) contentType() string {
	return o.media
}

// encodeObject encodes a typed object (kind and apiVersion set) for o.
func (c *codecs) encodeObject(o output, obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	var enc runtime.Encoder
	switch o.media {
	case mediaProtobuf:
		enc = c.protobuf
	case mediaYAML:
		enc = c.yaml
	default:
		if o.pretty {
			enc = c.jsonPretty
		} else {
			enc = c.json
		}
	}
	if err := enc.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeJSON is the common case of decodeBody without the serializer's
// first pass over the body to find apiVersion and kind: the body is
// decoded strictly into the wanted type, whose TypeMeta then tells what it
// claimed to be. It declines (ok false) whatever it cannot answer exactly
// as the serializer would — a body that does not decode, or that names
// another kind or version — and the serializer then produces the outcome
// and its messages.
func (c *codecs) decodeJSON(body []byte, want schema.GroupVersionKind) (decoded, bool) {
	into, err := c.scheme.New(want)
	if err != nil {
		return decoded{}, false
	}
	strict, err := kjson.UnmarshalStrict(body, into)
	if err != nil {
		return decoded{}, false
	}
	gvk := into.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" && gvk.Version == "" && gvk.Group == "" {
		gvk = want
	}
	if gvk != want {
		return decoded{}, false
	}
	into.GetObjectKind().SetGroupVersionKind(want)
	out := decoded{obj: into, gvk: want}
	for _, e := range strict {
		out.unknown = append(out.unknown, e.Error())
	}
	return out, true
}
