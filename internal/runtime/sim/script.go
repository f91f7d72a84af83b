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
	s := script{failAttempts: -1}
	var errs []string
	get := func(key string) (string, bool) {
		for _, m := range []map[string]string{cfg.Annotations, pod} {
			if v, ok := m[Prefix+key+"."+name]; ok {
				return v, true
			}
		}
		for _, m := range []map[string]string{cfg.Annotations, pod} {
			if v, ok := m[Prefix+key]; ok {
				return v, true
			}
		}
		return "", false
	}
	dur := func(key string, dst *time.Duration) {
		if v, ok := get(key); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Sprintf("%s%s=%q is not a duration", Prefix, key, v))
			}
			*dst = d
		}
	}
	integer := func(key string, dst *int64) {
		if v, ok := get(key); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s%s=%q is not an integer", Prefix, key, v))
			}
			*dst = n
		}
	}
	quantity := func(key string, milli bool, dst *int64) {
		if v, ok := get(key); ok {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s%s=%q is not a quantity", Prefix, key, v))
			}
			if milli {
				*dst = q.MilliValue()
			} else {
				*dst = q.Value()
			}
		}
	}
	var exit, termExit, port int64
	dur("run-for", &s.runFor)
	integer("exit-code", &exit)
	integer("fail-attempts", &s.failAttempts)
	s.failStart, _ = get("fail-start")
	dur("oom-after", &s.oomAfter)
	dur("ready-after", &s.readyAfter)
	dur("liveness-fail-after", &s.livenessFail)
	if v, ok := get("ignore-term"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%signore-term=%q is not a boolean", Prefix, v))
		}
		s.ignoreTerm = b
	}
	dur("term-delay", &s.termDelay)
	integer("term-exit-code", &termExit)
	if v, ok := get("log"); ok {
		s.log = strings.Split(strings.TrimSuffix(v, "\n"), "\n")
	}
	dur("log-interval", &s.logInterval)
	integer("http-port", &port)
	s.httpBody, _ = get("http-body")
	quantity("cpu", true, &s.cpuMilli)
	quantity("memory", false, &s.memoryBytes)
	s.exitCode, s.termExitCode, s.httpPort = int32(exit), int32(termExit), int32(port)
	if len(errs) > 0 {
		return s, fmt.Errorf("container %s: %s: %w", name, strings.Join(errs, "; "), runtime.ErrInvalidConfig)
	}
	return s, nil
}

// scripted reports whether the run-for/exit-code/oom-after part of the
// script applies to this attempt.
func (s *script) scripted(attempt uint32) bool {
	return s.failAttempts < 0 || int64(attempt) < s.failAttempts
}
