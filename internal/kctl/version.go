package kctl

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/yaml"

	"kserver.dev/kserver/internal/version"
)

// kustomizeVersion is the kustomize release kubectl 1.36 and 1.37 report;
// kctl reads kustomizations through the same cli-runtime builder.
const kustomizeVersion = "v5.8.1"

type versionOutput struct {
	ClientVersion    *apimachineryversion.Info `json:"clientVersion,omitempty"`
	KustomizeVersion string                    `json:"kustomizeVersion,omitempty"`
	ServerVersion    *apimachineryversion.Info `json:"serverVersion,omitempty"`
}

func platform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// clientVersion describes kctl as the kubectl release whose behaviour it
// matches; the kctl build itself is shown by `version --build`.
func clientVersion() *apimachineryversion.Info {
	v := utilversion.MustParseSemantic(version.Kubernetes)
	return &apimachineryversion.Info{
		Major:        fmt.Sprint(v.Major()),
		Minor:        fmt.Sprint(v.Minor()),
		GitVersion:   version.Kubernetes,
		GitCommit:    version.GitCommit,
		GitTreeState: "clean",
		BuildDate:    version.BuildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     platform(),
	}
}

func newVersionCommand(f *Factory) *cobra.Command {
	var client, build bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if build {
				fmt.Fprintln(f.IO.Out, version.String("kctl"))
				return nil
			}
			if output != "" && output != "json" && output != "yaml" {
				return fmt.Errorf("--output must be 'yaml' or 'json'")
			}
			out := versionOutput{ClientVersion: clientVersion(), KustomizeVersion: kustomizeVersion}
			var serverErr error
			if !client {
				out.ServerVersion, serverErr = f.serverVersion()
			}
			switch output {
			case "":
				fmt.Fprintf(f.IO.Out, "Client Version: %s\n", out.ClientVersion.GitVersion)
				fmt.Fprintf(f.IO.Out, "Kustomize Version: %s\n", out.KustomizeVersion)
				if out.ServerVersion != nil {
					fmt.Fprintf(f.IO.Out, "Server Version: %s\n", out.ServerVersion.GitVersion)
				}
			case "json":
				b, err := json.MarshalIndent(out, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(f.IO.Out, string(b))
			case "yaml":
				b, err := yaml.Marshal(out)
				if err != nil {
					return err
				}
				f.IO.Out.Write(b)
			}
			if out.ServerVersion != nil {
				if w := skewWarning(out.ClientVersion.GitVersion, out.ServerVersion.GitVersion); w != "" {
					fmt.Fprintln(f.IO.ErrOut, w)
				}
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&client, "client", false, "If true, shows client version only (no server required).")
	cmd.Flags().StringVarP(&output, "output", "o", "", "One of 'yaml' or 'json'.")
	cmd.Flags().BoolVar(&build, "build", false, "kctl only: print the kctl build (version, commit, Go version).")
	return cmd
}

func (f *Factory) serverVersion() (*apimachineryversion.Info, error) {
	disc, err := f.Discovery()
	if err != nil {
		return nil, err
	}
	disc.Invalidate()
	return disc.ServerVersion()
}

// skewWarning is kubectl 1.34+'s warning when client and server minor
// versions differ by more than one.
func skewWarning(clientV, serverV string) string {
	c, err1 := utilversion.ParseSemantic(clientV)
	s, err2 := utilversion.ParseSemantic(strings.TrimSpace(serverV))
	if err1 != nil || err2 != nil || c.Major() != s.Major() {
		return ""
	}
	d := int(c.Minor()) - int(s.Minor())
	if d > 1 || d < -1 {
		return fmt.Sprintf("Warning: version difference between client (%d.%d) and server (%d.%d) exceeds the supported minor version skew of +/-1",
			c.Major(), c.Minor(), s.Major(), s.Minor())
	}
	return ""
}
