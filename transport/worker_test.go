package transport

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

func TestWorkerReconnectsToRestartedScheduler(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	first, _ := mustScheduler(t, s, SchedulerOptions{})
	addr := first.Addr()
	w, log := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), addr, WorkerOptions{})
	waitRegistered(t, w, 1)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker to retry", func() bool { return log.has("cannot register with the scheduler; retrying") })
	second, _ := mustScheduler(t, s, SchedulerOptions{Listen: addr})
	st := waitRegistered(t, w, 2)
	if ws := second.Workers(); len(ws) != 1 || ws[0].Address != st.Address {
		t.Errorf("the new scheduler knows %v, want %s", ws, st.Address)
	}
	if !log.has("lost the scheduler; reconnecting") {
		t.Errorf("no log line for the lost scheduler:\n%s", log)
	}
}

func TestWorkerRegistersAgainWhenForgotten(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	clock := newFakeClock()
	sched, _ := mustScheduler(t, s, SchedulerOptions{Now: clock.Now, WorkerTTL: time.Minute})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	clock.Advance(time.Hour)
	sched.forgetSilent()
	waitRegistered(t, w, 2)
	if n := len(sched.Workers()); n != 1 {
		t.Errorf("%d workers after the re-registration, want 1", n)
	}
}

func TestWorkerAnswersTheScheduler(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	w, log := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{Name: "node07"})
	st := waitRegistered(t, w, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	v, err := sched.CallWorker(ctx, st.Address, "identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := v.(map[string]any)
	if id["type"] != "Worker" || id["name"] != "node07" || id["scheduler"] != sched.Addr() {
		t.Errorf("worker identity = %v", v)
	}
	waitFor(t, "the worker's connection log", func() bool { return log.has("msg=connection", "role=scheduler", "name=scheduler-1") })
}

func TestWorkerUnregistersOnClose(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, log := mustScheduler(t, s, SchedulerOptions{})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the scheduler to forget the worker", func() bool { return len(sched.Workers()) == 0 })
	// The scheduler logs the removal just after it forgets the worker.
	waitFor(t, "the scheduler to log the removal", func() bool { return log.has("worker removed", "stream closed") })
}

// TestRoleMatrix runs every certificate role against every operation of
// the scheduler and the worker: who may connect, who may register, and
// whom a worker accepts as its scheduler.
func TestRoleMatrix(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, schedLog := mustScheduler(t, s, SchedulerOptions{})
	// The worker under test has a certificate of its own: the matrix's
	// worker certificate registers below, and under the strict policy one
	// identity holds one registration, so sharing it would displace this
	// worker until it registered again.
	realLeaf := s.ca.issue(t, leafSpec{role: identity.Worker, name: "real"})
	realCfg := s.cfg
	realCfg.TLS.Worker = writeLeaf(t, s, realLeaf)
	w, _ := mustWorker(t, mustSecurity(t, realCfg, identity.Worker), sched.Addr(), WorkerOptions{Name: "real"})
	waitRegistered(t, w, 1)
	// Any certificate may dial: the dask policy on the dialing side, so
	// that only the listener's checks are tested.
	loose := s.cfg
	loose.Daskca.RolePolicy = daskconfig.PolicyDask
	tests := []struct {
		role        identity.Role
		connectSch  bool // TLS to the scheduler accepted
		registerSch bool // register-worker accepted
		connectWkr  bool // TLS to the worker accepted
	}{
		{identity.Scheduler, false, false, true},
		{identity.Worker, true, true, true},
		{identity.Client, true, false, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			c, err := dialAs(t, loose, tt.role, sched.Addr())
			if (err == nil) != tt.connectSch {
				t.Fatalf("connecting to the scheduler: %v, want accepted=%v", err, tt.connectSch)
			}
			if err != nil {
				if !errors.Is(err, ErrRejected) {
					t.Errorf("refusal by the scheduler: %v, want ErrRejected", err)
				}
				waitFor(t, "the refusal log", func() bool { return schedLog.has("connection refused", "has role "+string(tt.role)) })
			} else {
				r := register(t, c, "tls://127.0.0.1:9", "as-"+string(tt.role))
				if (r["status"] == "OK") != tt.registerSch {
					t.Errorf("register-worker with a %s certificate: %v, want accepted=%v", tt.role, r, tt.registerSch)
				}
				if !tt.registerSch && !strings.Contains(asString(r["message"]), "needs a worker certificate") {
					t.Errorf("refusal message = %q", r["message"])
				}
			}
			_, err = dialAs(t, loose, tt.role, w.Addr())
			if (err == nil) != tt.connectWkr {
				t.Errorf("connecting to the worker: %v, want accepted=%v", err, tt.connectWkr)
			}
		})
	}
	t.Run("worker refuses a worker posing as scheduler", func(t *testing.T) {
		other, log := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), w.Addr(), WorkerOptions{Name: "misdirected"})
		waitFor(t, "the refusal", func() bool { return errors.Is(other.Status().LastError, ErrPeerRefused) })
		// The worker logs the refusal just after it records it.
		waitFor(t, "a log line naming the peer's role", func() bool { return log.has("cannot register", "has role worker") })
	})
	impostor := s.ca.issue(t, leafSpec{role: identity.Worker, name: "impostor"})
	impostorCfg := loose
	impostorCfg.TLS.Worker = writeLeaf(t, s, impostor)
	for _, tt := range []struct{ name, op string }{{"heartbeat", "heartbeat_worker"}, {"unregister", "unregister"}} {
		op := tt.op
		t.Run(tt.name+" for another worker", func(t *testing.T) {
			c, err := dialAs(t, impostorCfg, identity.Worker, sched.Addr())
			if err != nil {
				t.Fatal(err)
			}
			addr := w.Status().Address
			if got, ok := sched.lookup(addr); !ok || got.Peer.ID.Name != "real" {
				t.Fatalf("the scheduler has %+v at %s (registered %v), want the worker real", got, addr, ok)
			}
			v, err := call(t, c, op, map[string]any{"address": addr})
			var rerr *wire.RemoteError
			if !errors.As(err, &rerr) || !strings.Contains(rerr.ExceptionText, "registered by") {
				t.Errorf("%s for another worker: %v, %v, want a refusal", op, v, err)
			}
			if got, ok := sched.lookup(addr); !ok || got.Peer.ID.Name != "real" {
				t.Errorf("after the refused %s the scheduler has %+v at %s (registered %v), want the worker real", op, got, addr, ok)
			}
		})
	}
}

