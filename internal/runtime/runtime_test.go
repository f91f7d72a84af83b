package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSandboxValidate(t *testing.T) {
	ok := SandboxConfig{Name: "web", Namespace: "default", UID: "0b5e"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := map[string]func(*SandboxConfig){
		"no uid":          func(c *SandboxConfig) { c.UID = "" },
		"slash in name":   func(c *SandboxConfig) { c.Name = "a/b" },
		"underscore":      func(c *SandboxConfig) { c.Namespace = "a_b" },
		"dot-dot":         func(c *SandboxConfig) { c.UID = ".." },
		"host net + path": func(c *SandboxConfig) { c.HostNetwork, c.NetNSPath = true, "/run/netns/x" },
		"hostPID + share": func(c *SandboxConfig) { c.HostPID, c.ShareProcessNamespace = true, true },
		"unknown qos":     func(c *SandboxConfig) { c.QOS = "Gold" },
	}
	for name, mutate := range bad {
		c := ok
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestContainerValidate(t *testing.T) {
	ok := ContainerConfig{Name: "app", Command: []string{"/app"}, Env: []string{"A=1", "B="},
		Mounts: []Mount{{ContainerPath: "/data", HostPath: "/var/lib/x"}, {ContainerPath: "/tmp", Type: MountTmpfs}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := map[string]func(*ContainerConfig){
		"no command":        func(c *ContainerConfig) { c.Command = nil },
		"env without =":     func(c *ContainerConfig) { c.Env = []string{"A"} },
		"relative workdir":  func(c *ContainerConfig) { c.WorkingDir = "src" },
		"relative mount":    func(c *ContainerConfig) { c.Mounts = []Mount{{ContainerPath: "data", HostPath: "/x"}} },
		"relative host":     func(c *ContainerConfig) { c.Mounts = []Mount{{ContainerPath: "/data", HostPath: "x"}} },
		"unknown mount":     func(c *ContainerConfig) { c.Mounts = []Mount{{ContainerPath: "/d", Type: "nfs"}} },
		"localhost seccomp": func(c *ContainerConfig) { c.Security.Seccomp = SeccompLocalhost },
		"escaping log path": func(c *ContainerConfig) { c.LogPath = "../x.log" },
	}
	for name, mutate := range bad {
		c := ok
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestLogPaths(t *testing.T) {
	if got := LogDir(DefaultLogRoot, "default", "web", "0b5e"); got != "/var/log/pods/default_web_0b5e" {
		t.Errorf("LogDir = %q", got)
	}
	if got := LogPath("nginx", 2); got != "nginx/2.log" {
		t.Errorf("LogPath = %q", got)
	}
}

// A watcher that does not read never blocks Publish, and events for one
// container and type that are still queued coalesce.
func TestNotifier(t *testing.T) {
	var n Notifier
	ctx, cancel := context.WithCancel(context.Background())
	ch := n.Watch(ctx)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10000; i++ {
			n.Publish(Event{Type: EventExited, ContainerID: "a"})
		}
		n.Publish(Event{Type: EventStarted, ContainerID: "b"})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a watcher that does not read")
	}
	var got []Event
	timeout := time.After(5 * time.Second)
	for len(got) == 0 || got[len(got)-1].ContainerID != "b" {
		select {
		case e := <-ch:
			got = append(got, e)
		case <-timeout:
			t.Fatalf("events %v never included b", got)
		}
	}
	if len(got) > 3 {
		t.Errorf("%d events delivered for 10001 publishes; queued duplicates should coalesce", len(got))
	}
	cancel()
	for range ch {
	}
}
