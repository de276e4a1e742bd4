package daskrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// process is a started Dask and the signals caught for it.
type process struct {
	cmd      *exec.Cmd
	sigs     <-chan os.Signal
	stopSigs func()
}

// Start starts Dask in a process group of its own, writing its output to
// stdout and stderr (nil discards), and catches SIGINT, SIGTERM and SIGHUP
// until Wait returns, to forward them: a terminal's ^C reaches Dask once,
// through this process. On Linux the kernel also sends Dask SIGTERM if this
// process dies without forwarding (SIGKILL). When Start fails the Run is
// closed; after it succeeds, Wait must be called.
func (r *Run) Start(stdout, stderr io.Writer) error {
	if r.proc != nil {
		return errors.New("daskrun: Start called twice")
	}
	c := exec.Command(r.Python, r.Args...)
	c.Env = r.Env
	c.Stdin, c.Stdout, c.Stderr = nil, stdout, stderr
	setProcGroup(c)
	sigs, stopSigs := notifySignals()
	if err := c.Start(); err != nil {
		stopSigs()
		_ = r.Close()
		return fmt.Errorf("starting %s: %w", r.Python, err)
	}
	r.proc = &process{cmd: c, sigs: sigs, stopSigs: stopSigs}
	return nil
}

// Wait waits for Dask to end, forwarding the signals Start catches to its
// process group. When ctx ends for another reason than a signal (one that
// signal.NotifyContext caught, which reaches Dask as a forwarded signal
// already), Dask gets SIGTERM once and Wait still waits for it to end.
// Wait closes the Run and returns nil when Dask exits with 0, an
// *ExitError for another status, or the error of its output's copying.
func (r *Run) Wait(ctx context.Context) error {
	p := r.proc
	if p == nil {
		return errors.New("daskrun: Wait called before Start")
	}
	defer r.Close()
	defer p.stopSigs()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	forwarded := false
	for {
		select {
		case s := <-p.sigs:
			forwarded = true
			signalGroup(p.cmd, s)
		case <-ctx.Done():
			// A program's signal context (main's) ends on the same SIGINT
			// or SIGTERM that sigs delivers: forwarding it here too would
			// make Dask see a second signal, which kills it mid-shutdown.
			// Only a context ended for another reason stops Dask from here.
			if !forwarded && !causedBySignal(ctx) {
				forwarded = true
				signalGroup(p.cmd, terminate)
			}
			ctx = context.Background() // fires once
		case err := <-done:
			return exitError(err)
		}
	}
}

// causedBySignal reports whether ctx was ended by signal.NotifyContext,
// whose cause "describes the signal" ("terminated signal received").
func causedBySignal(ctx context.Context) bool {
	err := context.Cause(ctx)
	return err != nil && strings.HasSuffix(err.Error(), " signal received")
}

// exitError turns what exec.Cmd.Wait returned into Wait's result.
func exitError(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	return &ExitError{Code: exitStatus(ee), Err: ee}
}
