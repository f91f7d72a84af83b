package nft_test

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"kserver.dev/kserver/internal/netns/netnstest"
	"kserver.dev/kserver/internal/nft"
)

// sample builds a table that uses every expression the builder has.
func sample(f nft.Family, a, b netip.Addr, p netip.Prefix) *nft.Table {
	t := nft.NewTable("kserver-test", f)
	svc := t.AddSet(&nft.Set{Name: "service-ips", Fields: f.ServiceFields(), Map: true})
	svc.AddElement(nft.Element{Key: f.ServiceKey(a, nft.TCP, 80), Verdict: &[]nft.Verdict{nft.Goto("svc")}[0]})
	np := t.AddSet(&nft.Set{Name: "nodeports", Fields: nft.ProtoPortFields(), Map: true})
	np.AddElement(nft.Element{Key: nft.ProtoPortKey(nft.UDP, 30053), Verdict: &[]nft.Verdict{nft.Goto("svc")}[0]})
	blocks := t.AddSet(&nft.Set{Name: "blocks", Fields: f.AddrFields(), Interval: true})
	blocks.AddElement(nft.Element{Key: f.PrefixKey(p)})
	other := netip.MustParseAddr("192.0.2.1")
	if f == nft.IPv6 {
		other = netip.MustParseAddr("2001:db8::1")
	}
	blocks.AddElement(nft.Element{Key: f.PrefixKey(netip.PrefixFrom(other, other.BitLen()))})
	t.AddSet(&nft.Set{Name: "affinity", Fields: f.AddrFields(), Dynamic: true, Timeout: 3 * time.Hour})

	t.AddChain(&nft.Chain{Name: "nat-prerouting", Base: &nft.Base{Type: "nat", Hook: nft.Prerouting, Priority: nft.PriorityDstNAT},
		Rules: []nft.Rule{f.Rule().ServiceVmap("service-ips"), f.Rule().FibDAddrLocal().DAddr(f.Loopback(), true).ProtoPortVmap("nodeports")}})
	t.AddChain(&nft.Chain{Name: "filter-forward", Base: &nft.Base{Type: "filter", Hook: nft.Forward, Priority: -10},
		Rules: []nft.Rule{
			f.Rule().CtState("established", "related").Verdict(nft.Accept),
			f.Rule().IIFName("veth*", false).OIFName("cni0", true).SAddrIn("blocks", false).L4Proto(nft.TCP).DPortRange(1000, 2000).Verdict(nft.Return),
			f.Rule().DAddrIn("blocks", true).L4Proto(nft.UDP).DPort(53).Verdict(nft.Accept),
			f.Rule().FibSAddrLocal().Counter().Reject(),
		}})
	t.AddChain(&nft.Chain{Name: "nat-postrouting", Base: &nft.Base{Type: "nat", Hook: nft.Postrouting, Priority: nft.PrioritySrcNAT},
		Rules: []nft.Rule{f.Rule().MarkSet(0x4000, true).Verdict(nft.Return), f.Rule().SetMarkXor(0x4000).Masquerade()}})
	t.AddChain(&nft.Chain{Name: "mark", Rules: []nft.Rule{f.Rule().SetMarkOr(0x4000).Build()}})
	t.AddChain(&nft.Chain{Name: "svc", Rules: []nft.Rule{
		f.Rule().SAddrIn("affinity", false).Verdict(nft.Goto("ep")),
		f.Rule().SAddr(p, true).Verdict(nft.Jump("mark")),
	}})
	pick := t.Chains["svc"]
	for i, v := range []nft.Verdict{nft.Goto("ep"), nft.Goto("mark"), nft.Goto("ep")} {
		pick.Rules = append(pick.Rules, f.Rule().NumgenPick(i, 3).Verdict(v))
	}
	pairs := t.AddSet(&nft.Set{Name: "pairs", Fields: f.AddrPairFields()})
	pairs.AddElement(nft.Element{Key: f.AddrPairKey(b, b)})
	t.Chains["nat-postrouting"].Rules = append(t.Chains["nat-postrouting"].Rules, f.Rule().AddrPairIn("pairs").Masquerade())
	t.AddChain(&nft.Chain{Name: "ep", Rules: []nft.Rule{
		f.Rule().SAddr(netip.PrefixFrom(b, b.BitLen()), false).Verdict(nft.Jump("mark")),
		f.Rule().UpdateSAddr("affinity", 3*time.Hour).L4Proto(nft.TCP).DNAT(b, 8080),
	}})
	return t
}

