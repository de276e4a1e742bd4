package daskplugin

import (
	"testing"
	"time"

	"github.com/daskca/daskca/internal/dasktest"
	"github.com/daskca/daskca/transport/identity"
)

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
    print(c.submit(lambda: 41).result(timeout=15), c.submit(inner, 1).result(timeout=15))
`

func TestSmoke(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t)[:1] {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			s := e.issue(identity.Scheduler, identity.Scheduler, "sched")
			sched := s.startScheduler()
			w := e.issue(identity.Worker, identity.Worker, "w1")
			wp := w.startWorker(sched)
			defer func() { t.Log(wp.Log()) }()
			c := e.issue(identity.Client, identity.Client, "alice")
			out, err := c.runPython(computeScript, sched.Addr)
			t.Logf("out=%q err=%v", out, err)
			time.Sleep(time.Second)
			t.Log(sched.Log())
		})
	}
}
