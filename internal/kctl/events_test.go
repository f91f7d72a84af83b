package kctl

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func event(name, typ, reason, kind, obj, msg string, count int64, first, last time.Duration, series bool) *unstructured.Unstructured {
	now := time.Now()
	f := map[string]any{
		"involvedObject": map[string]any{"kind": kind, "name": obj, "apiVersion": "v1"},
		"type":           typ, "reason": reason, "message": msg + "\n",
		"firstTimestamp": now.Add(-first).UTC().Format(time.RFC3339),
		"lastTimestamp":  now.Add(-last).UTC().Format(time.RFC3339),
	}
	if count > 0 {
		f["count"] = count
	}
	if series {
		f["eventTime"] = now.Add(-first).UTC().Format("2006-01-02T15:04:05.000000Z")
		f["series"] = map[string]any{"count": int64(7), "lastObservedTime": now.Add(-last).UTC().Format("2006-01-02T15:04:05.000000Z")}
		delete(f, "lastTimestamp")
		delete(f, "firstTimestamp")
	}
	return obj0("v1", "Event", "default", name, f)
}

func obj0(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	return obj(apiVersion, kind, ns, name, nil, fields)
}

func TestEventsTableSortedByLastSeen(t *testing.T) {
	fs := newFakeServer(t,
		event("a", "Normal", "Scheduled", "Pod", "web-1", "Successfully assigned", 1, 10*time.Minute, 10*time.Minute, false),
		event("b", "Warning", "BackOff", "Pod", "web-1", "Back-off restarting", 3, 20*time.Minute, 2*time.Minute, false),
		event("c", "Normal", "ScalingReplicaSet", "Deployment", "web", "Scaled up", 0, 30*time.Minute, 5*time.Minute, true),
	)
	out, errOut, code := fs.run("", "events")
	want := "LAST SEEN          TYPE      REASON              OBJECT           MESSAGE\n" +
		"10m                Normal    Scheduled           Pod/web-1        Successfully assigned\n" +
		"5m (x7 over 30m)   Normal    ScalingReplicaSet   Deployment/web   Scaled up\n" +
		"2m (x3 over 20m)   Warning   BackOff             Pod/web-1        Back-off restarting\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("events: code %d\n%s\nstderr %q\nwant\n%s", code, out, errOut, want)
	}
	out, _, _ = fs.run("", "events", "--types=warning", "--no-headers")
	if !strings.HasPrefix(out, "2m (x3 over 20m)") || strings.Count(out, "\n") != 1 {
		t.Errorf("--types=warning --no-headers:\n%s", out)
	}
	_, errOut, code = fs.run("", "events", "--types=Info")
	if code != 1 || errOut != "error: valid --types are Normal or Warning\n" {
		t.Errorf("--types=Info: %d %q", code, errOut)
	}
}

func TestEventsForObjectAndEmpty(t *testing.T) {
	fs := newFakeServer(t, obj("v1", "Pod", "default", "web-1", nil, nil))
	_, errOut, code := fs.run("", "events", "--for", "po/web-1")
	if code != 0 || errOut != "No events found in default namespace.\n" {
		t.Errorf("no events: %d %q", code, errOut)
	}
	var sel string
	for _, r := range fs.requests() {
		if u, err := url.Parse(strings.TrimPrefix(r, "GET ")); err == nil && u.Path == "/api/v1/namespaces/default/events" {
			sel = u.Query().Get("fieldSelector")
		}
	}
	if sel != "involvedObject.kind=Pod,involvedObject.apiVersion=v1,involvedObject.name=web-1" {
		t.Errorf("field selector %q", sel)
	}
	_, errOut, _ = fs.run("", "events", "-A")
	if errOut != "No events found.\n" {
		t.Errorf("-A with no events: %q", errOut)
	}
	_, errOut, code = fs.run("", "events", "--for", "web-1")
	if code != 1 || errOut != "error: --for must be in resource/name form\n" {
		t.Errorf("--for without a type: %d %q", code, errOut)
	}
	_, errOut, _ = fs.run("", "events", "--for", "gadget/x")
	if errOut != "the server doesn't have a resource type \"gadget\"\n" {
		t.Errorf("--for unknown type: %q", errOut)
	}
}