func TestKernelAcceptsEveryExpression(t *testing.T) {
	netnstest.RequireTool(t, "nft")
	cases := []struct {
		f    nft.Family
		a, b string
		p    string
		want []string
	}{
		{nft.IPv4, "10.43.0.10", "10.42.0.5", "10.42.0.0/16", []string{
			"ip daddr . meta l4proto . th dport vmap @service-ips",
			"10.43.0.10 . tcp . 80 : goto svc",
			"numgen random mod 3 0 goto ep",
			"numgen random mod 2 0 goto mark",
			"ip saddr . ip daddr @pairs masquerade fully-random",
			"10.42.0.5 . 10.42.0.5",
			"dnat to 10.42.0.5:8080",
			"masquerade fully-random",
			"ct state established,related accept",
			"tcp dport 1000-2000 return",
			"10.42.0.0/16",
			"update @affinity { ip saddr timeout 3h }",
			"fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @nodeports",
			"reject",
		}},
		{nft.IPv6, "fd43::a", "fd42::5", "fd42::/56", []string{
			"ip6 daddr . meta l4proto . th dport vmap @service-ips",
			"fd43::a . tcp . 80 : goto svc",
			"dnat to [fd42::5]:8080",
			"fd42::/56",
			"fd42::5 . fd42::5",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.f.String(), func(t *testing.T) {
			ns := netnstest.New(t, "nfttest")
			c, err := nft.Dial(ns.Fd())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tbl := sample(tc.f, netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b), netip.MustParsePrefix(tc.p))
			tx := c.Begin(tbl.Name, tbl.Family)
			tx.Recreate()
			tx.Full(tbl)
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("ip", "netns", "exec", netnstest.Name(ns), "nft", "list", "table", tc.f.String(), tbl.Name).CombinedOutput()
			if err != nil {
				t.Fatalf("nft list: %v\n%s", err, out)
			}
			text := strings.Join(strings.Fields(string(out)), " ")
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("kernel table lacks %q\n%s", w, out)
				}
			}
			if ok, err := c.Exists(tbl.Name, tc.f); !ok || err != nil {
				t.Fatalf("Exists = %v, %v", ok, err)
			}
			if err := c.DeleteTable(tbl.Name, tc.f); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteTable(tbl.Name, tc.f); err != nil {
				t.Fatalf("deleting a missing table: %v", err)
			}
			if ok, _ := c.Exists(tbl.Name, tc.f); ok {
				t.Fatal("table still exists")
			}
		})
	}
}

// TestFailedTransactionNamesTheMessage checks that an error names the
// message that failed, that nothing of the batch is applied, and that the
// connection works for the next transaction.
func TestFailedTransactionNamesTheMessage(t *testing.T) {
	ns := netnstest.New(t, "nfterr")
	c, err := nft.Dial(ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := nft.IPv4
	tbl := nft.NewTable("kserver-test", f)
	tbl.AddSet(&nft.Set{Name: "present", Fields: f.AddrFields()})
	tx := c.Begin(tbl.Name, f)
	tx.Recreate()
	tx.Full(tbl)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx = c.Begin(tbl.Name, f)
	a := netip.MustParseAddr("192.0.2.1")
	tx.AddElements(tbl.Sets["present"], []nft.Element{{Key: f.AddrKey(a)}})
	tx.AddElements(&nft.Set{Name: "missing", Fields: f.AddrFields()}, []nft.Element{{Key: f.AddrKey(a)}})
	err = tx.Commit()
	if err == nil || !strings.Contains(err.Error(), "add elements missing") {
		t.Fatalf("error %v does not name the failed message", err)
	}
	var n int
	if err := c.Elements(tbl.Name, f, "present", func(nft.DumpedElement) { n++ }); err != nil || n != 0 {
		t.Fatalf("after a failed transaction the set has %d elements (%v), want none", n, err)
	}
	tx = c.Begin(tbl.Name, f)
	tx.AddElements(tbl.Sets["present"], []nft.Element{{Key: f.AddrKey(a)}})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := c.Elements(tbl.Name, f, "present", func(nft.DumpedElement) { n++ }); err != nil || n != 1 {
		t.Fatalf("set has %d elements (%v), want 1", n, err)
	}
}
