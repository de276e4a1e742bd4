package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Exit codes, documented in docs/reference and `daskca --help`.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// cliError carries an exit code and an optional hint for the user.
type cliError struct {
	err  error
	hint string
	code int
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// withHint attaches a "hint:" line to err.
func withHint(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &cliError{err: err, hint: fmt.Sprintf(format, args...), code: exitError}
}

// usageError marks err as a mistake in how the command was called.
func usageError(format string, args ...any) error {
	return &cliError{err: fmt.Errorf(format, args...), code: exitUsage}
}

// exitCode is a monitoring-style result that is not an error message.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// report prints err as one "daskca: error:" line plus a hint, and returns the
// process exit code.
func report(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	fmt.Fprintf(w, "daskca: error: %s\n", oneLine(err.Error()))
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.hint != "" {
			fmt.Fprintf(w, "hint: %s\n", oneLine(ce.hint))
		}
		return ce.code
	}
	return exitError
}

// maxMessage bounds the bytes of an error or hint line: a value of a
// megabyte given on the command line is not echoed whole.
const maxMessage = 1024

// oneLine makes msg safe to print as one terminal line: newlines become
// spaces, other control characters and invalid UTF-8 are escaped (so input
// cannot forge a line or drive the terminal), and the middle of an
// over-long message is cut.
func oneLine(msg string) string {
	var b strings.Builder
	for i, r := range msg {
		switch {
		case r == '\n':
			b.WriteByte(' ')
		case r == utf8.RuneError && !strings.HasPrefix(msg[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", msg[i])
		case unicode.IsControl(r) && r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) <= maxMessage {
		return out
	}
	head, tail := out[:maxMessage/2], out[len(out)-maxMessage/2:]
	head = strings.ToValidUTF8(head, "")
	tail = strings.ToValidUTF8(tail, "")
	return fmt.Sprintf("%s ...(%d bytes cut)... %s", head, len(out)-len(head)-len(tail), tail)
}
