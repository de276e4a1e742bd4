package daskplugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
)

// loopScript computes on the cluster until $STOP exists and prints how
// many tasks succeeded and failed.
const loopScript = `
import json, os, time
from distributed import Client
ok, failed, errors = 0, 0, []
with Client(os.environ["ADDR"], timeout=30) as c:
    while not os.path.exists(os.environ["STOP"]):
        try:
            assert c.submit(lambda x: x + 1, ok, pure=False).result(timeout=30) == ok + 1
            ok += 1
        except Exception as e:
            failed += 1
            errors.append(repr(e))
        time.sleep(0.02)
print(json.dumps({"ok": ok, "failed": failed, "errors": errors[:3]}))
`

// TestRotation: the zero-downtime CA rotation on a live cluster, done with
// files only. Begin: the bundle holds the old and the new CA (and a CRL of
// each); issue: every endpoint gets a certificate of the new CA; finish:
// the bundle holds the new CA only. A client computes in a loop
// throughout: no task fails, no process restarts, no worker is removed,
// every listener presents its new certificate, and afterwards a
// certificate of the old CA is refused.
func TestRotation(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			oldCA, newCA := e.ca, testca.New(t, testca.WithCommonName("daskca test CA 2"))
			writeCRLs := func(cas ...*testca.CA) {
				var b []byte
				for _, ca := range cas {
					b = append(b, crlPEM(t, ca, 1, time.Now().Add(time.Hour))...)
				}
				writeAtomic(t, e.crlPath(), b, 0o644)
			}
			writeCRLs(oldCA)
			s := e.issue(identity.Scheduler, identity.Scheduler, "sched")
			sched := s.startScheduler()
			w := e.issue(identity.Worker, identity.Worker, "w1")
			wp := w.startWorker(sched)
			nanny := addressAfterMarker(t, wp, "Start Nanny at:")
			alice := e.issue(identity.Client, identity.Client, "alice")
			oldClient := e.issue(identity.Client, identity.Client, "old")

			stop := filepath.Join(e.dir, "stop")
			loop := rt.Start(t, "client-loop", append(alice.daskEnv(), "ADDR="+sched.Addr, "STOP="+e.p(stop)), "-c", loopScript)
			waitLog(t, sched, dasktest.LogReceiveClient, 60*time.Second)
			procs := []*dasktest.Proc{sched, wp, loop}
			// every process of the cluster (scheduler, nanny, worker, client) has taken a new set
			waitAll := func(step string, want int) {
				t.Helper()
				for _, p := range procs {
					n := 1
					if p == wp {
						n = 2 // the nanny and its worker log to one file
					}
					waitCount(t, p, "material in use", want*n, 60*time.Second)
				}
				t.Logf("%s: every process reloaded", step)
			}

			e.writeBundle(oldCA, newCA)
			writeCRLs(oldCA, newCA)
			waitAll("begin", 1)

			for _, ep := range []*endpoint{s, w, alice} {
				ep.issuedFrom = newCA
				ep.renew()
			}
			e.waitServes(t, sched.Addr, s.serial)
			e.waitServes(t, wp.Addr, w.serial)
			e.waitServes(t, nanny, w.serial)
			waitAll("issue", 2)

			e.writeBundle(newCA)
			writeCRLs(newCA)
			waitAll("finish", 3)
			e.mustServe(t, sched.Addr, s.serial)

			if err := oldClient.identityAs(sched.Addr); err == nil {
				t.Error("a certificate of the old CA still gets in after finish")
			}
			if err := os.WriteFile(stop, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			select {
			case <-loop.Done():
			case <-time.After(2 * time.Minute):
				t.Fatal("client loop did not stop")
			}
			var res struct {
				OK     int      `json:"ok"`
				Failed int      `json:"failed"`
				Errors []string `json:"errors"`
			}
			for line := range strings.Lines(loop.Log()) {
				if strings.HasPrefix(line, `{"ok"`) {
					_ = json.Unmarshal([]byte(line), &res)
				}
			}
			t.Logf("client loop: %d tasks, %d failed", res.OK, res.Failed)
			if res.OK == 0 || res.Failed != 0 || loop.Err() != nil {
				t.Errorf("client loop: %+v (exit %v)\n%s", res, loop.Err(), loop.Log())
			}
			mustRun(t, sched)
			mustRun(t, wp)
			for _, bad := range []string{"Remove worker", "Restarting worker"} {
				if sched.CountLines(bad)+wp.CountLines(bad) != 0 {
					t.Errorf("%q during the rotation", bad)
				}
			}
		})
	}
}
