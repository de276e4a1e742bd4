package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// DefaultWorkerTTL is how long the scheduler keeps a worker that sends no
// heartbeat, Dask's distributed.scheduler.worker-ttl.
const DefaultWorkerTTL = 5 * time.Minute

// DefaultSchedulerPort is Dask's scheduler port.
const DefaultSchedulerPort = 8786

// SchedulerOptions configures ListenScheduler. The zero value listens on
// every interface at port 8786 with the scheme of the configuration.
type SchedulerOptions struct {
	// Listen is the address to listen on, e.g. tls://0.0.0.0:8786 or
	// tls://[::1]:0. Empty means all interfaces on DefaultSchedulerPort.
	Listen string
	// Logger receives one line per connection (peer role, name, serial),
	// per refused connection, per worker registered or forgotten. nil
	// discards.
	Logger *slog.Logger
	// Now is the clock of heartbeats, the worker TTL and "started". nil
	// means time.Now.
	Now func() time.Time
	// WorkerTTL is how long a worker may stay silent (no heartbeat) before
	// it is forgotten and its stream closed. Zero means DefaultWorkerTTL.
	WorkerTTL time.Duration
	// HeartbeatInterval, if positive, is the interval told to workers;
	// zero means Dask's rule (0.5 s up to 10 workers, growing with more).
	HeartbeatInterval time.Duration
	// Comm tunes the listener.
	Comm ListenOptions
}

// Scheduler is a Dask scheduler's comm side: it accepts worker
// registrations and heartbeats, forgets workers that fall silent, and
// answers "identity" in the shape real Dask returns. It runs no tasks.
//
// Under the strict role policy only a worker certificate may register or
// heartbeat as a worker, and a heartbeat or unregister for a worker must
// come from the certificate that registered it. Its methods are safe for
// concurrent use.
type Scheduler struct {
	endpointBase
	opts    SchedulerOptions
	id      string
	started time.Time
	addr    string
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	workers map[string]*workerEntry // by address
	closing bool
}

