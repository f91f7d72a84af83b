package job

import (
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// indexes is a set of completion indexes, printed as upstream's
// completedIndexes: sorted ranges "0-2,4,6-7".
type indexes struct{ s sets.Set[int] }

func (x indexes) total() int { return x.s.Len() }

func (x indexes) has(i int) bool { return x.s.Has(i) }

func (x indexes) String() string {
	all := sets.List(x.s)
	var parts []string
	for i := 0; i < len(all); {
		j := i
		for j+1 < len(all) && all[j+1] == all[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(all[i]))
		} else {
			parts = append(parts, strconv.Itoa(all[i])+"-"+strconv.Itoa(all[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// parseIndexes reads a completedIndexes string, keeping indexes below n.
func parseIndexes(s string, n int) indexes {
	out := indexes{sets.New[int]()}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < n; i++ {
			out.s.Insert(i)
		}
	}
	return out
}

// completionIndex is the pod's completion index, or -1.
func completionIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// succeededIndexes is the recorded completedIndexes and that plus the
// indexes of succeeded pods still holding their finalizer.
func succeededIndexes(job *batchv1.Job, pods []*corev1.Pod) (prev, now indexes) {
	n := int(*job.Spec.Completions)
	prev = parseIndexes(job.Status.CompletedIndexes, n)
	now = indexes{prev.s.Clone()}
	for _, p := range pods {
		if ix := completionIndex(p); p.Status.Phase == corev1.PodSucceeded && hasFinalizer(p) && ix >= 0 && ix < n {
			now.s.Insert(ix)
		}
	}
	return prev, now
}

// firstPendingIndexes are the n lowest indexes neither succeeded nor held
// by an active pod.
func firstPendingIndexes(st *state, n int) []int {
	busy := st.doneIdx.s.Clone()
	for _, p := range st.active {
		if ix := completionIndex(p); ix >= 0 {
			busy.Insert(ix)
		}
	}
	var out []int
	for i := 0; i < int(*st.job.Spec.Completions) && len(out) < n; i++ {
		if !busy.Has(i) {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}
