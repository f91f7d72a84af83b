package kctl

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// newConfigCommand is `config`: read and edit kubeconfig files the way
// kubectl does (same files, same messages).
func newConfigCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config SUBCOMMAND",
		Short: "Modify kubeconfig files",
		Long: `Modify kubeconfig files using subcommands like "kctl config set current-context my-context".

 The loading order follows these rules:
  1. If the --kubeconfig flag is set, then only that file is loaded.
  2. If $KUBECONFIG is set, it is a list of paths and the lists are merged.
  3. Otherwise ${HOME}/.kube/config is used, and when that does not exist
     kctl falls back to /etc/kserver/kserver.yaml (kserver's admin config).`,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConfigView(f), newConfigGetContexts(f), newConfigCurrentContext(f),
		newConfigUseContext(f), newConfigSetContext(f), newConfigSetCluster(f), newConfigSetCredentials(f),
		newConfigDeleteContext(f), newConfigGetNames(f, "get-clusters"), newConfigGetNames(f, "get-users"),
		newConfigDeleteNamed(f, "delete-cluster"), newConfigDeleteNamed(f, "delete-user"), newConfigRenameContext(f))
	return cmd
}

func (f *Factory) pathOptions() *clientcmd.PathOptions {
	po := clientcmd.NewDefaultPathOptions()
	po.LoadingRules.ExplicitPath = f.Flags.Kubeconfig
	return po
}

func (f *Factory) startingConfig() (*clientcmdapi.Config, *clientcmd.PathOptions, error) {
	po := f.pathOptions()
	cfg, err := po.GetStartingConfig()
	return cfg, po, err
}

func newConfigView(f *Factory) *cobra.Command {
	var minify, flatten, raw bool
	var output string
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Display merged kubeconfig settings or a specified kubeconfig file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := f.startingConfig()
			if err != nil {
				return err
			}
			if minify {
				if err := clientcmdapi.MinifyConfig(cfg); err != nil {
					return err
				}
			}
			if flatten {
				if err := clientcmdapi.FlattenConfig(cfg); err != nil {
					return err
				}
			} else if !raw {
				clientcmdapi.ShortenConfig(cfg)
			}
			data, err := clientcmd.Write(*cfg)
			if err != nil {
				return err
			}
			switch output {
			case "", "yaml":
				_, err = f.IO.Out.Write(data)
			case "json":
				js, jerr := yaml.YAMLToJSON(data)
				if jerr != nil {
					return jerr
				}
				err = writeIndentedJSON(f.IO.Out, js)
			default:
				return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", output)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&minify, "minify", false, "Remove all information not used by current-context from the output")
	cmd.Flags().BoolVar(&flatten, "flatten", false, "Flatten the resulting kubeconfig file into self-contained output (useful for creating portable kubeconfig files)")
	cmd.Flags().BoolVar(&raw, "raw", false, "Display raw byte data and sensitive data")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "Output format. One of: (json, yaml).")
	return cmd
}

func newConfigGetContexts(f *Factory) *cobra.Command {
	var output string
	var noHeaders bool
	cmd := &cobra.Command{
		Use:   "get-contexts [(-o|--output=)name)]",
		Short: "Describe one or many contexts",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := f.startingConfig()
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				for n := range cfg.Contexts {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			if output == "name" {
				for _, n := range names {
					fmt.Fprintln(f.IO.Out, n)
				}
				return nil
			} else if output != "" {
				return fmt.Errorf("output must be one of '' or 'name': %v", output)
			}
			w := printers.GetNewTabWriter(f.IO.Out)
			defer w.Flush()
			if !noHeaders {
				fmt.Fprintln(w, "CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE")
			}
			var missing []error
			for _, n := range names {
				c, ok := cfg.Contexts[n]
				if !ok {
					missing = append(missing, fmt.Errorf("context %v not found", n))
					continue
				}
				cur := ""
				if cfg.CurrentContext == n {
					cur = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", cur, n, c.Cluster, c.AuthInfo, c.Namespace)
			}
			if len(missing) > 0 {
				w.Flush()
				return errors.Join(missing...)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format. One of: (name).")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "When using the default or custom-column output format, don't print headers (default print headers).")
	return cmd
}

func newConfigCurrentContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "current-context",
		Short: "Display the current-context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := f.startingConfig()
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return errors.New("current-context is not set")
			}
			fmt.Fprintln(f.IO.Out, cfg.CurrentContext)
			return nil
		},
	}
}

func newConfigUseContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "use-context CONTEXT_NAME",
		Aliases: []string{"use"},
		Short:   "Set the current-context in a kubeconfig file",
		Args:    needArgs(1, "Unexpected args: []"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			name := args[0]
			if _, ok := cfg.Contexts[name]; !ok {
				return fmt.Errorf("no context exists with the name: %q", name)
			}
			cfg.CurrentContext = name
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Switched to context %q.\n", name)
			return nil
		},
	}
}

func newConfigSetContext(f *Factory) *cobra.Command {
	var current bool
	var cluster, user, namespace string
	cmd := &cobra.Command{
		Use:   "set-context [NAME | --current] [--cluster=cluster_nickname] [--user=user_nickname] [--namespace=namespace]",
		Short: "Set a context entry in kubeconfig",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			name := ""
			switch {
			case current && len(args) > 0:
				return errors.New("you cannot specify both a context name and --current")
			case current:
				if cfg.CurrentContext == "" {
					return errors.New("no current context is set")
				}
				name = cfg.CurrentContext
			case len(args) == 1:
				name = args[0]
			default:
				return usageError(cmd.CommandPath(), "Unexpected args: %v", args)
			}
			ctx, exists := cfg.Contexts[name]
			if !exists {
				ctx = clientcmdapi.NewContext()
			}
			// The connection flags of the same names are global; read the
			// values through the command's flag set.
			if flagChanged(cmd, "cluster") {
				ctx.Cluster = cluster
			}
			if flagChanged(cmd, "user") {
				ctx.AuthInfo = user
			}
			if flagChanged(cmd, "namespace") {
				ctx.Namespace = namespace
			}
			cfg.Contexts[name] = ctx
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			verb := "created"
			if exists {
				verb = "modified"
			}
			fmt.Fprintf(f.IO.Out, "Context %q %s.\n", name, verb)
			return nil
		},
	}
	cmd.Flags().BoolVar(&current, "current", false, "Modify the current context")
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster for the context entry in kubeconfig")
	cmd.Flags().StringVar(&user, "user", "", "user for the context entry in kubeconfig")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace for the context entry in kubeconfig")
	return cmd
}

func newConfigSetCluster(f *Factory) *cobra.Command {
	var server, ca, tlsName, proxy string
	var insecure, embed bool
	cmd := &cobra.Command{
		Use:   "set-cluster NAME [--server=server] [--certificate-authority=path/to/certificate/authority] [--insecure-skip-tls-verify=true] [--tls-server-name=example.com]",
		Short: "Set a cluster entry in kubeconfig",
		Args:  needArgs(1, "Unexpected args: []"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			c, ok := cfg.Clusters[args[0]]
			if !ok {
				c = clientcmdapi.NewCluster()
			}
			if flagChanged(cmd, "server") {
				c.Server = server
			}
			if flagChanged(cmd, "tls-server-name") {
				c.TLSServerName = tlsName
			}
			if flagChanged(cmd, "proxy-url") {
				c.ProxyURL = proxy
			}
			if flagChanged(cmd, "insecure-skip-tls-verify") {
				c.InsecureSkipTLSVerify = insecure
				if insecure {
					c.CertificateAuthority, c.CertificateAuthorityData = "", nil
				}
			}
			if flagChanged(cmd, "certificate-authority") {
				if err := setCA(c, ca, embed); err != nil {
					return err
				}
			}
			cfg.Clusters[args[0]] = c
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Cluster %q set.\n", args[0])
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&server, "server", "", "server for the cluster entry in kubeconfig")
	fl.StringVar(&ca, "certificate-authority", "", "Path to certificate-authority file for the cluster entry in kubeconfig")
	fl.StringVar(&tlsName, "tls-server-name", "", "tls-server-name for the cluster entry in kubeconfig")
	fl.StringVar(&proxy, "proxy-url", "", "proxy-url for the cluster entry in kubeconfig")
	fl.BoolVar(&insecure, "insecure-skip-tls-verify", false, "insecure-skip-tls-verify for the cluster entry in kubeconfig")
	fl.BoolVar(&embed, "embed-certs", false, "embed-certs for the cluster entry in kubeconfig")
	return cmd
}

func newConfigSetCredentials(f *Factory) *cobra.Command {
	var token, cert, key, username, password string
	var embed bool
	cmd := &cobra.Command{
		Use:   "set-credentials NAME [--client-certificate=path/to/certfile] [--client-key=path/to/keyfile] [--token=bearer_token] [--username=basic_user] [--password=basic_password]",
		Short: "Set a user entry in kubeconfig",
		Args:  needArgs(1, "Unexpected args: []"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			u, ok := cfg.AuthInfos[args[0]]
			if !ok {
				u = clientcmdapi.NewAuthInfo()
			}
			if flagChanged(cmd, "token") {
				u.Token = token
			}
			if flagChanged(cmd, "username") {
				u.Username = username
			}
			if flagChanged(cmd, "password") {
				u.Password = password
			}
			if err := setClientCert(u, cmd, cert, key, embed); err != nil {
				return err
			}
			cfg.AuthInfos[args[0]] = u
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "User %q set.\n", args[0])
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&token, "token", "", "token for the user entry in kubeconfig")
	fl.StringVar(&cert, "client-certificate", "", "Path to client-certificate file for the user entry in kubeconfig")
	fl.StringVar(&key, "client-key", "", "Path to client-key file for the user entry in kubeconfig")
	fl.StringVar(&username, "username", "", "username for the user entry in kubeconfig")
	fl.StringVar(&password, "password", "", "password for the user entry in kubeconfig")
	fl.BoolVar(&embed, "embed-certs", false, "Embed client cert/key for the user entry in kubeconfig")
	return cmd
}

func newConfigDeleteContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "delete-context NAME",
		Short: "Delete the specified context from the kubeconfig",
		Args:  needArgs(1, "Unexpected args: []"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			file := po.GetDefaultFilename()
			if po.IsExplicitFile() {
				file = po.GetExplicitFile()
			}
			name := args[0]
			if _, ok := cfg.Contexts[name]; !ok {
				return fmt.Errorf("cannot delete context %s, not in %s", name, file)
			}
			if cfg.CurrentContext == name {
				fmt.Fprint(f.IO.ErrOut, "warning: this removed your active context, use \"kubectl config use-context\" to select a different one\n")
			}
			delete(cfg.Contexts, name)
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "deleted context %s from %s\n", name, file)
			return nil
		},
	}
}

