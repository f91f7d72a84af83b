package server

import (
	"context"
	"log/slog"
	"net/netip"

	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/client"
	"kserver.dev/kserver/internal/controller/cronjob"
	"kserver.dev/kserver/internal/controller/daemonset"
	"kserver.dev/kserver/internal/controller/deployment"
	"kserver.dev/kserver/internal/controller/disruption"
	"kserver.dev/kserver/internal/controller/endpoints"
	"kserver.dev/kserver/internal/controller/endpointslice"
	"kserver.dev/kserver/internal/controller/garbagecollector"
	"kserver.dev/kserver/internal/controller/job"
	"kserver.dev/kserver/internal/controller/namespace"
	"kserver.dev/kserver/internal/controller/nodeipam"
	"kserver.dev/kserver/internal/controller/nodelifecycle"
	"kserver.dev/kserver/internal/controller/podgc"
	"kserver.dev/kserver/internal/controller/replicaset"
	"kserver.dev/kserver/internal/controller/replicationcontroller"
	"kserver.dev/kserver/internal/controller/resourcequota"
	"kserver.dev/kserver/internal/controller/serviceaccount"
	"kserver.dev/kserver/internal/controller/servicelb"
	"kserver.dev/kserver/internal/controller/statefulset"
)

// controllerDeps is what every controller is built from.
type controllerDeps struct {
	set         *client.Set
	informers   *client.Informers
	recorder    func(component string) record.EventRecorder
	logger      *slog.Logger
	clusterCIDR netip.Prefix
	rootCA      []byte
	// serviceLB runs the built-in load balancer (off with --disable servicelb).
	serviceLB bool
}

// controllerRun is one built controller.
type controllerRun struct {
	name    string
	workers int
	run     func(ctx context.Context, workers int) error
}

// buildControllers builds every controller (registering the informers and
// handlers each needs; nothing starts). The garbage collector and the
// quota controller come last: they watch, through metadata-only
// informers, the resources no other controller watches, and reuse the
// typed informers the others created.
func buildControllers(d controllerDeps) []controllerRun {
	set, f, log := d.set, d.informers, d.logger
	rsCfg := replicaset.Config{Set: set, Informers: f, Logger: log}
	rcCfg := rsCfg
	rsCfg.Recorder = d.recorder(replicaset.Component)
	rcCfg.Recorder = d.recorder(replicationcontroller.Component)
	runs := []controllerRun{
		{"deployment", 2, deployment.New(deployment.Config{Set: set, Informers: f, Recorder: d.recorder(deployment.Component), Logger: log}).Run},
		{"replicaset", 2, replicaset.New(rsCfg).Run},
		{"replicationcontroller", 1, replicationcontroller.New(rcCfg).Run},
		{"statefulset", 1, statefulset.New(statefulset.Config{Set: set, Informers: f, Recorder: d.recorder(statefulset.Component), Logger: log}).Run},
		{"daemonset", 1, daemonset.New(daemonset.Config{Set: set, Informers: f, Recorder: d.recorder(daemonset.Component), Logger: log}).Run},
		{"job", 2, job.New(job.Config{Set: set, Informers: f, Recorder: d.recorder(job.Component), Logger: log}).Run},
		{"cronjob", 1, cronjob.New(cronjob.Config{Set: set, Informers: f, Recorder: d.recorder(cronjob.Component), Logger: log}).Run},
		{"endpoints", 2, endpoints.New(endpoints.Config{Set: set, Informers: f, Recorder: d.recorder(endpoints.Component), Logger: log}).Run},
		{"endpointslice", 2, endpointslice.New(endpointslice.Config{Set: set, Informers: f, Recorder: d.recorder(endpointslice.Component), Logger: log}).Run},
		{"serviceaccount", 1, serviceaccount.New(serviceaccount.Config{Set: set, Informers: f, RootCA: d.rootCA, Logger: log}).Run},
		{"namespace", 1, namespace.New(namespace.Config{Set: set, Informers: f, Logger: log}).Run},
		{"nodelifecycle", 2, nodelifecycle.New(nodelifecycle.Config{Set: set, Informers: f, Recorder: d.recorder(nodelifecycle.Component), Logger: log}).Run},
		{"tainteviction", 2, nodelifecycle.NewTaintEviction(nodelifecycle.EvictionConfig{Set: set, Informers: f,
			Recorder: d.recorder(nodelifecycle.EvictionComponent), Logger: log}).Run},
		{"disruption", 1, disruption.New(disruption.Config{Set: set, Informers: f, Recorder: d.recorder(disruption.Component), Logger: log}).Run},
		{"podgc", 1, podgc.New(podgc.Config{Set: set, Informers: f, Logger: log}).Run},
		{"resourcequota", 1, resourcequota.New(resourcequota.Config{Set: set, Informers: f, Logger: log}).Run},
		{"garbagecollector", 2, garbagecollector.New(garbagecollector.Config{Set: set, Informers: f,
			Recorder: d.recorder(garbagecollector.Component), Logger: log}).Run},
	}
	if d.serviceLB {
		runs = append(runs, controllerRun{"servicelb", 1,
			servicelb.New(servicelb.Config{Set: set, Informers: f, Recorder: d.recorder(servicelb.Component), Logger: log}).Run})
	}
	// A cluster CIDR node IPAM cannot cut into subnets (more than 65,536
	// of them) leaves nodes to their agents' fallback ranges; everything
	// else still runs.
	ipam, err := nodeipam.New(nodeipam.Config{Set: set, Informers: f, Recorder: d.recorder(nodeipam.Component), Logger: log,
		ClusterCIDR: d.clusterCIDR})
	if err != nil {
		log.Error("node IPAM not started", "err", err)
	} else {
		runs = append(runs, controllerRun{"nodeipam", 1, ipam.Run})
	}
	return runs
}
