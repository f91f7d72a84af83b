package kctl

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func dataFlags(cmd *cobra.Command) {
	cmd.Flags().StringSlice("from-file", nil, "Key file can be specified using its file path, in which case file basename will be used as configmap key, or optionally with a key and file path, in which case the given key will be used.  Specifying a directory will iterate each named file in the directory whose basename is a valid configmap key.")
	cmd.Flags().StringArray("from-literal", nil, "Specify a key and literal value to insert in configmap (i.e. mykey=somevalue)")
	cmd.Flags().StringSlice("from-env-file", nil, "Specify the path to a file to read lines of key=val pairs to create a configmap.")
	cmd.Flags().Bool("append-hash", false, "Append a hash of the configmap to its name.")
}

// readData gathers --from-literal, --from-file and --from-env-file into a
// key → bytes map, with kubectl's duplicate-key and validity errors.
func readData(cmd *cobra.Command) (map[string][]byte, error) {
	out := map[string][]byte{}
	if flagChanged(cmd, "from-env-file") && (flagChanged(cmd, "from-file") || flagChanged(cmd, "from-literal")) {
		return nil, fmt.Errorf("from-env-file cannot be combined with from-file or from-literal")
	}
	add := func(k string, v []byte) error {
		if _, dup := out[k]; dup {
			return fmt.Errorf("cannot add key %s, another key by that name already exists in Data for ConfigMap %q", k, "")
		}
		out[k] = v
		return nil
	}
	lits, _ := cmd.Flags().GetStringArray("from-literal")
	for _, l := range lits {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid literal source %v, expected key=value", l)
		}
		if err := add(k, []byte(strings.Trim(v, `"`))); err != nil {
			return nil, err
		}
	}
	files, _ := cmd.Flags().GetStringSlice("from-file")
	for _, spec := range files {
		key, p, hasKey := strings.Cut(spec, "=")
		if !hasKey {
			p, key = spec, filepath.Base(spec)
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("error reading %s: no such file or directory", p)
		}
		if st.IsDir() {
			if hasKey {
				return nil, fmt.Errorf("cannot give a key name for a directory path")
			}
			ents, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if e.Type().IsRegular() {
					b, err := os.ReadFile(filepath.Join(p, e.Name()))
					if err != nil {
						return nil, err
					}
					if err := add(e.Name(), b); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := add(key, b); err != nil {
			return nil, err
		}
	}
	envs, _ := cmd.Flags().GetStringSlice("from-env-file")
	for _, p := range envs {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				v = os.Getenv(k)
			}
			if err := add(k, []byte(v)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func configMapGenerator() generator {
	return generator{use: "configmap NAME [--from-file=[key=]source] [--from-literal=key1=value1] [--dry-run=server|client|none]", aliases: []string{"cm"},
		short: "Create a config map from a local file, directory or literal value", wrap: "failed to create configmap: ",
		gvr: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, flags: dataFlags,
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			data, err := readData(cmd)
			if err != nil {
				return nil, err
			}
			cm := &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: metav1.ObjectMeta{Name: name}}
			for k, v := range data {
				if utf8.Valid(v) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[k] = string(v)
				} else {
					if cm.BinaryData == nil {
						cm.BinaryData = map[string][]byte{}
					}
					cm.BinaryData[k] = v
				}
			}
			return cm, nil
		}}
}

func newCreateSecretCommand(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "secret (docker-registry | generic | tls)", Short: "Create a secret using a specified subcommand",
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() }}
	secret := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	generic := generator{use: "generic NAME [--type=string] [--from-file=[key=]source] [--from-literal=key1=value1]", short: "Create a secret from a local file, directory, or literal value",
		wrap: "failed to create secret ", gvr: secret,
		flags: func(cmd *cobra.Command) {
			dataFlags(cmd)
			cmd.Flags().String("type", "", "The type of secret to create")
		},
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			data, err := readData(cmd)
			if err != nil {
				return nil, err
			}
			typ, _ := cmd.Flags().GetString("type")
			return &corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretType(typ), Data: data}, nil
		}}
	tls := generator{use: "tls NAME --cert=path/to/cert/file --key=path/to/key/file", short: "Create a TLS secret", wrap: "failed to create secret ", gvr: secret,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().String("cert", "", "Path to PEM encoded public key certificate.")
			cmd.Flags().String("key", "", "Path to private key associated with given certificate.")
		},
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			certPath, _ := cmd.Flags().GetString("cert")
			keyPath, _ := cmd.Flags().GetString("key")
			cert, err := os.ReadFile(certPath)
			if err != nil {
				return nil, fmt.Errorf("Cannot read file %s, %v", certPath, err)
			}
			key, err := os.ReadFile(keyPath)
			if err != nil {
				return nil, fmt.Errorf("Cannot read file %s, %v", keyPath, err)
			}
			if _, err := tls.X509KeyPair(cert, key); err != nil {
				return nil, err
			}
			return &corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeTLS,
				Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}}, nil
		}}
	docker := generator{use: "docker-registry NAME --docker-username=user --docker-password=password --docker-email=email [--docker-server=string]",
		short: "Create a secret for use with a Docker registry", wrap: "failed to create secret ", gvr: secret,
		flags: func(cmd *cobra.Command) {
			cmd.Flags().String("docker-server", "https://index.docker.io/v1/", "Server location for Docker registry")
			cmd.Flags().String("docker-username", "", "Username for Docker registry authentication")
			cmd.Flags().String("docker-password", "", "Password for Docker registry authentication")
			cmd.Flags().String("docker-email", "", "Email for Docker registry")
		},
		build: func(cmd *cobra.Command, name string, _ []string) (runtime.Object, error) {
			server, _ := cmd.Flags().GetString("docker-server")
			user, _ := cmd.Flags().GetString("docker-username")
			pass, _ := cmd.Flags().GetString("docker-password")
			email, _ := cmd.Flags().GetString("docker-email")
			type entry struct {
				Username string `json:"username,omitempty"`
				Password string `json:"password,omitempty"`
				Email    string `json:"email,omitempty"`
				Auth     string `json:"auth,omitempty"`
			}
			js, err := json.Marshal(map[string]any{"auths": map[string]entry{server: {Username: user, Password: pass, Email: email,
				Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}})
			if err != nil {
				return nil, err
			}
			return &corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretTypeDockerConfigJson,
				Data: map[string][]byte{corev1.DockerConfigJsonKey: js}}, nil
		}}
	cmd.AddCommand(generic.command(f), tls.command(f), docker.command(f))
	return cmd
}
