package transport

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
	"github.com/daskca/daskca/transport/wire"
)

// TestRegistrationTiedToCertificate: under the strict policy a worker
// certificate cannot take over another worker's address or name, and one
// certificate holds one registration (registering again replaces it).
func TestRegistrationTiedToCertificate(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	w2 := s.cfg
	w2.TLS.SetFiles(identity.Worker, writeLeaf(t, s, s.ca.issue(t, leafSpec{role: identity.Worker, name: "worker-2"})))
	dial := func(cfg daskconfig.Config) *wire.Comm {
		t.Helper()
		c, err := dialAs(t, cfg, identity.Worker, sched.Addr(), identity.Scheduler)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const addrA, addrB, addrC = "tls://127.0.0.1:101", "tls://127.0.0.1:102", "tls://127.0.0.1:103"
	first := dial(s.cfg)
	if r := register(t, first, addrA, "alpha"); r["status"] != "OK" {
		t.Fatalf("worker-1's registration: %v", r)
	}
	registeredBy := func(addr string) string {
		w, ok := sched.lookup(addr)
		if !ok {
			return ""
		}
		return w.Peer.ID.Name
	}

	tests := []struct {
		name    string
		cfg     daskconfig.Config
		addr    string
		wname   string
		wantOK  bool
		wantMsg string
	}{
		{"another certificate at the same address", w2, addrA, "beta", false, "address tls://127.0.0.1:101 is registered by"},
		{"another certificate under the same name", w2, addrB, "alpha", false, "name taken, alpha is registered by"},
		{"another certificate, its own address and name", w2, addrB, "beta", true, ""},
		{"the same certificate again, elsewhere and renamed", s.cfg, addrC, "gamma", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := register(t, dial(tt.cfg), tt.addr, tt.wname)
			if ok := r["status"] == "OK"; ok != tt.wantOK || !strings.Contains(asString(r["message"]), tt.wantMsg) {
				t.Fatalf("registration = %v, want ok=%v with %q", r, tt.wantOK, tt.wantMsg)
			}
		})
	}
	if got := registeredBy(addrA); got != "" {
		t.Errorf("worker-1's first registration is still there (by %q): one certificate, two registrations", got)
	}
	if registeredBy(addrB) != "worker-2" || registeredBy(addrC) != "worker-1" || len(sched.Workers()) != 2 {
		t.Errorf("workers = %+v", sched.Workers())
	}
	// The replaced registration's stream was closed.
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := first.Read(ctx); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("the replaced stream: read %v, want it closed", err)
	}
}

// TestRegistrationTakeoverKeepsVictim: a refused takeover leaves the
// registered worker and its stream alone.
func TestRegistrationTakeoverKeepsVictim(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	st := waitRegistered(t, w, 1)
	attacker := s.cfg
	attacker.TLS.SetFiles(identity.Worker, writeLeaf(t, s, s.ca.issue(t, leafSpec{role: identity.Worker, name: "mallory"})))
	c, err := dialAs(t, attacker, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if r := register(t, c, st.Address, "mallory"); r["status"] != "error" {
		t.Fatalf("takeover of %s: %v", st.Address, r)
	}
	if got := w.Status(); !got.Registered || got.Registrations != 1 {
		t.Errorf("the victim lost its registration: %+v", got)
	}
	if ws := sched.Workers(); len(ws) != 1 || ws[0].Peer.ID.Name != "worker-1" {
		t.Errorf("workers = %+v", ws)
	}
}

// TestSchedulerRefusesClientOps: a client's register-client gets the
// stream-start error Dask's Client raises, and its other calls an error
// naming ErrNoTasks; a worker's unknown op still gets None, as from Dask.
func TestSchedulerRefusesClientOps(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	client, err := dialAs(t, s.cfg, identity.Client, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	var rerr *wire.RemoteError
	if _, err := call(t, client, "gather", map[string]any{"keys": []any{"x"}}); !errors.As(err, &rerr) || !strings.Contains(rerr.ExceptionText, "runs no tasks") {
		t.Errorf("gather from a client: %v, want an error saying the scheduler runs no tasks", err)
	}
	worker, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := call(t, worker, "some-worker-op", nil); err != nil || v != nil {
		t.Errorf("unknown op from a worker = %v, %v; want None", v, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := wire.Send(ctx, client, "register-client", map[string]any{"client": "Client-1"}); err != nil {
		t.Fatal(err)
	}
	m, err := client.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{map[string]any{"op": "stream-start", "error": ErrNoTasks.Error()}}
	if !reflect.DeepEqual(m.Value, want) {
		t.Errorf("register-client answer = %v, want %v", m.Value, want)
	}
}

// TestHeartbeatRacingTakeover: a heartbeat checked against one worker's
// registration must not land on the registration that replaced it. The
// scheduler's clock, read while the heartbeat is handled, is where the
// test lets the first worker's stream end and another certificate
// register at the same address.
func TestHeartbeatRacingTakeover(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	clock := newFakeClock()
	var hook atomic.Pointer[func()]
	now := func() time.Time {
		if f := hook.Swap(nil); f != nil {
			(*f)()
		}
		return clock.Now()
	}
	sched, _ := mustScheduler(t, s, SchedulerOptions{Now: now})
	other := s.cfg
	other.TLS.SetFiles(identity.Worker, writeLeaf(t, s, s.ca.issue(t, leafSpec{role: identity.Worker, name: "worker-2"})))
	dial := func(cfg daskconfig.Config) *wire.Comm {
		t.Helper()
		c, err := dialAs(t, cfg, identity.Worker, sched.Addr(), identity.Scheduler)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	const addr = "tls://127.0.0.1:101"
	stream, rpc, next := dial(s.cfg), dial(s.cfg), dial(other)
	if r := register(t, stream, addr, "alpha"); r["status"] != "OK" {
		t.Fatalf("worker-1's registration: %v", r)
	}
	took := make(chan error, 1)
	takeover := func() { took <- takeOver(sched, stream, next, addr, clock) }
	hook.Store(&takeover)

	v, err := call(t, rpc, "heartbeat_worker", map[string]any{"address": addr})
	if err := <-took; err != nil {
		t.Fatalf("the takeover during the heartbeat: %v", err)
	}
	var rerr *wire.RemoteError
	if !errors.As(err, &rerr) || !strings.Contains(rerr.ExceptionText, "registered by") {
		t.Errorf("worker-1's heartbeat for %s, now worker-2's: %v, %v; want a refusal", addr, v, err)
	}
	w, ok := sched.lookup(addr)
	if !ok || w.Peer.ID.Name != "worker-2" || !w.LastSeen.Equal(w.Registered) {
		t.Errorf("%s after worker-1's heartbeat: %+v (registered %v); want worker-2's registration, not refreshed", addr, w, ok)
	}
}

// takeOver ends the registration on stream, waits until the scheduler has
// forgotten addr, registers addr on next and moves the clock on.
func takeOver(sched *Scheduler, stream, next *wire.Comm, addr string, clock *fakeClock) error {
	_ = stream.Close()
	deadline := time.Now().Add(waitBound)
	for _, ok := sched.lookup(addr); ok; _, ok = sched.lookup(addr) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still registered after its stream closed", addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if err := wire.Send(ctx, next, "register-worker", map[string]any{"address": addr, "name": "beta"}); err != nil {
		return err
	}
	m, err := next.Read(ctx)
	if err != nil {
		return err
	}
	if d, _ := m.Dict(); d["status"] != "OK" {
		return fmt.Errorf("worker-2's registration at %s: %v", addr, m.Value)
	}
	clock.Advance(time.Minute)
	return nil
}
