package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"kserver.dev/kserver/internal/store"
)

const crashEnv = "KSERVER_STORE_CRASH_CHILD"

// TestCrashKill9 runs writers in a child process (this test binary again),
// reads each acknowledged write from its output, kills it with SIGKILL in
// mid-stream and checks that the reopened store holds every one of them.
func TestCrashKill9(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("running as the crash child")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var key string
		var rev int64
		if n, _ := fmt.Sscanf(sc.Text(), "ack %d %s", &rev, &key); n != 2 {
			continue
		}
		acked[key] = max(acked[key], rev)
		if len(acked) == 3000 {
			cmd.Process.Kill() // SIGKILL: no chance to flush or close anything
		}
	}
	cmd.Wait()
	if len(acked) < 3000 {
		t.Fatalf("child acknowledged only %d writes before exiting", len(acked))
	}
	s := openT(t, path, nil)
	var maxRev int64
	for key, rev := range acked {
		kv, err := s.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("acknowledged write to %s (revision %d) lost: %v", key, rev, err)
		}
		if kv.ModRevision < rev {
			t.Fatalf("%s at revision %d, but revision %d was acknowledged", key, kv.ModRevision, rev)
		}
		maxRev = max(maxRev, rev)
	}
	if s.CurrentRevision() < maxRev {
		t.Fatalf("revision %d after restart, %d was acknowledged", s.CurrentRevision(), maxRev)
	}
	t.Logf("%d acknowledged keys survived kill -9; revision %d (last ack %d)", len(acked), s.CurrentRevision(), maxRev)
}

// TestCrashChild is the writer process of TestCrashKill9.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process of TestCrashKill9")
	}
	s, err := Open(context.Background(), DefaultConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("/registry/leases/ns/g%d", g)
			kv, err := s.Create(context.Background(), own, []byte("0"), store.WriteOptions{})
			for i := 0; err == nil; i++ {
				key := fmt.Sprintf("/registry/cm/ns/g%d-%d", g, i)
				if i%2 == 1 { // every other write updates a long-lived key
					key = own
					kv, err = s.Update(context.Background(), own, fmt.Append(nil, i), kv.ModRevision, store.WriteOptions{})
				} else {
					var c store.KeyValue
					c, err = s.Create(context.Background(), key, fmt.Append(nil, key), store.WriteOptions{})
					if err == nil {
						mu.Lock()
						fmt.Fprintf(os.Stdout, "ack %d %s\n", c.ModRevision, key)
						mu.Unlock()
					}
					continue
				}
				if err == nil {
					mu.Lock()
					fmt.Fprintf(os.Stdout, "ack %d %s\n", kv.ModRevision, key)
					mu.Unlock()
				}
			}
			t.Error(err)
		}()
	}
	wg.Wait()
}
