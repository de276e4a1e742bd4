package transport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// TestPolicyTableConsistent: every operation on a listener is allowed only
// to peers its listener accepts at all, and every row names known roles.
func TestPolicyTableConsistent(t *testing.T) {
	for _, r := range PolicyTable() {
		if !slices.Contains(identity.Roles, r.Local) {
			t.Errorf("row %+v: unknown local role", r)
		}
		switch r.Op {
		case OpAccept, OpDial, OpDialScheduler:
			continue
		}
		accept := Peers(r.Local, OpAccept)
		for _, p := range r.Peers {
			if !slices.Contains(accept, p) {
				t.Errorf("row %+v allows %s, which the %s listener does not accept", r, p, r.Local)
			}
		}
	}
}

// policyEnv is a real Go scheduler and worker over loopback TLS, every
// role's certificate, under one role policy.
type policyEnv struct {
	policy string
	s      *secSetup
	cfg    daskconfig.Config
	sched  *Scheduler
	worker *Worker
	n      int // for unique worker addresses
}

func newPolicyEnv(t *testing.T, policy string) *policyEnv {
	s := mustSecSetup(t, "example.org")
	s.cfg.Daskca.RolePolicy = policy
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	// The live worker has a certificate of its own: registrations made by
	// the tests with worker-1's would replace its registration.
	live := s.cfg
	live.TLS.SetFiles(identity.Worker, writeLeaf(t, s, s.ca.issue(t, leafSpec{role: identity.Worker, name: "worker-live"})))
	w, _ := mustWorker(t, mustSecurity(t, live, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	return &policyEnv{policy: policy, s: s, cfg: s.cfg, sched: sched, worker: w}
}

// dial connects to addr with peer's certificate, the dialer accepting any
// role, so that only the listener decides.
func (e *policyEnv) dial(t *testing.T, peer identity.Role, addr string) (*wire.Comm, error) {
	return dialAs(t, e.cfg, peer, addr, identity.Roles...)
}

func (e *policyEnv) uniqueAddr() string {
	e.n++
	return fmt.Sprintf("tls://127.0.0.1:%d", 20000+e.n)
}

// listenAs serves register-worker (the answer OK, then the stream),
// heartbeat_worker and identity with peer's certificate, accepting any
// dialer, so that only the dialer decides.
func (e *policyEnv) listenAs(t *testing.T, peer identity.Role) string {
	srv := &wire.Server{Handlers: map[string]wire.HandlerFunc{
		"identity": func(context.Context, *wire.Comm, map[string]any) (any, error) {
			return map[string]any{"type": "Scheduler"}, nil
		},
		"register-worker": func(ctx context.Context, c *wire.Comm, _ map[string]any) (any, error) {
			_ = c.Write(ctx, map[string]any{"status": "OK", "heartbeat-interval": 10.0})
			for {
				if _, err := c.Read(ctx); err != nil {
					return wire.NoReply, nil
				}
			}
		},
		"heartbeat_worker": func(context.Context, *wire.Comm, map[string]any) (any, error) {
			return map[string]any{"status": "OK"}, nil
		},
	}}
	return mustServe(t, daskconfig.SchemeTLS, mustSecurity(t, e.cfg, peer).ServerConfig(identity.Roles...), srv, ListenOptions{}).Addr()
}

// registered registers a worker with worker-1's certificate (allowed under
// both policies) at a fresh address and returns it.
func (e *policyEnv) registered(t *testing.T) string {
	c, err := e.dial(t, identity.Worker, e.sched.Addr())
	if err != nil {
		t.Fatal(err)
	}
	addr := e.uniqueAddr()
	if r := register(t, c, addr, addr); r["status"] != "OK" {
		t.Fatalf("registering worker-1: %v", r)
	}
	return addr
}

// try does op on the endpoint of role local as a peer of role peer and
// reports whether it was allowed. applicable is false where the operation
// cannot be tried for reasons outside the role policy: a client
// certificate cannot serve TLS (no serverAuth), whatever the policy.
func (e *policyEnv) try(t *testing.T, local identity.Role, op Operation, peer identity.Role) (allowed, applicable bool) {
	if (op == OpDial || op == OpDialScheduler) && peer == identity.Client {
		return false, false
	}
	switch op {
	case OpAccept:
		addr := e.sched.Addr()
		if local == identity.Worker {
			addr = e.worker.Addr()
		}
		_, err := e.dial(t, peer, addr)
		return err == nil, true
	case OpRegisterWorker:
		c, err := e.dial(t, peer, e.sched.Addr())
		if err != nil {
			return false, true
		}
		addr := e.uniqueAddr()
		return register(t, c, addr, addr)["status"] == "OK", true
	case OpHeartbeatWorker, OpUnregister:
		addr := e.registered(t)
		c, err := e.dial(t, peer, e.sched.Addr())
		if err != nil {
			return false, true
		}
		v, err := call(t, c, string(op), map[string]any{"address": addr})
		if d, ok := v.(map[string]any); ok {
			v = d["status"]
		}
		return err == nil && v == "OK", true
	case OpRegisterClient:
		c, err := e.dial(t, peer, e.sched.Addr())
		if err != nil {
			return false, true
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		defer cancel()
		if err := wire.Send(ctx, c, "register-client", map[string]any{"client": "Client-1"}); err != nil {
			t.Fatal(err)
		}
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		start, _ := m.Value.([]any)
		if len(start) != 1 {
			t.Fatalf("register-client answer %v", m.Value)
		}
		d, _ := start[0].(map[string]any)
		return d["op"] == "stream-start" && d["error"] == ErrNoTasks.Error(), true
	case OpDial:
		addr := e.listenAs(t, peer)
		var err error
		if local == identity.Scheduler {
			_, err = e.sched.CallWorker(context.Background(), addr, "identity", nil)
		} else {
			sec := mustSecurity(t, e.cfg, local)
			var c *wire.Comm
			if c, err = Connect(context.Background(), addr, sec.ClientConfig(), wire.CommOptions{}); err == nil {
				_ = c.Close()
			}
		}
		return err == nil, true
	case OpDialScheduler:
		addr := e.listenAs(t, peer)
		if local == identity.Worker {
			w, _ := mustWorker(t, mustSecurity(t, e.cfg, identity.Worker), addr, WorkerOptions{})
			waitFor(t, "the worker's first attempt", func() bool { st := w.Status(); return st.Registered || st.LastError != nil })
			st := w.Status()
			if !st.Registered && !errors.Is(st.LastError, ErrPeerRefused) {
				t.Fatalf("worker failed otherwise: %v", st.LastError)
			}
			return st.Registered, true
		}
		a, err := daskconfig.ParseAddr(addr, daskconfig.SchemeTLS)
		if err != nil {
			t.Fatal(err)
		}
		sec := mustSecurity(t, e.cfg, local)
		c, err := Connect(context.Background(), addr, sec.ClientConfigFor(a, Peers(local, OpDialScheduler)...), wire.CommOptions{})
		if err == nil {
			_ = c.Close()
		}
		return err == nil, true
	}
	t.Fatalf("no way to try %s on a %s", op, local)
	return false, false
}

// TestPolicyTableLive walks every row of the policy table, with a peer of
// every role, under both role policies, against a real Go scheduler and
// worker over loopback TLS: what happens is what Allowed says.
func TestPolicyTableLive(t *testing.T) {
	for _, policy := range []string{daskconfig.PolicyStrict, daskconfig.PolicyDask} {
		e := newPolicyEnv(t, policy)
		for _, r := range PolicyTable() {
			for _, peer := range identity.Roles {
				t.Run(fmt.Sprintf("%s/%s/%s/by-%s", policy, r.Local, r.Op, peer), func(t *testing.T) {
					got, applicable := e.try(t, r.Local, r.Op, peer)
					if !applicable {
						return // see try: outside the role policy
					}
					if want := Allowed(policy, r.Local, r.Op, peer); got != want {
						t.Fatalf("allowed = %v, the table says %v", got, want)
					}
				})
			}
		}
	}
}

// TestPolicySameWorker: under the strict policy a heartbeat or unregister
// for a worker from another worker certificate is refused, though the
// table lets workers do both.
func TestPolicySameWorker(t *testing.T) {
	e := newPolicyEnv(t, daskconfig.PolicyStrict)
	other := e.cfg
	other.TLS.SetFiles(identity.Worker, writeLeaf(t, e.s, e.s.ca.issue(t, leafSpec{role: identity.Worker, name: "worker-2"})))
	for _, op := range []Operation{OpHeartbeatWorker, OpUnregister} {
		t.Run(string(op), func(t *testing.T) {
			addr := e.registered(t)
			c, err := dialAs(t, other, identity.Worker, e.sched.Addr(), identity.Scheduler)
			if err != nil {
				t.Fatal(err)
			}
			var rerr *wire.RemoteError
			if _, err := call(t, c, string(op), map[string]any{"address": addr}); !errors.As(err, &rerr) {
				t.Fatalf("%s from another worker: %v, want refused", op, err)
			}
		})
	}
}
