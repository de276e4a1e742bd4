package daskplugin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testca"
)

// startAndExit starts `dask scheduler` as ep and waits for it to exit,
// failing the test if it starts serving instead.
func (ep *endpoint) schedulerMustStop(t *testing.T) string {
	t.Helper()
	p := ep.e.rt.Start(t, "scheduler", ep.daskEnv(), "-m", "distributed.cli.dask_scheduler",
		"--host", "tls://127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0")
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("scheduler still running after 60s:\n%s", p.Log())
	}
	if p.Err() == nil {
		t.Errorf("scheduler exited with status 0")
	}
	if strings.Contains(p.Log(), dasktest.LogSchedulerAt) {
		t.Errorf("scheduler served before stopping:\n%s", p.Log())
	}
	return p.Log()
}

// mustSayOnce checks that the log ends with the plugin's one line naming
// the Dask version and the cause.
func mustSayOnce(t *testing.T, log, version, cause string) {
	t.Helper()
	want := "daskca_plugin.PluginError: daskca plugin (Dask " + version + "): "
	last := lastLine(log)
	if !strings.HasPrefix(last, want) || !strings.Contains(last, cause) {
		t.Fatalf("last line %q, want %q…%q\nlog:\n%s", last, want, cause, log)
	}
}

// TestFailsClosed: every input the plugin cannot use, and a Dask whose
// internals are not where the plugin hooks, stops the scheduler at start
// with one line naming the cause and the Dask version.
func TestFailsClosed(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			other := testca.New(t, testca.WithCommonName("another CA"))
			sameName := testca.New(t)
			unrendered := filepath.Join(e.dir, "unrendered", FileName)
			breaker := filepath.Join(e.dir, "breaker.py")
			if err := os.MkdirAll(filepath.Dir(unrendered), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(unrendered, source, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(breaker, []byte("import distributed.comm.tcp as t\n"+
				"if '_prepare_stream' in vars(t.TLSListener):  # Dask runs a preload twice\n"+
				"    del t.TLSListener._prepare_stream\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name  string
				setup func(ep *endpoint)
				cause string
			}{
				{"unknown policy", func(ep *endpoint) { ep.extraYAML = "  role-policy: lax\n" }, `daskca.role-policy: "lax" is not a role policy`},
				{"interval not a duration", func(ep *endpoint) { ep.extraYAML = "  reload-interval: soon\n" }, "'soon' is not a duration"},
				{"zero interval", func(ep *endpoint) { ep.extraYAML = "  reload-interval: 0s\n" }, "must be positive"},
				{"interval a boolean", func(ep *endpoint) { ep.extraYAML = "  reload-interval: true\n" }, "want a duration"},
				{"reload not a boolean", func(ep *endpoint) { ep.extraYAML = "  reload: maybe\n" }, "daskca.reload: got 'maybe', want a boolean"},
				{"unreadable certificate", func(ep *endpoint) { os.Remove(ep.cert) }, "cannot read the certificate"},
				{"unreadable key", func(ep *endpoint) { os.Remove(ep.key) }, "cannot read the key"},
				{"unreadable CRL", func(ep *endpoint) { ep.extraYAML = "  crl-file: " + e.p(filepath.Join(e.dir, "none.crl")) + "\n" }, "cannot read the CRL"},
				{"CRL of another CA", func(ep *endpoint) {
					path := filepath.Join(e.dir, "other.crl")
					writeAtomic(t, path, crlPEM(t, other, 1, time.Now().Add(time.Hour)), 0o644)
					ep.extraYAML = "  crl-file: " + e.p(path) + "\n"
				}, "is from a CA that is not in the CA bundle"},
				{"CRL of another key with the CA's name", func(ep *endpoint) {
					path := filepath.Join(e.dir, "forged.crl")
					writeAtomic(t, path, crlPEM(t, sameName, 1, time.Now().Add(time.Hour)), 0o644)
					ep.extraYAML = "  crl-file: " + e.p(path) + "\n"
				}, "no CRL in the file verifies against the CA that issued our certificate"},
				{"garbage CRL", func(ep *endpoint) {
					path := filepath.Join(e.dir, "garbage.crl")
					writeAtomic(t, path, []byte("\x30\x84\xff\xff\xff\xff"), 0o644)
					ep.extraYAML = "  crl-file: " + e.p(path) + "\n"
				}, "cannot be read"},
				{"own certificate revoked", func(ep *endpoint) {
					path := filepath.Join(e.dir, ep.name+"-revoked.crl")
					writeAtomic(t, path, crlPEM(t, e.ca, 1, time.Now().Add(time.Hour), ep.serial), 0o644)
					ep.extraYAML = "  crl-file: " + e.p(path) + "\n"
				}, "our own certificate"},
				{"certificate of another role", func(ep *endpoint) {
					c, k := e.ca.Issue(t, identity.Worker, ep.name)
					writeAtomic(t, ep.cert, c, 0o644)
					writeAtomic(t, ep.key, k, 0o600)
				}, "not a scheduler certificate"},
				{"broken hook", func(ep *endpoint) { ep.preloads = []string{breaker, e.plugin} }, "cannot hook distributed.comm.tcp.TLSListener._prepare_stream"},
				{"plugin not rendered by daskca", func(ep *endpoint) { ep.preloads = []string{unrendered} }, "was not rendered by daskca"},
			}
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ep := e.issue(identity.Scheduler, identity.Scheduler, "s"+strings.Repeat("x", i))
					tc.setup(ep)
					ep.writeConfig()
					mustSayOnce(t, ep.schedulerMustStop(t), rt.Version, tc.cause)
				})
			}
		})
	}
}

