package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/fsutil"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// envPython names the interpreter daskca run uses when --python is not
// given.
const envPython = "DASKCA_PYTHON"

// pythonCheckTimeout bounds the import of distributed before the real
// start; it takes about a second.
const pythonCheckTimeout = 60 * time.Second

// daskRun is what `daskca run` hands to real Dask, decided before Python
// starts.
type daskRun struct {
	python  string   // the interpreter
	version string   // distributed.__version__
	args    []string // after the interpreter
	env     []string // the child's whole environment
	tmp     string   // private directory, removed at exit
}

// prepareDask checks everything `daskca run` can check before starting
// Python: the configuration and material of role (key matches certificate,
// chain to the bundle, role, validity now, not revoked by the configured
// CRL), the addresses, the interpreter and its distributed, and the plugin
// file. Every failure is a usage error: one line, exit 2.
func prepareDask(g *globalOpts, o *runOpts, role identity.Role, sched string, daskArgs []string) (*daskRun, error) {
	cfg, err := loadConfig(g, o.config, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, asUsage(err)
	}
	sec, err := transport.NewSecurity(cfg, role, transport.SecurityOptions{Now: g.now})
	if err != nil {
		return nil, asUsage(withHint(err, "distributed.comm.tls.%s.cert/key and tls.ca-file must name a valid %s certificate of this CA: "+
			"daskca config NAME --format yaml writes them", role, role))
	}
	defer sec.Close()
	if err := sec.CheckOwnRevoked(); err != nil {
		return nil, asUsage(withHint(err, "issue a new certificate (daskca issue %s NAME --force) and write the config again", role))
	}
	if err := refusePreloadArgs(role, daskArgs); err != nil {
		return nil, err
	}
	r := &daskRun{}
	mod := "distributed.cli.dask_scheduler"
	var flags []string
	if role == identity.Scheduler {
		if flags, err = schedulerListen(cfg, o.listen); err != nil {
			return nil, err
		}
	} else {
		mod = "distributed.cli.dask_worker"
		if flags, err = workerFlags(cfg, sec, o, sched); err != nil {
			return nil, err
		}
	}
	if r.python, r.version, err = findPython(g, o.python); err != nil {
		return nil, err
	}
	if r.tmp, err = os.MkdirTemp("", "daskca-run-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*daskRun, error) {
		r.cleanup()
		return nil, err
	}
	pre, preEnv, err := pluginPreloads(cfg, role, r.tmp)
	if err != nil {
		return fail(err)
	}
	if r.env, err = childEnv(o.config, r.tmp); err != nil {
		return fail(err)
	}
	r.env = append(r.env, preEnv...)
	r.args = append([]string{"-m", mod}, flags...)
	r.args = append(append(r.args, pre...), daskArgs...)
	return r, nil
}

func (r *daskRun) cleanup() {
	if r.tmp != "" {
		_ = os.RemoveAll(r.tmp)
	}
}

// asUsage turns a pre-flight failure into exit code 2, keeping its hint.
func asUsage(err error) error {
	var ce *cliError
	if errors.As(err, &ce) {
		return &cliError{err: ce.err, hint: ce.hint, code: exitUsage}
	}
	return &cliError{err: err, code: exitUsage}
}

// schedulerListen turns --listen into dask scheduler's --host and --port
// (default: every interface, port 8786, TLS).
func schedulerListen(cfg daskconfig.Config, listen string) ([]string, error) {
	if listen == "" {
		listen = "tls://:8786"
	}
	a, err := listenAddr(cfg, listen)
	if err != nil {
		return nil, err
	}
	port := []string{"--port", strconv.Itoa(a.Port)}
	if a.Host == "" { // every interface
		return append([]string{"--protocol", a.Scheme}, port...), nil
	}
	host := a.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return append([]string{"--host", a.Scheme + "://" + host}, port...), nil
}

