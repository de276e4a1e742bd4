package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/daskca/daskca/daskrun"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// runOpts are the flags of run scheduler and run worker.
type runOpts struct {
	config   string
	listen   string
	name     string
	nthreads int
	logJSON  bool
	limits   connLimits
	python   string
	goNative bool
}

// connLimits are the flags that bound what peers may hold of a listener.
type connLimits struct {
	maxConns, maxHandshakes       int
	handshakeTimeout, idleTimeout time.Duration
}

func newRunCmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a real Dask scheduler or worker with daskca's checks and plugin",
		Long: `Run real Dask (dask scheduler, dask worker with its nanny) with the
configuration daskca config writes and daskca's Dask plugin loaded into every
process (scheduler; nanny and worker), after checking what can be checked
before Python starts: the certificate and key match, the chain verifies
against the CA bundle, the certificate is valid now, has the role of the
command and is not in the configured CRL, the addresses are tls://, and the
interpreter imports distributed. A failed check is one error line and exit
status 2.

The configuration is --config FILE alone when given (Dask gets a private
DASK_CONFIG directory holding a copy of it, and none of the DASK_* variables
of the keys daskca checked); otherwise Dask's own search path (/etc/dask,
~/.config/dask, $DASK_CONFIG) and DASK_* variables. The plugin file is
written where the configuration's preload keys point when it is missing or
outdated; a configuration that names none gets a private copy. The nanny
gets it with --preload-nanny (dask worker ignores distributed.nanny.preload
from the configuration). Arguments after -- go to dask scheduler / dask
worker as they are, except --preload, which would replace the configured
preload list: add modules to distributed.scheduler.preload or
distributed.worker.preload instead.

The interpreter is --python, else $DASKCA_PYTHON, else python3 on PATH.
Dask's logs are passed through; SIGINT, SIGTERM and SIGHUP are forwarded to
Dask's process group, and daskca exits with Dask's status (128+N when signal
N ended it).

With --go-native, daskca's own Go scheduler or worker runs instead: it speaks
Dask's comm protocol, registers workers and answers identity but runs no
tasks (a real Client is refused). Use it to check certificates and network
paths end to end.`,
	}
	cmd.AddCommand(newRunSchedulerCmd(g), newRunWorkerCmd(g))
	return cmd
}

func (o *runOpts) bind(cmd *cobra.Command, listenHelp string) {
	cmd.Flags().StringVar(&o.config, "config", "", "Dask YAML configuration file, as daskca config NAME --format yaml writes it")
	cmd.Flags().StringVar(&o.listen, "listen", "", listenHelp)
	cmd.Flags().StringVar(&o.python, "python", "", "Python interpreter with Dask's distributed (default $DASKCA_PYTHON, else python3 on PATH)")
	cmd.Flags().BoolVar(&o.goNative, "go-native", false, "run daskca's Go scheduler/worker instead of real Dask (runs no tasks)")
	cmd.Flags().BoolVar(&o.logJSON, "log-json", false, "log JSON lines instead of text (--go-native)")
	o.limits.bind(cmd)
}

func (l *connLimits) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&l.maxConns, "max-conns", transport.DefaultMaxConns,
		"most connections open at once, handshaking or not; more wait in the kernel's backlog (--go-native)")
	f.IntVar(&l.maxHandshakes, "max-handshakes", transport.DefaultMaxHandshakes,
		"most TLS handshakes computed at once (peers that have not yet sent a whole ClientHello do not count) (--go-native)")
	f.DurationVar(&l.handshakeTimeout, "handshake-timeout", wire.DefaultHandshakeTimeout,
		"bound on the TLS and Dask handshakes of each connection, accepted or dialed; a peer that takes longer is disconnected (--go-native)")
	f.DurationVar(&l.idleTimeout, "idle-timeout", 0,
		"disconnect a peer that sends no whole message for this long (0: never); worker streams are silent between tasks, "+
			"so a worker whose stream times out reconnects (--go-native)")
}

