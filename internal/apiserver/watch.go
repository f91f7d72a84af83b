package apiserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"kserver.dev/kserver/internal/store"
)

// errWatchTimeout ends a watch whose timeoutSeconds passed.
var errWatchTimeout = errors.New("watch timeout")

// bookmarkInterval is how often a watch that allows bookmarks gets one.
const bookmarkInterval = time.Minute

// watchStream writes watch events in the negotiated framing.
type watchStream struct {
	c        *call
	rc       *http.ResponseController
	proto    bool // length-delimited protobuf frames, else JSON lines
	raw      *protobuf.RawSerializer
	sentCols bool
	buf      bytes.Buffer
}

func (s *Server) get(c *call) {
	kv, err := s.cfg.Store.Get(c.ctx, objectKey(c.res, c.ri.namespace, c.ri.name))
	if err != nil {
		c.fail(err)
		return
	}
	c.respondStored(kv, http.StatusOK)
}

func (s *Server) watch(c *call) {
	o, err := c.listOptions(true)
	if err != nil {
		c.fail(err)
		return
	}
	ctx, cancel := context.WithTimeoutCause(c.ctx, o.watchTimeout(), errWatchTimeout)
	defer cancel()
	c.ctx = ctx
	prefix := listPrefix(c.res, c.ri.namespace)
	from, init, err := c.watchStart(o, prefix)
	if err != nil {
		c.fail(err)
		return
	}
	ws := &watchStream{c: c, rc: http.NewResponseController(c.w), proto: c.out.media == mediaProtobuf && c.out.as == ""}
	watcher, err := s.cfg.Store.Watch(ctx, prefix, from)
	if err != nil && !errors.Is(err, store.ErrCompacted) {
		c.fail(err)
		return
	}
	ws.start()
	if errors.Is(err, store.ErrCompacted) {
		st := apierrors.NewResourceExpired("too old resource version: " + o.rv + " (" + strconv.FormatInt(s.cfg.Store.CompactedRevision(), 10) + ")").ErrStatus
		ws.sendStatus(st)
		return
	}
	for i, kv := range init.kvs {
		if !ws.send("ADDED", kv, init.objs[i]) {
			return
		}
	}
	if o.sendInitial != nil && *o.sendInitial && o.allowBookmarks {
		if !ws.bookmark(from, true) {
			return
		}
	}
	ws.flush()
	ws.loop(ctx, o, watcher.Events(), from)
}

// watchStart decides where a watch begins: with initial events (RV unset
// or 0, or sendInitialEvents) it lists the current state first and watches
// from the list's revision; otherwise it watches from the given RV.
func (c *call) watchStart(o listOpts, prefix string) (int64, page, error) {
	initial := o.rv == "" || o.rv == "0"
	if o.sendInitial != nil {
		initial = *o.sendInitial
	}
	if !initial {
		from, _ := parseRV(o.rv)
		return from, page{}, nil
	}
	if o.rv != "" && o.rv != "0" {
		rv, _ := parseRV(o.rv)
		if err := c.s.waitForRevision(c.ctx, rv); err != nil {
			return 0, page{}, err
		}
	}
	init, err := c.collect(listOpts{match: o.match}, prefix)
	return init.rev, init, err
}

// loop relays store events (and bookmarks when allowed) until the watch
// ends: timeout, client gone, or the store dropped the watcher (the client
// then re-watches from its last resourceVersion).
func (ws *watchStream) loop(ctx context.Context, o listOpts, events <-chan store.Event, last int64) {
	var tick <-chan time.Time
	if o.allowBookmarks {
		t := time.NewTicker(bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			if o.allowBookmarks && errors.Is(context.Cause(ctx), errWatchTimeout) {
				ws.bookmark(last, false)
				ws.flush()
			}
			return
		case <-tick:
			if !ws.bookmark(last, false) {
				return
			}
			ws.flush()
		case ev, ok := <-events:
			if !ok {
				return
			}
			last = ev.KV.ModRevision
			if !ws.event(o.match, ev) {
				return
			}
			if len(events) == 0 {
				ws.flush()
			}
		}
	}
}

