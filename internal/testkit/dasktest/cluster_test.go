package dasktest_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
)

// clientScript connects with distributed.Security from the environment,
// computes 1+1 on the cluster and prints the result and the workers the
// scheduler knows.
const clientScript = `
import json, operator, os
from distributed import Client, Security

sec = Security(
    tls_ca_file=os.environ["CA"],
    tls_client_cert=os.environ["CERT"],
    tls_client_key=os.environ["KEY"],
    require_encryption=True,
)
with Client(os.environ["ADDR"], security=sec, timeout=float(os.environ["CONNECT_TIMEOUT"])) as c:
    result = c.submit(operator.add, 1, 1).result(timeout=60)
    workers = sorted(c.scheduler_info()["workers"])
print(json.dumps({"result": result, "workers": workers}))
`

// clientTimeout bounds a whole client script run.
const clientTimeout = 120 * time.Second

type clientResult struct {
	Result  int      `json:"result"`
	Workers []string `json:"workers"`
}

// cluster is a TLS scheduler with one TLS worker, both using certificates
// of ca written where the runtime sees them.
type cluster struct {
	rt      dasktest.Runtime
	dir     string
	caFile  string
	sched   *dasktest.Proc
	workers []*dasktest.Proc
}

func mustCluster(t *testing.T, rt dasktest.Runtime, ca *testca.CA) *cluster {
	t.Helper()
	c := &cluster{rt: rt, dir: rt.TempDir(t)}
	cert, key, caFile := ca.WriteFiles(t, c.dir, identity.Scheduler, "sched")
	c.caFile = caFile
	c.sched = rt.StartScheduler(t, dasktest.SchedulerOptions{Args: c.tlsArgs(t, caFile, cert, key)})
	if !strings.HasPrefix(c.sched.Addr, "tls://127.0.0.1:") {
		t.Fatalf("scheduler address %q, want tls://127.0.0.1:<port>", c.sched.Addr)
	}
	wcert, wkey, _ := ca.WriteFiles(t, c.dir, identity.Worker, "w1")
	c.workers = append(c.workers, rt.StartWorker(t, c.sched.Addr, dasktest.WorkerOptions{Args: c.tlsArgs(t, caFile, wcert, wkey)}))
	return c
}

func (c *cluster) tlsArgs(t *testing.T, caFile, cert, key string) []string {
	return []string{"--tls-ca-file", c.rt.Path(t, caFile), "--tls-cert", c.rt.Path(t, cert), "--tls-key", c.rt.Path(t, key)}
}

// runClient runs clientScript with the given client certificate files.
func (c *cluster) runClient(t *testing.T, cert, key string, connectTimeout time.Duration) (string, error) {
	t.Helper()
	env := []string{
		"ADDR=" + c.sched.Addr,
		"CA=" + c.rt.Path(t, c.caFile),
		"CERT=" + c.rt.Path(t, cert),
		"KEY=" + c.rt.Path(t, key),
		"CONNECT_TIMEOUT=" + strings.TrimSuffix(connectTimeout.String(), "s"),
	}
	return c.rt.RunPython(t, clientScript, env, clientTimeout)
}

func TestRealDaskTLSCluster(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			t.Logf("Dask %s", rt.Version)
			ca := testca.New(t)
			c := mustCluster(t, rt, ca)
			worker := c.workers[0]
			line := dasktest.WaitForLogLine(t, c.sched, dasktest.LogRegisterWorker, 10*time.Second)
			if !strings.Contains(line, worker.Addr) {
				t.Errorf("scheduler registered another worker than %s: %s", worker.Addr, line)
			}
			mustListenOnLoopbackOnly(t, c.sched, worker)

			cert, key, _ := ca.WriteFiles(t, c.dir, identity.Client, "alice")
			out, err := c.runClient(t, cert, key, 30*time.Second)
			if err != nil {
				t.Fatalf("client: %v\n%s", err, stderrOf(err))
			}
			var got clientResult
			if err := json.Unmarshal([]byte(lastLine(out)), &got); err != nil {
				t.Fatalf("client output %q: %v", out, err)
			}
			if got.Result != 2 {
				t.Errorf("1+1 on the cluster = %d", got.Result)
			}
			if !slices.Equal(got.Workers, []string{worker.Addr}) {
				t.Errorf("scheduler knows workers %q, want [%q]", got.Workers, worker.Addr)
			}
			if n := c.sched.CountLines(dasktest.LogTLSHandshakeFailed); n != 0 {
				t.Errorf("scheduler logged %d failed handshakes for good certificates", n)
			}
		})
	}
}

func TestRealDaskRejectsForeignClient(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			ca := testca.New(t)
			c := mustCluster(t, rt, ca)
			// Mallory trusts the cluster's CA but her certificate comes from
			// another one, so the scheduler must refuse her.
			other := testca.New(t)
			mdir := rt.TempDir(t)
			cert, key, _ := other.WriteFiles(t, mdir, identity.Client, "mallory")
			out, err := c.runClient(t, cert, key, 5*time.Second)
			if err == nil {
				t.Fatalf("a client with a foreign certificate computed on the cluster: %s", out)
			}
			var perr *dasktest.PythonError
			if !errors.As(err, &perr) || errors.Is(err, dasktest.ErrTimeout) {
				t.Fatalf("client failed in an unexpected way: %v", err)
			}
			line := dasktest.WaitForLogLine(t, c.sched, dasktest.LogTLSHandshakeFailed, 10*time.Second)
			t.Logf("client: %v\nscheduler: %s", err, line)
		})
	}
}

// mustListenOnLoopbackOnly checks that each process listens (Dask comm and
// dashboard at least) and only on loopback addresses.
func mustListenOnLoopbackOnly(t *testing.T, procs ...*dasktest.Proc) {
	t.Helper()
	for _, p := range procs {
		addrs, err := p.ListenAddrs()
		if err != nil {
			t.Fatal(err)
		}
		if len(addrs) < 2 {
			t.Errorf("%s listens on %v, want its comm and dashboard ports", p.Name, addrs)
		}
		for _, a := range addrs {
			if !a.Addr().IsLoopback() {
				t.Errorf("%s listens on %v, beyond loopback", p.Name, a)
			}
		}
	}
}

func stderrOf(err error) string {
	var perr *dasktest.PythonError
	if errors.As(err, &perr) {
		return perr.Stderr
	}
	return ""
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
