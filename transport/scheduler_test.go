package transport

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/wire"
)

func TestSchedulerIdentityShape(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{NThreads: 3, MemoryLimit: 1 << 30})
	st := waitRegistered(t, w, 1)

	c, err := dialAs(t, s.cfg, identity.Client, sched.Addr())
	if err != nil {
		t.Fatal(err)
	}
	v, err := call(t, c, "identity", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("identity is a %T", v)
	}
	for _, k := range []string{"type", "id", "address", "services", "started", "workers"} {
		if _, ok := id[k]; !ok {
			t.Errorf("identity lacks %q: %v", k, id)
		}
	}
	if id["type"] != "Scheduler" || !strings.HasPrefix(asString(id["id"]), "Scheduler-") || id["address"] != sched.Addr() {
		t.Errorf("identity = %v", id)
	}
	if _, ok := id["started"].(float64); !ok {
		t.Errorf("started is a %T, want an epoch float", id["started"])
	}
	workers, _ := id["workers"].(map[string]any)
	entry, _ := workers[st.Address].(map[string]any)
	if entry == nil {
		t.Fatalf("workers = %v, want %s", workers, st.Address)
	}
	if entry["name"] != "worker-1" || entry["nthreads"] != int64(3) || entry["memory_limit"] != int64(1<<30) || entry["host"] != "127.0.0.1" {
		t.Errorf("worker entry = %v", entry)
	}
	cert, _ := entry["certificate"].(map[string]any)
	if cert["role"] != "worker" || cert["serial"] != s.leaves[identity.Worker].cert.SerialNumber.Text(16) {
		t.Errorf("worker certificate = %v", cert)
	}
	if id["n_workers"] != int64(1) || id["total_threads"] != int64(3) {
		t.Errorf("n_workers, total_threads = %v, %v", id["n_workers"], id["total_threads"])
	}
}

func TestSchedulerLogsPeers(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, log := mustScheduler(t, s, SchedulerOptions{})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	serial := "serial=" + s.leaves[identity.Worker].cert.SerialNumber.Text(16)
	waitFor(t, "the registration log line", func() bool {
		return log.has("worker registered", "role=worker", "name=worker-1", serial)
	})
	if !log.has("msg=connection", "role=worker", serial) {
		t.Errorf("no connection line with the worker's certificate:\n%s", log)
	}
}

func TestSchedulerForgetsSilentWorker(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	clock := newFakeClock()
	sched, log := mustScheduler(t, s, SchedulerOptions{Now: clock.Now, WorkerTTL: time.Minute})
	c, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if r := register(t, c, "tls://127.0.0.1:1", "silent"); r["status"] != "OK" {
		t.Fatalf("registration: %v", r)
	}
	clock.Advance(59 * time.Second)
	sched.forgetSilent()
	if n := len(sched.Workers()); n != 1 {
		t.Fatalf("forgot a worker within its TTL: %d workers", n)
	}
	clock.Advance(2 * time.Second)
	sched.forgetSilent()
	if n := len(sched.Workers()); n != 0 {
		t.Fatalf("kept a worker silent past its TTL: %d workers", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if _, err := c.Read(ctx); !errors.Is(err, wire.ErrClosed) {
		t.Errorf("the forgotten worker's stream: read = %v, want it closed", err)
	}
	if !log.has("worker forgotten", "no heartbeat for 1m1s") {
		t.Errorf("no log line for the forgotten worker:\n%s", log)
	}
}

func TestSchedulerHeartbeats(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	clock := newFakeClock()
	sched, _ := mustScheduler(t, s, SchedulerOptions{Now: clock.Now, HeartbeatInterval: 10 * time.Millisecond})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	registered := sched.Workers()[0].LastSeen
	clock.Advance(time.Hour)
	waitFor(t, "a heartbeat", func() bool {
		ws := sched.Workers()
		return len(ws) == 1 && ws[0].LastSeen.After(registered)
	})
}

func TestSchedulerHeartbeatReplies(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	stream, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if r := register(t, stream, "tls://127.0.0.1:2", "w"); r["status"] != "OK" || r["worker-plugins"] == nil {
		t.Fatalf("registration answer = %v", r)
	}
	rpc, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, addr, status string
	}{
		{"registered", "tls://127.0.0.1:2", "OK"},
		{"unknown", "tls://127.0.0.1:3", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := call(t, rpc, "heartbeat_worker", map[string]any{"address": tt.addr})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := v.(map[string]any)
			if r["status"] != tt.status {
				t.Errorf("heartbeat reply = %v, want status %s", v, tt.status)
			}
		})
	}
	v, err := call(t, rpc, "unregister", map[string]any{"address": "tls://127.0.0.1:2"})
	if err != nil || v != "OK" || len(sched.Workers()) != 0 {
		t.Errorf("unregister = %v, %v; %d workers left", v, err, len(sched.Workers()))
	}
}

func TestSchedulerNameTaken(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, _ := mustScheduler(t, s, SchedulerOptions{})
	a, err := dialAs(t, s.cfg, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	if r := register(t, a, "tls://127.0.0.1:2", "dup"); r["status"] != "OK" {
		t.Fatalf("first registration: %v", r)
	}
	other := s.cfg
	other.TLS.SetFiles(identity.Worker, writeLeaf(t, s, s.ca.issue(t, leafSpec{role: identity.Worker, name: "worker-2"})))
	b, err := dialAs(t, other, identity.Worker, sched.Addr(), identity.Scheduler)
	if err != nil {
		t.Fatal(err)
	}
	r := register(t, b, "tls://127.0.0.1:3", "dup")
	if r["status"] != "error" || !strings.Contains(asString(r["message"]), "name taken") {
		t.Errorf("second registration under the same name = %v", r)
	}
}

func TestSchedulerClose(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	sched, log := mustScheduler(t, s, SchedulerOptions{})
	w, _ := mustWorker(t, mustSecurity(t, s.cfg, identity.Worker), sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	if err := sched.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sched.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitFor(t, "the worker to notice", func() bool { return !w.Status().Registered })
	if !log.has("scheduler stopped") {
		t.Errorf("no stop line:\n%s", log)
	}
	if _, err := dialAs(t, s.cfg, identity.Client, sched.Addr()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("dialing a closed scheduler: %v, want ErrUnreachable", err)
	}
}
