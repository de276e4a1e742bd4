package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// realWait bounds each wait on real Dask started through daskca run: a
// start in the trixie chroot on a loaded machine takes several seconds.
const realWait = 90 * time.Second

// sharedView returns a directory that daskca (on the host) and the Dask of
// rt see at the same path, and an interpreter path for --python that runs
// rt's Python. For the trixie chroot the directory lives in the chroot's
// /tmp, and a symbolic link inside the chroot at the directory's host path
// points at it, so that the paths daskca writes into configurations are
// valid on both sides; the interpreter is a script that runs the chroot's
// python3 with chroot(8).
func sharedView(t *testing.T, rt dasktest.Runtime) (dir, python string) {
	t.Helper()
	if rt.Root == "" {
		return t.TempDir(), rt.Python
	}
	dir = rt.TempDir(t)
	link := filepath.Join(rt.Root, dir)
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rt.Path(t, dir), link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(link) })
	python = filepath.Join(dir, "python3")
	script := fmt.Sprintf("#!/bin/sh\nexec /usr/sbin/chroot %s %s \"$@\"\n", rt.Root, rt.Python)
	if err := os.WriteFile(python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, python
}

// startRunEnv is startRun with a whole environment (nil: this process's).
func startRunEnv(t *testing.T, bin, name string, env []string, args ...string) *runProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p := launch(t, name, cmd)
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, p.out)
		}
	})
	return p
}

