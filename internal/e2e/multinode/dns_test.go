package multinode

import (
	"regexp"
	"strings"
	"testing"
)

// testDNS: from a busybox pod on an agent, nslookup resolves names of
// every kind through the kube-dns ClusterIP: Services, headless Services (pods of every node), SRV
// for named ports, ExternalName as CNAME, pod records, StatefulSet pods.
func testDNS(t *testing.T, e *env) {
	remote := e.webPod("agent-1")
	dashed := strings.ReplaceAll(remote.Status.PodIP, ".", "-")
	var db0 string
	for _, p := range e.db {
		if p.Name == "db-0" {
			db0 = p.Status.PodIP
		}
	}
	_, out := e.probe(t, "agent-2", "dns-agent-2", "probe: dns", strings.Join([]string{
		"cat /etc/resolv.conf",
		"nslookup web.default.svc.cluster.local",
		"nslookup kubernetes.default.svc.cluster.local",
		"nslookup web-headless.default.svc.cluster.local",
		"nslookup -type=SRV _http._tcp.web.default.svc.cluster.local",
		"nslookup ext.default.svc.cluster.local",
		"nslookup " + dashed + ".default.pod.cluster.local",
		"nslookup db-0.db.default.svc.cluster.local",
	}, "\n"))
	q := regexp.QuoteMeta
	want := []string{
		`nameserver 10\.43\.0\.10`,
		`search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local`,
		`options ndots:5`,
		`Name:\s+web\.default\.svc\.cluster\.local\s+Address:\s+` + q(e.clusterIP["web"]),
		`Name:\s+kubernetes\.default\.svc\.cluster\.local\s+Address:\s+10\.43\.0\.1\b`,
		`_http\._tcp\.web\.default\.svc\.cluster\.local\s+service = 0 100 80 web\.default\.svc\.cluster\.local`,
		`ext\.default\.svc\.cluster\.local\s+canonical name = web\.default\.svc\.cluster\.local`,
		`Name:\s+` + q(dashed) + `\.default\.pod\.cluster\.local\s+Address:\s+` + q(remote.Status.PodIP),
		`Name:\s+db-0\.db\.default\.svc\.cluster\.local\s+Address:\s+` + q(db0),
	}
	for _, p := range e.web {
		want = append(want, `Name:\s+web-headless\.default\.svc\.cluster\.local\s+Address:\s+`+q(p.Status.PodIP))
	}
	for _, re := range want {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no match for %q in the probe's output:\n%s", re, out)
		}
	}
}
