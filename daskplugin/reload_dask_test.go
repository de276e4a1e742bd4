package daskplugin

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
)

// waitServes waits until the TLS server at addr presents serial.
func (e *env) waitServes(t *testing.T, addr string, serial *big.Int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := e.serveSerial(addr)
		if err == nil && got.Cmp(serial) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s presents serial %v (err %v), want %s", addr, got, err, hexSerial(serial))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustServe checks that addr presents serial now.
func (e *env) mustServe(t *testing.T, addr string, serial *big.Int) {
	t.Helper()
	got, err := e.serveSerial(addr)
	if err != nil || got.Cmp(serial) != 0 {
		t.Fatalf("%s presents serial %v (err %v), want %s", addr, got, err, hexSerial(serial))
	}
}

func mustRun(t *testing.T, p *dasktest.Proc) {
	t.Helper()
	select {
	case <-p.Done():
		t.Fatalf("%s exited: %v", p.Name, p.Err())
	default:
	}
}

// TestRenewal: renewing the certificate files of a running scheduler,
// worker and nanny makes their listeners present the new serial in the
// same processes; a broken or mismatched set keeps the old material; the
// established connections stay up and the cluster keeps computing.
func TestRenewal(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			s := e.issue(identity.Scheduler, identity.Scheduler, "sched")
			sched := s.startScheduler()
			w := e.issue(identity.Worker, identity.Worker, "w1")
			wp := w.startWorker(sched)
			nanny := addressAfterMarker(t, wp, "Start Nanny at:")
			alice := e.issue(identity.Client, identity.Client, "alice")
			e.mustServe(t, sched.Addr, s.serial)
			e.mustServe(t, wp.Addr, w.serial)
			e.mustServe(t, nanny, w.serial)

			t.Run("scheduler", func(t *testing.T) {
				e.waitServes(t, sched.Addr, s.renew())
				mustRun(t, sched)
			})
			t.Run("worker and nanny", func(t *testing.T) {
				serial := w.renew()
				e.waitServes(t, wp.Addr, serial)
				e.waitServes(t, nanny, serial)
				mustRun(t, wp)
			})
			t.Run("broken sets keep the old material", func(t *testing.T) {
				good := s.serial
				other := testca.New(t)
				foreign, _ := other.Issue(t, identity.Scheduler, "sched")
				for _, tc := range []struct {
					name string
					cert []byte
				}{
					{"half-written", []byte("-----BEGIN CERTIFICATE-----\nMIIB")},
					{"certificate of another CA", foreign},
				} {
					n := sched.CountLines("keeping the current scheduler material")
					writeAtomic(t, s.cert, tc.cert, 0o644)
					waitCount(t, sched, "keeping the current scheduler material", n+1, 30*time.Second)
					e.mustServe(t, sched.Addr, good)
				}
				e.waitServes(t, sched.Addr, s.renew())
			})
			out, err := alice.runPython(computeScript, sched.Addr)
			if err != nil || strings.TrimSpace(out) != "41 2" {
				t.Fatalf("cluster after renewals: out=%q err=%v", out, err)
			}
			if sched.CountLines("Remove worker") != 0 {
				t.Errorf("a renewal dropped the worker:\n%s", sched.Log())
			}
		})
	}
}

// addressAfterMarker reads an address Dask logs after marker, e.g. the
// nanny's "Start Nanny at: 'tls://…'".
func addressAfterMarker(t *testing.T, p *dasktest.Proc, marker string) string {
	t.Helper()
	line := waitLog(t, p, marker, 10*time.Second)
	_, rest, _ := strings.Cut(line, marker)
	f := strings.Fields(rest)
	if len(f) == 0 {
		t.Fatalf("no address in %q", line)
	}
	return strings.Trim(f[0], `'"`)
}
