package main

import (
	"errors"
	"testing"

	"github.com/daskca/daskca/daskrun"
)

// TestChildStatus: daskca run exits with Dask's status (128+N for signal
// N, as daskrun reports it), 1 when that is unknown, and passes other
// errors on.
func TestChildStatus(t *testing.T) {
	other := errors.New("copying output: broken pipe")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "exit 0", err: nil, want: nil},
		{name: "exit 3", err: &daskrun.ExitError{Code: 3}, want: exitCode(3)},
		{name: "SIGTERM", err: &daskrun.ExitError{Code: 143}, want: exitCode(143)},
		{name: "unknown", err: &daskrun.ExitError{Code: -1}, want: exitCode(exitError)},
		{name: "another error", err: other, want: other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := childStatus(tt.err); got != tt.want {
				t.Errorf("childStatus(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
