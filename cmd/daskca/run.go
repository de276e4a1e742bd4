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

	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/identity"
)

// runOpts are the flags of run scheduler and run worker.
type runOpts struct {
	config   string
	listen   string
	name     string
	nthreads int
	logJSON  bool
	limits   connLimits
}

// connLimits are the flags that bound what peers may hold of a listener.
type connLimits struct {
	maxConns, maxHandshakes       int
	handshakeTimeout, idleTimeout time.Duration
}

func newRunCmd(g *globalOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a scheduler or worker endpoint on daskca's Go transport",
		Long: `Run a Dask scheduler or worker endpoint that speaks Dask's comm protocol over
mutual TLS, configured by the same YAML that daskca config emits. It registers
workers, exchanges heartbeats and answers identity; it runs no tasks. Use it to
check a deployment's certificates and network paths end to end, or as a
stricter front door: unlike Dask it checks each peer's role.

The configuration is --config FILE alone when given; otherwise Dask's own
search path (/etc/dask, ~/.config/dask, $DASK_CONFIG) and DASK_* variables.
Certificates are reloaded when their files change and on SIGHUP; SIGTERM or
SIGINT shuts down cleanly.`,
	}
	cmd.AddCommand(newRunSchedulerCmd(g), newRunWorkerCmd(g))
	return cmd
}

func (o *runOpts) bind(cmd *cobra.Command, listenHelp string) {
	cmd.Flags().StringVar(&o.config, "config", "", "Dask YAML configuration file, as daskca config NAME --format yaml writes it")
	cmd.Flags().StringVar(&o.listen, "listen", "", listenHelp)
	cmd.Flags().BoolVar(&o.logJSON, "log-json", false, "log JSON lines instead of text")
	o.limits.bind(cmd)
}

func (l *connLimits) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&l.maxConns, "max-conns", transport.DefaultMaxConns,
		"most connections open at once, handshaking or not; more wait in the kernel's backlog")
	f.IntVar(&l.maxHandshakes, "max-handshakes", transport.DefaultMaxHandshakes,
		"most TLS handshakes computed at once (peers that have not yet sent a whole ClientHello do not count)")
	f.DurationVar(&l.handshakeTimeout, "handshake-timeout", transport.DefaultHandshakeTimeout,
		"bound on the TLS and Dask handshakes of each connection, accepted or dialed; a peer that takes longer is disconnected")
	f.DurationVar(&l.idleTimeout, "idle-timeout", 0,
		"disconnect a peer that sends no whole message for this long (0: never); worker streams are silent between tasks, "+
			"so a worker whose stream times out reconnects")
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
		Comm: transport.CommOptions{HandshakeTimeout: l.handshakeTimeout, IdleTimeout: l.idleTimeout},
	}, nil
}

func newRunSchedulerCmd(g *globalOpts) *cobra.Command {
	o := &runOpts{}
	cmd := &cobra.Command{
		Use:   "scheduler --config FILE [--listen tls://0.0.0.0:8786]",
		Short: "Run a scheduler: accept workers, track heartbeats, answer identity",
		Example: `  daskca config sched01 --format yaml > sched01.yaml
  daskca run scheduler --config sched01.yaml --listen tls://0.0.0.0:8786`,
		Args: exactArgs(0, "--config FILE"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runScheduler(cmd, g, o) },
	}
	o.bind(cmd, "address to listen on (default tls://0.0.0.0:8786, or the configured default scheme)")
	return cmd
}

func newRunWorkerCmd(g *globalOpts) *cobra.Command {
	o := &runOpts{}
	cmd := &cobra.Command{
		Use:   "worker SCHEDULER --config FILE [--name NAME] [--listen tls://0.0.0.0:0]",
		Short: "Run a worker: register with the scheduler, heartbeat, reconnect, listen",
		Example: `  daskca config node07 --format yaml > node07.yaml
  daskca run worker tls://sched01.dask.internal:8786 --config node07.yaml --name node07`,
		Args: exactArgs(1, "SCHEDULER"),
		RunE: func(cmd *cobra.Command, args []string) error { return runWorker(cmd, g, o, args[0]) },
	}
	o.bind(cmd, "address to listen on for the scheduler's calls (default: every interface, a free port)")
	cmd.Flags().StringVar(&o.name, "name", "", "worker name (default: the name in its certificate)")
	cmd.Flags().IntVar(&o.nthreads, "nthreads", 0, "threads to announce (default: the number of CPUs)")
	return cmd
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

// loadConfig reads --config alone, or else Dask's search path and DASK_*
// variables.
func loadConfig(g *globalOpts, file string, log *slog.Logger) (transport.Config, error) {
	opts := transport.LoadOptions{Logger: log}
	if file != "" {
		opts.Dirs, opts.Files = []string{}, []string{file}
	} else {
		opts.Environ, opts.Home = os.Environ(), g.getenv("HOME")
	}
	cfg, err := transport.LoadConfig(opts)
	if err != nil {
		return cfg, withHint(err, "write the file with: daskca config NAME --format yaml > FILE")
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
	case errors.Is(err, transport.ErrBadAddress):
		return usageError("%v", err)
	case errors.Is(err, transport.ErrEncryptionRequired):
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
