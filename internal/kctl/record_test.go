package kctl

import (
	"bytes"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// --record writes the command line as kubectl does: the words in their
// order, then the flags in the order given, long names, values as typed.
func TestChangeCause(t *testing.T) {
	var out bytes.Buffer
	root := NewRootCommand(NewFactory(genericiooptions.IOStreams{Out: &out, ErrOut: &out}, &Prefs{}))
	for _, c := range []struct {
		raw  []string
		want string
	}{
		{[]string{"set", "image", "deploy/web", "c=nginx:2", "-n", "dev", "--record"},
			"kubectl set image deploy/web c=nginx:2 --namespace=dev --record=true"},
		{[]string{"-n=dev", "create", "-f", "a.yaml", "--record=true", "--dry-run=client"},
			"kubectl create --namespace=dev --filename=a.yaml --record=true --dry-run=client"},
		{[]string{"create", "--filename=a.yaml", "--", "x"}, "kubectl create x --filename=a.yaml"},
	} {
		cmd, _, err := root.Find(c.raw)
		if err != nil {
			t.Fatal(err)
		}
		cmd.InheritedFlags() // merges the root's flags, as parsing does
		if got := changeCause(cmd, c.raw); got != c.want {
			t.Errorf("%q: got %q, want %q", c.raw, got, c.want)
		}
	}
}
