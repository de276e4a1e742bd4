package daskplugin

import (
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// computeScript computes on the cluster from a Client (plugin and TLS from
// DASK_CONFIG): one task, and one that calls get_client() inside the
// worker, which registers as a client with the worker's certificate.
// It prints "41 2".
const computeScript = `
import os
from distributed import Client, get_client, rejoin, secede
def inner(x):
    c = get_client()
    fut = c.submit(lambda y: y + 1, x)
    secede()
    r = fut.result()
    rejoin()
    return r
with Client(os.environ["ADDR"], timeout=30) as c:
    print(c.submit(lambda: 41).result(timeout=60), c.submit(inner, 1).result(timeout=60))
`

// TestClusterComputes: a real scheduler, a worker with its nanny and a
// Client, all with the plugin under the strict policy, compute; a task's
// get_client() registers with the worker's certificate and works.
func TestClusterComputes(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			sched := e.issue(identity.Scheduler, identity.Scheduler, "sched").startScheduler()
			wp := e.issue(identity.Worker, identity.Worker, "w1").startWorker(sched)
			c := e.issue(identity.Client, identity.Client, "alice")
			out, err := c.runPython(computeScript, sched.Addr)
			if err != nil || strings.TrimSpace(out) != "41 2" {
				t.Fatalf("out=%q err=%v", out, err)
			}
			for _, p := range []struct {
				proc *dasktest.Proc
				what string
			}{{sched, "protecting Scheduler as scheduler"}, {wp, "protecting Nanny as worker"},
				{wp, "protecting Worker as worker"}, {wp, "protecting Client as worker (role=worker name=w1"}} {
				if p.proc.CountLines(p.what) == 0 {
					t.Errorf("%s log lacks %q", p.proc.Name, p.what)
				}
			}
			if n := sched.CountLines(dasktest.LogReceiveClient); n != 2 {
				t.Errorf("scheduler received %d clients, want 2 (the Client and the task's get_client())", n)
			}
		})
	}
}
