package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"kserver.dev/kserver/internal/runtime"
)

// Prefix is the annotation prefix sim reads.
const Prefix = "sim.kserver.dev/"

// script is a container's parsed behaviour.
type script struct {
	runFor       time.Duration
	exitCode     int32
	failAttempts int64 // -1: every attempt
	failStart    string
	oomAfter     time.Duration
	readyAfter   time.Duration
	livenessFail time.Duration
	ignoreTerm   bool
	termDelay    time.Duration
	termExitCode int32
	log          []string
	logInterval  time.Duration
	httpPort     int32
	httpBody     string
	cpuMilli     int64
	memoryBytes  int64
}

// parseScript reads the annotations of a container and its pod. A value
// that does not parse is an invalid config, so a typo shows up as
// CreateContainerConfigError instead of silently running forever.
func parseScript(name string, cfg *runtime.ContainerConfig, pod map[string]string) (script, error) {
	a := annotations{name: name, maps: []map[string]string{cfg.Annotations, pod}}
	s := script{failAttempts: -1}
	s.runFor = a.duration("run-for")
	s.exitCode = int32(a.integer("exit-code", 0))
	s.failAttempts = a.integer("fail-attempts", -1)
	s.failStart, _ = a.get("fail-start")
	s.oomAfter = a.duration("oom-after")
	s.readyAfter = a.duration("ready-after")
	s.livenessFail = a.duration("liveness-fail-after")
	if v, ok := a.get("ignore-term"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			a.errs = append(a.errs, fmt.Sprintf("%signore-term=%q is not a boolean", Prefix, v))
		}
		s.ignoreTerm = b
	}
	s.termDelay = a.duration("term-delay")
	s.termExitCode = int32(a.integer("term-exit-code", 0))
	if v, ok := a.get("log"); ok {
		s.log = strings.Split(strings.TrimSuffix(v, "\n"), "\n")
	}
	s.logInterval = a.duration("log-interval")
	s.httpPort = int32(a.integer("http-port", 0))
	s.httpBody, _ = a.get("http-body")
	s.cpuMilli = a.quantity("cpu", true)
	s.memoryBytes = a.quantity("memory", false)
	if len(a.errs) > 0 {
		return s, fmt.Errorf("container %s: %s: %w", name, strings.Join(a.errs, "; "), runtime.ErrInvalidConfig)
	}
	return s, nil
}

// annotations looks keys up in the container's annotations, then the
// pod's, the ".<container>" form first, and collects parse errors.
type annotations struct {
	name string
	maps []map[string]string
	errs []string
}

func (a *annotations) get(key string) (string, bool) {
	for _, k := range []string{Prefix + key + "." + a.name, Prefix + key} {
		for _, m := range a.maps {
			if v, ok := m[k]; ok {
				return v, true
			}
		}
	}
	return "", false
}

func (a *annotations) duration(key string) time.Duration {
	v, ok := a.get(key)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		a.errs = append(a.errs, fmt.Sprintf("%s%s=%q is not a duration", Prefix, key, v))
	}
	return d
}

func (a *annotations) integer(key string, def int64) int64 {
	v, ok := a.get(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		a.errs = append(a.errs, fmt.Sprintf("%s%s=%q is not an integer", Prefix, key, v))
	}
	return n
}

func (a *annotations) quantity(key string, milli bool) int64 {
	v, ok := a.get(key)
	if !ok {
		return 0
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		a.errs = append(a.errs, fmt.Sprintf("%s%s=%q is not a quantity", Prefix, key, v))
		return 0
	}
	if milli {
		return q.MilliValue()
	}
	return q.Value()
}

// scripted reports whether the run-for/exit-code/oom-after part of the
// script applies to this attempt.
func (s *script) scripted(attempt uint32) bool {
	return s.failAttempts < 0 || int64(attempt) < s.failAttempts
}