func TestRequireEncryption(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	yes := true
	s.cfg.RequireEncryption = &yes
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	sec := mustSecurity(t, s.cfg, identity.Worker)
	tests := []struct {
		name string
		run  func() error
	}{
		{"scheduler listening on tcp", func() error {
			_, err := ListenScheduler(context.Background(), mustSecurity(t, s.cfg, identity.Scheduler), SchedulerOptions{Listen: "tcp://127.0.0.1:0"})
			return err
		}},
		{"worker dialing tcp", func() error {
			_, err := ListenWorker(context.Background(), sec, WorkerOptions{Scheduler: "tcp://127.0.0.1:8786", Listen: "tls://127.0.0.1:0"})
			return err
		}},
		{"worker listening on tcp", func() error {
			_, err := ListenWorker(context.Background(), sec, WorkerOptions{Scheduler: sched.Addr(), Listen: "tcp://127.0.0.1:0"})
			return err
		}},
		{"probe of tcp", func() error {
			_, err := Probe(context.Background(), "tcp://127.0.0.1:1", ProbeOptions{Security: sec})
			return err
		}},
		{"scheduler calling a worker on tcp", func() error {
			_, err := sched.CallWorker(context.Background(), "tcp://127.0.0.1:1", "identity", nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, daskconfig.ErrEncryptionRequired) {
				t.Errorf("err = %v, want ErrEncryptionRequired", err)
			}
		})
	}
	t.Run("tls still works", func(t *testing.T) {
		w, _ := mustWorker(t, sec, sched.Addr(), WorkerOptions{})
		waitRegistered(t, w, 1)
	})
}

func TestPlainTCPWithoutSecurity(t *testing.T) {
	sched, err := ListenScheduler(context.Background(), nil, SchedulerOptions{Listen: "tcp://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer sched.Close()
	w, err := ListenWorker(context.Background(), nil, WorkerOptions{Scheduler: sched.Addr(), Listen: "tcp://127.0.0.1:0", ReconnectMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	st := waitRegistered(t, w, 1)
	if ws := sched.Workers(); len(ws) != 1 || ws[0].Peer.Authenticated() || ws[0].Name != st.Address {
		t.Errorf("workers = %+v", ws)
	}
	if _, err := ListenScheduler(context.Background(), nil, SchedulerOptions{Listen: "tls://127.0.0.1:0"}); !errors.Is(err, ErrTLSRequired) {
		t.Errorf("tls without security: %v, want ErrTLSRequired", err)
	}
}

func TestIPv6Loopback(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{Listen: "tls://[::1]:0"})
	if !strings.HasPrefix(sched.Addr(), "tls://[::1]:") {
		t.Fatalf("scheduler address = %s", sched.Addr())
	}
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{Listen: "tls://[::1]:0"})
	st := waitRegistered(t, w, 1)
	if !strings.HasPrefix(st.Address, "tls://[::1]:") {
		t.Errorf("worker registered as %s", st.Address)
	}
	res, err := Probe(context.Background(), sched.Addr(), ProbeOptions{Security: mustSecurity(t, s.cfg, identity.Client)})
	if err != nil || res.Identity.Workers != 1 || res.Identity.Address != sched.Addr() {
		t.Errorf("probe over IPv6: %+v, %v", res.Identity, err)
	}
}