// event translates a store event, applying selectors the way upstream
// does: an update entering the selection is ADDED, one leaving it DELETED.
func (ws *watchStream) event(m matcher, ev store.Event) bool {
	c := ws.c
	cur, curObj, err := c.matchKV(m, ev.KV)
	if err != nil {
		return ws.sendError(err)
	}
	switch ev.Type {
	case store.EventCreate:
		if cur {
			return ws.send("ADDED", ev.KV, curObj)
		}
	case store.EventDelete:
		if cur {
			return ws.send("DELETED", ev.KV, curObj)
		}
	case store.EventUpdate:
		prev := cur
		if !m.everything() && ev.Prev != nil {
			var err error
			if prev, _, err = c.matchKV(m, *ev.Prev); err != nil {
				return ws.sendError(err)
			}
		}
		switch {
		case cur && prev:
			return ws.send("MODIFIED", ev.KV, curObj)
		case cur:
			return ws.send("ADDED", ev.KV, curObj)
		case prev:
			// The previous value at the new revision: not the key's value at
			// that revision, so it must not be cached under it (no key).
			return ws.send("DELETED", store.KeyValue{Value: ev.Prev.Value, ModRevision: ev.KV.ModRevision}, nil)
		}
	}
	return true
}

func (ws *watchStream) start() {
	h := ws.c.w.Header()
	if ws.proto {
		h.Set("Content-Type", mediaProtobuf+";stream=watch")
		ws.raw = protobuf.NewRawSerializer(ws.c.s.codecs.scheme, ws.c.s.codecs.scheme)
	} else {
		h.Set("Content-Type", mediaJSON)
	}
	ws.c.flushWarnings()
	ws.c.w.WriteHeader(http.StatusOK)
	ws.flush()
}

func (ws *watchStream) flush() { _ = ws.rc.Flush() }

// send writes one event for a stored value (its key and revision name it
// for the decoded cache, which lets watchers that need decoded objects
// share one decode); obj is its decoded form when already at hand.
func (ws *watchStream) send(typ string, kv store.KeyValue, obj runtime.Object) bool {
	c := ws.c
	stored, rv := kv.Value, kv.ModRevision
	if !ws.proto && c.out.as == "" && c.servedAsStored() {
		ws.buf.Reset()
		ws.buf.WriteString(`{"type":"` + typ + `","object":`)
		_ = writeWithRV(&ws.buf, stored, rv)
		ws.buf.WriteString("}\n")
		_, err := c.w.Write(ws.buf.Bytes())
		return err == nil
	}
	if obj == nil {
		var err error
		if obj, err = c.s.decodeStored(c.storageGVK(), kv); err != nil {
			return ws.sendError(err)
		}
	} else if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rv, 10))
	}
	return ws.sendObject(typ, obj)
}

// sendObject writes an event for a decoded storage-version object.
func (ws *watchStream) sendObject(typ string, obj runtime.Object) bool {
	c := ws.c
	var out runtime.Object
	var err error
	switch c.out.as {
	case "Table":
		var t *metav1.Table
		if t, err = c.table([]runtime.Object{obj}, resourceVersion(obj), !ws.sentCols); err == nil {
			ws.sentCols = true
			out = t
		}
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		var m metav1.Object
		if m, err = meta.Accessor(obj); err == nil {
			out = partialMeta(m, c.out.asVersion)
		}
	default:
		out, err = c.toServed(obj)
	}
	if err != nil {
		return ws.sendError(err)
	}
	return ws.write(typ, out)
}

func (ws *watchStream) write(typ string, obj runtime.Object) bool {
	c := ws.c
	if ws.proto {
		raw, err := c.s.codecs.encodeObject(output{media: mediaProtobuf}, obj)
		if err != nil {
			return false
		}
		ev := &metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}}
		ws.buf.Reset()
		ws.buf.Write([]byte{0, 0, 0, 0})
		if err := ws.raw.Encode(ev, &ws.buf); err != nil {
			return false
		}
		b := ws.buf.Bytes()
		binary.BigEndian.PutUint32(b[:4], uint32(len(b)-4))
		_, err = c.w.Write(b)
		return err == nil
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return false
	}
	ws.buf.Reset()
	ws.buf.WriteString(`{"type":"` + typ + `","object":`)
	ws.buf.Write(raw)
	ws.buf.WriteString("}\n")
	_, err = c.w.Write(ws.buf.Bytes())
	return err == nil
}

// bookmark sends a BOOKMARK at rv; end marks the end of the initial events
// of a watch-list.
func (ws *watchStream) bookmark(rv int64, end bool) bool {
	c := ws.c
	obj, err := c.s.codecs.scheme.New(c.storageGVK())
	if err != nil {
		return false
	}
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rv, 10))
	if end {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	obj.GetObjectKind().SetGroupVersionKind(c.storageGVK())
	return ws.sendObject("BOOKMARK", obj)
}

func (ws *watchStream) sendError(err error) bool {
	ws.sendStatus(errorStatus(err, ws.c.gr, ""))
	return false
}

func (ws *watchStream) sendStatus(st metav1.Status) {
	st.Kind, st.APIVersion = "Status", "v1"
	ws.write("ERROR", &st)
	ws.flush()
}
