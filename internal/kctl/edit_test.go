package kctl

import (
	"reflect"
	"testing"
)

// kubectl's editor rules: a plain name, a split command line, or the shell
// for values with quotes or backslashes.
func TestEditorArgs(t *testing.T) {
	t.Setenv("SHELL", "/bin/zsh")
	for _, c := range []struct {
		kube, editor string
		want         []string
		shell        bool
	}{
		{"", "", []string{"vi"}, false},
		{"", "nano", []string{"nano"}, false},
		{"code --wait", "nano", []string{"code", "--wait"}, false},
		{`sed -i "s/a/b/"`, "", []string{"/bin/zsh", "-c", `sed -i "s/a/b/"`}, true},
	} {
		t.Setenv("KUBE_EDITOR", c.kube)
		t.Setenv("EDITOR", c.editor)
		got, shell := editor()
		if !reflect.DeepEqual(got, c.want) || shell != c.shell {
			t.Errorf("KUBE_EDITOR=%q EDITOR=%q: %q shell=%v, want %q shell=%v", c.kube, c.editor, got, shell, c.want, c.shell)
		}
	}
}
