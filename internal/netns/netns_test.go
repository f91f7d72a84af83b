package netns_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"kserver.dev/kserver/internal/netns"
	"kserver.dev/kserver/internal/netns/netnstest"
)

func TestCreateDoRemove(t *testing.T) {
	netnstest.RequireRoot(t)
	dir := t.TempDir()
	ns, err := netns.Create(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close(); _ = netns.Remove(dir, "a") })

	if _, err := netns.Create(dir, "a"); err == nil {
		t.Fatal("creating an existing namespace succeeded")
	}
	names, err := netns.List(dir)
	if err != nil || !slices.Equal(names, []string{"a"}) {
		t.Fatalf("List = %v, %v", names, err)
	}
	// Inside, only loopback exists; a link created there stays there.
	var inside []string
	err = ns.Do(func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "nstest0"}, PeerName: "nstest1"}); err != nil {
			return err
		}
		links, err := netlink.LinkList()
		for _, l := range links {
			inside = append(inside, l.Attrs().Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(inside)
	if !slices.Equal(inside, []string{"lo", "nstest0", "nstest1"}) {
		t.Fatalf("links inside = %v", inside)
	}
	if _, err := netlink.LinkByName("nstest0"); err == nil {
		t.Fatal("link created inside the namespace is visible in the root namespace")
	}
	out, _ := exec.Command("ip", "link").CombinedOutput()
	if strings.Contains(string(out), "nstest0") {
		t.Fatal("root namespace sees nstest0")
	}

	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := netns.Remove(dir, "a"); err != nil {
		t.Fatal(err)
	}
	if err := netns.Remove(dir, "a"); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if names, _ := netns.List(dir); len(names) != 0 {
		t.Fatalf("List after Remove = %v", names)
	}
}

func TestCreateRejectsBadName(t *testing.T) {
	if _, err := netns.Create(t.TempDir(), "../x"); err == nil {
		t.Fatal("accepted a name with a path separator")
	}
}
