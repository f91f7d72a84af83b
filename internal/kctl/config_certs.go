package kctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// setCA points a cluster at a CA file, or embeds it with --embed-certs.
func setCA(c *clientcmdapi.Cluster, path string, embed bool) error {
	if !embed {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		c.CertificateAuthority, c.CertificateAuthorityData = abs, nil
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("could not read certificate-authority data from %s: %w", path, err)
	}
	c.CertificateAuthority, c.CertificateAuthorityData, c.InsecureSkipTLSVerify = "", data, false
	return nil
}

// setClientCert sets the user's client certificate and key when their flags
// were given, as paths or (--embed-certs) as data.
func setClientCert(u *clientcmdapi.AuthInfo, cmd *cobra.Command, cert, key string, embed bool) error {
	set := func(flag, path string, file *string, data *[]byte) error {
		if !flagChanged(cmd, flag) {
			return nil
		}
		if !embed {
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			*file, *data = abs, nil
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("error reading %s data from %s: %w", flag, path, err)
		}
		*file, *data = "", b
		return nil
	}
	if err := set("client-certificate", cert, &u.ClientCertificate, &u.ClientCertificateData); err != nil {
		return err
	}
	return set("client-key", key, &u.ClientKey, &u.ClientKeyData)
}

// writeIndentedJSON writes js indented by four spaces, as kubectl's JSON
// printer does, followed by a newline.
func writeIndentedJSON(w io.Writer, js []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, js, "", "    "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