// options checks the flags and returns them as listener options.
func (l connLimits) options() (transport.ListenOptions, error) {
	switch {
	case l.maxConns < 1:
		return transport.ListenOptions{}, usageError("--max-conns %d: must be at least 1", l.maxConns)
	case l.maxHandshakes < 1:
		return transport.ListenOptions{}, usageError("--max-handshakes %d: must be at least 1", l.maxHandshakes)
	case l.handshakeTimeout <= 0:
		return transport.ListenOptions{}, usageError("--handshake-timeout %v: must be positive", l.handshakeTimeout)
	case l.idleTimeout < 0:
		return transport.ListenOptions{}, usageError("--idle-timeout %v: must not be negative", l.idleTimeout)
	}
	return transport.ListenOptions{
		MaxConns: l.maxConns, MaxHandshakes: l.maxHandshakes,
		Comm: wire.CommOptions{HandshakeTimeout: l.handshakeTimeout, IdleTimeout: l.idleTimeout},
	}, nil
}

func newRunSchedulerCmd(g *globalOpts) *cobra.Command {
	o := &runOpts{}
	cmd := &cobra.Command{
		Use:   "scheduler --config FILE [--listen tls://0.0.0.0:8786] [--python PY] [-- DASK_ARGS...]",
		Short: "Run dask scheduler with daskca's checks and plugin",
		Example: `  daskca config sched01 --format yaml > sched01.yaml
  daskca run scheduler --config sched01.yaml --listen tls://0.0.0.0:8786
  daskca run scheduler --config sched01.yaml --python /usr/bin/python3 -- --dashboard-address 127.0.0.1:8787`,
		Args: dashArgs(0, "--config FILE [-- DASK_ARGS...]"),
		RunE: func(cmd *cobra.Command, args []string) error { return runRunScheduler(cmd, g, o, args) },
	}
	o.bind(cmd, "address to listen on (default tls://0.0.0.0:8786)")
	return cmd
}

// runRunScheduler runs the scheduler in Go (--go-native) or real Dask's.
func runRunScheduler(cmd *cobra.Command, g *globalOpts, o *runOpts, args []string) error {
	_, daskArgs := splitDash(cmd, args)
	if err := checkModeFlags(cmd, o, daskArgs); err != nil {
		return err
	}
	if o.goNative {
		return runScheduler(cmd, g, o)
	}
	return runDask(cmd, g, o, identity.Scheduler, "", daskArgs)
}

func newRunWorkerCmd(g *globalOpts) *cobra.Command {
	o := &runOpts{}
	cmd := &cobra.Command{
		Use:   "worker SCHEDULER --config FILE [--name NAME] [--listen tls://HOST:PORT] [--nthreads N] [--python PY] [-- DASK_ARGS...]",
		Short: "Run dask worker (with its nanny) with daskca's checks and plugin",
		Example: `  daskca config node07 --format yaml > node07.yaml
  daskca run worker tls://sched01.dask.internal:8786 --config node07.yaml
  daskca run worker tls://sched01.dask.internal:8786 --config node07.yaml --nthreads 4 -- --memory-limit 8GB`,
		Args: dashArgs(1, "SCHEDULER --config FILE [-- DASK_ARGS...]"),
		RunE: func(cmd *cobra.Command, args []string) error { return runRunWorker(cmd, g, o, args) },
	}
	o.bind(cmd, "address the worker listens on, e.g. tls://10.0.0.7:0 (default: Dask's, every interface and a free port)")
	cmd.Flags().StringVar(&o.name, "name", "", "worker name (default: the name in its certificate)")
	cmd.Flags().IntVar(&o.nthreads, "nthreads", 0, "threads per worker (default: Dask's, one per CPU)")
	return cmd
}

// runRunWorker runs a worker in Go (--go-native) or real Dask's.
func runRunWorker(cmd *cobra.Command, g *globalOpts, o *runOpts, args []string) error {
	pos, daskArgs := splitDash(cmd, args)
	if o.nthreads < 0 {
		return usageError("--nthreads %d: must be positive (0 or unset: Dask's default, one per CPU)", o.nthreads)
	}
	if err := checkModeFlags(cmd, o, daskArgs); err != nil {
		return err
	}
	if o.goNative {
		return runWorker(cmd, g, o, pos[0])
	}
	return runDask(cmd, g, o, identity.Worker, pos[0], daskArgs)
}

// dashArgs accepts n positional arguments before a "--" and any after it.
func dashArgs(n int, form string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		pos, _ := splitDash(cmd, args)
		if len(pos) != n {
			return usageError("%s takes %d argument(s) before --: %s %s (got %d)", cmd.CommandPath(), n, cmd.CommandPath(), form, len(pos))
		}
		return nil
	}
}

