package main

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// crashScenario is a command killed at random moments and the command
// whose re-run completes its work.
type crashScenario struct {
	name  string
	setup [][]string // commands that build the starting home after init
	kill  []string   // the command killed
	rerun []string   // the command that finishes the job
	// phase marks a CA rotation phase. A phase that narrows the trust
	// bundle (abort, finish) records itself, moves the CA directories and
	// then rewrites every endpoint's ca.pem: killed in between, ca.pem
	// files still trust the retired root, which re-running the phase
	// removes. That problem, and only that one, is accepted after a kill;
	// after the re-run the home must be strictly consistent.
	phase bool
	// widens marks the phase that widens the bundles (begin): killed
	// while it writes them, some ca.pem lack the new root, which nothing
	// signs yet (ca rotate issue first gives every bundle both roots);
	// re-running the phase adds it. That problem is accepted too.
	widens bool
}

var crashScenarios = []crashScenario{
	{
		name:  "bulk issue",
		kill:  []string{"issue", "worker", "--hosts", "node[001-300].dask.internal"},
		rerun: []string{"issue", "worker", "--hosts", "node[001-300].dask.internal"},
	},
	{
		name:  "bulk replace",
		setup: [][]string{{"issue", "worker", "--hosts", "node[001-300].dask.internal"}},
		kill:  []string{"issue", "worker", "--hosts", "node[001-300].dask.internal", "--force"},
		rerun: []string{"issue", "worker", "--hosts", "node[001-300].dask.internal"},
	},
	{
		name:  "renew",
		setup: [][]string{{"issue", "worker", "--hosts", "r[001-300].dask.internal"}, {"issue", "client", "alice"}},
		kill:  []string{"renew", "--all"},
		rerun: []string{"renew"},
	},
	{
		name:  "rotate issue",
		setup: [][]string{{"issue", "worker", "--hosts", "node[001-300].dask.internal"}, {"issue", "client", "alice"}, {"ca", "rotate", "begin"}},
		kill:  []string{"ca", "rotate", "issue"},
		rerun: []string{"ca", "rotate", "issue"},
		phase: true,
	},
	{
		name:   "rotate begin",
		setup:  [][]string{{"issue", "worker", "--hosts", "node[001-300].dask.internal"}, {"issue", "client", "alice"}},
		kill:   []string{"ca", "rotate", "begin"},
		rerun:  []string{"ca", "rotate", "begin"},
		phase:  true,
		widens: true,
	},
	{
		name:  "rotate finish",
		setup: [][]string{{"issue", "worker", "--hosts", "node[001-300].dask.internal"}, {"ca", "rotate", "begin"}, {"ca", "rotate", "issue"}},
		kill:  []string{"ca", "rotate", "finish"},
		rerun: []string{"ca", "rotate", "finish"},
		phase: true,
	},
	{
		name:  "rotate abort",
		setup: [][]string{{"issue", "worker", "--hosts", "node[001-300].dask.internal"}, {"ca", "rotate", "begin"}, {"ca", "rotate", "issue"}},
		kill:  []string{"ca", "rotate", "abort"},
		rerun: []string{"ca", "rotate", "abort"},
		phase: true,
	},
}

