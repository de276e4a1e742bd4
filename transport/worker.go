package transport

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// Reconnection backoff of a worker whose scheduler is unreachable or
// refuses it: doubling from the minimum, with jitter so that a restarted
// scheduler is not hit by every worker in the same instant.
const (
	DefaultReconnectMin = 200 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
)

// registerTimeout bounds the wait for the scheduler's answer to
// register-worker, Dask's distributed.comm.timeouts.connect.
const registerTimeout = 30 * time.Second

// WorkerOptions configures ListenWorker.
type WorkerOptions struct {
	// Scheduler is the scheduler's address, e.g. tls://sched01:8786.
	Scheduler string
	// Listen is where the worker listens for the scheduler's calls. Empty
	// means every interface on a free port, with the scheduler's scheme.
	Listen string
	// Name is the worker's Dask name. Empty means the name in our
	// certificate's daskca identity, else the worker's address.
	Name string
	// NThreads and MemoryLimit are announced to the scheduler; zero
	// NThreads means the number of CPUs.
	NThreads    int
	MemoryLimit int64
	// Logger gets registrations, lost connections, retries and every peer
	// that connects. nil discards.
	Logger *slog.Logger
	// Now is the clock sent in heartbeats. nil means time.Now.
	Now func() time.Time
	// ReconnectMin and ReconnectMax bound the backoff between attempts;
	// zero means DefaultReconnectMin and DefaultReconnectMax.
	ReconnectMin, ReconnectMax time.Duration
	// Comm tunes the listener and the comms to the scheduler.
	Comm ListenOptions
}

// WorkerStatus is a snapshot of a worker's link to its scheduler.
type WorkerStatus struct {
	// Address is the address the worker registered (its contact address).
	Address string
	// Name is the name it registered under.
	Name string
	// Registered reports whether the worker is registered right now.
	Registered bool
	// Registrations counts successful registrations; more than one means
	// the worker reconnected.
	Registrations int
	// LastError is why the last attempt or session ended, or nil.
	LastError error
}

// Worker is a Dask worker's comm side: it registers with the scheduler,
// keeps the registration stream open, sends heartbeats, reconnects with
// backoff when the link breaks, and listens for calls ("identity"). It runs
// no tasks. Its methods are safe for concurrent use.
type Worker struct {
	endpointBase
	opts   WorkerOptions
	id     string
	sched  daskconfig.Addr
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	status WorkerStatus
}

// ListenWorker starts listening with sec's material (a Security of role
// worker; nil allows only tcp://) and starts registering with the scheduler
// in the background. It returns once the worker listens; it runs until ctx
// is done or Close is called.
func ListenWorker(ctx context.Context, sec *Security, opts WorkerOptions) (*Worker, error) {
	if sec != nil && sec.Role() != identity.Worker {
		return nil, fmt.Errorf("worker: security is for a %s, want a worker", sec.Role())
	}
	w := &Worker{endpointBase: newEndpointBase(sec, opts.Logger, opts.Now), opts: opts, id: newServerID("Worker")}
	if w.opts.NThreads <= 0 {
		w.opts.NThreads = runtime.NumCPU()
	}
	w.opts.ReconnectMin = cmp0(w.opts.ReconnectMin, DefaultReconnectMin)
	w.opts.ReconnectMax = max(cmp0(w.opts.ReconnectMax, DefaultReconnectMax), w.opts.ReconnectMin)
	var err error
	if w.sched, err = daskconfig.ParseAddr(opts.Scheduler, w.defaultScheme()); err != nil {
		return nil, fmt.Errorf("worker: scheduler %w", err)
	}
	listen := opts.Listen
	if listen == "" {
		listen = w.sched.Scheme + "://0.0.0.0:0"
	}
	la, err := daskconfig.ParseAddr(listen, w.defaultScheme())
	if err != nil {
		return nil, fmt.Errorf("worker: listen %w", err)
	}
	if _, err := w.dialTLS(w.sched, OpDialScheduler); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	if err := w.serve(w.ctx, la, w.server(), opts.Comm); err != nil {
		w.cancel()
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.log.Info("worker listening", "address", w.ln.Addr(), "id", w.id, "scheduler", w.sched.String(), "certificate", w.describeOwn())
	w.wg.Add(1)
	go w.loop()
	context.AfterFunc(w.ctx, func() { _ = w.Close() })
	return w, nil
}

func cmp0(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func (w *Worker) server() *wire.Server {
	return &wire.Server{
		Handlers: map[string]wire.HandlerFunc{
			"identity": func(context.Context, *wire.Comm, map[string]any) (any, error) {
				return map[string]any{"type": "Worker", "id": w.id, "scheduler": w.sched.String(),
					"nthreads": int64(w.opts.NThreads), "memory_limit": w.opts.MemoryLimit, "name": w.Status().Name}, nil
			},
		},
		OnError: func(op string, err error) { w.log.Warn("request failed", "op", op, "err", err) },
	}
}

// Addr returns the address the worker listens on.
func (w *Worker) Addr() string { return w.ln.Addr() }

// Status returns the current state of the link to the scheduler.
func (w *Worker) Status() WorkerStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Close unregisters (by ending its stream), stops listening and waits for
// every goroutine of the worker. It is idempotent.
func (w *Worker) Close() error {
	w.cancel()
	err := w.ln.Close()
	w.wg.Wait()
	return err
}

// loop registers, serves the session until it breaks, and tries again
// with backoff until the worker closes.
func (w *Worker) loop() {
	defer w.wg.Done()
	backoff := w.opts.ReconnectMin
	for w.ctx.Err() == nil {
		registered, err := w.session(w.ctx)
		w.mu.Lock()
		w.status.Registered, w.status.LastError = false, err
		w.mu.Unlock()
		if w.ctx.Err() != nil {
			return
		}
		if registered {
			backoff = w.opts.ReconnectMin
		}
		wait := time.Duration(float64(backoff) * (0.5 + rand.Float64()))
		msg := "cannot register with the scheduler; retrying"
		if registered {
			msg = "lost the scheduler; reconnecting"
		}
		w.log.Warn(msg, "scheduler", w.sched.String(), "in", wait.Round(time.Millisecond), "err", err)
		select {
		case <-w.ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, w.opts.ReconnectMax)
	}
}

// registration is the register-worker message, with the keys both Dask
// generations' schedulers require.
func (w *Worker) registration(contact, name string) map[string]any {
	return map[string]any{
		"op": "register-worker", "reply": false,
		"address": contact, "name": name, "status": "running", "server_id": w.id,
		"nthreads": int64(w.opts.NThreads), "memory_limit": w.opts.MemoryLimit,
		"now": epoch(w.now()), "pid": int64(os.Getpid()), "nanny": nil,
		"keys": []any{}, "nbytes": map[string]any{}, "types": map[string]any{},
		"resources": map[string]any{}, "services": map[string]any{}, "local_directory": "",
		"versions": map[string]any{}, "metrics": map[string]any{}, "extra": map[string]any{},
		"stimulus_id": fmt.Sprintf("worker-connect-%d", w.now().UnixNano()),
	}
}

// name is the name to register under.
func (w *Worker) name(contact string) string {
	if w.opts.Name != "" {
		return w.opts.Name
	}
	if w.sec != nil {
		if id, err := identity.FromCertificate(w.sec.Certificate()); err == nil {
			return id.Name
		}
	}
	return contact
}
