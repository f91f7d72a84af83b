package resolvconf

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// Default locations of the node's resolver files.
const (
	// HostFile is the node's resolver configuration.
	HostFile = "/etc/resolv.conf"
	// SystemdFile is where systemd-resolved lists the upstream servers its
	// stub (127.0.0.53) forwards to.
	SystemdFile = "/run/systemd/resolve/resolv.conf"
	// FallbackNameserver is what pods get, as on k3s, when no resolver file
	// of the node names a usable nameserver.
	FallbackNameserver = "8.8.8.8"
)

// maxFileSize bounds what Parse reads, as the kubelet does.
const maxFileSize = 10 << 20

// Config is the content of a resolv.conf: nameserver lines accumulate, the
// last search line wins, options accumulate with later values of the same
// option replacing earlier ones.
type Config struct {
	Nameservers []string
	Searches    []string
	Options     []string // "ndots:5", "edns0", …
}

// Parse reads a resolv.conf. Search domains lose a trailing dot and the
// root domain "." is dropped, as the kubelet normalises them.
func Parse(r io.Reader) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("read resolv.conf: %w", err)
	}
	if len(data) > maxFileSize {
		return Config{}, fmt.Errorf("resolv.conf is larger than %d bytes", maxFileSize)
	}
	var c Config
	var bad []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		f := strings.Fields(line)
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				bad = append(bad, "a nameserver line names no server")
				continue
			}
			c.Nameservers = append(c.Nameservers, f[1])
		case "search":
			c.Searches = nil
			for _, s := range f[1:] {
				if s != "." {
					c.Searches = append(c.Searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			c.Options = mergeOptions(c.Options, f[1:])
		}
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("resolv.conf: %s", strings.Join(bad, "; "))
	}
	return c, nil
}

// ReadFile parses the resolv.conf at path.
func ReadFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// String renders c as a resolv.conf file.
func (c Config) String() string {
	var b strings.Builder
	for _, s := range c.Nameservers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(c.Searches) > 0 {
		b.WriteString("search " + strings.Join(c.Searches, " ") + "\n")
	}
	if len(c.Options) > 0 {
		b.WriteString("options " + strings.Join(c.Options, " ") + "\n")
	}
	return b.String()
}

// mergeOptions appends options, an option already present (by name, the
// part before ':') being replaced in place by its later value.
func mergeOptions(opts []string, more []string) []string {
	for _, o := range more {
		name, _, _ := strings.Cut(o, ":")
		replaced := false
		for i, have := range opts {
			if n, _, _ := strings.Cut(have, ":"); n == name {
				opts[i], replaced = o, true
				break
			}
		}
		if !replaced {
			opts = append(opts, o)
		}
	}
	return opts
}

// Files names the resolver files Host reads; the zero value means the
// defaults.
type Files struct {
	Host    string // default HostFile
	Systemd string // default SystemdFile
}

func (f Files) withDefaults() Files {
	if f.Host == "" {
		f.Host = HostFile
	}
	if f.Systemd == "" {
		f.Systemd = SystemdFile
	}
	return f
}

// Host returns the resolver configuration pods of dnsPolicy Default get
// (and whose search domains ClusterFirst pods inherit): the first of the
// host file and systemd-resolved's upstream file whose nameservers are all
// global unicast addresses, else the host file's search and options with
// FallbackNameserver. source names the file used, or says it is the
// fallback.
func Host(files Files) (c Config, source string, err error) {
	files = files.withDefaults()
	host, hostErr := ReadFile(files.Host)
	if hostErr == nil && Usable(host.Nameservers) {
		return host, files.Host, nil
	}
	if sd, err := ReadFile(files.Systemd); err == nil && Usable(sd.Nameservers) {
		return sd, files.Systemd, nil
	}
	if hostErr != nil && !os.IsNotExist(hostErr) {
		return Config{}, "", hostErr
	}
	host.Nameservers = []string{FallbackNameserver}
	return host, "fallback: " + files.Host + " names no nameserver reachable from a pod", nil
}

// Usable reports whether servers is not empty and every server is a global
// unicast address — reachable from a pod's network namespace, unlike
// loopback, link-local or multicast addresses (k3s's test for a resolver
// file the kubelet may hand to pods).
func Usable(servers []string) bool {
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.IsGlobalUnicast() {
			return false
		}
	}
	return len(servers) > 0
}
