// Package sim is a simulated container runtime, in the spirit of kwok:
// containers "run" without processes, so one kserver process can host
// hundreds of simulated nodes and thousands of pods. It implements the
// runtime contract fully, so the agent, the controllers and the scheduler
// cannot tell it from a real runtime except by the time it takes.
//
// A container's behaviour is scripted by annotations, read from the
// container's own annotations first and then from the pod's (the
// sandbox's). Every key may be narrowed to one container by appending
// ".<container name>" (sim.kserver.dev/exit-code.migrate: "3").
//
//	sim.kserver.dev/run-for         duration  exit after running this long (default: run until stopped)
//	sim.kserver.dev/exit-code       int       code of that exit (default 0 → Completed, else Error)
//	sim.kserver.dev/fail-attempts   int       run-for/exit-code/oom-after only apply to attempts below this
//	                                          (a crash loop that heals); default: every attempt
//	sim.kserver.dev/fail-start      message   StartContainer fails (StartError, exit code 128)
//	sim.kserver.dev/oom-after       duration  killed for memory after this long (OOMKilled, 137)
//	sim.kserver.dev/ready-after     duration  readiness/startup probes succeed after this long
//	sim.kserver.dev/liveness-fail-after duration liveness probe fails from this long after start
//	sim.kserver.dev/ignore-term     "true"    SIGTERM is ignored: a stop waits out the grace period, then 137
//	sim.kserver.dev/term-delay      duration  time the process needs to exit after SIGTERM (default 0)
//	sim.kserver.dev/term-exit-code  int       code when it exits on SIGTERM (default 0)
//	sim.kserver.dev/log             text      lines written to stdout at start
//	sim.kserver.dev/log-interval    duration  writes "tick N" every interval
//	sim.kserver.dev/http-port       int       port-forward to this port answers HTTP
//	sim.kserver.dev/http-body       text      the answer's body (default "<hostname>\n")
//	sim.kserver.dev/cpu             quantity  CPU usage reported by stats (default: the request, or 1m)
//	sim.kserver.dev/memory          quantity  memory usage reported by stats (default: the request, or 1Mi)
//
// Output is deterministic: logs are computed from the start time and the
// script when read (nothing is stored), exec runs a tiny shell (echo, exit,
// cat, env, hostname, stty size, tty, true, false, sleep, id, pwd, with
// ';', '&&', '||', quotes, $VAR and >&2), and attach echoes stdin like cat.
//
// Cost: a container is one struct and at most two runtime timers (no
// goroutine) while it runs; exits are driven by clock.AfterFunc.
package sim
