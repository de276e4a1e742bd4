package transport

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// waitBound bounds every wait for something the scheduler or worker does
// in the background; it is reached only when the test is failing.
const waitBound = 20 * time.Second

// waitFor polls cond until it holds, failing the test after waitBound.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", waitBound, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: secNow} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// has reports whether a log line contains every one of parts.
func (l *logBuffer) has(parts ...string) bool {
	for line := range strings.Lines(l.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// mustScheduler starts a scheduler on loopback with the setup's scheduler
// certificate, logging into log, closed when the test ends.
func mustScheduler(t testing.TB, s *secSetup, opts SchedulerOptions) (*Scheduler, *logBuffer) {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "tls://127.0.0.1:0"
	}
	log := &logBuffer{}
	opts.Logger = log.logger()
	sched, err := ListenScheduler(context.Background(), mustSecurity(t, s.cfg, identity.Scheduler), opts)
	if err != nil {
		t.Fatalf("ListenScheduler: %v", err)
	}
	t.Cleanup(func() { _ = sched.Close() })
	return sched, log
}

// mustWorker starts a worker of the setup registering with sched.
func mustWorker(t testing.TB, sec *Security, sched string, opts WorkerOptions) (*Worker, *logBuffer) {
	t.Helper()
	opts.Scheduler = sched
	if opts.Listen == "" {
		opts.Listen = "tls://127.0.0.1:0"
	}
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin, opts.ReconnectMax = 10*time.Millisecond, 50*time.Millisecond
	}
	log := &logBuffer{}
	opts.Logger = log.logger()
	w, err := ListenWorker(context.Background(), sec, opts)
	if err != nil {
		t.Fatalf("ListenWorker: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, log
}

// waitRegistered waits until the worker is registered for the n-th time.
func waitRegistered(t testing.TB, w *Worker, n int) WorkerStatus {
	t.Helper()
	waitFor(t, "the worker to register", func() bool {
		st := w.Status()
		return st.Registered && st.Registrations >= n
	})
	return w.Status()
}

// dialAs opens a comm to addr with the certificate of role, expecting a
// peer of the expect roles.
func dialAs(t testing.TB, cfg daskconfig.Config, role identity.Role, addr string, expect ...identity.Role) (*wire.Comm, error) {
	t.Helper()
	sec := mustSecurity(t, cfg, role)
	a, err := daskconfig.ParseAddr(addr, daskconfig.SchemeTLS)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connectExplained(context.Background(), addr, sec.ClientConfigFor(a, expect...), wire.CommOptions{HandshakeTimeout: waitBound})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// register sends register-worker on c as a Dask worker does and returns
// the scheduler's answer.
func register(t testing.TB, c *wire.Comm, addr, name string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := wire.Send(ctx, c, "register-worker", map[string]any{"address": addr, "name": name, "nthreads": int64(2), "memory_limit": int64(1 << 30)}); err != nil {
		t.Fatalf("sending register-worker: %v", err)
	}
	m, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("reading the registration answer: %v", err)
	}
	d, ok := m.Dict()
	if !ok {
		t.Fatalf("registration answer %v is not a map", m.Value)
	}
	return d
}

// call calls op on c within waitBound.
func call(t testing.TB, c *wire.Comm, op string, args map[string]any) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	return wire.Call(ctx, c, op, args)
}