// envInt reads a positive integer setting of the crash test.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestCrashKill kills real daskca processes (bulk issue, bulk replacement
// with --force, renew --all, ca rotate begin, issue, finish and abort) with SIGKILL at random moments, several times
// in a row on the same home, and checks after every kill that the home is
// consistent (checkConsistent: inventory check passes, every active
// certificate's files are its own or complete old ones awaiting a pending
// renewal, nothing is cut short, no key lacks its certificate), then that
// re-running the command completes the job and leaves a strictly
// consistent home. It runs for DASKCA_CRASH_SECONDS (default 60);
// scripts/crash-test runs it longer. DASKCA_CRASH_SEED replays a run.
func TestCrashKill(t *testing.T) {
	testtier.Full(t, "a minute of killing daskca processes")
	budget := time.Duration(envInt("DASKCA_CRASH_SECONDS", 60)) * time.Second
	seed := uint64(envInt("DASKCA_CRASH_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("seed %d (DASKCA_CRASH_SEED=%d replays this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	bin := buildDaskca(t)
	start := time.Now()
	kills, finished := 0, 0
	for round := 0; time.Since(start) < budget; round++ {
		for _, sc := range crashScenarios {
			if time.Since(start) >= budget {
				break
			}
			t.Run(sc.name, func(t *testing.T) {
				k, f := runCrashChain(t, bin, sc, rng, 5)
				kills, finished = kills+k, finished+f
			})
			if t.Failed() {
				t.Fatalf("seed %d", seed)
			}
		}
	}
	t.Logf("%d processes killed mid-run, %d finished before their kill, in %s", kills, finished, time.Since(start).Round(time.Second))
}

// runCrashChain builds the scenario's home, measures one clean run of the
// killed command, then kills it n times in a row at random moments within
// that duration, checking the home after each kill, and finally re-runs.
func runCrashChain(t *testing.T, bin string, sc crashScenario, rng *rand.Rand, n int) (kills, finished int) {
	h := newBinHome(t, bin)
	for _, args := range sc.setup {
		h.mustRun(t, args...)
	}
	snap := filepath.Join(t.TempDir(), "snapshot")
	mustCopyTree(t, h.dir, snap)
	began := time.Now()
	h.mustRun(t, sc.kill...)
	full := time.Since(began)
	h.checkConsistent(t, true)
	mustRestoreTree(t, snap, h.dir)
	for i := 0; i < n; i++ {
		if killAt(t, h, sc.kill, time.Duration(rng.Int64N(int64(full)+1))) {
			kills++
		} else {
			finished++
		}
		if sc.phase {
			h.checkPhaseKilled(t, sc.widens)
		} else {
			h.checkConsistent(t, false)
		}
		if t.Failed() {
			t.Fatalf("after kill %d of %s", i+1, strings.Join(sc.kill, " "))
		}
	}
	h.mustRun(t, sc.rerun...)
	h.checkConsistent(t, true)
	return kills, finished
}

// killAt starts daskca with args and sends it SIGKILL after d. It reports
// whether the process was still running when killed.
func killAt(t *testing.T, h binHome, args []string, d time.Duration) bool {
	t.Helper()
	c := h.command(args...)
	c.Stdout, c.Stderr = io.Discard, io.Discard
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(d):
	}
	_ = c.Process.Signal(syscall.SIGKILL)
	err := <-done
	return err != nil && strings.Contains(err.Error(), "killed")
}

// newBinHome initializes a home for the binary with a password.
func newBinHome(t *testing.T, bin string) binHome {
	t.Helper()
	h := binHome{bin: bin, dir: filepath.Join(t.TempDir(), "home"), pw: testPassword}
	h.mustRun(t, "init", "--name", "Crash CA", "--permit-dns", ".dask.internal", "--validity", "5y")
	return h
}

// mustCopyTree copies the directory src to dst (which must not exist),
// keeping file modes.
func mustCopyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Mkdir(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, info.Mode().Perm()); err != nil {
			return err
		}
		return os.Chmod(target, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// mustRestoreTree replaces dst by a copy of src, at the same path, so the
// file paths recorded in the inventory stay right.
func mustRestoreTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	mustCopyTree(t, src, dst)
}

// checkPhaseKilled is checkConsistent after a CA rotation phase was
// killed: inventory check may report bundles that do not match the CA yet
// (see crashScenario.phase), and nothing else.
func (h binHome) checkPhaseKilled(t *testing.T, widens bool) {
	t.Helper()
	code, out, errOut := h.run("inventory", "check")
	if code != 0 {
		for _, line := range strings.Split(out+errOut, "\n") {
			line = strings.TrimSpace(line)
			// A bundle may still trust the CA the phase retired; it must
			// never lack a root the CA's bundle has (the "lacks a root"
			// problem: endpoints refusing peers still on that CA), except
			// the new root during begin, which signs nothing yet.
			explained := strings.Contains(line, "which is not in the CA's trust bundle") ||
				(widens && strings.Contains(line, "lacks a root of the CA's trust bundle"))
			if strings.HasPrefix(line, "problem:") && !explained {
				t.Fatalf("inventory check: exit %d, a problem a re-run of the phase does not explain:\n%q\n(whole output: %s)", code, line, out+errOut)
			}
		}
	}
	for _, r := range h.records(t) {
		if r.Status == "active" {
			h.checkActive(t, r, false)
		}
	}
	h.checkAllFiles(t)
}
