package kctl

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// --raw on get and create: one request to a URL path of the server, the
// response body copied to stdout as it arrives (kubectl's rawhttp).

// rawRequest sends method to path with the body of filename ("" for none,
// "-" for stdin) and copies the answer to stdout. A non-2xx answer becomes
// the API error its Status body describes.
func rawRequest(cmd *cobra.Command, f *Factory, method, path, filename string) error {
	var body io.Reader = &bytes.Buffer{}
	switch filename {
	case "":
	case "-":
		body = f.IO.In
	default:
		fh, err := os.Open(filename)
		if err != nil {
			return err
		}
		defer fh.Close()
		body = fh
	}
	rc, err := f.REST()
	if err != nil {
		return err
	}
	stream, err := rc.Verb(method).RequestURI(path).SetHeader("Content-Type", "application/json").Body(body).Stream(cmd.Context())
	if err != nil {
		return err
	}
	defer stream.Close()
	if _, err := io.Copy(f.IO.Out, stream); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// validRawPath is kubectl's check of a --raw value.
func validRawPath(raw string) error {
	if _, err := url.ParseRequestURI(raw); err != nil {
		return fmt.Errorf("--raw must be a valid URL path: %v", err)
	}
	return nil
}

// runGetRaw is `get --raw PATH`, after kubectl's checks of the other flags.
func (o *getOptions) runGetRaw(f *Factory, cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("arguments may not be passed when --raw is specified")
	}
	if o.watch || o.watchOnly || o.selector != "" {
		return fmt.Errorf("--raw may not be specified with other flags that filter the server request or alter the output")
	}
	if o.output != "" {
		return fmt.Errorf("--raw and --output are mutually exclusive")
	}
	if err := validRawPath(o.raw); err != nil {
		return err
	}
	return rawRequest(cmd, f, "GET", o.raw, "")
}

// runCreateRaw is `create --raw PATH -f FILE`: the file is POSTed as is.
func (o *createOptions) runCreateRaw(f *Factory, cmd *cobra.Command) error {
	// kubectl 1.37 prints these without the pointer to the help.
	switch {
	case o.edit:
		return fmt.Errorf("--raw and --edit are mutually exclusive")
	case len(o.filenames) != 1:
		return fmt.Errorf("--raw can only use a single local file or stdin")
	case strings.HasPrefix(o.filenames[0], "http://") || strings.HasPrefix(o.filenames[0], "https://"):
		return fmt.Errorf("--raw cannot read from a url")
	case o.recursive:
		return fmt.Errorf("--raw and --recursive are mutually exclusive")
	case o.selector != "":
		return fmt.Errorf("--raw and --selector (-l) are mutually exclusive")
	case o.output != "":
		return fmt.Errorf("--raw and --output are mutually exclusive")
	}
	if err := validRawPath(o.raw); err != nil {
		return err
	}
	return rawRequest(cmd, f, "POST", o.raw, o.filenames[0])
}