func listenAddr(cfg daskconfig.Config, s string) (daskconfig.Addr, error) {
	a, err := cfg.ParseAddr(s)
	if err != nil {
		return a, usageError("--listen %q: %v", s, err)
	}
	if !a.Encrypted() {
		return a, usageError("--listen %q: daskca run serves TLS only; use tls://HOST:PORT", s)
	}
	return a, nil
}

// workerFlags gives dask worker its scheduler, name, threads and listen
// address.
func workerFlags(cfg daskconfig.Config, sec *transport.Security, o *runOpts, sched string) ([]string, error) {
	a, err := cfg.ParseAddr(sched)
	if err != nil {
		return nil, usageError("scheduler address %q: %v", sched, err)
	}
	if !a.Encrypted() {
		return nil, usageError("scheduler address %q is not tls:// (daskca run speaks TLS only)", sched)
	}
	name := o.name
	if name == "" {
		if id, err := identity.FromCertificate(sec.Certificate()); err == nil {
			name = id.Name
		}
	}
	flags := []string{a.String()}
	if name != "" {
		flags = append(flags, "--name", name)
	}
	if o.nthreads > 0 {
		flags = append(flags, "--nthreads", strconv.Itoa(o.nthreads))
	}
	if o.listen != "" {
		l, err := listenAddr(cfg, o.listen)
		if err != nil {
			return nil, err
		}
		// Not --listen-address: with port 0 Dask would announce port 0 as
		// the worker's contact address.
		host := l.Host
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		flags = append(flags, "--host", host)
		if l.Port != 0 {
			flags = append(flags, "--worker-port", strconv.Itoa(l.Port))
		}
	}
	return flags, nil
}

// findPython returns the interpreter to run: --python, $DASKCA_PYTHON or
// python3 on PATH, after checking that it imports distributed.
func findPython(g *globalOpts, flag string) (py, version string, err error) {
	py, from := flag, "--python"
	if py == "" {
		py, from = g.getenv(envPython), "$"+envPython
	}
	if py == "" {
		py, from = "python3", "PATH"
	}
	const hint = "pass the interpreter that has Dask, e.g. --python /usr/bin/python3 (or set " + envPython + ")"
	path, err := exec.LookPath(py)
	if err != nil {
		return "", "", &cliError{err: fmt.Errorf("no Python interpreter %q (from %s): %w", py, from, err), hint: hint, code: exitUsage}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pythonCheckTimeout)
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
		return "", "", &cliError{err: fmt.Errorf("%s (from %s) cannot import distributed: %v: %s", path, from, err, last), hint: hint, code: exitUsage}
	}
	return path, strings.TrimSpace(string(out)), nil
}

// pluginPreloads makes sure daskca's plugin is where the configuration's
// preload keys point (writing it when missing or outdated), and returns
// what loads it into each process:
//
//   - scheduler and worker: the configuration's preload list, or, when it
//     does not name the plugin, that list plus a private copy of the plugin,
//     given to Dask as a DASK_DISTRIBUTED__*__PRELOAD variable. Not
//     --preload: dask scheduler and dask worker import a --preload module
//     while parsing the command line, outside any Dask object, and that flag
//     would replace the configured list;
//   - nanny: --preload-nanny for each entry of distributed.nanny.preload (or
//     the plugin), since dask worker never reads that key from the
//     configuration.
func pluginPreloads(cfg daskconfig.Config, role identity.Role, tmp string) (flags, env []string, err error) {
	type proc struct {
		key  string
		list []string
	}
	procs := []proc{{"distributed.scheduler.preload", cfg.Preload.Scheduler}}
	if role == identity.Worker {
		procs = []proc{{"distributed.worker.preload", cfg.Preload.Worker}, {"distributed.nanny.preload", cfg.Preload.Nanny}}
	}
	private := ""
	for _, pr := range procs {
		found := false
		for _, p := range pr.list {
			if filepath.Base(p) != daskplugin.FileName {
				continue
			}
			found = true
			if err := daskplugin.Ensure(p); err != nil {
				return nil, nil, asUsage(withHint(err, "%s names daskca's plugin at %s; make its directory writable, or write the configuration again with daskca config", pr.key, p))
			}
		}
		list := pr.list
		if !found {
			if private == "" {
				private = filepath.Join(tmp, daskplugin.FileName)
				if err := daskplugin.WriteFile(private); err != nil {
					return nil, nil, err
				}
			}
			list = append(append([]string{}, list...), private)
		}
		if pr.key == "distributed.nanny.preload" {
			for _, p := range list {
				flags = append(flags, "--preload-nanny", p)
			}
		} else if !found {
			var c daskconfig.Config
			if role == identity.Scheduler {
				c.Preload.Scheduler = list
			} else {
				c.Preload.Worker = list
			}
			for _, v := range c.Env() {
				env = append(env, v.Name+"="+v.Value)
			}
		}
	}
	return flags, env, nil
}

