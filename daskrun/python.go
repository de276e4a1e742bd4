package daskrun

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// defaultPython is the interpreter looked up in PATH when none is named.
const defaultPython = "python3"

// pythonCheckTimeout bounds the import of distributed before the real
// start; it takes about a second.
const pythonCheckTimeout = 60 * time.Second

// FindPython returns the path of the interpreter name (a path, or a name
// looked up in PATH; empty: python3) and the version of distributed it
// imports, after checking that it does. The check runs the interpreter
// once (about a second), bounded by ctx and by a minute. A failure is a
// *PreflightError of CheckPython: Value is name when there is no such
// interpreter, and its path, with Err wrapping ErrNoDistributed and
// ending with the last line Python wrote, when it cannot import
// distributed.
func FindPython(ctx context.Context, name string) (path, version string, err error) {
	if name == "" {
		name = defaultPython
	}
	path, err = exec.LookPath(name)
	if err != nil {
		return "", "", &PreflightError{Check: CheckPython, Value: name, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, pythonCheckTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-c", "import distributed; print(distributed.__version__)")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		last := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		return "", "", &PreflightError{Check: CheckPython, Value: path, Err: fmt.Errorf("%w: %v: %s", ErrNoDistributed, err, last)}
	}
	return path, strings.TrimSpace(string(out)), nil
}
