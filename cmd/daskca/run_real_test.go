package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestRunRealDask starts a cluster of real Dask with the daskca binary's
// `run scheduler` and `run worker` (nannies included), on each Dask runtime
// present, and drives it from real Clients through renewal, revocation and
// a CA rotation. Nothing is ever restarted but the revoked worker: the
// guarantees come from daskca's plugin inside the Dask processes.
func TestRunRealDask(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			t.Logf("distributed %s", rt.Version)
			c := newRealCluster(t, rt)
			t.Run("computes", c.testComputes)
			if t.Failed() {
				t.FailNow()
			}
			t.Run("scheduler renewal", c.testRenewScheduler)
			t.Run("worker and nanny renewal", c.testRenewWorker)
			t.Run("revoked worker restarted", c.testRevokeWorker)
			t.Run("ca rotation under load", c.testRotation)
			t.Run("stops with dask's status", c.testStop)
		})
	}
}

// computeScript runs a task graph and a task that calls get_client().
const computeScript = `
import operator
from distributed import get_client

def inc(x):
    return x + 1

def nested(x):
    c = get_client()
    return c.submit(inc, x).result() * 2

futs = client.map(inc, range(20))
total = client.submit(sum, futs)
assert total.result(timeout=60) == 210, total.result()
assert client.submit(nested, 20).result(timeout=60) == 42
workers = client.scheduler_info()["workers"]
print("workers:", sorted(w["name"] for w in workers.values()))
print("id:", client.scheduler_info()["id"])
client.close()
`

// testComputes: a real Client computes a task graph on the cluster that
// daskca run started, and a task calling get_client() works.
func (c *realCluster) testComputes(t *testing.T) {
	out := c.python(t, computeScript)
	if !strings.Contains(out, "workers: ['w1', 'w2']") {
		t.Fatalf("client saw %q, want both workers", out)
	}
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "id: "); ok {
			c.schedulerID = v
		}
	}
	for n, p := range c.procs() {
		if !strings.Contains(p.out.String(), "Import preload module: "+filepath.Join(c.home, "daskca_plugin.py")) {
			t.Errorf("%s did not load daskca's plugin from the home:\n%s", n, p.out)
		}
	}
	// The nanny gets the plugin explicitly: dask worker ignores
	// distributed.nanny.preload from the configuration.
	if line := waitRealLine(t, c.workers["w1"], 0, "starting dask worker"); !strings.Contains(line, "--preload-nanny "+filepath.Join(c.home, "daskca_plugin.py")) {
		t.Errorf("the worker's command line lacks --preload-nanny: %s", line)
	}
}

// testRenewScheduler: after daskca renew of the scheduler, its next
// handshake presents the new serial, from the same process.
func (c *realCluster) testRenewScheduler(t *testing.T) {
	old := fileSerial(t, c.certFile("scheduler", "sched"))
	if code, got, _ := c.serialOf(t, c.addr); code != probeOK || got != old {
		t.Fatalf("before renewal the scheduler presents %s (probe exit %d), want %s", got, code, old)
	}
	mustCLI(t, c.home, "renew", "sched", "--password-file", c.pw)
	c.waitServes(t, "the scheduler", c.addr, c.certFile("scheduler", "sched"))
	c.checkSameProcesses(t)
}

// testRenewWorker: the worker's and the nanny's own listeners present the
// renewed certificate, same processes.
func (c *realCluster) testRenewWorker(t *testing.T) {
	mustCLI(t, c.home, "renew", "w1", "--password-file", c.pw)
	file := c.certFile("worker", "w1")
	c.waitServes(t, "w1's worker listener", c.workerAddr["w1"], file)
	c.waitServes(t, "w1's nanny listener", c.nannyAddr["w1"], file)
	c.checkSameProcesses(t)
}