// refusePreloadArgs refuses --preload among the arguments for Dask: it
// would replace the preload list that loads daskca's plugin.
func refusePreloadArgs(role identity.Role, daskArgs []string) error {
	for _, a := range daskArgs {
		if a == "--preload" || strings.HasPrefix(a, "--preload=") {
			return usageError("%s after --: dask's --preload replaces distributed.%s.preload, which loads daskca's plugin; "+
				"add the module to that list in the configuration instead", a, role)
		}
	}
	return nil
}

// childEnv is Dask's environment: ours, and with --config a private
// DASK_CONFIG directory holding a copy of the file alone, without the DASK_*
// variables of the keys daskca checked (they would override the file), so
// that Dask runs with what was checked.
func childEnv(config, tmp string) ([]string, error) {
	env := os.Environ()
	if config == "" {
		return env, nil
	}
	b, err := os.ReadFile(config)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "dask-config")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "daskca.yaml"), b, 0o600); err != nil {
		return nil, err
	}
	drop := map[string]bool{"DASK_CONFIG": true}
	for _, k := range daskconfig.ConfigKeys() {
		drop[daskconfig.EnvName(k)] = true
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	return append(out, "DASK_CONFIG="+dir), nil
}

// runDask starts real Dask and waits for it: its output is ours, the
// signals we get are forwarded to its process group, and its exit status
// becomes ours.
func runDask(cmd *cobra.Command, r *daskRun, role identity.Role) error {
	defer r.cleanup()
	child := exec.Command(r.python, r.args...)
	child.Env = r.env
	child.Stdin, child.Stdout, child.Stderr = nil, cmd.OutOrStdout(), cmd.ErrOrStderr()
	setProcGroup(child)
	fmt.Fprintf(cmd.ErrOrStderr(), "daskca: starting dask %s (distributed %s): %s %s\n", role, r.version, r.python, strings.Join(r.args, " "))
	sigs, stopSigs := notifySignals()
	defer stopSigs()
	if err := child.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", r.python, err)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	ctx, forwarded := cmd.Context(), false
	for {
		select {
		case s := <-sigs:
			forwarded = true
			signalGroup(child, s)
		case <-ctx.Done():
			// main's context ends on the same SIGINT or SIGTERM that sigs
			// delivers: forwarding it here too would make Dask see a second
			// signal, which kills it mid-shutdown. Only a context ended for
			// another reason stops Dask from here.
			if !forwarded && !causedBySignal(ctx) {
				forwarded = true
				signalGroup(child, terminate)
			}
			ctx = context.Background() // fires once
		case err := <-done:
			return childStatus(err)
		}
	}
}

// causedBySignal reports whether ctx was ended by signal.NotifyContext,
// whose cause "describes the signal" ("terminated signal received").
func causedBySignal(ctx context.Context) bool {
	err := context.Cause(ctx)
	return err != nil && strings.HasSuffix(err.Error(), " signal received")
}

// childStatus maps the child's end to our exit: its code, or 128+N when a
// signal N ended it, as a shell reports it.
func childStatus(err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	if code := exitStatus(ee); code > 0 {
		return exitCode(code)
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
