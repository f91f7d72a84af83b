package sim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"kserver.dev/kserver/internal/runtime"
)

// shell is the tiny, deterministic command interpreter behind sim's exec.
// It knows a handful of commands and the shell syntax probes and tests
// use: `sh -c 'echo out; echo err >&2; exit 7'`, `cat`, `env`, an
// interactive `sh` reading lines from stdin.
type shell struct {
	ctx      context.Context
	clock    clock.Clock
	env      map[string]string
	uid      int64
	workdir  string
	stdin    *bufio.Reader
	stdout   io.Writer
	stderr   io.Writer
	tty      bool
	size     runtime.TerminalSize
	resize   <-chan runtime.TerminalSize
	status   int
	exited   bool
	hostname string
}

// run executes argv and returns its exit code.
func (sh *shell) run(argv []string) int {
	sh.applyResizes()
	switch path.Base(argv[0]) {
	case "sh", "bash", "ash", "dash":
		if len(argv) >= 3 && argv[1] == "-c" {
			sh.script(argv[2])
			return sh.status
		}
		if sh.stdin == nil {
			return 0
		}
		for !sh.exited {
			line, err := sh.stdin.ReadString('\n')
			if sh.tty && line != "" {
				_, _ = io.WriteString(sh.stdout, line)
			}
			sh.applyResizes()
			sh.script(line)
			if err != nil {
				break
			}
		}
		return sh.status
	}
	sh.status = sh.command(argv, sh.stdout)
	return sh.status
}

func (sh *shell) applyResizes() {
	for {
		select {
		case s, ok := <-sh.resize:
			if !ok {
				sh.resize = nil
				return
			}
			sh.size = s
		default:
			return
		}
	}
}

// script runs a command list: words, quotes, $VAR, ';' '&&' '||' and >&2.
// Each simple command is expanded just before it runs, so $? is current.
func (sh *shell) script(src string) {
	cmds, ops := split(src)
	run := true
	for i, src := range cmds {
		if run {
			if w := sh.words(src); len(w.argv) > 0 {
				out := sh.stdout
				if w.toStderr {
					out = sh.stderr
				}
				sh.status = sh.command(w.argv, out)
			}
		}
		if sh.exited {
			return
		}
		switch ops[i] {
		case "&&":
			run = sh.status == 0
		case "||":
			run = sh.status != 0
		default:
			run = true
		}
	}
}

// split cuts src at unquoted ';', newline, '&&' and '||'.
func split(src string) (cmds, ops []string) {
	start := 0
	for i := 0; i < len(src); i++ {
		switch ch := src[i]; {
		case ch == '\'' || ch == '"':
			if j := strings.IndexByte(src[i+1:], ch); j >= 0 {
				i += j + 1
			} else {
				i = len(src)
			}
		case ch == ';' || ch == '\n':
			cmds, ops = append(cmds, src[start:i]), append(ops, ";")
			start = i + 1
		case (ch == '&' || ch == '|') && i+1 < len(src) && src[i+1] == ch:
			cmds, ops = append(cmds, src[start:i]), append(ops, src[i:i+2])
			start = i + 2
			i++
		}
	}
	if start <= len(src) {
		cmds, ops = append(cmds, src[start:]), append(ops, ";")
	}
	return cmds, ops
}

type simpleCommand struct {
	argv     []string
	toStderr bool
}

