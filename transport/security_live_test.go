package transport

import (
	"context"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
)

// TestLiveRevocationDropsWorker: a scheduler polling its files drops the
// established stream of a worker whose serial appears in a new CRL (the
// worker leaves the cluster and cannot come back), logs its role, name and
// serial, and keeps the other worker.
func TestLiveRevocationDropsWorker(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	s.cfg.Daskca.CRLFile = mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 1))
	s.cfg.Daskca.ReloadInterval = 20 * time.Millisecond
	sched, log := mustScheduler(t, s, SchedulerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sched.sec.Run(ctx)

	workers := map[string]*Worker{}
	leaves := map[string]*secLeaf{}
	for _, name := range []string{"worker-a", "worker-b"} {
		cfg := s.cfg
		leaves[name] = s.ca.issue(t, leafSpec{role: identity.Worker, name: name})
		cfg.TLS.SetFiles(identity.Worker, writeLeaf(t, s, leaves[name]))
		workers[name], _ = mustWorker(t, mustSecurity(t, cfg, identity.Worker), sched.Addr(), WorkerOptions{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
		waitRegistered(t, workers[name], 1)
	}
	revoked := leaves["worker-a"].cert.SerialNumber
	mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 2, revoked))

	waitFor(t, "worker-a to leave the scheduler", func() bool {
		ws := sched.Workers()
		return len(ws) == 1 && ws[0].Peer.ID.Name == "worker-b"
	})
	waitFor(t, "the log of the dropped connection", func() bool {
		return log.has("closing the connection of a peer the new CRL revokes", "role=worker", "name=worker-a", "serial="+revoked.Text(16))
	})
	if st := workers["worker-b"].Status(); !st.Registered || st.Registrations != 1 {
		t.Errorf("worker-b was disturbed: %+v", st)
	}
	// worker-a tries again, and is refused at the handshake.
	waitFor(t, "worker-a's refused reconnection", func() bool {
		st := workers["worker-a"].Status()
		return !st.Registered && st.LastError != nil && st.Registrations == 1 && log.has("connection refused", "certificate revoked")
	})
	if ws := sched.Workers(); len(ws) != 1 {
		t.Errorf("workers = %+v", ws)
	}
}

// TestLiveRevocationDropsScheduler: a worker whose CRL comes to revoke its
// scheduler's certificate closes its stream to it.
func TestLiveRevocationDropsScheduler(t *testing.T) {
	s := mustSecSetup(t, "example.org")
	s.cfg.Daskca.CRLFile = mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 1))
	sched, schedLog := mustScheduler(t, s, SchedulerOptions{})
	wsec := mustSecurity(t, s.cfg, identity.Worker)
	w, wlog := mustWorker(t, wsec, sched.Addr(), WorkerOptions{})
	waitRegistered(t, w, 1)
	mustWrite(t, s.dir, "ca.crl", s.ca.crlNumbered(t, 2, s.leaves[identity.Scheduler].cert.SerialNumber))
	if err := wsec.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker to drop its stream", func() bool { return !w.Status().Registered })
	if !wlog.has("closing the connection of a peer the new CRL revokes", "role=scheduler", "local_role=worker") {
		t.Errorf("worker log:\n%s", wlog)
	}
	waitFor(t, "the scheduler to forget the worker", func() bool { return len(sched.Workers()) == 0 })
	_ = schedLog
}
