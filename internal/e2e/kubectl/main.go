// Command kubectl is stock kubectl built from k8s.io/kubectl at the
// version pinned in this folder's go.mod. It lives in its own module so
// that kubectl's dependencies never enter kserver's go.mod; the end-to-end
// harness builds it when no stock kubectl of 1.28 or newer is installed.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
