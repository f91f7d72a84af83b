package openapi

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Media types of the documents. Clients (client-go) ask for the v2
// protobuf with the "@" spelling, which is not a valid media type to
// answer with (client-go cannot parse it back): the answer is labelled
// with the dotted spelling, as upstream does.
const (
	mediaJSON        = "application/json"
	mediaProtoV2     = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaProtoV2AtV1 = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// Handler serves /openapi/v2 (JSON or protobuf by Accept), /openapi/v3
// (the index) and /openapi/v3/<key> (one document), with ETags,
// If-None-Match, gzip when the client accepts it, and the hash-addressed
// caching rules upstream uses for v3.
func (d *Docs) Handler() http.Handler { return http.HandlerFunc(d.serveHTTP) }

func (d *Docs) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			"the server does not allow this method on the requested resource")
		return
	}
	switch path := r.URL.Path; {
	case path == "/openapi/v2":
		d.serveV2(w, r)
	case path == "/openapi/v3" || path == "/openapi/v3/":
		d.serveV3Index(w, r)
	case strings.HasPrefix(path, "/openapi/v3/"):
		d.serveV3(w, r, strings.TrimPrefix(path, "/openapi/v3/"))
	default:
		notFound(w)
	}
}

func (d *Docs) serveV2(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	offer := negotiate(r.Header.Get("Accept"), mediaJSON, mediaProtoV2AtV1, mediaProtoV2)
	if offer == "" {
		notAcceptable(w)
		return
	}
	jsonDoc, protoDoc, err := d.v2()
	if err != nil {
		internalError(w, err)
		return
	}
	if offer == mediaJSON {
		writeBlob(w, r, jsonDoc, mediaJSON)
		return
	}
	writeBlob(w, r, protoDoc, mediaProtoV2)
}

func (d *Docs) serveV3Index(w http.ResponseWriter, r *http.Request) {
	set, err := d.v3Set()
	if err != nil {
		internalError(w, err)
		return
	}
	writeBlob(w, r, set.index, mediaJSON)
}

func (d *Docs) serveV3(w http.ResponseWriter, r *http.Request, key string) {
	w.Header().Add("Vary", "Accept")
	set, err := d.v3Set()
	if err != nil {
		internalError(w, err)
		return
	}
	doc, ok := set.docs[key]
	if !ok {
		notFound(w)
		return
	}
	if negotiate(r.Header.Get("Accept"), mediaJSON) == "" {
		notAcceptable(w)
		return
	}
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != doc.hash {
			http.Redirect(w, r, "/openapi/v3/"+key+"?hash="+doc.hash, http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	writeBlob(w, r, doc, mediaJSON)
}

// writeBlob answers with a document: 304 when the client holds it already,
// the compressed bytes when it accepts gzip, else the plain ones.
func writeBlob(w http.ResponseWriter, r *http.Request, b *blob, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("ETag", b.etag())
	h.Add("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), b.etag()) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(b.gz)))
	} else {
		h.Set("Content-Length", strconv.Itoa(b.size))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if gz {
		_, _ = w.Write(b.gz)
		return
	}
	_ = b.writeTo(w) // the client went away; nothing more to do
}

// negotiate picks the first offer the Accept header allows, taking the
// header's clauses by descending quality; "" if none is acceptable. An
// empty header accepts anything.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		accept = "*/*"
	}
	clauses := parseQualityList(accept)
	for _, c := range clauses {
		for _, offer := range offers {
			if mediaMatches(c.value, offer) {
				return offer
			}
		}
	}
	return ""
}

// qualityItem is one element of an Accept or Accept-Encoding header.
type qualityItem struct {
	value string
	q     float64
}

// parseQualityList parses a header like "a/b;q=0.5, c/d", dropping
// elements with q=0 and ordering the rest by descending q.
func parseQualityList(header string) []qualityItem {
	var items []qualityItem
	for part := range strings.SplitSeq(header, ",") {
		value, params, _ := strings.Cut(part, ";")
		item := qualityItem{value: strings.ToLower(strings.TrimSpace(value)), q: 1}
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					item.q = q
				}
			}
		}
		if item.value != "" && item.q > 0 {
			items = append(items, item)
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].q > items[j].q })
	return items
}

func mediaMatches(pattern, media string) bool {
	if pattern == "*/*" || pattern == "*" || pattern == media {
		return true
	}
	typ, sub, _ := strings.Cut(pattern, "/")
	mtyp, _, _ := strings.Cut(media, "/")
	return sub == "*" && typ == mtyp
}

func acceptsGzip(header string) bool {
	for _, item := range parseQualityList(header) {
		if item.value == "gzip" || item.value == "*" {
			return true
		}
	}
	return false
}

func etagMatches(header, etag string) bool {
	for candidate := range strings.SplitSeq(header, ",") {
		c := strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if c == etag || c == "*" {
			return true
		}
	}
	return false
}

// Errors are metav1.Status bodies, as every client of the API expects.

func notFound(w http.ResponseWriter) {
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
}

func notAcceptable(w http.ResponseWriter) {
	writeStatus(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only the following media types are accepted: "+mediaJSON+", "+mediaProtoV2)
}

func internalError(w http.ResponseWriter, err error) {
	writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	s := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: message, Reason: reason, Code: int32(code),
	}
	body, _ := json.Marshal(s)
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Del("Content-Encoding")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
