package dasktest

import (
	"errors"
	"strings"
)

// Errors returned by this package.
var (
	// ErrTimeout means a bounded wait ran out: a log line never came or a
	// Python script did not finish.
	ErrTimeout = errors.New("timed out")
	// ErrExited means a process ended while the test was waiting for it.
	ErrExited = errors.New("process exited")
)

// PythonError is a Python process that failed. Stderr holds what it wrote
// there (a traceback, Dask's log), so tests can assert on the reason.
type PythonError struct {
	Err    error
	Stderr string
}

// Error includes the last line of stderr, usually the exception.
func (e *PythonError) Error() string {
	last := strings.TrimSpace(e.Stderr)
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	if last == "" {
		return "python: " + e.Err.Error()
	}
	return "python: " + e.Err.Error() + ": " + last
}

// Unwrap returns the underlying error (an *exec.ExitError, or ErrTimeout).
func (e *PythonError) Unwrap() error { return e.Err }
