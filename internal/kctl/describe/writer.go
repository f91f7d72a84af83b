package describe

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Indent levels of the prefix writer: each adds two spaces.
const (
	L0 = iota
	L1
	L2
	L3
	L4
)

// prefixWriter writes lines at an indent level into a tab writer, escaping
// terminal control characters like kubectl's.
type prefixWriter struct {
	w io.Writer
}

// Write formats a line at level. Tabs in format separate aligned cells.
func (p *prefixWriter) Write(level int, format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	fmt.Fprint(p.w, strings.Repeat("  ", level)+escape(s))
}

// WriteLine writes the values separated by spaces and a newline.
func (p *prefixWriter) WriteLine(a ...any) {
	fmt.Fprint(p.w, escape(fmt.Sprintln(a...)))
}

func escape(s string) string {
	s = strings.ReplaceAll(s, "\x1b", "^[")
	return strings.ReplaceAll(s, "\r", `\r`)
}

// tabbed runs fn with a prefix writer over kubectl's describe tab writer
// and returns the aligned text.
func tabbed(fn func(w *prefixWriter) error) (string, error) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	if err := fn(&prefixWriter{w: tw}); err != nil {
		return "", err
	}
	tw.Flush()
	return buf.String(), nil
}

// timeString is RFC 1123 with a numeric zone in local time.
func timeString(t metav1.Time) string {
	return t.Local().Format(time.RFC1123Z)
}

func since(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printLabels writes `Labels:⇥k=v` with further labels on aligned lines.
func printLabels(w *prefixWriter, title string, labels map[string]string, level int) {
	w.Write(level, "%s:\t", title)
	if len(labels) == 0 {
		w.WriteLine("<none>")
		return
	}
	for i, k := range sortedKeys(labels) {
		if i > 0 {
			w.Write(level, "\t")
		}
		w.Write(L0, "%s=%s\n", k, labels[k])
	}
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// printAnnotations is printLabels with `k: v`, skipping kubectl's own
// last-applied annotation and folding long or multi-line values.
func printAnnotations(w *prefixWriter, annotations map[string]string, level int) {
	w.Write(level, "Annotations:\t")
	keys := []string{}
	for _, k := range sortedKeys(annotations) {
		if k != lastApplied {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		w.WriteLine("<none>")
		return
	}
	for i, k := range keys {
		if i > 0 {
			w.Write(level, "\t")
		}
		v := strings.TrimSuffix(annotations[k], "\n")
		if len(k)+len(v)+2 > 140 || strings.Contains(v, "\n") {
			w.Write(L0, "%s:\n", k)
			for _, line := range strings.Split(v, "\n") {
				if len(line) > 138 {
					line = line[:138] + "..."
				}
				w.Write(level, "\t  %s\n", line)
			}
			continue
		}
		w.Write(L0, "%s: %s\n", k, annotations[k])
	}
}

// printMultiline writes a title and one value per aligned line.
func printMultiline(w *prefixWriter, level int, title string, values []string) {
	w.Write(level, "%s:\t", title)
	if len(values) == 0 {
		w.WriteLine("<none>")
		return
	}
	for i, v := range values {
		if i > 0 {
			w.Write(level, "\t")
		}
		w.Write(L0, "%s\n", v)
	}
}

func taintStrings(taints []corev1.Taint) []string {
	ts := append([]corev1.Taint(nil), taints...)
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Effect != ts[j].Effect {
			return ts[i].Effect < ts[j].Effect
		}
		return ts[i].Key < ts[j].Key
	})
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ToString()
	}
	return out
}

func tolerationStrings(tols []corev1.Toleration) []string {
	ts := append([]corev1.Toleration(nil), tols...)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Key < ts[j].Key })
	out := make([]string, len(ts))
	for i, t := range ts {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		if t.Effect != "" {
			s += ":" + string(t.Effect)
		}
		if t.Operator == corev1.TolerationOpExists && t.Value == "" {
			if t.Key != "" || t.Effect != "" {
				s += " "
			}
			s += "op=Exists"
		}
		if t.TolerationSeconds != nil {
			s += fmt.Sprintf(" for %ds", *t.TolerationSeconds)
		}
		out[i] = s
	}
	return out
}

func boolPtr(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	if *b {
		return "True"
	}
	return "False"
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
