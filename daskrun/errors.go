package daskrun

import (
	"errors"
	"fmt"
	"os/exec"
)

// Check names the pre-flight check a PreflightError failed.
type Check int

const (
	// CheckConfig: the Dask configuration cannot be read.
	CheckConfig Check = iota + 1
	// CheckMaterial: the role's certificate, key and CA bundle do not fit
	// (key of another certificate, no chain to the bundle, key usages or
	// identity of another role, not valid now), or cannot be read.
	CheckMaterial
	// CheckRevoked: the configured CRL revokes the certificate (or an
	// intermediate of its chain), so every peer reading it would refuse it.
	CheckRevoked
	// CheckDaskArgs: an argument for Dask would replace the preload list
	// that loads daskca's plugin (--preload).
	CheckDaskArgs
	// CheckListen: the listen address is not an address, or not tls://.
	CheckListen
	// CheckScheduler: the worker's scheduler address is not an address, or
	// not tls://.
	CheckScheduler
	// CheckPython: there is no such interpreter, or it cannot import
	// distributed.
	CheckPython
	// CheckPlugin: the plugin file a preload key of the configuration
	// names cannot be written.
	CheckPlugin
)

var checkNames = map[Check]string{
	CheckConfig: "config", CheckMaterial: "material", CheckRevoked: "revoked", CheckDaskArgs: "dask-args",
	CheckListen: "listen", CheckScheduler: "scheduler", CheckPython: "python", CheckPlugin: "plugin",
}

func (c Check) String() string {
	if s, ok := checkNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Check(%d)", int(c))
}

// ErrNotTLS is wrapped by the PreflightError of an address that parses
// but is not tls://: real Dask is run over TLS only.
var ErrNotTLS = errors.New("not a tls:// address (Dask is run over TLS only)")

// ErrNoDistributed is wrapped by the PreflightError of an interpreter that
// runs but cannot import distributed.
var ErrNoDistributed = errors.New("cannot import distributed")

// PreflightError is a check that failed before Python started: Dask was
// not started and nothing is left behind. Callers branch on Check; Value
// and Key name what was at fault, so that a caller can say it in its own
// terms (a flag's name, where a value came from).
type PreflightError struct {
	Check Check
	// Value is the input at fault where there is one: the address
	// (CheckListen, CheckScheduler), the argument (CheckDaskArgs), the
	// interpreter as named when it is not found or its path when it cannot
	// import distributed (CheckPython), the plugin's path (CheckPlugin).
	Value string
	// Key is the configuration key that named Value (CheckPlugin).
	Key string
	// Err is the cause. It wraps ErrNotTLS for an address that is not
	// tls:// and ErrNoDistributed for an interpreter without distributed.
	Err error
}

func (e *PreflightError) Error() string {
	switch e.Check {
	case CheckDaskArgs:
		return fmt.Sprintf("%s: %v", e.Value, e.Err)
	case CheckListen:
		return fmt.Sprintf("listen address %q: %v", e.Value, e.Err)
	case CheckScheduler:
		return fmt.Sprintf("scheduler address %q: %v", e.Value, e.Err)
	case CheckPython:
		if errors.Is(e.Err, ErrNoDistributed) {
			return fmt.Sprintf("%s %v", e.Value, e.Err)
		}
		return fmt.Sprintf("no Python interpreter %q: %v", e.Value, e.Err)
	}
	return e.Err.Error()
}

func (e *PreflightError) Unwrap() error { return e.Err }

// ExitError is Dask's end with a status other than 0.
type ExitError struct {
	// Code is the status a shell would report: Dask's exit code, or 128+N
	// when signal N ended it; -1 when neither is known.
	Code int
	// Err is what exec.Cmd.Wait returned.
	Err *exec.ExitError
}

func (e *ExitError) Error() string { return fmt.Sprintf("dask: %v", e.Err) }
func (e *ExitError) Unwrap() error { return e.Err }
