package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestRealDaskEnrolledWorkerRenewsLive: a worker enrolled with a token, on
// certificates of 30 s, runs as real Dask (`daskca run worker`, nanny
// included) from its enrolled directory beside `daskca enroll --renew
// --watch`, against a real scheduler from `daskca run scheduler`, while a
// real Client computes in a loop. It renews at least three times; after
// each renewal the worker's and the nanny's listeners present the new
// certificate (daskca's plugin reloads it in the running processes), no
// task fails, and the worker is never removed, registered again or
// restarted.
func TestRealDaskEnrolledWorkerRenewsLive(t *testing.T) {
	for _, rt := range dasktest.Runtimes(t) {
		t.Run(rt.Name, func(t *testing.T) {
			t.Logf("distributed %s", rt.Version)
			testEnrolledWorkerRenewsLive(t, rt)
		})
	}
}

func testEnrolledWorkerRenewsLive(t *testing.T, rt dasktest.Runtime) {
	dir, py := sharedView(t, rt)
	home, pw, bin := filepath.Join(dir, "home"), filepath.Join(dir, "pw"), buildDaskca(t)
	for _, d := range []string{"userhome", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The worker's node has no daskca home: only its enrolled directory.
	nodeEnv := []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + filepath.Join(dir, "userhome"),
		"TMPDIR=" + filepath.Join(dir, "tmp"), "LANG=C.UTF-8", "PYTHONUNBUFFERED=1"}
	if err := os.WriteFile(pw, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, home, "init", "--name", "Real Dask Enrol Live CA", "--password-file", pw)
	mustCLI(t, home, "crl", "--password-file", pw)
	for _, r := range [][]string{{"scheduler", "sched"}, {"client", "alice"}} {
		mustCLI(t, home, "issue", r[0], r[1], "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", pw)
		if err := os.WriteFile(filepath.Join(dir, r[1]+".yaml"), []byte(mustCLI(t, home, "config", r[1])), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sched := startRunEnv(t, bin, "scheduler", append(slices.Clone(nodeEnv), "DASKCA_HOME="+home), "run", "scheduler",
		"--config", filepath.Join(dir, "sched.yaml"), "--listen", "tls://127.0.0.1:0", "--python", py, "--", "--dashboard-address", "127.0.0.1:0")
	addr := lastField(waitRealLine(t, sched, 0, "Scheduler at:"))

	// Enrol w1 with a token whose certificates live 30 s: --watch renews
	// each at about 20 s.
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--name", "w1", "--ip-range", "127.0.0.1/32", "--validity", "30s"))
	server := startServe(t, home, pw)
	wdir := filepath.Join(dir, "w1")
	mustCLI(t, "", "enroll", "--server", server, "--token", tok, "--name", "w1", "--ip", "127.0.0.1", "--dir", wdir)
	wconf := filepath.Join(wdir, "dask.yaml")
	// The plugin polls the files often, so it picks a renewal up at once.
	cfg, err := daskconfig.LoadFile(wconf)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daskca.ReloadInterval = 500 * time.Millisecond
	writeYAML(t, wconf, cfg)
	first := fileSerial(t, filepath.Join(wdir, "cert.pem"))

	w := startRunEnv(t, bin, "w1", nodeEnv, "run", "worker", addr, "--config", wconf, "--name", "w1",
		"--listen", "tls://127.0.0.1:0", "--nthreads", "2", "--python", py, "--", "--dashboard-address", "127.0.0.1:0")
	nannyAddr := lastField(waitRealLine(t, w, 0, "Start Nanny at:"))
	workerAddr := lastField(waitRealLine(t, w, 0, "Start worker at:"))
	waitRealLine(t, w, 0, "Registered to:")
	if !strings.Contains(w.out.String(), "Import preload module: "+filepath.Join(wdir, "daskca_plugin.py")) {
		t.Fatalf("the worker did not load daskca's plugin from its enrolled directory:\n%s", w.out)
	}

	alice := filepath.Join(dir, "alice.yaml")
	serves := func(what, addr string, serials []string) {
		t.Helper()
		waitForWithin(t, realWait, what+" to present one of "+strings.Join(serials, ", "), func() (bool, string) {
			code, res, stderr := probeJSON(t, home, addr, alice)
			chain, _ := res["peer_chain"].([]any)
			if res["ok"] != true || len(chain) == 0 { // exit 1 is the warning that the certificate expires soon
				return false, fmt.Sprintf("probe: exit %d, %v %s", code, res, stderr)
			}
			leaf, _ := chain[0].(map[string]any)
			got, _ := leaf["serial"].(string)
			return slices.Contains(serials, got), "probe shows " + got
		})
	}
	serves("w1's worker listener", workerAddr, []string{first})

	clientPy := mustCLI(t, home, "config", "alice", "--format", "python", "--scheduler", addr)
	stop := filepath.Join(dir, "stop-loop")
	script := clientPy + fmt.Sprintf("\nclient = distributed.Client(%q, security=security, timeout='60s')\n", addr) + fmt.Sprintf(loopScript, stop)
	scriptFile := filepath.Join(dir, "loop.py")
	if err := os.WriteFile(scriptFile, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := rt.Start(t, "client-loop", []string{"TMPDIR=" + filepath.Join(dir, "tmp")}, scriptFile)
	rounds := func() int { return loop.CountLines(" ok") }
	waitForRounds := func(what string, n int) {
		t.Helper()
		waitForWithin(t, realWait, what, func() (bool, string) {
			select {
			case <-loop.Done():
				return true, "" // reported below
			default:
			}
			return rounds() >= n, loop.Log()
		})
	}
	waitForRounds("the client loop to compute", 1)

	watch := startRunEnv(t, bin, "watch", nodeEnv, "enroll", "--renew", "--watch", "--dir", wdir)
	renewals := func() []string {
		var out []string
		for _, l := range linesSince(watch, 0, "renewed worker/w1 serial") {
			out = append(out, strings.TrimSuffix(strings.Fields(l)[3], ","))
		}
		return out
	}
	for i := 1; i <= 3; i++ {
		waitForWithin(t, realWait, fmt.Sprintf("renewal %d", i), func() (bool, string) { return len(renewals()) >= i, watch.out.String() })
		next := renewals()[i-1]
		if slices.Contains(append([]string{first}, renewals()[:i-1]...), next) {
			t.Fatalf("renewal %d reused serial %s (renewals %v, first %s)", i, next, renewals(), first)
		}
		// The file holds this renewal or a later one, never an older one.
		if got := fileSerial(t, filepath.Join(wdir, "cert.pem")); !slices.Contains(renewals()[i-1:], got) {
			t.Fatalf("after renewal %d (%s) cert.pem holds serial %s", i, next, got)
		}
		// New connections get this renewal's certificate or a later one
		// (another renewal may have come meanwhile).
		serves(fmt.Sprintf("w1's worker listener after renewal %d", i), workerAddr, renewals()[i-1:])
		serves(fmt.Sprintf("w1's nanny listener after renewal %d", i), nannyAddr, renewals()[i-1:])
		waitForRounds(fmt.Sprintf("the loop to compute after renewal %d", i), rounds()+3)
	}

	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDone(t, "the client loop to stop", loop)
	t.Logf("%d renewals (%s → %s); the client computed %d rounds", len(renewals()), first, strings.Join(renewals(), " → "), rounds())
	if err := loop.Err(); err != nil || strings.Contains(loop.Log(), "FAILED") {
		t.Errorf("the client loop failed (%v):\n%s", err, loop.Log())
	}
	if l := linesSince(sched, 0, "Remove worker"); len(l) > 0 {
		t.Errorf("the worker left the scheduler:\n%s", strings.Join(l, ""))
	}
	if n := len(linesSince(sched, 0, "Register worker")); n != 1 {
		t.Errorf("the scheduler registered a worker %d times, want once:\n%s", n, sched.out)
	}
	if n := len(linesSince(w, 0, "Start worker at:")); n != 1 {
		t.Errorf("w1's worker process started %d times:\n%s", n, w.out)
	}
	for _, p := range []*runProc{sched, w, watch} {
		if !p.running() {
			t.Errorf("%s exited (%v):\n%s", p.name, p.err, p.out)
		}
	}
}

// waitForWithin is waitFor with its own bound.
func waitForWithin(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s:\n%s", d, what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
