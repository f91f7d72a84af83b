package kctl

import (
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ConnFlags are kubectl's global connection flags.
type ConnFlags struct {
	Kubeconfig, Context, Cluster, User, Namespace, Server, Token string
	Insecure                                                     bool
	CAFile, CertFile, KeyFile, TLSServerName                     string
	As, AsUID                                                    string
	AsGroups                                                     []string
	Username, Password, RequestTimeout, CacheDir                 string
	DisableCompression                                           bool
}

// AddFlags registers the flags with kubectl's names and help texts.
func (c *ConnFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "Path to the kubeconfig file to use for CLI requests.")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "Default cache directory (default $HOME/.kube/cache)")
	fs.StringVar(&c.CertFile, "client-certificate", "", "Path to a client certificate file for TLS")
	fs.StringVar(&c.KeyFile, "client-key", "", "Path to a client key file for TLS")
	fs.StringVar(&c.Token, "token", "", "Bearer token for authentication to the API server")
	fs.StringVar(&c.As, "as", "", "Username to impersonate for the operation. User could be a regular user or a service account in a namespace.")
	fs.StringVar(&c.AsUID, "as-uid", "", "UID to impersonate for the operation.")
	fs.StringArrayVar(&c.AsGroups, "as-group", nil, "Group to impersonate for the operation, this flag can be repeated to specify multiple groups.")
	fs.StringVar(&c.Username, "username", "", "Username for basic authentication to the API server")
	fs.StringVar(&c.Password, "password", "", "Password for basic authentication to the API server")
	fs.StringVar(&c.Cluster, "cluster", "", "The name of the kubeconfig cluster to use")
	fs.StringVar(&c.User, "user", "", "The name of the kubeconfig user to use")
	fs.StringVarP(&c.Namespace, "namespace", "n", "", "If present, the namespace scope for this CLI request")
	fs.StringVar(&c.Context, "context", "", "The name of the kubeconfig context to use")
	fs.StringVarP(&c.Server, "server", "s", "", "The address and port of the Kubernetes API server")
	fs.StringVar(&c.TLSServerName, "tls-server-name", "", "Server name to use for server certificate validation. If it is not provided, the hostname used to contact the server is used")
	fs.BoolVar(&c.Insecure, "insecure-skip-tls-verify", false, "If true, the server's certificate will not be checked for validity. This will make your HTTPS connections insecure")
	fs.StringVar(&c.CAFile, "certificate-authority", "", "Path to a cert file for the certificate authority")
	fs.StringVar(&c.RequestTimeout, "request-timeout", "0", "The length of time to wait before giving up on a single server request. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h). A value of zero means don't timeout requests.")
	fs.BoolVar(&c.DisableCompression, "disable-compression", false, "If true, opt-out of response compression for all requests to the server")
	fs.MarkHidden("username")
	fs.MarkHidden("password")
}

func (c *ConnFlags) overrides() *clientcmd.ConfigOverrides {
	o := &clientcmd.ConfigOverrides{
		CurrentContext: c.Context,
		Context:        clientcmdapi.Context{Cluster: c.Cluster, AuthInfo: c.User, Namespace: c.Namespace},
		ClusterInfo: clientcmdapi.Cluster{Server: c.Server, TLSServerName: c.TLSServerName,
			CertificateAuthority: c.CAFile, InsecureSkipTLSVerify: c.Insecure, DisableCompression: c.DisableCompression},
		AuthInfo: clientcmdapi.AuthInfo{Token: c.Token, ClientCertificate: c.CertFile, ClientKey: c.KeyFile,
			Impersonate: c.As, ImpersonateUID: c.AsUID, ImpersonateGroups: c.AsGroups, Username: c.Username, Password: c.Password},
		Timeout: c.RequestTimeout,
	}
	return o
}