// ListenScheduler starts a scheduler on opts.Listen with sec's material (a
// Security of role scheduler; nil allows only tcp://) and returns once it
// listens. It runs until ctx is done or Close is called.
func ListenScheduler(ctx context.Context, sec *Security, opts SchedulerOptions) (*Scheduler, error) {
	if sec != nil && sec.Role() != identity.Scheduler {
		return nil, fmt.Errorf("scheduler: security is for a %s, want a scheduler", sec.Role())
	}
	s := &Scheduler{endpointBase: newEndpointBase(sec, opts.Logger, opts.Now), opts: opts,
		id: newServerID("Scheduler"), workers: map[string]*workerEntry{}}
	if s.opts.WorkerTTL <= 0 {
		s.opts.WorkerTTL = DefaultWorkerTTL
	}
	listen := opts.Listen
	if listen == "" {
		listen = fmt.Sprintf("%s://0.0.0.0:%d", s.defaultScheme(), DefaultSchedulerPort)
	}
	a, err := daskconfig.ParseAddr(listen, s.defaultScheme())
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.serve(s.ctx, a, s.server(), opts.Comm); err != nil {
		s.cancel()
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	s.started = s.now()
	s.addr = contactAddr(s.ln.Addr(), hostname())
	s.log.Info("scheduler listening", "address", s.ln.Addr(), "id", s.id, "certificate", s.describeOwn())
	s.wg.Add(1)
	go s.reapLoop()
	context.AfterFunc(s.ctx, func() { _ = s.Close() })
	return s, nil
}

// hostname names this machine in contact addresses when listening on every
// interface, as Dask does.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// describeOwn names our certificate for the start-up log.
func (e *endpointBase) describeOwn() string {
	if e.sec == nil {
		return "none (tcp only)"
	}
	c := e.sec.Certificate()
	if id, err := identity.FromCertificate(c); err == nil {
		return fmt.Sprintf("%s serial %s", id, c.SerialNumber.Text(16))
	}
	return fmt.Sprintf("%q serial %s", c.Subject.String(), c.SerialNumber.Text(16))
}

func (s *Scheduler) server() *wire.Server {
	return &wire.Server{
		Handlers: map[string]wire.HandlerFunc{
			"identity":         func(context.Context, *wire.Comm, map[string]any) (any, error) { return s.Identity(), nil },
			"register-worker":  s.handleRegister,
			"heartbeat_worker": s.handleHeartbeat,
			"unregister":       s.handleUnregister,
			"register-client":  s.handleRegisterClient,
		},
		Fallback: s.handleUnserved,
		OnError:  func(op string, err error) { s.log.Warn("request failed", "op", op, "err", err) },
	}
}

// handleUnserved answers an op the scheduler has no handler for. A
// client's (gather, scatter, ncores and the rest of a Client's calls) gets
// ErrNoTasks, which Dask raises at once; anyone else gets None, as from
// Dask for an unknown op, so that real Dask workers carry on.
func (s *Scheduler) handleUnserved(_ context.Context, c *wire.Comm, args map[string]any) (any, error) {
	if PeerOf(c).ID.Role == identity.Client {
		return nil, fmt.Errorf("%v: %w", args["op"], ErrNoTasks)
	}
	return nil, nil
}

// ErrNoTasks is the answer of the Go scheduler to a Dask Client: it keeps
// worker registrations but runs no tasks.
var ErrNoTasks = errors.New("daskca's Go scheduler runs no tasks (it serves identity and worker registrations only); " +
	"start a real Dask scheduler with `daskca run scheduler --config FILE` and connect the Client to it")

// handleRegisterClient answers a Dask Client's register-client with the
// stream-start message Dask's Client reads next, carrying an error: the
// Client raises it at once (as ImportError, Dask's way of refusing a
// client) instead of waiting for its connect timeout. A peer whose role
// the policy table does not allow to register as a client is told that.
func (s *Scheduler) handleRegisterClient(ctx context.Context, c *wire.Comm, _ map[string]any) (any, error) {
	peer := PeerOf(c)
	msg := ErrNoTasks.Error()
	if err := authorizeOp(s.sec, identity.Scheduler, OpRegisterClient, peer); err != nil {
		s.refusedOps.warn("client registration refused", append(peer.LogAttrs(), "err", err)...)
		msg = err.Error()
	} else {
		s.log.Warn("client refused: this scheduler runs no tasks", peer.LogAttrs()...)
	}
	_ = c.Write(ctx, []any{map[string]any{"op": "stream-start", "error": msg}})
	return wire.NoReply, nil
}

// Addr returns the address the scheduler listens on, with the port chosen
// when 0 was asked for, e.g. tls://127.0.0.1:40191.
func (s *Scheduler) Addr() string { return s.ln.Addr() }

// ID returns the scheduler's id, Scheduler-<uuid>.
func (s *Scheduler) ID() string { return s.id }

// Identity returns what the "identity" op answers, in real Dask's shape:
// type, id, address, services, started (epoch seconds) and workers keyed by
// address, plus n_workers, total_threads and total_memory as Dask 2025.4+
// adds them.
func (s *Scheduler) Identity() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	workers := make(map[string]any, len(s.workers))
	var threads, memory int64
	for addr, w := range s.workers {
		workers[addr] = w.identity()
		threads += int64(w.info.NThreads)
		memory += w.info.MemoryLimit
	}
	return map[string]any{
		"type":          "Scheduler",
		"id":            s.id,
		"address":       s.addr,
		"services":      map[string]any{},
		"started":       epoch(s.started),
		"workers":       workers,
		"n_workers":     int64(len(s.workers)),
		"total_threads": threads,
		"total_memory":  memory,
	}
}

// CallWorker dials the worker at addr as the scheduler (expecting a worker
// certificate), calls op and returns its reply.
func (s *Scheduler) CallWorker(ctx context.Context, addr, op string, args map[string]any) (any, error) {
	a, err := daskconfig.ParseAddr(addr, s.defaultScheme())
	if err != nil {
		return nil, err
	}
	c, err := s.connect(ctx, a, OpDial, s.opts.Comm.Comm)
	if err != nil {
		return nil, err
	}
	defer func() { _ = wire.CloseRPC(context.WithoutCancel(ctx), c) }()
	return wire.Call(ctx, c, op, args)
}

// Close stops listening, closes every comm (workers see their stream end
// and reconnect to the next scheduler at this address) and waits for the
// handlers to return. It is idempotent.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	err := s.ln.Close()
	s.wg.Wait()
	if first {
		s.log.Info("scheduler stopped", "address", s.ln.Addr())
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
