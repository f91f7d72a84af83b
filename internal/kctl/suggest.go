package kctl

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
)

// slips maps words learners type in the verb position to what they meant.
// The value is the replacement for that word; the rest of the command line
// is kept. (A seed's study notes write `kubectl context use-context`.)
var slips = map[string]string{
	"context":         "config",
	"contexts":        "config get-contexts",
	"use-context":     "config use-context",
	"set-context":     "config set-context",
	"get-contexts":    "config get-contexts",
	"current-context": "config current-context",
	"set-cluster":     "config set-cluster",
	"set-credentials": "config set-credentials",
	"view":            "config view",
	"stop":            "delete",
	"log":             "logs",
	"show":            "get",
	"list":            "get",
	"ls":              "get",
	"rm":              "delete",
	"remove":          "delete",
	"start":           "run",
	"ssh":             "exec -it",
	"forward":         "port-forward",
	"portforward":     "port-forward",
}

// slipHint returns the whole stderr text for a command line whose verb is
// unknown but is a known slip, or "" to let cobra handle it. kubectl prints
// `error: unknown command "context" for "kubectl"`; kctl adds the fix.
func slipHint(root *cobra.Command, args []string) string {
	if _, _, err := root.Find(args); err == nil {
		return ""
	}
	i := firstWord(args)
	if i < 0 {
		return ""
	}
	word := args[i]
	fix, ok := slips[word]
	if !ok {
		if looksLikeResource(word) {
			fix = "get " + word
		} else {
			return ""
		}
	}
	rest := append(append([]string{}, args[:i]...), fix)
	rest = append(rest, args[i+1:]...)
	return fmt.Sprintf("error: unknown command %q for %q\n\nDid you mean this?\n\t%s %s\n", word, root.Name(), root.Name(), strings.Join(rest, " "))
}

// firstWord is the index of the first argument that is not a flag or the
// value of a global flag such as `-n NAME`.
func firstWord(args []string) int {
	takesValue := map[string]bool{"-n": true, "--namespace": true, "--context": true, "--kubeconfig": true,
		"-s": true, "--server": true, "--token": true, "--cluster": true, "--user": true, "-v": true, "--v": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return -1
		}
		if strings.HasPrefix(a, "-") {
			if takesValue[a] {
				i++
			}
			continue
		}
		return i
	}
	return -1
}

func looksLikeResource(w string) bool {
	switch strings.ToLower(w) {
	case "pod", "pods", "po", "node", "nodes", "no", "svc", "service", "services", "deploy", "deployment",
		"deployments", "rs", "rc", "ns", "namespace", "namespaces", "cm", "configmap", "configmaps", "secret", "secrets":
		return true
	}
	return false
}

// withResourceHint adds "Did you mean" to the server's "doesn't have a
// resource type" error, using discovery's names.
func withResourceHint(f *Factory, err error) error {
	var nm *meta.NoResourceMatchError
	if !errors.As(err, &nm) {
		return err
	}
	typed := nm.PartialResource.Resource
	var cands []string
	if a, b, ok := strings.Cut(typed, "--"); ok && a != "" {
		cands = []string{a + " --" + strings.Replace(b, "namespaces=", "namespace=", 1)}
	} else {
		cands = similarResources(f, typed)
	}
	if len(cands) == 0 {
		return err
	}
	return &ExitError{Code: 1, Msg: noResourceMessage(nm) + "\n\nDid you mean this?\n\t" + strings.Join(cands, "\n\t") + "\n"}
}

func similarResources(f *Factory, typed string) []string {
	disc, err := f.Discovery()
	if err != nil {
		return nil
	}
	lists, _ := disc.ServerPreferredResources()
	seen := map[string]bool{}
	typed = strings.ToLower(typed)
	for _, l := range lists {
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			names := append([]string{r.Name, r.SingularName, strings.ToLower(r.Kind)}, r.ShortNames...)
			for _, n := range names {
				if n != "" && levenshtein(typed, n) <= maxDistance(typed) {
					seen[r.Name] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func maxDistance(s string) int {
	if len(s) <= 4 {
		return 1
	}
	return 2
}

// levenshtein is the edit distance between a and b, counting a swap of
// two neighbouring letters as one edit.
func levenshtein(a, b string) int {
	prev, prev2 := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1) // a swap of two letters
			}
		}
		prev2, prev = prev, cur
	}
	return prev[len(b)]
}
