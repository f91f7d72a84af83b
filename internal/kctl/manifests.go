package kctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// manifest is one object read from -f with the file it came from.
type manifest struct {
	obj    *unstructured.Unstructured
	source string
}

// fileOptions are kubectl's -f/-R flags.
type fileOptions struct {
	filenames []string
	recursive bool
	// convert rewrites old apiVersions to today's (kctl only, convert.go).
	convert bool
}

// read returns every object in the files, directories, URLs and stdin
// ("-") named by -f, in order. Lists (`kind: List`) are flattened.
func (o fileOptions) read(stdin io.Reader) ([]manifest, error) {
	var out []manifest
	for _, name := range o.filenames {
		ms, err := readSource(name, o.recursive, stdin)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func readSource(name string, recursive bool, stdin io.Reader) ([]manifest, error) {
	switch {
	case name == "-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		return decodeManifests(data, "STDIN")
	case strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://"):
		data, err := fetchURL(name)
		if err != nil {
			return nil, err
		}
		return decodeManifests(data, name)
	}
	st, err := os.Stat(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the path %q does not exist", name)
		}
		return nil, err
	}
	if !st.IsDir() {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return decodeManifests(data, name)
	}
	var out []manifest
	err = filepath.WalkDir(name, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != name && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".json", ".yaml", ".yml":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		ms, err := decodeManifests(data, path)
		out = append(out, ms...)
		return err
	})
	if err == nil && len(out) == 0 {
		return nil, fmt.Errorf("error reading [%s]: recognized file extensions are [.json .yaml .yml]", name)
	}
	return out, err
}

func fetchURL(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unable to read URL %q, server reported %s, status code=%d", u, resp.Status, resp.StatusCode)
	}
	return io.ReadAll(resp.Body)
}

// decodeManifests splits YAML documents (or JSON) into objects. Empty
// documents are skipped; a document without kind is an error naming the file.
func decodeManifests(data []byte, source string) ([]manifest, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []manifest
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("error parsing %s: %w", source, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" {
			return nil, fmt.Errorf("error validating %q: error validating data: invalid object to validate; if you choose to ignore these errors, turn validation off with --validate=false", source)
		}
		if u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("error validating %q: error validating data: apiVersion not set; if you choose to ignore these errors, turn validation off with --validate=false", source)
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("error parsing %s: %w", source, err)
			}
			for i := range list.Items {
				out = append(out, manifest{obj: &list.Items[i], source: source})
			}
			continue
		}
		out = append(out, manifest{obj: u, source: source})
	}
}