// words splits one simple command into expanded words.
func (sh *shell) words(src string) simpleCommand {
	var cur simpleCommand
	var word strings.Builder
	inWord, quoted := false, false
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		if !quoted && (w == ">&2" || w == "1>&2") {
			cur.toStderr = true
		} else {
			cur.argv = append(cur.argv, w)
		}
		word.Reset()
		inWord, quoted = false, false
	}
	for i := 0; i < len(src); i++ {
		ch := src[i]
		switch {
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(src[i+1:], ch)
			if j < 0 {
				j = len(src) - i - 1
			}
			text := src[i+1 : i+1+j]
			if ch == '"' {
				text = sh.expand(text)
			}
			word.WriteString(text)
			inWord, quoted, i = true, true, i+1+j
		case ch == ' ' || ch == '\t' || ch == '\r':
			endWord()
		case ch == '|':
			return simpleCommand{argv: []string{"sh: pipes are not supported by the simulated shell"}}
		case ch == '$':
			n := varLen(src[i+1:])
			word.WriteString(sh.expand(src[i : i+1+n]))
			inWord, i = true, i+n
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	endWord()
	return cur
}

// varLen is the length of the variable reference after a '$'.
func varLen(s string) int {
	if strings.HasPrefix(s, "{") {
		if j := strings.IndexByte(s, '}'); j > 0 {
			return j + 1
		}
	}
	if strings.HasPrefix(s, "?") {
		return 1
	}
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return n
}

// expand replaces $VAR, ${VAR} and $? in s.
func (sh *shell) expand(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		n := varLen(s[i+1:])
		if n == 0 {
			b.WriteByte('$')
			continue
		}
		name := strings.Trim(s[i+1:i+1+n], "{}")
		if name == "?" {
			b.WriteString(strconv.Itoa(sh.status))
		} else {
			b.WriteString(sh.env[name])
		}
		i += n
	}
	return b.String()
}

// command runs one simple command.
func (sh *shell) command(argv []string, out io.Writer) int {
	args := argv[1:]
	switch path.Base(argv[0]) {
	case "echo":
		nl := "\n"
		if len(args) > 0 && args[0] == "-n" {
			nl, args = "", args[1:]
		}
		fmt.Fprint(out, strings.Join(args, " ")+nl)
	case "true", ":":
	case "false":
		return 1
	case "exit":
		code := sh.status
		if len(args) > 0 {
			code, _ = strconv.Atoi(args[0])
		}
		sh.exited = true
		return code & 0xff
	case "cat":
		if sh.stdin != nil {
			_, _ = io.Copy(out, sh.stdin)
		}
	case "hostname":
		fmt.Fprintln(out, sh.hostname)
	case "env", "printenv":
		return sh.printenv(args, out)
	case "stty":
		if len(args) > 0 && args[0] == "size" {
			fmt.Fprintf(out, "%d %d\n", sh.size.Rows, sh.size.Cols)
		}
	case "tty":
		if !sh.tty {
			fmt.Fprintln(out, "not a tty")
			return 1
		}
		fmt.Fprintln(out, "/dev/pts/0")
	case "id":
		fmt.Fprintf(out, "uid=%d gid=%d\n", sh.uid, sh.uid)
	case "pwd":
		fmt.Fprintln(out, sh.workdir)
	case "sleep":
		return sh.sleep(args)
	default:
		if strings.HasPrefix(argv[0], "sh: ") {
			fmt.Fprintln(sh.stderr, argv[0])
			return 2
		}
		fmt.Fprintf(sh.stderr, "sh: %s: not found\n", argv[0])
		return 127
	}
	return 0
}

func (sh *shell) printenv(args []string, out io.Writer) int {
	if len(args) > 0 {
		v, ok := sh.env[args[0]]
		if !ok {
			return 1
		}
		fmt.Fprintln(out, v)
		return 0
	}
	keys := make([]string, 0, len(sh.env))
	for k := range sh.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "%s=%s\n", k, sh.env[k])
	}
	return 0
}

func (sh *shell) sleep(args []string) int {
	if len(args) == 0 {
		return 1
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		fmt.Fprintf(sh.stderr, "sleep: invalid number '%s'\n", args[0])
		return 1
	}
	t := sh.clock.NewTimer(time.Duration(secs * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C():
		return 0
	case <-sh.ctx.Done():
		return 137
	}
}

// crlf turns "\n" into "\r\n", as a terminal's output processing does.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
