package e2e

import (
	"context"
	"os"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"kserver.dev/kserver/internal/client"
	kruntime "kserver.dev/kserver/internal/runtime"
)

// podLogs remembers every pod of a MultiNode so that the log folders the
// agents made for them in the default log root can be removed when the
// test ends — also those of pods whose teardown a stopping agent cut
// short, which no sandbox record names any more. Folders of pods of other
// clusters on the machine are never touched.
type podLogs struct {
	mu     sync.Mutex
	dirs   map[string]bool
	cancel context.CancelFunc
}

// newPodLogs registers the removal; call it before the nodes start, so
// that it runs after they stopped.
func newPodLogs(t *testing.T) *podLogs {
	l := &podLogs{dirs: map[string]bool{}, cancel: func() {}}
	t.Cleanup(func() {
		l.cancel()
		l.mu.Lock()
		defer l.mu.Unlock()
		for d := range l.dirs {
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return l
}

// follow records every pod the cluster's API shows until the test ends.
func (l *podLogs) follow(t *testing.T, set *client.Set) {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	inf := client.NewInformers(set, 0)
	_, err := inf.Pods().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		if p, ok := o.(*corev1.Pod); ok {
			l.mu.Lock()
			l.dirs[kruntime.LogDir(kruntime.DefaultLogRoot, p.Namespace, p.Name, string(p.UID))] = true
			l.mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx)
}
