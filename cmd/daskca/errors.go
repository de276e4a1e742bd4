package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
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
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(w, "daskca: error: %s\n", msg)
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.hint != "" {
			fmt.Fprintf(w, "hint: %s\n", ce.hint)
		}
		return ce.code
	}
	return exitError
}
