package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// startServe runs daskca serve in-process on a free loopback port until the
// test ends and returns its URL once it accepts connections.
func startServe(t *testing.T, home, pw string) string {
	t.Helper()
	addr := "127.0.0.1:" + freePort(t)
	stderr := &signalWriter{hit: make(chan struct{})}
	done := serveInProcess(t, home, stderr, "serve", "--listen", addr, "--ip", "127.0.0.1", "--password-file", pw)
	waitListening(t, addr, done, stderr)
	return "https://" + addr
}

// TestRealDaskEnrolledWorker is the dask-jobqueue flow of
// docs/enrollment.md end to end: a job's prologue enrols into its scratch
// directory with a token, the worker starts from the emitted config
// (DASK_CONFIG), registers with a real scheduler and computes.
func TestRealDaskEnrolledWorker(t *testing.T) {
	home, pw := newHome(t, "Enrol Test CA")
	sched := "tls://127.0.0.1:" + freePort(t)
	mustCLI(t, home, "issue", "scheduler", "sched", "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", pw)
	mustCLI(t, home, "issue", "client", "alice", "--password-file", pw)
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--names", "job*", "--ip-range", "127.0.0.0/8", "--uses", "2", "--ttl", "10m"))
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := mustCLI(t, home, "config", "sched", "--format", "cli", "--scheduler", sched)
	py := mustCLI(t, home, "config", "alice", "--format", "python", "--scheduler", sched)
	server := startServe(t, home, pw)

	envv, argv := shellWords(t, cli)
	s := dasktest.StartScheduler(t, dasktest.SchedulerOptions{Args: argv[2:], Env: envv})

	// The job script's prologue, on the node: no CA file, only the token.
	scratch := filepath.Join(t.TempDir(), "job-1234", "dask-tls")
	out := mustCLI(t, "", "enroll", "--server", server, "--token-file", tokFile, "--name", "job1234",
		"--ip", "127.0.0.1", "--dir", scratch, "--scheduler", sched)
	if !strings.HasPrefix(out, "enrolled worker/job1234 serial ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("enroll printed %q, want one summary line", out)
	}
	for _, f := range []string{"cert.pem", "key.pem", "ca.pem", "dask.yaml", "dask.env", "daskca_plugin.py"} {
		if _, err := os.Stat(filepath.Join(scratch, f)); err != nil {
			t.Fatal(err)
		}
	}
	w := dasktest.StartWorker(t, "", dasktest.WorkerOptions{Env: []string{"DASK_CONFIG=" + scratch}, Args: []string{"--name", "job1234"}})

	script := py + `
client = distributed.Client(` + "\"" + sched + "\"" + `, security=security, timeout="30s")
client.wait_for_workers(1, timeout=60)
assert client.submit(lambda x: x + 1, 41).result(timeout=30) == 42
print("workers:", sorted(w["name"] for w in client.scheduler_info()["workers"].values()))
client.close()
`
	got, err := dasktest.RunPython(t, script, nil, 120*time.Second)
	if err != nil {
		t.Fatalf("client: %v\nscheduler log:\n%s", err, s.Log())
	}
	if !strings.Contains(got, "workers: ['job1234']") {
		t.Fatalf("client saw %q, want the enrolled worker", got)
	}
	// The enrolled directory's dask.yaml loads daskca's plugin into the
	// worker (and its nanny).
	if log := w.Log(); !strings.Contains(log, "daskca plugin: protecting Worker as worker") {
		t.Errorf("the enrolled worker runs without daskca's plugin; its log:\n%s", log)
	}
}

// TestRealDaskEnrolledWorkerEachRuntime runs the prologue flow on every
// Dask this machine has (Dask 2022.12 on the host, 2024.12 in the trixie
// chroot when built): the scheduler and client from `daskca export`, the
// worker from a directory `daskca enroll` wrote where that Dask sees it
// (--path-prefix for the chroot's view).
func TestRealDaskEnrolledWorkerEachRuntime(t *testing.T) {
	home, pw := newHome(t, "Runtimes CA")
	mustCLI(t, home, "issue", "scheduler", "sched", "--ip", "127.0.0.1", "--password-file", pw)
	mustCLI(t, home, "issue", "client", "alice", "--password-file", pw)
	rts := dasktest.Runtimes(t)
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--names", "job*", "--ip-range", "127.0.0.0/8", "--uses", "4"))
	server := startServe(t, home, pw)
	for i, rt := range rts {
		t.Run(rt.Name, func(t *testing.T) {
			dir := rt.TempDir(t)
			for _, n := range []string{"sched", "alice"} {
				mustCLI(t, home, "export", n, "--dir", filepath.Join(dir, n), "--path-prefix", rt.Path(t, filepath.Join(dir, n)))
			}
			in := func(p ...string) string { return rt.Path(t, filepath.Join(append([]string{dir}, p...)...)) }
			s := rt.StartScheduler(t, dasktest.SchedulerOptions{Args: []string{
				"--tls-ca-file", in("sched", "ca.pem"), "--tls-cert", in("sched", "tls.crt"), "--tls-key", in("sched", "tls.key")}})
			name := fmt.Sprintf("job%d", 100+i)
			scratch := filepath.Join(dir, "job", "dask-tls")
			mustCLI(t, "", "enroll", "--server", server, "--token", tok, "--name", name, "--ip", "127.0.0.1",
				"--dir", scratch, "--path-prefix", rt.Path(t, scratch))
			rt.StartWorker(t, s.Addr, dasktest.WorkerOptions{Env: []string{"DASK_CONFIG=" + rt.Path(t, scratch)}, Args: []string{"--name", name}})
			script := fmt.Sprintf(`
import distributed
sec = distributed.Security(tls_ca_file=%q, tls_client_cert=%q, tls_client_key=%q, require_encryption=True)
with distributed.Client(%q, security=sec, timeout="30s") as c:
    c.wait_for_workers(1, timeout=60)
    assert c.submit(lambda x: x + 1, 41).result(timeout=30) == 42
    print("workers:", sorted(w["name"] for w in c.scheduler_info()["workers"].values()))
`, in("alice", "ca.pem"), in("alice", "tls.crt"), in("alice", "tls.key"), s.Addr)
			got, err := rt.RunPython(t, script, nil, 120*time.Second)
			if err != nil {
				t.Fatalf("client: %v\nscheduler log:\n%s", err, s.Log())
			}
			if want := "workers: ['" + name + "']"; !strings.Contains(got, want) {
				t.Fatalf("client saw %q, want %q", got, want)
			}
		})
	}
}