// testRevokeWorker: daskca revoke drops the connected worker within a
// reload interval; then a restart of that worker with its certificate is
// refused — by daskca run's pre-flight, and by the running
// scheduler for a dask worker started without daskca — while the scheduler
// keeps serving, not restarted.
func (c *realCluster) testRevokeWorker(t *testing.T) {
	serial := fileSerial(t, c.certFile("worker", "w2"))
	// Keep the revoked worker's files: a restart uses them.
	frozen := c.freeze(t, "w2", "worker")
	w2 := c.workers["w2"]
	delete(c.workers, "w2")
	mark := len(c.sched.out.String())
	mustCLI(t, c.home, "revoke", "w2", "--password-file", c.pw)
	// Still connected, the revoked worker is dropped by the next CRL reload.
	waitRealLine(t, c.sched, mark, "Remove worker", "w2")
	w2.stop(t)

	code, _, stderr := runCLIEnv(c.home, map[string]string{"PATH": os.Getenv("PATH")}, time.Now, "run", "worker", c.addr,
		"--config", frozen, "--python", c.py)
	if code != exitUsage || !strings.Contains(stderr, "certificate revoked") {
		t.Errorf("daskca run worker with the revoked certificate: exit %d, %q; want the pre-flight to refuse it", code, stderr)
	}

	// dask worker itself with the plugin and the CRL from the
	// configuration, as a host that never ran the pre-flight would start it:
	// the plugin stops it at start.
	cfgDir := filepath.Join(c.dir, "w2-dask-config")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyTo(t, frozen, filepath.Join(cfgDir, "dask.yaml"))
	env := []string{"DASK_CONFIG=" + cfgDir, "TMPDIR=" + filepath.Join(c.dir, "tmp")}
	own := c.rt.Start(t, "w2-with-plugin", env, "-m", "distributed.cli.dask_worker", c.addr, "--name", "w2", "--no-nanny",
		"--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0")
	waitDone(t, "dask worker with a revoked certificate to stop", own)
	if own.Err() == nil || !strings.Contains(own.Log(), "revoked") {
		t.Errorf("dask worker with daskca's plugin and a revoked certificate: %v, want it stopped naming the revocation:\n%s", own.Err(), own.Log())
	}

	// A worker without the plugin or the CRL (a host left unprotected):
	// the scheduler refuses its certificate.
	cfg, err := daskconfig.LoadFile(frozen)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Preload, cfg.Daskca = daskconfig.Preloads{}, daskconfig.Extra{}
	bare := filepath.Join(c.dir, "w2-bare-config")
	if err := os.Mkdir(bare, 0o755); err != nil {
		t.Fatal(err)
	}
	writeYAML(t, filepath.Join(bare, "dask.yaml"), cfg)
	mark = len(c.sched.out.String())
	w := c.rt.StartWorker(t, c.addr, dasktest.WorkerOptions{Env: []string{"DASK_CONFIG=" + bare, "TMPDIR=" + filepath.Join(c.dir, "tmp")},
		Args: []string{"--name", "w2", "--no-nanny"}, WaitFor: dasktest.LogWorkerAt})
	t.Logf("scheduler: %s", waitRealLine(t, c.sched, mark, "revoked"))
	if n := len(linesSince(c.sched, mark, "Register worker", "w2")); n != 0 {
		t.Errorf("the revoked w2 registered again (%d times):\n%s\nworker:\n%s", n, c.sched.out.String()[mark:], w.Log())
	}
	t.Logf("revoked serial %s refused", serial)
	w.Stop()
	out := c.python(t, "print(client.submit(sum, [1, 2]).result(timeout=60))\nclient.close()\n")
	if strings.TrimSpace(out) != "3" {
		t.Errorf("the scheduler does not serve after the refusal: %q", out)
	}
	c.checkSameProcesses(t)
}

// waitDone waits up to realWait for p to exit, failing the test (and
// stopping p) if it does not.
func waitDone(t *testing.T, what string, p *dasktest.Proc) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(realWait):
		p.Stop()
		t.Fatalf("waited %v for %s:\n%s", realWait, what, p.Log())
	}
}

