package parity

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"kserver.dev/kserver/internal/e2e"
	"kserver.dev/kserver/internal/kctl"
)

// result is one tool's run of a command line.
type result struct {
	out, err string
	code     int
}

// TestParity runs the corpus with stock kubectl and with kctl against one
// kserver and reports the parity rate. A difference fails the test unless
// the case documents it as deliberate (known).
func TestParity(t *testing.T) {
	if os.Getenv("KCTL_PARITY") == "0" || testing.Short() {
		t.Skip("parity suite disabled (KCTL_PARITY=0 or -short)")
	}
	k := referenceKubectl(t)
	c := e2e.Start(t)
	dir := writeManifests(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBECONFIG", c.Kubeconfig)
	t.Setenv("KUBE_EDITOR", "sed -i s/sleep-interval/sleep_interval/")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	tools := map[string]func(stdin string, args []string) result{
		"ns-kubectl": func(stdin string, args []string) result { return runKubectl(k, c, stdin, args) },
		"ns-kctl":    func(stdin string, args []string) result { return runKctl(t, c, stdin, args) },
		"setup":      func(stdin string, args []string) result { return runKubectl(k, c, stdin, args) },
	}
	for _, ns := range []string{"ns-kubectl", "ns-kctl"} {
		prepare(t, k, c, ns, dir)
	}
	tally := compareCorpus(t, k, tools, corpus, dir)
	t.Logf("parity against %s (1.%d): %s", kubectlName(k), k.Minor, tally)
	for _, r := range tally.report {
		t.Log(r)
	}
}

// tally counts a corpus run.
type tally struct {
	same, diff, known, skipped int
	report                     []string
}

func (c tally) String() string {
	total := c.same + c.diff + c.known
	rate := 100 * float64(c.same) / float64(max(total, 1))
	return fmt.Sprintf("%d of %d command lines identical (%.1f%%), %d documented differences, %d undocumented, %d skipped for this kubectl version",
		c.same, total, rate, c.known, c.diff, c.skipped)
}

// compareCorpus runs every case with both tools, each in its namespace,
// and fails the test on an undocumented difference.
func compareCorpus(t *testing.T, k *e2e.Kubectl, tools map[string]func(stdin string, args []string) result, cases []pcase, dir string) tally {
	var c tally
	for i, pc := range cases {
		if pc.minMinor > k.Minor {
			c.skipped++
			continue
		}
		got := map[string]string{}
		for _, ns := range []string{"ns-kubectl", "ns-kctl"} {
			for _, s := range pc.setup {
				tools["setup"]("", expand(s, ns, dir, false))
			}
			r := tools[ns](pc.stdin, expand(pc.args, ns, dir, !pc.noNS))
			got[ns] = normalise(fmt.Sprintf("%s\n--stderr--\n%s\n--exit %d--", r.out, r.err, r.code), pc)
		}
		switch {
		case got["ns-kubectl"] == got["ns-kctl"]:
			c.same++
		case pc.known != "":
			c.known++
			c.report = append(c.report, fmt.Sprintf("#%d kubectl %s: known difference: %s", i, pc.args, pc.known))
		default:
			c.diff++
			t.Errorf("#%d kubectl %s differs:\n--- kubectl %d.%d\n%s\n+++ kctl\n%s", i, pc.args, 1, k.Minor, got["ns-kubectl"], got["ns-kctl"])
		}
	}
	return c
}

// referenceKubectl prefers $KSERVER_E2E_KUBECTL, then a kubectl 1.37 the
// e2e harness already built, then whatever e2e.FindKubectl finds; it runs
// through a link named "kubectl", the name kubectl records for --record.
func referenceKubectl(t *testing.T) *e2e.Kubectl {
	k := findReferenceKubectl(t)
	link := filepath.Join(t.TempDir(), "kubectl")
	if err := os.Symlink(k.Path, link); err != nil {
		t.Fatal(err)
	}
	return &e2e.Kubectl{Path: link, Minor: k.Minor}
}

// kubectlName is the file the reference kubectl link points to.
func kubectlName(k *e2e.Kubectl) string {
	if p, err := filepath.EvalSymlinks(k.Path); err == nil {
		return filepath.Base(p)
	}
	return filepath.Base(k.Path)
}

func findReferenceKubectl(t *testing.T) *e2e.Kubectl {
	if os.Getenv("KSERVER_E2E_KUBECTL") == "" {
		if cache, err := os.UserCacheDir(); err == nil {
			p := filepath.Join(cache, "kserver-e2e", "kubectl-v0.37.2-"+runtime.GOARCH)
			if _, err := os.Stat(p); err == nil {
				return &e2e.Kubectl{Path: p, Minor: 37}
			}
		}
	}
	k := e2e.FindKubectl(t)
	if k.Minor == 0 {
		k.Minor = 37
	}
	return k
}

// prepare gives a namespace the objects the study notes create first.
func prepare(t *testing.T, k *e2e.Kubectl, c *e2e.Cluster, ns, dir string) {
	for _, s := range []string{
		"create namespace {NS}",
		"create -n {NS} -f {F}/kubia-manual.yaml -f {F}/tomcat-deployment.yaml -f {F}/tomcat-service.yaml -f {F}/rc.yaml -f {F}/service.yaml -f {F}/cm.yaml --validate=false",
		"create node-placeholder",
	} {
		if s == "create node-placeholder" {
			node := fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s-node","labels":{"kubernetes.io/hostname":"%s-node"}}}`, ns, ns)
			if r := runKubectl(k, c, node, []string{"create", "-f", "-", "--validate=false"}); r.code != 0 {
				t.Fatalf("prepare %s: %s", ns, r.err)
			}
			continue
		}
		if r := runKubectl(k, c, "", expand(s, ns, dir, false)); r.code != 0 {
			t.Fatalf("prepare %s: %s %s", ns, s, r.err)
		}
	}
}

func runKubectl(k *e2e.Kubectl, c *e2e.Cluster, stdin string, args []string) result {
	r := k.Run(c, stdin, args...)
	code := 0
	if r.Err != nil {
		code = 1
		if ee, ok := r.Err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	return result{r.Stdout, r.Stderr, code}
}

func runKctl(t *testing.T, c *e2e.Cluster, stdin string, args []string) result {
	t.Setenv("KUBECACHEDIR", filepath.Join(c.DataDir, "kctl-cache"))
	var out, errOut bytes.Buffer
	code := kctl.Main(context.Background(), args, genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return result{out.String(), errOut.String(), code}
}

// expand fills {NS} and {F} and splits like a shell (single quotes group).
func expand(s, ns, dir string, withNS bool) []string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "{NS}", ns), "{F}", dir)
	var args []string
	var cur strings.Builder
	inQuote, started := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote, started = !inQuote, true
		case r == ' ' && !inQuote:
			if started {
				args = append(args, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		args = append(args, cur.String())
	}
	if withNS {
		args = append([]string{"-n", ns}, args...)
	}
	return args
}

var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	// top's "Metrics not available for pod x, age: 2m48.1s" (the two tools
	// ask a moment apart).
	{regexp.MustCompile(`(age: )[0-9hmsµn.]+`), "${1}AGE"},
	// The reference kubectl's file name (kubectl-v0.37.2-amd64, kubectl.1.33)
	// shows where kubectl records its command line (--record).
	{regexp.MustCompile(`\bkubectl(-v\d+\.\d+\.\d+-[a-z0-9]+|\.1\.\d+)\b`), "kubectl"},
	{regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}`), "TIME"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`), "TIME"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+ [+-]\d{4}`), "TIME"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "UID"},
	{regexp.MustCompile(`resourceVersion: "\d+"`), `resourceVersion: "RV"`},
	{regexp.MustCompile(`"resourceVersion": "\d+"`), `"resourceVersion": "RV"`},
	{regexp.MustCompile(`\b10\.43\.\d+\.\d+\b`), "CLUSTER-IP"},
	{regexp.MustCompile(`\b3\d{4}\b`), "NODEPORT"},
	{regexp.MustCompile(`\b(\d+y)?(\d+d)?(\d+h)?(\d+m)?\d+s\b|\b\d+[mhdy](\d+[smhd])?\b`), "AGE"},
	{regexp.MustCompile(`-[bcdfghjklmnpqrstvwxz2456789]{8,10}(-[bcdfghjklmnpqrstvwxz2456789]{5})?\b`), "-HASH"},
	{regexp.MustCompile(`\bkube-api-access-[a-z0-9]{5}\b`), "kube-api-access-HASH"},
	{regexp.MustCompile(`\b(node-debugger-[A-Za-z0-9.-]+?|debugger)-[bcdfghjklmnpqrstvwxz2456789]{5}\b`), "$1-HASH"},
	{regexp.MustCompile(`/tmp/[A-Za-z0-9_./-]+`), "PATH"},
	{regexp.MustCompile(`\bkctl\b`), "kubectl"},
	{regexp.MustCompile(` {2,}`), "  "},
}

// normalise removes what legitimately differs between two runs: the
// namespace, times, ages, UIDs, resource versions, allocated IPs and ports,
// generated name suffixes, temp paths, the program name, and column
// padding (alignment is checked byte for byte by the unit tests).
func normalise(s string, pc pcase) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "ns-kubectl", "NS"), "ns-kctl", "NS")
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	if pc.maskDigits {
		s = regexp.MustCompile(`\d+`).ReplaceAllString(s, "N")
	}
	if pc.unordered {
		lines := strings.Split(s, "\n")
		sort.Strings(lines)
		s = strings.Join(lines, "\n")
	}
	return s
}
