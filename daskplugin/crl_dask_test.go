package daskplugin

import (
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// waitCount waits until at least n complete log lines of p hold substr.
func waitCount(t *testing.T, p *dasktest.Proc, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for p.CountLines(substr) < n {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d lines holding %q from %s", timeout, n, substr, p.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// identityAs asks the scheduler for its identity over Dask's rpc with ep's
// certificate and no plugin; nil means the scheduler answered.
func (ep *endpoint) identityAs(addr string) error {
	e := ep.e
	_, err := e.rt.RunPython(e.t, dasktest.RPCIdentityScript, []string{"ADDR=" + addr,
		"CA=" + e.p(e.bundle), "CERT=" + e.p(ep.cert), "KEY=" + e.p(ep.key)}, time.Minute)
	return err
}

// TestRevocation: a new CRL refuses new handshakes of the peers it revokes
// and closes the established connections of a revoked worker, which leaves
// the cluster; a CRL with a lower number is refused and the newer stays; a
// CRL past its next update is still used, with a warning, and the cluster
// keeps computing.
func TestRevocation(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			early := e.issue(identity.Client, identity.Client, "early")
			e.writeCRL(e.ca, 1, time.Now().Add(time.Hour), early.serial)
			sched := e.issue(identity.Scheduler, identity.Scheduler, "sched").startScheduler()
			waitLog(t, sched, "CRL check in the handshake", 10*time.Second)
			// the very first connection the scheduler accepts is checked against the CRL
			if err := early.identityAs(sched.Addr); err == nil {
				t.Fatal("a client revoked before the scheduler started got an answer")
			}
			waitLog(t, sched, dasktest.LogTLSHandshakeFailed, 30*time.Second)
			e.issue(identity.Worker, identity.Worker, "w1").startWorker(sched)
			w2 := e.issue(identity.Worker, identity.Worker, "w2")
			w2p := w2.startWorker(sched, "--no-nanny")
			alice := e.issue(identity.Client, identity.Client, "alice")
			mallory := e.issue(identity.Client, identity.Client, "mallory")
			if err := mallory.identityAs(sched.Addr); err != nil {
				t.Fatalf("mallory before revocation: %v", err)
			}

			loaded := "new scheduler material in use"
			e.writeCRL(e.ca, 2, time.Now().Add(time.Hour), mallory.serial, w2.serial)
			start := time.Now()
			waitLog(t, sched, "closing the connection", 30*time.Second)
			waitLog(t, sched, "Remove worker", 30*time.Second)
			t.Logf("revoked worker removed %v after the CRL was written (reload interval %v)", time.Since(start).Round(10*time.Millisecond), testInterval)
			if line := waitLog(t, sched, "closing the connection", time.Second); !strings.Contains(line, "role=worker name=w2 serial="+hexSerial(w2.serial)) {
				t.Errorf("closing line does not name w2: %s", line)
			}
			if line := waitLog(t, sched, "Remove worker", time.Second); !strings.Contains(line, w2p.Addr) && !strings.Contains(line, "w2") {
				t.Errorf("removed another worker than w2: %s", line)
			}
			t.Run("revoked client refused at the handshake", func(t *testing.T) {
				if err := mallory.identityAs(sched.Addr); err == nil {
					t.Fatal("revoked client got an answer")
				}
			})

			t.Run("lower CRL number refused", func(t *testing.T) {
				e.writeCRL(e.ca, 1, time.Now().Add(time.Hour))
				waitLog(t, sched, "has number 1, older than the loaded number 2; keeping the newer one", 30*time.Second)
				if err := mallory.identityAs(sched.Addr); err == nil {
					t.Fatal("revoked client got in after an older CRL was written")
				}
			})

			t.Run("stale CRL used with a warning", func(t *testing.T) {
				n := sched.CountLines(loaded)
				e.writeCRL(e.ca, 3, time.Now().Add(-time.Minute), mallory.serial, w2.serial)
				waitLog(t, sched, "is past its next update", 30*time.Second)
				waitCount(t, sched, loaded, n+1, 30*time.Second)
				if line := waitLog(t, sched, loaded, time.Second); sched.CountLines("CRL check after the handshake") == 0 {
					t.Errorf("stale CRL still checked by OpenSSL: %s", line)
				}
				if err := mallory.identityAs(sched.Addr); err == nil {
					t.Fatal("revoked client got in with a stale CRL")
				}
				waitLog(t, sched, "refused a connection to the scheduler listener from role=client name=mallory serial="+hexSerial(mallory.serial)+": certificate is revoked", 30*time.Second)
				out, err := alice.runPython(computeScript, sched.Addr)
				if err != nil || strings.TrimSpace(out) != "41 2" {
					t.Fatalf("cluster stopped computing with a stale CRL: out=%q err=%v", out, err)
				}
			})
		})
	}
}