// freeze copies name's certificate, key and CA bundle as they are now and
// returns a Dask configuration using the copies, with the home's CRL.
func (c *realCluster) freeze(t *testing.T, name, role string) string {
	t.Helper()
	dir := filepath.Join(c.dir, "frozen-"+name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := daskconfig.LoadFile(c.config(name))
	if err != nil {
		t.Fatal(err)
	}
	files := cfg.TLS.Worker
	if role == "client" {
		files = cfg.TLS.Client
	}
	copyTo(t, files.Cert, filepath.Join(dir, "cert.pem"))
	copyTo(t, files.Key, filepath.Join(dir, "key.pem"))
	copyTo(t, cfg.TLS.CAFile, filepath.Join(dir, "ca.pem"))
	files = daskconfig.RoleFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	if role == "client" {
		cfg.TLS.Client = files
	} else {
		cfg.TLS.Worker = files
	}
	cfg.TLS.CAFile = filepath.Join(dir, "ca.pem")
	path := filepath.Join(dir, name+".yaml")
	writeYAML(t, path, cfg)
	return path
}

// loopScript computes in a loop until the stop file exists, printing one
// line per round and FAILED (then exiting 1) on any error.
const loopScript = `
import os, sys, time, traceback
rounds = 0
while not os.path.exists(%q):
    try:
        futs = client.map(lambda x, r=rounds: x + r, range(8))
        got = client.submit(sum, futs).result(timeout=60)
        assert got == 28 + 8 * rounds, got
    except Exception:
        traceback.print_exc()
        print("FAILED round", rounds, flush=True)
        sys.exit(1)
    rounds += 1
    print("round", rounds, "ok", flush=True)
    time.sleep(0.05)
print("stopped after", rounds, "rounds", flush=True)
client.close()
`

// testRotation: ca rotate begin, issue and finish on the live cluster while
// a client computes in a loop: no failed task, no process restarted, no
// worker removed, each listener presents its re-issued certificate, and
// after finish a certificate of the old CA is refused.
func (c *realCluster) testRotation(t *testing.T) {
	stop := filepath.Join(c.dir, "stop-loop")
	script := c.clientPy + fmt.Sprintf("\nclient = distributed.Client(%q, security=security, timeout='60s')\n", c.addr) + fmt.Sprintf(loopScript, stop)
	scriptFile := filepath.Join(c.dir, "loop.py")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := c.rt.Start(t, "client-loop", []string{"TMPDIR=" + filepath.Join(c.dir, "tmp")}, scriptFile)
	rounds := func() int { return loop.CountLines(" ok") }
	waitForRounds := func(what string, n int) {
		t.Helper()
		waitFor(t, what, func() (bool, string) {
			select {
			case <-loop.Done():
				return true, ""
			default:
			}
			return rounds() >= n, loop.Log()
		})
	}
	waitForRounds("the client loop to compute", 1)
	mark := len(c.sched.out.String())
	oldAlice := c.freeze(t, "alice", "client")

	mustCLI(t, c.home, "ca", "rotate", "begin", "--password-file", c.pw)
	waitForRounds("the loop to compute after begin", rounds()+3)
	mustCLI(t, c.home, "ca", "rotate", "issue", "--password-file", c.pw)
	c.waitServes(t, "the scheduler (re-issued)", c.addr, c.certFile("scheduler", "sched"))
	c.waitServes(t, "w1's worker listener (re-issued)", c.workerAddr["w1"], c.certFile("worker", "w1"))
	c.waitServes(t, "w1's nanny listener (re-issued)", c.nannyAddr["w1"], c.certFile("worker", "w1"))
	waitForRounds("the loop to compute after issue", rounds()+3)
	mustCLI(t, c.home, "ca", "rotate", "finish", "--password-file", c.pw)
	waitFor(t, "the scheduler to refuse the old CA's client certificate", func() (bool, string) {
		code, _, _ := c.serialOf(t, c.addr, oldAlice)
		return code == probeFailed, fmt.Sprintf("probe with the old CA's certificate: exit %d", code)
	})
	waitForRounds("the loop to compute after finish", rounds()+3)

	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDone(t, "the client loop to stop", loop)
	t.Logf("the client computed %d rounds through begin, issue and finish", rounds())
	if err := loop.Err(); err != nil || strings.Contains(loop.Log(), "FAILED") {
		t.Errorf("the client loop failed (%v):\n%s", err, loop.Log())
	}
	if lines := append(linesSince(c.sched, mark, "Remove worker"), linesSince(c.sched, mark, "Register worker")...); len(lines) > 0 {
		t.Errorf("workers were removed or registered again during the rotation:\n%s", strings.Join(lines, ""))
	}
	c.checkSameProcesses(t)
}

// testStop: SIGTERM to daskca run reaches Dask's process group, and daskca
// exits with Dask's status.
func (c *realCluster) testStop(t *testing.T) {
	for n, p := range c.workers {
		if code := p.stop(t); code != 0 {
			t.Errorf("daskca run worker %s exited %d after SIGTERM, want Dask's 0:\n%s", n, code, p.out)
		}
		if !strings.Contains(p.out.String(), "Received signal SIGTERM") {
			t.Errorf("Dask's worker %s did not get the SIGTERM:\n%s", n, p.out)
		}
	}
	if code := c.sched.stop(t); code != 0 {
		t.Errorf("daskca run scheduler exited %d after SIGTERM, want Dask's 0:\n%s", code, c.sched.out)
	}
}
