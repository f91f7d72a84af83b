package apiserver

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kserver.dev/kserver/internal/store"
)

// page is the result of a list: matching stored objects, in key order.
type page struct {
	kvs       []store.KeyValue
	objs      []runtime.Object // decoded objects when matching decoded them (else nil entries)
	rev       int64
	cont      string
	remaining *int64
}

func (s *Server) list(c *call) {
	o, err := c.listOptions(false)
	if err != nil {
		c.fail(err)
		return
	}
	p, err := c.collect(o, listPrefix(c.res, c.ri.namespace))
	if err != nil {
		c.fail(err)
		return
	}
	c.respondList(p)
}

// collect reads the matching objects of a prefix honouring limit,
// continue and the resourceVersion semantics of a list.
func (c *call) collect(o listOpts, prefix string) (page, error) {
	opts := store.ListOptions{Limit: o.limit, Continue: o.cont}
	if o.cont == "" && o.rv != "" && o.rv != "0" {
		rv, _ := parseRV(o.rv)
		if o.rvMatch == string(metav1.ResourceVersionMatchExact) {
			opts.Revision = rv
		} else if err := c.s.waitForRevision(c.ctx, rv); err != nil {
			return page{}, err
		}
	}
	var p page
	for {
		res, err := c.s.cfg.Store.List(c.ctx, prefix, opts)
		if err != nil {
			return page{}, c.listError(err, o)
		}
		if p.rev == 0 {
			p.rev = res.Revision
		}
		for _, kv := range res.KVs {
			ok, obj, err := c.matchKV(o.match, kv)
			if err != nil {
				return page{}, err
			}
			if ok {
				p.kvs = append(p.kvs, kv)
				p.objs = append(p.objs, obj)
			}
		}
		p.cont = res.Continue
		if o.match.everything() && res.Continue != "" {
			rem := res.Remaining
			p.remaining = &rem
		}
		if o.limit == 0 || res.Continue == "" || int64(len(p.kvs)) >= o.limit {
			return p, nil
		}
		opts = store.ListOptions{Limit: o.limit - int64(len(p.kvs)), Continue: res.Continue}
	}
}

func (c *call) listError(err error, o listOpts) error {
	if errors.Is(err, store.ErrCompacted) {
		if o.cont != "" {
			return apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
		}
		return apierrors.NewResourceExpired("too old resource version: " + o.rv + " (" + strconv.FormatInt(c.s.cfg.Store.CompactedRevision(), 10) + ")")
	}
	return err
}

// waitForRevision waits up to 3 s for the store to reach rv (a client that
// saw a newer revision elsewhere), then fails as upstream with 504.
func (s *Server) waitForRevision(ctx context.Context, rv int64) error {
	if s.cfg.Store.CurrentRevision() >= rv {
		return nil
	}
	deadline := time.NewTimer(3 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.cfg.Store.CurrentRevision() < rv {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			e := apierrors.NewTimeoutError("Too large resource version: "+strconv.FormatInt(rv, 10)+", current: "+strconv.FormatInt(s.cfg.Store.CurrentRevision(), 10), 1)
			e.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
			return e
		case <-tick.C:
		}
	}
	return nil
}

// respondList writes a page in the negotiated form.
func (c *call) respondList(p page) {
	rv := strconv.FormatInt(p.rev, 10)
	if c.out.as == "" && c.out.media == mediaJSON && !c.out.pretty && c.servedAsStored() {
		c.streamJSONList(p, rv)
		return
	}
	objs := make([]runtime.Object, len(p.kvs))
	for i, kv := range p.kvs {
		if p.objs[i] != nil {
			objs[i] = p.objs[i]
			continue
		}
		obj, err := c.s.decodeStored(c.storageGVK(), kv)
		if err != nil {
			c.fail(err)
			return
		}
		objs[i] = obj
	}
	var body []byte
	var err error
	switch c.out.as {
	case "Table":
		var t *metav1.Table
		if t, err = c.table(objs, rv, true); err == nil {
			t.Continue, t.RemainingItemCount = p.cont, p.remaining
			body, err = c.encodeMeta(t)
		}
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		l := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/" + c.out.asVersion}}
		l.ResourceVersion, l.Continue, l.RemainingItemCount = rv, p.cont, p.remaining
		for _, obj := range objs {
			m, _ := meta.Accessor(obj)
			l.Items = append(l.Items, *partialMeta(m, c.out.asVersion))
		}
		body, err = c.encodeMeta(l)
	default:
		body, err = c.typedList(objs, rv, p)
	}
	if err != nil {
		c.fail(err)
		return
	}
	c.write(http.StatusOK, body)
}

// typedList builds and encodes a <Kind>List of the served version.
func (c *call) typedList(objs []runtime.Object, rv string, p page) ([]byte, error) {
	listGVK := c.res.GroupVersion.WithKind(c.res.Kind + "List")
	list, err := c.s.codecs.scheme.New(listGVK)
	if err != nil {
		return nil, err
	}
	items := make([]runtime.Object, len(objs))
	for i, obj := range objs {
		if items[i], err = c.toServed(obj); err != nil {
			return nil, err
		}
	}
	if err := meta.SetList(list, items); err != nil {
		return nil, err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return nil, err
	}
	lm.SetResourceVersion(rv)
	lm.SetContinue(p.cont)
	lm.SetRemainingItemCount(p.remaining)
	list.GetObjectKind().SetGroupVersionKind(listGVK)
	return c.s.codecs.encodeObject(c.out, list)
}

// streamJSONList writes a JSON list straight from stored bytes, one item
// at a time, without decoding.
func (c *call) streamJSONList(p page, rv string) {
	c.flushWarnings()
	size := 0
	for _, kv := range p.kvs {
		size += len(kv.Value) + 32
	}
	h := c.w.Header()
	h.Set("Content-Type", mediaJSON)
	var dst io.Writer = c.w
	var gz *gzip.Writer
	if size >= gzipThreshold && acceptsGzip(c.r) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		gz, _ = gzip.NewWriterLevel(c.w, gzip.BestSpeed)
		dst = gz
	}
	c.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(dst, 32*1024)
	lm := metav1.ListMeta{ResourceVersion: rv, Continue: p.cont, RemainingItemCount: p.remaining}
	lmJSON, _ := json.Marshal(&lm)
	_, _ = bw.WriteString(`{"kind":"` + c.res.Kind + `List","apiVersion":"` + c.res.GroupVersion.String() + `","metadata":`)
	_, _ = bw.Write(lmJSON)
	_, _ = bw.WriteString(`,"items":[`)
	for i, kv := range p.kvs {
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		if err := writeWithRV(bw, kv.Value, kv.ModRevision); err != nil {
			return // client gone
		}
	}
	_, _ = bw.WriteString("]}\n")
	_ = bw.Flush()
	if gz != nil {
		_ = gz.Close()
	}
}
