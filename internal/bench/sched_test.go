package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestS1Small runs S1's two measurements on a small cluster: every pod must
// be bound and the figures must be positive.
func TestS1Small(t *testing.T) {
	env := &Env{Dir: t.TempDir(), Runs: 1, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	live, liveCPU, err := s1Live(ctx, env, 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	backlog, cpu, err := s1Backlog(ctx, env, 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	if live <= 0 || liveCPU <= 0 || backlog <= 0 || cpu <= 0 {
		t.Fatalf("figures %v %v %v %v", live, liveCPU, backlog, cpu)
	}
}
