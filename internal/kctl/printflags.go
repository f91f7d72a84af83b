package kctl

import (
	"io"

	"fmt"
	"github.com/liggitt/tabwriter"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	cliprinters "k8s.io/cli-runtime/pkg/printers"

	"kserver.dev/kserver/internal/kctl/printers"
)

const allowedFormats = "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,wide,yaml"

// objectPrinter returns the printer for a machine-readable -o value
// (everything but the default table and wide). template is --template.
func objectPrinter(output, template string, noHeaders bool) (cliprinters.ResourcePrinter, error) {
	format, arg, hasArg := strings.Cut(output, "=")
	if !hasArg {
		arg = template
	}
	readFile := func() (string, error) {
		b, err := os.ReadFile(arg)
		if err != nil {
			return "", fmt.Errorf("error reading --template %s, %w", arg, err)
		}
		return string(b), nil
	}
	switch format {
	case "json":
		return &cliprinters.JSONPrinter{}, nil
	case "yaml":
		return &cliprinters.YAMLPrinter{}, nil
	case "kyaml":
		return &cliprinters.KYAMLPrinter{}, nil
	case "name":
		return &cliprinters.NamePrinter{}, nil
	case "jsonpath", "jsonpath-as-json", "jsonpath-file":
		if arg == "" {
			return nil, fmt.Errorf("template format specified but no template given")
		}
		if format == "jsonpath-file" {
			var err error
			if arg, err = readFile(); err != nil {
				return nil, err
			}
		}
		p, err := cliprinters.NewJSONPathPrinter(arg)
		if err != nil {
			return nil, fmt.Errorf("error parsing jsonpath %s, %w", arg, err)
		}
		p.AllowMissingKeys(true)
		if format == "jsonpath-as-json" {
			p.EnableJSONOutput(true)
		}
		return p, nil
	case "go-template", "template", "go-template-file", "templatefile":
		if arg == "" {
			return nil, fmt.Errorf("template format specified but no template given")
		}
		if format == "go-template-file" || format == "templatefile" {
			var err error
			if arg, err = readFile(); err != nil {
				return nil, err
			}
		}
		p, err := cliprinters.NewGoTemplatePrinter([]byte(arg))
		if err != nil {
			return nil, fmt.Errorf("error parsing template %s, %w", arg, err)
		}
		p.AllowMissingKeys(true)
		return p, nil
	case "custom-columns":
		return printers.ParseCustomColumns(arg, noHeaders)
	case "custom-columns-file":
		fh, err := os.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("error reading template %s, %w", arg, err)
		}
		defer fh.Close()
		return printers.ReadCustomColumnsFile(fh, noHeaders)
	}
	return nil, fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: %s", output, allowedFormats)
}

// humanAge is kubectl's age text for a timestamp: `<unknown>` when unset.
func humanAge(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(metav1.Now().Sub(t.Time))
}

func newGetTabWriter(w io.Writer) *tabwriter.Writer { return cliprinters.GetNewTabWriter(w) }
