package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/daskca/daskca/transport/daskconfig"
)

// TestEnrolledWorkerRenewsLive: a worker enrolled with a token, on
// certificates of 15 s, runs as `daskca run worker` from its enrolled
// directory beside `daskca enroll --renew --watch`; it renews three times
// while it stays registered, and after each renewal it reloads the new
// certificate and presents it to new connections (daskca's Go transport;
// TestRealDaskEnrolledWorkerRenewsLive does the same on real Dask).
func TestEnrolledWorkerRenewsLive(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for three renewals of a 15 s certificate")
	}
	dir := t.TempDir()
	home, pw := newHome(t, "Live Enrol CA")
	bin := buildDaskca(t)
	mustCLI(t, home, "issue", "scheduler", "sched", "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", pw)
	mustCLI(t, home, "issue", "client", "alice", "--password-file", pw)
	for _, n := range []string{"sched", "alice"} {
		if err := os.WriteFile(filepath.Join(dir, n+".yaml"), []byte(mustCLI(t, home, "config", n, "--format", "yaml")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok := strings.TrimSpace(mustCLI(t, home, "token", "create", "worker", "--name", "w1", "--ip-range", "127.0.0.1/32", "--validity", "15s"))
	server := startServe(t, home, pw)
	wdir := filepath.Join(dir, "w1")
	mustCLI(t, "", "enroll", "--server", server, "--token", tok, "--name", "w1", "--ip", "127.0.0.1", "--dir", wdir)
	// The worker polls its files often, so it picks a renewal up at once.
	cfg, err := daskconfig.LoadFile(filepath.Join(wdir, "dask.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daskca.ReloadInterval = liveReload
	writeYAML(t, filepath.Join(wdir, "dask.yaml"), cfg)

	sched, addr := startRunScheduler(t, bin, filepath.Join(dir, "sched.yaml"))
	w := startRunWorker(t, bin, addr, filepath.Join(wdir, "dask.yaml"), "--name", "w1")
	waddr := logValue(t, w.waitLine(t, "worker listening"), "address")
	serial := logValue(t, sched.waitLine(t, "worker registered", "name=w1"), "serial")
	watch := startRun(t, bin, "watch", "enroll", "--renew", "--watch", "--dir", wdir)
	renewals := func() []string {
		var out []string
		for _, l := range linesSince(watch, 0, "renewed worker/w1 serial") {
			out = append(out, strings.TrimSuffix(strings.Fields(l)[3], ","))
		}
		return out
	}
	for i := 1; i <= 3; i++ {
		waitFor(t, "a renewal", func() (bool, string) { return len(renewals()) >= i, watch.out.String() })
		next := renewals()[i-1]
		if next == serial {
			t.Fatalf("renewal %d kept serial %s", i, serial)
		}
		w.waitLine(t, "tls material reloaded", "serial="+next)
		// New connections get this renewal's certificate or a later one
		// (another renewal may have come meanwhile), never an older one.
		waitFor(t, "the worker presenting the renewed certificate", func() (bool, string) {
			code, res, stderr := probeJSON(t, home, waddr, filepath.Join(dir, "alice.yaml"))
			chain, _ := res["peer_chain"].([]any)
			if res["ok"] != true || len(chain) == 0 { // exit 1 is the warning that the certificate expires soon
				return false, fmt.Sprintf("probe: exit %d, %v %s", code, res, stderr)
			}
			leaf, _ := chain[0].(map[string]any)
			got, _ := leaf["serial"].(string)
			return slices.Contains(renewals()[i-1:], got), "probe shows " + got
		})
		serial = next
	}
	if l := linesSince(sched, 0, "worker removed", "name=w1"); len(l) > 0 {
		t.Fatalf("the worker left the scheduler: %v", l)
	}
}