func newConfigGetNames(f *Factory, use string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: "Display " + strings.TrimPrefix(use, "get-") + " defined in the kubeconfig",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := f.startingConfig()
			if err != nil {
				return err
			}
			var names []string
			header := "NAME"
			if use == "get-clusters" {
				for n := range cfg.Clusters {
					names = append(names, n)
				}
			} else {
				for n := range cfg.AuthInfos {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			fmt.Fprintln(f.IO.Out, header)
			for _, n := range names {
				fmt.Fprintln(f.IO.Out, n)
			}
			return nil
		},
	}
}

func newConfigDeleteNamed(f *Factory, use string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " NAME",
		Short: "Delete the specified " + strings.TrimPrefix(use, "delete-") + " from the kubeconfig",
		Args:  needArgs(1, "Unexpected args: []"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			file := po.GetDefaultFilename()
			if po.IsExplicitFile() {
				file = po.GetExplicitFile()
			}
			name, what := args[0], strings.TrimPrefix(use, "delete-")
			m := map[string]bool{}
			if what == "cluster" {
				if _, ok := cfg.Clusters[name]; ok {
					delete(cfg.Clusters, name)
					m[name] = true
				}
			} else if _, ok := cfg.AuthInfos[name]; ok {
				delete(cfg.AuthInfos, name)
				m[name] = true
			}
			if !m[name] {
				return fmt.Errorf("cannot delete %s %s, not in %s", what, name, file)
			}
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "deleted %s %s from %s\n", what, name, file)
			return nil
		},
	}
}

func newConfigRenameContext(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "rename-context CONTEXT_NAME NEW_NAME",
		Short: "Rename a context from the kubeconfig file",
		Args:  needArgs(2, "Unexpected args: []"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, po, err := f.startingConfig()
			if err != nil {
				return err
			}
			old, nw := args[0], args[1]
			c, ok := cfg.Contexts[old]
			if !ok {
				return fmt.Errorf("cannot rename the context %q, it's not in %s", old, po.GetDefaultFilename())
			}
			if _, ok := cfg.Contexts[nw]; ok {
				return fmt.Errorf("cannot rename the context %q, the context %q already exists in %s", old, nw, po.GetDefaultFilename())
			}
			cfg.Contexts[nw] = c
			delete(cfg.Contexts, old)
			if cfg.CurrentContext == old {
				cfg.CurrentContext = nw
			}
			if err := clientcmd.ModifyConfig(po, *cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Context %q renamed to %q.\n", old, nw)
			return nil
		},
	}
}
