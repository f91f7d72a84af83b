package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/dns"
)

// networkUser is the identity of the server's network bookkeeping.
const networkUser = "system:kserver-network"

// runClusterNetwork is the server's side of the cluster network: the
// ConfigMap agents read their network settings from, and (unless
// --disable dns) the kube-system/kube-dns Service with its EndpointSlice
// listing every node's DNS server, kept in step with the Node list.
func runClusterNetwork(ctx context.Context, api *apiserver.Server, cfg Config, logger *slog.Logger) error {
	set, err := client.New(api.RestConfig(apiserver.User{Name: networkUser, Groups: []string{"system:masters"}}))
	if err != nil {
		return err
	}
	log := logger.With("component", "cluster-network")
	retry := func(what string, f func(context.Context) error) bool {
		err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			if err := f(ctx); err != nil {
				log.Warn(what+" failed; retrying", "err", err)
				return false, nil
			}
			return true, nil
		})
		return err == nil
	}
	if !retry("writing the network ConfigMap", func(ctx context.Context) error { return ensureNetworkConfigMap(ctx, set, cfg) }) {
		return nil
	}
	if cfg.Disabled("dns") {
		retry("removing the kube-dns Service of an earlier run", func(ctx context.Context) error { return dns.RemoveService(ctx, set) })
		return nil
	}
	clusterDNS := []netip.Addr{netip.MustParseAddr(cfg.ClusterDNS)}
	if !retry("creating the kube-dns Service", func(ctx context.Context) error { return dns.EnsureService(ctx, set, clusterDNS) }) {
		return nil
	}
	return runDNSEndpoints(ctx, set, log)
}

// runDNSEndpoints keeps the kube-dns EndpointSlice listing every node
// (dns.EndpointSlice) until ctx ends.
func runDNSEndpoints(ctx context.Context, set *client.Set, log *slog.Logger) error {
	inf := client.NewInformers(set, 0)
	nodes := inf.Nodes()
	slices := client.InformerFor[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList](inf,
		discoveryv1.SchemeGroupVersion.WithResource("endpointslices"),
		client.ListFilter{FieldSelector: "metadata.namespace=" + dns.ServiceNamespace + ",metadata.name=" + dns.EndpointSliceName})
	kick := make(chan struct{}, 1)
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { nudge(kick) },
		UpdateFunc: func(any, any) { nudge(kick) },
		DeleteFunc: func(any) { nudge(kick) },
	}
	for _, i := range []cache.SharedIndexInformer{nodes, slices} {
		if _, err := i.AddEventHandler(h); err != nil {
			return fmt.Errorf("cluster network: %w", err)
		}
	}
	inf.Start(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), nodes.HasSynced, slices.HasSynced) {
		return nil
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	for {
		var cur *discoveryv1.EndpointSlice
		if obj, ok, _ := slices.GetStore().GetByKey(dns.ServiceNamespace + "/" + dns.EndpointSliceName); ok {
			cur, _ = obj.(*discoveryv1.EndpointSlice)
		}
		var ns []*corev1.Node
		for _, o := range nodes.GetStore().List() {
			if n, ok := o.(*corev1.Node); ok {
				ns = append(ns, n)
			}
		}
		if err := dns.EnsureEndpoints(ctx, set, cur, ns); err != nil && ctx.Err() == nil {
			log.Warn("updating the kube-dns endpoints failed; retrying", "err", err)
			retry.Reset(time.Second)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-retry.C:
		}
	}
}

func nudge(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