// TestFailsClosedEveryProcess: a worker with its nanny and a Client stop
// at start the same way as the scheduler.
func TestFailsClosedEveryProcess(t *testing.T) {
	const cause = `daskca.role-policy: "lax" is not a role policy`
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			sched := e.issue(identity.Scheduler, identity.Scheduler, "sched").startScheduler()
			t.Run("worker with nanny", func(t *testing.T) {
				w := e.issue(identity.Worker, identity.Worker, "w1")
				w.extraYAML = "  role-policy: lax\n"
				w.writeConfig()
				p := rt.Start(t, "worker", w.daskEnv(), "-m", "distributed.cli.dask_worker", sched.Addr,
					"--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--preload-nanny", e.p(e.plugin))
				select {
				case <-p.Done():
				case <-time.After(60 * time.Second):
					t.Fatalf("worker still running after 60s:\n%s", p.Log())
				}
				if p.Err() == nil || strings.Contains(p.Log(), dasktest.LogRegistered) {
					t.Fatalf("worker started or exited 0:\n%s", p.Log())
				}
				if !strings.Contains(p.Log(), "daskca_plugin.PluginError: daskca plugin (Dask "+rt.Version+"): "+cause) {
					t.Fatalf("worker log lacks the plugin's line:\n%s", p.Log())
				}
			})
			t.Run("client", func(t *testing.T) {
				c := e.issue(identity.Client, identity.Client, "alice")
				c.extraYAML = "  role-policy: lax\n"
				c.writeConfig()
				_, err := c.runPython(computeScript, sched.Addr)
				if err == nil {
					t.Fatal("client with an unknown policy computed")
				}
				var pe *dasktest.PythonError
				if !errors.As(err, &pe) {
					t.Fatalf("client: %v", err)
				}
				mustSayOnce(t, pe.Stderr, rt.Version, cause)
			})
		})
	}
}

// TestUntestedVersionWarns: a Dask version the plugin was not tested on,
// whose internals are where the plugin hooks, gets a warning and runs
// protected.
func TestUntestedVersionWarns(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			e := newEnv(t, rt)
			pretend := filepath.Join(e.dir, "pretend.py")
			if err := os.WriteFile(pretend, []byte("import distributed\ndistributed.__version__ = '2099.1.0'\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := e.issue(identity.Scheduler, identity.Scheduler, "sched")
			s.preloads = []string{pretend, e.plugin}
			s.writeConfig()
			sched := s.startScheduler()
			waitLog(t, sched, "daskca plugin: Dask 2099.1.0 is not a version this plugin was tested on", 10*time.Second)
			waitLog(t, sched, "daskca plugin: protecting Scheduler as scheduler", 10*time.Second)
			rogue := e.issue(identity.Worker, identity.Client, "rogue")
			w := rt.StartWorker(t, sched.Addr, dasktest.WorkerOptions{Args: append(rogue.tlsArgs(), "--no-nanny"), WaitFor: dasktest.LogWorkerAt})
			defer w.Stop()
			waitLog(t, sched, "refused register-worker on the scheduler from role=client name=rogue", 30*time.Second)
		})
	}
}
