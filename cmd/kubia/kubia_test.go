package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, method, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func newTestApp(t *testing.T, mode string) (*app, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	a, err := newApp(config{mode: mode, hostname: "kubia-7nog1", dataFile: filepath.Join(t.TempDir(), "var", "data", "kubia.txt")}, &log)
	if err != nil {
		t.Fatal(err)
	}
	return a, &log
}

func TestModes(t *testing.T) {
	type answer struct {
		code int
		body string
	}
	ok := func(b string) answer { return answer{200, b} }
	for mode, want := range map[string][]answer{
		"v1": {ok("You've hit kubia-7nog1\n"), ok("You've hit kubia-7nog1\n")},
		"v2": {ok("This is v2 running in pod kubia-7nog1\n")},
		"v3": {
			ok("This is v3 running in pod kubia-7nog1\n"), ok("This is v3 running in pod kubia-7nog1\n"),
			ok("This is v3 running in pod kubia-7nog1\n"), ok("This is v3 running in pod kubia-7nog1\n"),
			{500, "Some internal error has occurred! This is pod kubia-7nog1\n"},
			{500, "Some internal error has occurred! This is pod kubia-7nog1\n"},
		},
		"v4": {ok("This is v4 running in pod kubia-7nog1\n")},
		"unhealthy": {
			ok("You've hit kubia-7nog1\n"), ok("You've hit kubia-7nog1\n"), ok("You've hit kubia-7nog1\n"),
			ok("You've hit kubia-7nog1\n"), ok("You've hit kubia-7nog1\n"),
			{500, "I'm not well. Please restart me!"},
		},
	} {
		t.Run(mode, func(t *testing.T) {
			a, log := newTestApp(t, mode)
			for i, w := range want {
				code, body := get(t, a, http.MethodGet, "")
				if code != w.code || body != w.body {
					t.Errorf("request %d: %d %q, want %d %q", i+1, code, body, w.code, w.body)
				}
			}
			if !strings.Contains(log.String(), "Received request from 192.0.2.1") {
				t.Errorf("log %q", log.String())
			}
		})
	}
	if _, err := newApp(config{mode: "v9"}, io.Discard); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestPet(t *testing.T) {
	a, _ := newTestApp(t, "pet")
	if _, body := get(t, a, http.MethodGet, ""); body != "You've hit kubia-7nog1\nData stored on this pod: No data posted yet\n" {
		t.Errorf("before POST: %q", body)
	}
	if _, body := get(t, a, http.MethodPost, "Hey there! This greeting was submitted to kubia-0."); body != "Data stored on pod kubia-7nog1\n" {
		t.Errorf("POST: %q", body)
	}
	if _, body := get(t, a, http.MethodGet, ""); body != "You've hit kubia-7nog1\nData stored on this pod: Hey there! This greeting was submitted to kubia-0.\n" {
		t.Errorf("after POST: %q", body)
	}
}

func TestPetPeers(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/data" {
			t.Errorf("peer asked for %s", r.URL.Path)
		}
		io.WriteString(w, "peer data")
	}))
	defer peer.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(peer.URL, "http://"))
	a, _ := newTestApp(t, "pet-peers")
	a.peers = func(context.Context) ([]*net.SRV, error) {
		return []*net.SRV{{Target: "127.0.0.1.", Port: uint16(atoi(t, port))}}, nil
	}
	if _, body := get(t, a, http.MethodGet, ""); body != "You've hit kubia-7nog1\nData stored in the cluster:\n- 127.0.0.1: peer data\n" {
		t.Errorf("GET: %q", body)
	}
	a.peers = func(context.Context) ([]*net.SRV, error) {
		return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
	}
	if _, body := get(t, a, http.MethodGet, ""); !strings.HasSuffix(body, "No peers discovered.\n") {
		t.Errorf("no peers: %q", body)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestCurl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, "posted "+string(b))
			return
		}
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "You've hit kubia\n")
	}))
	defer srv.Close()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := curl(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, _ := run("-s", srv.URL); code != 0 || out != "You've hit kubia\n" {
		t.Errorf("GET: %d %q", code, out)
	}
	if code, out, _ := run("-s", "-d", "hello", srv.URL); code != 0 || out != "posted hello" {
		t.Errorf("POST: %d %q", code, out)
	}
	if code, out, errs := run("-sf", srv.URL+"/missing"); code != 22 || out != "" || errs != "" {
		t.Errorf("-sf on 404: %d %q %q", code, out, errs)
	}
	if code, _, _ := run("-x", srv.URL); code != 2 {
		t.Errorf("unknown option: %d", code)
	}
	if code, _, errs := run("-f", srv.URL+"/missing"); code != 22 || !strings.Contains(errs, "returned error: 404") {
		t.Errorf("-f on 404: %d %q", code, errs)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if code, _, errs := run("http://" + addr + "/"); code != 7 || !strings.Contains(errs, "Connection refused") {
		t.Errorf("refused: %d %q", code, errs)
	}
	if code, _, errs := run("-s", "http://"+addr+"/"); code != 7 || errs != "" {
		t.Errorf("-s hides errors: %d %q", code, errs)
	}
}

// TestServeStopsOnSignal runs the real server on loopback and stops it the
// way SIGTERM does.
func TestServeStopsOnSignal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newTestApp(t, "v2")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx, l) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "This is v2 running in pod kubia-7nog1\n" {
		t.Fatalf("body %q", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not stop within 5s of its context ending")
	}
}
