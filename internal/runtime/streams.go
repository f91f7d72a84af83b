package runtime

import (
	"io"
	"time"
)

// LogOptions mirror the query of pods/log.
type LogOptions struct {
	// Follow keeps writing new lines until the container exits.
	Follow bool
	// TailLines, when not nil, starts that many lines from the end.
	TailLines *int64
	// Since skips lines logged before it (sinceSeconds/sinceTime).
	Since time.Time
	// Timestamps prefixes each line with its RFC3339Nano time and a space.
	Timestamps bool
	// LimitBytes stops after that many bytes of output (0 = no limit).
	LimitBytes int64
	// Previous reads the log of the attempt before the given container's
	// (the previous instance kubectl logs --previous shows).
	Previous bool
}

// TerminalSize is a TTY size change.
type TerminalSize struct {
	Rows uint16
	Cols uint16
}

// ExecOptions describe one exec session. With TTY, Stderr is unused (a
// terminal has one output stream). Nil streams are not connected.
type ExecOptions struct {
	Command []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	TTY     bool
	// Resize delivers terminal size changes while the session runs.
	Resize <-chan TerminalSize
}

// AttachOptions describe an attach to a container's main process. Stdin
// needs a container created with Stdin; its end closes the container's
// stdin when the container was created with StdinOnce.
type AttachOptions struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	Resize <-chan TerminalSize
}
