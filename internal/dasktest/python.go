package dasktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// RunPython runs script with the host's Dask Python; see Runtime.RunPython.
func RunPython(t testing.TB, script string, env []string, timeout time.Duration) (stdout string, err error) {
	t.Helper()
	return Host(t).RunPython(t, script, env, timeout)
}

// RunPython runs script (fed on stdin to `python3 -`) in rt, in a fresh
// directory, with the base environment plus env, and returns what it wrote
// to stdout. Pass values such as addresses and file paths (through
// Runtime.Path) in env and read them with os.environ. When the script fails
// the error is a *PythonError carrying its stderr; when it runs past timeout
// its process group is killed and the error wraps ErrTimeout.
func (rt Runtime) RunPython(t testing.TB, script string, env []string, timeout time.Duration) (stdout string, err error) {
	t.Helper()
	home := rt.TempDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := rt.command(ctx, rt.Path(t, home), env, "-")
	var out, errOut bytes.Buffer
	cmd.Stdin = strings.NewReader(script)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err == nil {
		return out.String(), nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("after %v: %w", timeout, ErrTimeout)
	}
	return out.String(), &PythonError{Err: err, Stderr: errOut.String()}
}
