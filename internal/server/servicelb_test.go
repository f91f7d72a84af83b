package server

import (
	"log/slog"
	"slices"
	"testing"

	"k8s.io/client-go/tools/record"

	"kserver.dev/kserver/internal/apiserver"
	"kserver.dev/kserver/internal/client"
)

// The built-in load balancer runs with the controllers unless
// --disable servicelb.
func TestServiceLBFollowsDisable(t *testing.T) {
	api := testAPI(t)
	set, err := client.New(api.RestConfig(apiserver.User{Name: controllerManagerUser}))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	for _, disable := range []bool{false, true} {
		cfg := DefaultConfig()
		if disable {
			cfg.Disable = []string{"servicelb"}
		}
		cp := newControlPlane(cfg, api, nil, logger)
		runs := buildControllers(controllerDeps{set: set, informers: client.NewInformers(set, 0), logger: logger,
			recorder:    func(string) record.EventRecorder { return record.NewFakeRecorder(1) },
			clusterCIDR: cp.clusterCIDR, serviceLB: cp.serviceLB})
		has := slices.ContainsFunc(runs, func(r controllerRun) bool { return r.name == "servicelb" })
		if has == disable {
			t.Errorf("--disable servicelb %v: servicelb controller built = %v", disable, has)
		}
	}
}
