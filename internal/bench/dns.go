package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/dns"
)

// DNS benchmark: the cluster DNS server on informers of an in-process API
// server holding 1,000 Services, queried over loopback UDP.

const (
	dns1Services  = 1000
	dns1Endpoints = 3
	dns1Queries   = 20000
	dns1Clients   = 4
	dns1Duration  = 2 * time.Second
)

func dns1() Benchmark {
	return Benchmark{
		ID:    "DNS1",
		Title: "Cluster DNS: query latency and rate from the cache, memory per 1k Services",
		Method: fmt.Sprintf("In one process: the API server on a fresh SQLite store holding %d Services (90%% with a ClusterIP and\n"+
			"two named ports, 10%% headless) and one EndpointSlice each (%d ready endpoints, hostnames on the headless\n"+
			"ones); shared informers of Services, EndpointSlices and Namespaces, then the DNS server on them. Latency: one\n"+
			"client, %d queries in turn over one loopback UDP socket (A of ClusterIP and headless Services, SRV of a named\n"+
			"port, A of an endpoint hostname, a missing name: NXDOMAIN), round trip with the client's own work, p50 and p99.\n"+
			"Rate: %d clients for %s; CPU time of the whole process per query. Memory: Go heap after GC, before and after\n"+
			"(a) the informers list everything (their caches, shared with the proxy and controllers) and (b) the DNS server\n"+
			"builds its index from them, per 1,000 Services; the time to build that index; and, for comparison, what an\n"+
			"informer over all pods would hold per 1,000 pending pods (DNS needs none in its default mode). `bin/kbench --only DNS1`",
			dns1Services, dns1Endpoints, dns1Queries, dns1Clients, dns1Duration),
		Setup: dns1Setup,
		Run: func(ctx context.Context, env *Env, setup any) ([]Sample, error) {
			return setup.(*dns1Env).run(ctx)
		},
	}
}

type dns1Env struct {
	cluster  *schedCluster
	inf      *client.Informers
	stop     context.CancelFunc
	cacheKiB float64 // informer caches per 1k Services
	podKiB   float64 // an all-pods informer's cache per 1k pods
	names    []dns1Question
}

type dns1Question struct {
	name  string
	qtype uint16
	rcode int
}

func (e *dns1Env) Close() error {
	if e.stop != nil {
		e.stop()
	}
	return e.cluster.Close()
}

