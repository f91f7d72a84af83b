package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

const (
	rowsBegin = "<!-- results:begin (rows are replaced per benchmark ID by kbench) -->"
	rowsEnd   = "<!-- results:end -->"
)

// PrintTable writes the figures as an aligned table.
func PrintTable(w io.Writer, figs []Figure, fails []Failure) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFIGURE\tMEDIAN\tMIN\tMAX\tTARGET\tMET")
	for _, f := range figs {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", f.ID, f.Metric, formatValue(f.Median), f.Unit,
			formatValue(f.Min), formatValue(f.Max), f.Target.String(f.Unit), metText(f, "yes", "NO"))
	}
	for _, x := range fails {
		fmt.Fprintf(tw, "%s\tFAILED: %v\t\t\t\t\t\n", x.ID, x.Err)
	}
	tw.Flush()
}

func metText(f Figure, yes, no string) string {
	met, has := f.Target.Met(f.Median)
	switch {
	case !has:
		return "—"
	case met:
		return yes
	}
	return no
}

// row is one results line of the markdown table.
func row(f Figure, date string) string {
	return fmt.Sprintf("| %s | %s | %s %s | %s | %s | %d | %s | %s | %s |", f.ID, f.Metric,
		formatValue(f.Median), f.Unit, formatValue(f.Min), formatValue(f.Max), len(f.Values),
		f.Target.String(f.Unit), metText(f, "yes", "**no**"), date)
}

// WriteMarkdown writes docs/benchmarks.md. Result rows of benchmarks not
// run this time are kept from the existing file, so `--only` updates just
// its own rows.
func WriteMarkdown(path string, m Machine, all []Benchmark, figs []Figure, fails []Failure) error {
	ran := map[string]bool{}
	var rows []string
	date := m.When.Format("2006-01-02")
	for _, f := range figs {
		ran[f.ID] = true
		rows = append(rows, row(f, date))
	}
	for _, x := range fails {
		ran[x.ID] = true
		rows = append(rows, fmt.Sprintf("| %s | failed: %s | | | | | | | %s |", x.ID, strings.ReplaceAll(x.Err.Error(), "|", "/"), date))
	}
	if old, err := os.ReadFile(path); err == nil {
		for _, line := range oldRows(string(old)) {
			id := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(line, "|"), "|", 2)[0])
			if !ran[id] {
				rows = append(rows, line)
			}
		}
	}
	order := map[string]int{}
	for i, b := range all {
		order[b.ID] = i
	}
	slices.SortStableFunc(rows, func(a, b string) int { return order[rowID(a)] - order[rowID(b)] })

	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`bin/kbench --out docs/benchmarks.md`); `bin/kbench --only D1,D2 --out docs/benchmarks.md`\n")
	b.WriteString("reruns some benchmarks and replaces only their rows. Every figure is the median of its runs, with\n")
	b.WriteString("min and max; targets are the project's performance targets. The machine is shared and noisy: read\n")
	b.WriteString("the datastore figures against the fsync latency below, which bounds every durable commit.\n\n")
	b.WriteString("## Machine (latest run)\n\n")
	b.WriteString(m.Markdown())
	b.WriteString("\n## Results\n\n")
	b.WriteString(rowsBegin + "\n")
	b.WriteString("| ID | Figure | Median | Min | Max | Runs | Target | Met | Measured |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	b.WriteString(rowsEnd + "\n\n## Methods\n")
	for _, bm := range all {
		fmt.Fprintf(&b, "\n### %s — %s\n\n%s\n", bm.ID, bm.Title, bm.Method)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func rowID(line string) string {
	return strings.TrimSpace(strings.SplitN(strings.TrimPrefix(line, "|"), "|", 2)[0])
}

// oldRows returns the result rows between the markers.
func oldRows(doc string) []string {
	_, rest, ok := strings.Cut(doc, rowsBegin)
	if !ok {
		return nil
	}
	body, _, _ := strings.Cut(rest, rowsEnd)
	var out []string
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| ID ") || strings.HasPrefix(line, "|---") {
			continue
		}
		out = append(out, line)
	}
	return out
}