// splitDash separates the arguments before "--" from those after it.
func splitDash(cmd *cobra.Command, args []string) (pos, rest []string) {
	if i := cmd.ArgsLenAtDash(); i >= 0 {
		return args[:i], args[i:]
	}
	return args, nil
}

func runScheduler(cmd *cobra.Command, g *globalOpts, o *runOpts) error {
	lopts, err := o.limits.options()
	if err != nil {
		return err
	}
	log := newRunLogger(cmd.ErrOrStderr(), o.logJSON)
	sec, err := loadSecurity(g, o.config, identity.Scheduler, log)
	if err != nil {
		return err
	}
	defer sec.Close()
	ctx := cmd.Context()
	startReload(ctx, sec)
	// The scheduler gets a context of its own, so that the signal is
	// logged before it stops.
	s, err := transport.ListenScheduler(context.WithoutCancel(ctx), sec, transport.SchedulerOptions{
		Listen: o.listen, Logger: log, Now: g.now, Comm: lopts,
	})
	if err != nil {
		return listenError(err)
	}
	<-ctx.Done()
	log.Info("shutting down", "reason", context.Cause(ctx))
	return s.Close()
}

func runWorker(cmd *cobra.Command, g *globalOpts, o *runOpts, sched string) error {
	lopts, err := o.limits.options()
	if err != nil {
		return err
	}
	log := newRunLogger(cmd.ErrOrStderr(), o.logJSON)
	sec, err := loadSecurity(g, o.config, identity.Worker, log)
	if err != nil {
		return err
	}
	defer sec.Close()
	ctx := cmd.Context()
	startReload(ctx, sec)
	w, err := transport.ListenWorker(context.WithoutCancel(ctx), sec, transport.WorkerOptions{
		Scheduler: sched, Listen: o.listen, Name: o.name, NThreads: o.nthreads, Logger: log, Now: g.now, Comm: lopts,
	})
	if err != nil {
		return listenError(err)
	}
	<-ctx.Done()
	log.Info("shutting down", "reason", context.Cause(ctx))
	return w.Close()
}

// startReload watches the certificate files and SIGHUP until ctx ends.
func startReload(ctx context.Context, sec *transport.Security) {
	go sec.Run(ctx)
	go sec.WatchSIGHUP(ctx)
}

// configHint is the fix for a configuration that cannot be read.
const configHint = "write the file with: daskca config NAME --format yaml > FILE"

// loadConfig reads --config alone, or else Dask's search path and DASK_*
// variables.
func loadConfig(g *globalOpts, file string, log *slog.Logger) (daskconfig.Config, error) {
	cfg, err := daskrun.LoadConfig(file, os.Environ(), g.getenv("HOME"), log)
	if err != nil {
		return cfg, withHint(err, configHint)
	}
	return cfg, nil
}

// loadSecurity loads the configuration and the material of role.
func loadSecurity(g *globalOpts, file string, role identity.Role, log *slog.Logger) (*transport.Security, error) {
	cfg, err := loadConfig(g, file, log)
	if err != nil {
		return nil, err
	}
	sec, err := transport.NewSecurity(cfg, role, transport.SecurityOptions{Logger: log, Now: g.now})
	if errors.Is(err, transport.ErrBadMaterial) {
		return nil, withHint(err, "distributed.comm.tls.%s.cert/key and tls.ca-file must name a %s certificate of this CA: "+
			"daskca config NAME --format yaml writes them", role, role)
	}
	return sec, err
}

// listenError adds the fix for the errors a listen address can cause.
func listenError(err error) error {
	switch {
	case errors.Is(err, daskconfig.ErrBadAddress):
		return usageError("%v", err)
	case errors.Is(err, daskconfig.ErrEncryptionRequired):
		return withHint(err, "use a tls:// address")
	}
	return err
}

// newRunLogger logs to w, which may be shared by goroutines.
func newRunLogger(w io.Writer, json bool) *slog.Logger {
	sw := &syncWriter{w: w}
	if json {
		return slog.New(slog.NewJSONHandler(sw, nil))
	}
	return slog.New(slog.NewTextHandler(sw, nil))
}

// syncWriter serializes writes to a writer that is not safe for concurrent
// use (a test's buffer).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
