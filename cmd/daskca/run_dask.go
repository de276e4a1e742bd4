package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/daskrun"
	"github.com/daskca/daskca/identity"
)

// envPython names the interpreter daskca run uses when --python is not
// given.
const envPython = "DASKCA_PYTHON"

// pythonHint is the fix for an interpreter that is missing or has no Dask.
const pythonHint = "pass the interpreter that has Dask, e.g. --python /usr/bin/python3 (or set " + envPython + ")"

// runDask checks what can be checked before Python starts (daskrun.Prepare;
// every failed check is a usage error: one line, exit 2), then runs real
// Dask: its output is ours, the signals we get are forwarded to its
// process group, and its exit status becomes ours.
func runDask(cmd *cobra.Command, g *globalOpts, o *runOpts, role identity.Role, sched string, daskArgs []string) error {
	py, from := pythonChoice(g, o.python)
	r, err := daskrun.Prepare(cmd.Context(), daskrun.Options{
		Role: role, ConfigFile: o.config, Environ: os.Environ(), Home: g.getenv("HOME"),
		Scheduler: sched, Listen: o.listen, Name: o.name, NThreads: o.nthreads,
		Python: py, DaskArgs: daskArgs, Now: g.now,
	})
	if err != nil {
		return preflightError(err, role, from)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "daskca: starting dask %s (distributed %s): %s %s\n", role, r.Version, r.Python, strings.Join(r.Args, " "))
	if err := r.Start(cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
		return err
	}
	return childStatus(r.Wait(cmd.Context()))
}

// pythonChoice is the interpreter --python, $DASKCA_PYTHON or python3 on
// PATH names, and which of them named it.
func pythonChoice(g *globalOpts, flag string) (py, from string) {
	if flag != "" {
		return flag, "--python"
	}
	if py := g.getenv(envPython); py != "" {
		return py, "$" + envPython
	}
	return "python3", "PATH"
}

// preflightError says a failed pre-flight check in daskca run's terms
// (its flags, where the interpreter came from) as a usage error, with the
// fix as a hint.
func preflightError(err error, role identity.Role, pyFrom string) error {
	var pe *daskrun.PreflightError
	if !errors.As(err, &pe) {
		return err
	}
	usage := func(err error, hint string, args ...any) error {
		return &cliError{err: err, hint: fmt.Sprintf(hint, args...), code: exitUsage}
	}
	switch pe.Check {
	case daskrun.CheckConfig:
		return usage(pe, configHint)
	case daskrun.CheckMaterial:
		return usage(pe, "distributed.comm.tls.%s.cert/key and tls.ca-file must name a valid %s certificate of this CA: "+
			"daskca config NAME --format yaml writes them", role, role)
	case daskrun.CheckRevoked:
		return usage(pe, "issue a new certificate (daskca issue %s NAME --force) and write the config again", role)
	case daskrun.CheckDaskArgs:
		return usageError("%s after --: %v", pe.Value, pe.Err)
	case daskrun.CheckListen:
		if errors.Is(pe.Err, daskrun.ErrNotTLS) {
			return usageError("--listen %q: daskca run serves TLS only; use tls://HOST:PORT", pe.Value)
		}
		return usageError("--listen %q: %v", pe.Value, pe.Err)
	case daskrun.CheckScheduler:
		if errors.Is(pe.Err, daskrun.ErrNotTLS) {
			return usageError("scheduler address %q is not tls:// (daskca run speaks TLS only)", pe.Value)
		}
		return usageError("scheduler address %q: %v", pe.Value, pe.Err)
	case daskrun.CheckPython:
		if errors.Is(pe.Err, daskrun.ErrNoDistributed) {
			return usage(fmt.Errorf("%s (from %s) %w", pe.Value, pyFrom, pe.Err), pythonHint)
		}
		return usage(fmt.Errorf("no Python interpreter %q (from %s): %w", pe.Value, pyFrom, pe.Err), pythonHint)
	case daskrun.CheckPlugin:
		return usage(pe, "%s names daskca's plugin at %s; make its directory writable, or write the configuration again with daskca config",
			pe.Key, pe.Value)
	}
	return &cliError{err: pe, code: exitUsage}
}

// childStatus maps Dask's end to our exit: its code, or 128+N when a
// signal N ended it, as a shell reports it.
func childStatus(err error) error {
	var ee *daskrun.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	if ee.Code > 0 {
		return exitCode(ee.Code)
	}
	return exitCode(exitError)
}

// checkModeFlags refuses flags that belong to the other runner.
func checkModeFlags(cmd *cobra.Command, o *runOpts, daskArgs []string) error {
	native := []string{"log-json", "max-conns", "max-handshakes", "handshake-timeout", "idle-timeout"}
	if o.goNative {
		if cmd.Flags().Changed("python") {
			return usageError("--python starts real Dask; it does not go with --go-native")
		}
		if len(daskArgs) > 0 {
			return usageError("arguments after -- are for real Dask; they do not go with --go-native (got %q)", daskArgs)
		}
		return nil
	}
	for _, f := range native {
		if cmd.Flags().Changed(f) {
			return usageError("--%s applies to --go-native only (real Dask has its own settings: pass them after --)", f)
		}
	}
	return nil
}
