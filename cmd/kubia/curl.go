package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// curlOpts are the curl options the exercises use.
type curlOpts struct {
	silent, showErr, fail, include, verbose, insecure bool
	method, data                                      string
	headers                                           []string
	timeout                                           time.Duration
	url                                               string
}

const curlUsage = "usage: curl [-s] [-S] [-f] [-i] [-v] [-k] [-X METHOD] [-d DATA] [-H 'Name: value'] [-m SECONDS] URL"

// splitFlags splits combined boolean flags: -sSf is -s -S -f.
func splitFlags(in []string) []string {
	var args []string
	for _, a := range in {
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], "sSfivk") == "" {
			for _, c := range a[1:] {
				args = append(args, "-"+string(c))
			}
			continue
		}
		args = append(args, a)
	}
	return args
}

func parseCurl(in []string) (curlOpts, error) {
	o := curlOpts{}
	args := splitFlags(in)
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s: requires parameter", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-s", "--silent":
			o.silent = true
		case "-S", "--show-error":
			o.showErr = true
		case "-f", "--fail":
			o.fail = true
		case "-i", "--include":
			o.include = true
		case "-v", "--verbose":
			o.verbose = true
		case "-k", "--insecure":
			o.insecure = true
		case "-X", "--request":
			o.method, err = value()
		case "-d", "--data", "--data-raw", "--data-binary":
			o.data, err = value()
		case "-H", "--header":
			var h string
			h, err = value()
			o.headers = append(o.headers, h)
		case "-m", "--max-time":
			var v string
			if v, err = value(); err == nil {
				var secs float64
				secs, err = strconv.ParseFloat(v, 64)
				o.timeout = time.Duration(secs * float64(time.Second))
			}
		default:
			if strings.HasPrefix(a, "-") || o.url != "" {
				return o, fmt.Errorf("option %s: is unknown", a)
			}
			o.url = a
		}
		if err != nil {
			return o, err
		}
	}
	if o.url == "" {
		return o, errors.New("no URL specified")
	}
	if !strings.Contains(o.url, "://") {
		o.url = "http://" + o.url
	}
	return o, nil
}

// curl fetches a URL and prints the body, with curl's exit codes for the
// common failures (6 cannot resolve, 7 cannot connect, 22 HTTP error with
// -f, 28 timeout).
func curl(args []string, stdout, stderr io.Writer) int {
	o, err := parseCurl(args)
	if err != nil {
		fmt.Fprintf(stderr, "curl: %v\n%s\n", err, curlUsage)
		return 2
	}
	req, cancel, err := o.request()
	if err != nil {
		fmt.Fprintf(stderr, "curl: (3) URL using bad/illegal format or missing URL\n")
		return 3
	}
	defer cancel()
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{InsecureSkipVerify: o.insecure}} //nolint:gosec // -k
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if o.verbose {
		fmt.Fprintf(stderr, "> %s %s HTTP/1.1\n> Host: %s\n>\n", req.Method, req.URL.RequestURI(), req.URL.Host)
	}
	resp, err := client.Do(req)
	if err != nil {
		code, msg := curlError(err, req.URL)
		if !o.silent || o.showErr {
			fmt.Fprintf(stderr, "curl: (%d) %s\n", code, msg)
		}
		return code
	}
	defer resp.Body.Close()
	return o.output(resp, stdout, stderr)
}

// request builds the HTTP request the options describe.
func (o curlOpts) request() (*http.Request, context.CancelFunc, error) {
	method := o.method
	var body io.Reader
	if o.data != "" {
		body = strings.NewReader(o.data)
		if method == "" {
			method = http.MethodPost
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if o.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.url, body)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "curl/kubia")
	if o.data != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range o.headers {
		if k, v, ok := strings.Cut(h, ":"); ok {
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return req, cancel, nil
}

// output prints the response as curl does and returns the exit code.
func (o curlOpts) output(resp *http.Response, stdout, stderr io.Writer) int {
	if o.verbose {
		fmt.Fprintf(stderr, "< %s %s\n", resp.Proto, resp.Status)
	}
	if o.fail && resp.StatusCode >= 400 {
		if !o.silent || o.showErr {
			fmt.Fprintf(stderr, "curl: (22) The requested URL returned error: %d\n", resp.StatusCode)
		}
		return 22
	}
	if o.include {
		fmt.Fprintf(stdout, "%s %s\r\n", resp.Proto, resp.Status)
		_ = resp.Header.Write(stdout)
		fmt.Fprint(stdout, "\r\n")
	}
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintf(stderr, "curl: (56) Failure when receiving data from the peer\n")
		return 56
	}
	return 0
}

func curlError(err error, u *url.URL) (int, string) {
	var dnsErr *net.DNSError
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
		if port == "" {
			port = "80"
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return 28, "Operation timed out"
	case errors.As(err, &dnsErr):
		return 6, "Could not resolve host: " + u.Hostname()
	case strings.Contains(err.Error(), "connection refused"):
		return 7, fmt.Sprintf("Failed to connect to %s port %s: Connection refused", u.Hostname(), port)
	}
	return 7, fmt.Sprintf("Failed to connect to %s port %s: %v", u.Hostname(), port, err)
}