func dns1Setup(ctx context.Context, env *Env) (any, error) {
	c, err := startSchedCluster(ctx, env)
	if err != nil {
		return nil, err
	}
	e := &dns1Env{cluster: c}
	if err := e.createServices(ctx); err != nil {
		c.Close()
		return nil, err
	}
	before := heapAfterGC()
	ictx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.inf = client.NewInformers(c.set, 0)
	e.inf.Services()
	e.inf.EndpointSlices()
	e.inf.Namespaces()
	e.inf.Start(ictx)
	if !e.inf.WaitForCacheSync(ctx) {
		e.Close()
		return nil, errors.New("informers did not sync")
	}
	e.cacheKiB = float64(heapAfterGC()-before) / 1024 / (dns1Services / 1000)
	if e.podKiB, err = podInformerKiB(ctx, c); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// podInformerKiB measures what an informer over all pods holds per 1,000
// pods — the cost DNS avoids in its default mode: it creates 1,000 pending
// pods (the S1 pods: one container, requests, labels) and compares the heap
// before and after a pod informer lists them.
func podInformerKiB(ctx context.Context, c *schedCluster) (float64, error) {
	if err := c.createPods(ctx, 1000, 8); err != nil {
		return 0, err
	}
	before := heapAfterGC()
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	inf := client.NewInformers(c.set, 0)
	inf.Pods()
	inf.Start(ictx)
	if !inf.WaitForCacheSync(ctx) {
		return 0, errors.New("pod informer did not sync")
	}
	kib := float64(heapAfterGC()-before) / 1024
	runtime.KeepAlive(inf)
	return kib, nil
}

// createServices writes the Services and their EndpointSlices with 8
// clients.
func (e *dns1Env) createServices(ctx context.Context) error {
	set := e.cluster.set
	work := make(chan int)
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := createDNSService(ctx, set, i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range dns1Services {
		select {
		case work <- i:
		case err = <-errc:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	for i := range dns1Services {
		name, q := fmt.Sprintf("svc-%04d", i), func(n string, t uint16, rc int) dns1Question { return dns1Question{n, t, rc} }
		switch {
		case i%10 == 0:
			e.names = append(e.names, q(name+".default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess),
				q(name+"-1."+name+".default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess))
		case i%10 == 1:
			e.names = append(e.names, q("_http._tcp."+name+".default.svc.cluster.local.", mdns.TypeSRV, mdns.RcodeSuccess))
		case i%10 == 2:
			e.names = append(e.names, q("missing-"+name+".default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError))
		default:
			e.names = append(e.names, q(name+".default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess))
		}
	}
	return err
}

func createDNSService(ctx context.Context, set *client.Set, i int) error {
	name := fmt.Sprintf("svc-%04d", i)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP}}}}
	headless := i%10 == 0
	if headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	if _, err := set.Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-x1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)},
			{Name: ptr.To("metrics"), Port: ptr.To[int32](9090), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for j := range dns1Endpoints {
		ep := discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.42.%d.%d", i/200, (i%200)+j*50+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: fmt.Sprintf("%s-%d", name, j)}}
		if headless {
			ep.Hostname = ptr.To(fmt.Sprintf("%s-%d", name, j))
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	if _, err := set.EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create endpointslice %s: %w", es.Name, err)
	}
	return nil
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// run builds a DNS server on the shared informers, then measures it.
func (e *dns1Env) run(ctx context.Context) ([]Sample, error) {
	before := heapAfterGC()
	srv, err := dns.New(dns.Config{Listen: []string{"127.0.0.1:0"}, ClusterDNS: []netip.Addr{netip.MustParseAddr("10.43.0.10")},
		Upstreams: []string{"127.0.0.1:1"}}, e.inf, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- srv.Run(sctx) }()
	defer func() { cancel(); <-done }()
	for !srv.HasSynced() {
		if time.Since(start) > time.Minute {
			return nil, errors.New("DNS index not built within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	build := time.Since(start)
	<-srv.Ready()
	indexKiB := float64(heapAfterGC()-before) / 1024 / (dns1Services / 1000)
	addr := srv.Addrs()[0].String()

	lat, err := e.latency(addr)
	if err != nil {
		return nil, err
	}
	qps, cpuPerQuery, err := e.rate(addr)
	if err != nil {
		return nil, err
	}
	return []Sample{
		{Metric: "query latency p50", Value: lat[0], Unit: "µs"},
		{Metric: "query latency p99", Value: lat[1], Unit: "µs"},
		{Metric: fmt.Sprintf("queries/s, %d clients", dns1Clients), Value: qps, Unit: "queries/s"},
		{Metric: "process CPU per query", Value: cpuPerQuery, Unit: "µs"},
		{Metric: "DNS index heap per 1k Services", Value: indexKiB, Unit: "KiB"},
		{Metric: "informer caches heap per 1k Services (shared)", Value: e.cacheKiB, Unit: "KiB"},
		{Metric: "for comparison: an all-pods informer per 1k pending pods (unused by default)", Value: e.podKiB, Unit: "KiB"},
		{Metric: "index build from synced informers, 1k Services", Value: ms(build), Unit: "ms"},
	}, nil
}

// latency asks every question in turn from one socket and returns p50 and
// p99 in microseconds; every answer is checked.
func (e *dns1Env) latency(addr string) ([2]float64, error) {
	c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		return [2]float64{}, err
	}
	defer conn.Close()
	lat := make([]time.Duration, 0, dns1Queries)
	for i := range dns1Queries {
		q := e.names[i%len(e.names)]
		t0 := time.Now()
		r, _, err := c.ExchangeWithConn(new(mdns.Msg).SetQuestion(q.name, q.qtype), conn)
		lat = append(lat, time.Since(t0))
		if err != nil {
			return [2]float64{}, fmt.Errorf("query %s: %w", q.name, err)
		}
		if r.Rcode != q.rcode || (q.rcode == mdns.RcodeSuccess && len(r.Answer) == 0) {
			return [2]float64{}, fmt.Errorf("query %s: rcode %s with %d answers", q.name, mdns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	slices.Sort(lat)
	return [2]float64{percentile(lat, 50) * 1000, percentile(lat, 99) * 1000}, nil
}

// rate runs dns1Clients clients for dns1Duration and returns queries per
// second and process CPU microseconds per query.
func (e *dns1Env) rate(addr string) (float64, float64, error) {
	var count atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, dns1Clients)
	deadline := time.Now().Add(dns1Duration)
	cpu0, t0 := processCPU(), time.Now()
	for w := range dns1Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := c.Dial(addr)
			if err != nil {
				errc <- err
				return
			}
			defer conn.Close()
			for i := w; time.Now().Before(deadline); i += dns1Clients {
				q := e.names[i%len(e.names)]
				if _, _, err := c.ExchangeWithConn(new(mdns.Msg).SetQuestion(q.name, q.qtype), conn); err != nil {
					errc <- err
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), processCPU()-cpu0
	select {
	case err := <-errc:
		return 0, 0, err
	default:
	}
	n := float64(count.Load())
	return n / elapsed.Seconds(), float64(cpu.Microseconds()) / n, nil
}