// waitRealLine waits up to realWait for a line of p holding every part,
// from offset on, and returns it.
func waitRealLine(t *testing.T, p *runProc, offset int, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(realWait)
	for {
		if lines := linesSince(p, offset, parts...); len(lines) > 0 {
			return lines[0]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before logging %q:\n%s", p.name, p.err, parts, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v:\n%s", p.name, parts, realWait, p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running reports whether p is still running.
func (p *runProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// lastField returns the last whitespace-separated field of a log line,
// without quotes.
func lastField(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[len(f)-1], `'"`)
}

// realCluster is a scheduler and workers of real Dask started with the
// daskca binary's run command, configured by daskca config, in a
// directory both sides see.
type realCluster struct {
	rt                     dasktest.Runtime
	dir, home, pw, bin, py string
	env                    []string
	sched                  *runProc
	addr                   string
	workers                map[string]*runProc
	workerAddr, nannyAddr  map[string]string
	schedulerID, clientPy  string
}

func newRealCluster(t *testing.T, rt dasktest.Runtime) *realCluster {
	t.Helper()
	dir, py := sharedView(t, rt)
	c := &realCluster{rt: rt, dir: dir, py: py, home: filepath.Join(dir, "home"), pw: filepath.Join(dir, "pw"), bin: buildDaskca(t),
		workers: map[string]*runProc{}, workerAddr: map[string]string{}, nannyAddr: map[string]string{}}
	for _, d := range []string{"userhome", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + filepath.Join(dir, "userhome"),
		"TMPDIR=" + filepath.Join(dir, "tmp"), "LANG=C.UTF-8", "PYTHONUNBUFFERED=1", "DASKCA_HOME=" + c.home}
	if err := os.WriteFile(c.pw, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, c.home, "init", "--name", "Real Dask Run CA", "--password-file", c.pw)
	// An empty CRL first, so that every configuration names it and a later
	// revocation reaches running processes.
	mustCLI(t, c.home, "crl", "--password-file", c.pw)
	for _, r := range [][]string{{"scheduler", "sched"}, {"worker", "w1"}, {"worker", "w2"}, {"client", "alice"}} {
		mustCLI(t, c.home, "issue", r[0], r[1], "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", c.pw)
		if err := os.WriteFile(c.config(r[1]), []byte(mustCLI(t, c.home, "config", r[1])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c.sched = startRunEnv(t, c.bin, "scheduler", c.env, "run", "scheduler", "--config", c.config("sched"),
		"--listen", "tls://127.0.0.1:0", "--python", py, "--", "--dashboard-address", "127.0.0.1:0")
	c.addr = lastField(waitRealLine(t, c.sched, 0, "Scheduler at:"))
	for _, w := range []string{"w1", "w2"} {
		c.startWorker(t, w)
	}
	c.clientPy = mustCLI(t, c.home, "config", "alice", "--format", "python", "--scheduler", c.addr)
	return c
}

func (c *realCluster) config(name string) string { return filepath.Join(c.dir, name+".yaml") }

func (c *realCluster) certFile(role, name string) string {
	return filepath.Join(c.home, "certs", role, name, "cert.pem")
}

// startWorker runs daskca run worker for name and waits until it has
// registered.
func (c *realCluster) startWorker(t *testing.T, name string) *runProc {
	t.Helper()
	p := startRunEnv(t, c.bin, name, c.env, "run", "worker", c.addr, "--config", c.config(name),
		"--listen", "tls://127.0.0.1:0", "--nthreads", "2", "--python", c.py, "--", "--dashboard-address", "127.0.0.1:0")
	c.nannyAddr[name] = lastField(waitRealLine(t, p, 0, "Start Nanny at:"))
	c.workerAddr[name] = lastField(waitRealLine(t, p, 0, "Start worker at:"))
	waitRealLine(t, p, 0, "Registered to:")
	c.workers[name] = p
	return p
}

// python runs the client snippet followed by body in the runtime and
// returns what it printed.
func (c *realCluster) python(t *testing.T, body string) string {
	t.Helper()
	script := c.clientPy + fmt.Sprintf("\nclient = distributed.Client(%q, security=security, timeout='60s')\n", c.addr) + body
	out, err := c.rt.RunPython(t, script, []string{"TMPDIR=" + filepath.Join(c.dir, "tmp")}, 3*realWait)
	if err != nil {
		t.Fatalf("client: %v\nscheduler log:\n%s", err, c.sched.out)
	}
	return out
}

// serialOf probes addr with alice's configuration and returns the exit
// code and the peer's serial and issuer.
func (c *realCluster) serialOf(t *testing.T, addr string, config ...string) (code int, serial, issuer string) {
	t.Helper()
	cfg := c.config("alice")
	if len(config) > 0 {
		cfg = config[0]
	}
	code, res, _ := probeJSON(t, c.home, addr, cfg)
	if chain, _ := res["peer_chain"].([]any); len(chain) > 0 {
		peer, _ := chain[0].(map[string]any)
		serial, _ = peer["serial"].(string)
		issuer, _ = peer["issuer"].(string)
	}
	return code, serial, issuer
}

// waitServes waits until a probe of addr shows the certificate in file.
func (c *realCluster) waitServes(t *testing.T, what, addr, file string) {
	t.Helper()
	want, wantIssuer := fileSerial(t, file), fileIssuer(t, file)
	waitFor(t, what+" to present serial "+want, func() (bool, string) {
		code, got, issuer := c.serialOf(t, addr)
		return code == probeOK && got == want && issuer == wantIssuer,
			fmt.Sprintf("probe exit %d, serial %s from %q; want %s from %q", code, got, issuer, want, wantIssuer)
	})
}

// checkSameProcesses asserts that every process started is still the one
// running: none exited, no nanny restarted its worker, and the scheduler's
// id is the one first seen.
func (c *realCluster) checkSameProcesses(t *testing.T) {
	t.Helper()
	for n, p := range c.procs() {
		if !p.running() {
			t.Errorf("%s exited (%v):\n%s", n, p.err, p.out)
		}
	}
	// A nanny restarts a worker process that dies: the worker's log would
	// show a second start.
	for n, p := range c.workers {
		if k := len(linesSince(p, 0, "Start worker at:")); k != 1 {
			t.Errorf("%s's worker process started %d times:\n%s", n, k, p.out)
		}
	}
	if id := c.currentSchedulerID(t); id != c.schedulerID {
		t.Errorf("scheduler id is %s, was %s: the scheduler was restarted", id, c.schedulerID)
	}
}

func (c *realCluster) currentSchedulerID(t *testing.T) string {
	t.Helper()
	out := c.python(t, "print('id:', client.scheduler_info()['id'])\nclient.close()\n")
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "id: "); ok {
			return v
		}
	}
	t.Fatalf("no scheduler id in %q", out)
	return ""
}

func (c *realCluster) procs() map[string]*runProc {
	out := map[string]*runProc{"sched": c.sched}
	for n, p := range c.workers {
		out[n] = p
	}
	return out
}
