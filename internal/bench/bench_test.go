package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSelect(t *testing.T) {
	all := Benchmarks()
	got, err := Select(all, "d2, D1")
	if err != nil || len(got) != 2 || got[0].ID != "D2" || got[1].ID != "D1" {
		t.Fatalf("Select(d2, D1) = %v, %v", got, err)
	}
	if _, err := Select(all, "D1,Z9"); err == nil || !strings.Contains(err.Error(), `"Z9"`) {
		t.Fatalf("unknown ID: got %v, want an error naming Z9", err)
	}
	if got, _ := Select(all, ""); len(got) != len(all) {
		t.Fatal("empty --only must select every benchmark")
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 50); p != 50 {
		t.Fatalf("p50 = %v, want 50", p)
	}
	if p := percentile(d, 99); p != 99 {
		t.Fatalf("p99 = %v, want 99", p)
	}
	if m := median([]float64{1, 2, 10}); m != 2 {
		t.Fatalf("median = %v", m)
	}
	if met, _ := (Target{"<=", 5}).Met(5.1); met {
		t.Fatal("5.1 meets ≤ 5")
	}
}

// TestWriteMarkdownMerges: a run of some benchmarks replaces only their
// rows and keeps the others'.
func TestWriteMarkdownMerges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	all := Benchmarks()
	m := Machine{CPU: "test cpu", Cores: 2, When: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	first := []Figure{
		{ID: "D1", Metric: "create latency p50", Unit: "ms", Target: Target{"<=", 1}, Values: []float64{1, 2, 3}, Median: 2, Min: 1, Max: 3},
		{ID: "D2", Metric: "throughput", Unit: "writes/s", Target: Target{">=", 5000}, Values: []float64{6000, 7000, 8000}, Median: 7000, Min: 6000, Max: 8000},
	}
	if err := WriteMarkdown(path, m, all, first, nil); err != nil {
		t.Fatal(err)
	}
	m.When = m.When.Add(24 * time.Hour)
	second := []Figure{{ID: "D1", Metric: "create latency p50", Unit: "ms", Target: Target{"<=", 1}, Values: []float64{0.5, 0.6, 0.7}, Median: 0.6, Min: 0.5, Max: 0.7}}
	if err := WriteMarkdown(path, m, all, second, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	doc := string(b)
	for _, want := range []string{"| D1 | create latency p50 | 0.600 ms |", "| yes | 2026-01-03 |", "| D2 | throughput | 7000 writes/s |", "| 2026-01-02 |", "### D4 — ", "test cpu, 2 cores"} {
		if !strings.Contains(doc, want) {
			t.Fatalf("report lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "| 2.00 ms |") {
		t.Fatalf("old D1 row kept:\n%s", doc)
	}
	if strings.Index(doc, "| D1 |") > strings.Index(doc, "| D2 |") {
		t.Fatal("rows not in benchmark order")
	}
}
