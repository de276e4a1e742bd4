package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/daskrun"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// TestRunDaskPreflight checks what daskca run refuses before Python
// starts: each mistake is one error line naming it, and exit status 2.
func TestRunDaskPreflight(t *testing.T) {
	dir := t.TempDir()
	h, pw := newHome(t, "Preflight CA")
	for _, r := range [][]string{{"scheduler", "sched"}, {"worker", "w1"}, {"worker", "w2"}, {"worker", "gone"}} {
		mustCLI(t, h, "issue", r[0], r[1], "--ip", "127.0.0.1", "--password-file", pw)
	}
	mustCLI(t, h, "revoke", "gone", "--password-file", pw)
	cfg := func(name string) string {
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(mustCLI(t, h, "config", name)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sched, w1 := cfg("sched"), cfg("w1")
	// The revoked certificate's config, written before the revocation
	// took it out of the inventory's active set: from its files.
	goneCert, goneKey, goneCA := filepath.Join(h, "certs", "worker", "gone", "cert.pem"),
		filepath.Join(h, "certs", "worker", "gone", "key.pem"), filepath.Join(h, "certs", "worker", "gone", "ca.pem")
	gone := writeWorkerConfig(t, filepath.Join(dir, "gone.yaml"), goneCert, goneKey, goneCA,
		"daskca:\n  crl-file: "+filepath.Join(h, "crl.pem")+"\n")
	w1Cert, _, w1CA := filepath.Join(h, "certs", "worker", "w1", "cert.pem"), "", filepath.Join(h, "certs", "worker", "w1", "ca.pem")
	mismatched := writeWorkerConfig(t, filepath.Join(dir, "mismatch.yaml"), w1Cert,
		filepath.Join(h, "certs", "worker", "w2", "key.pem"), w1CA, "")
	otherHome, otherPW := newHome(t, "Other CA")
	mustCLI(t, otherHome, "issue", "worker", "x", "--ip", "127.0.0.1", "--password-file", otherPW)
	foreignCA := writeWorkerConfig(t, filepath.Join(dir, "foreign.yaml"), w1Cert,
		filepath.Join(h, "certs", "worker", "w1", "key.pem"), filepath.Join(otherHome, "certs", "worker", "x", "ca.pem"), "")
	schedAsWorker := writeWorkerConfig(t, filepath.Join(dir, "schedasworker.yaml"), filepath.Join(h, "certs", "scheduler", "sched", "cert.pem"),
		filepath.Join(h, "certs", "scheduler", "sched", "key.pem"), filepath.Join(h, "certs", "scheduler", "sched", "ca.pem"), "")
	noDask := filepath.Join(dir, "nodask")
	if err := os.WriteFile(noDask, []byte("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'distributed'\" >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	py := dasktest.Python(t)
	worker := func(cfg string, extra ...string) []string {
		return append([]string{"run", "worker", "tls://127.0.0.1:8786", "--config", cfg, "--python", py}, extra...)
	}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		now    time.Time
		stderr []string
	}{
		{name: "scheduler config for a worker", args: worker(sched), stderr: []string{"no certificate for role worker"}},
		{name: "worker config for a scheduler", args: []string{"run", "scheduler", "--config", w1, "--python", py},
			stderr: []string{"no certificate for role scheduler"}},
		{name: "scheduler certificate as a worker's", args: worker(schedAsWorker), stderr: []string{"not a worker certificate"}},
		{name: "key of another certificate", args: worker(mismatched), stderr: []string{"private key does not match"}},
		{name: "chain to another CA", args: worker(foreignCA), stderr: []string{"not valid for a worker", "unknown authority"}},
		{name: "expired", args: worker(w1), now: time.Now().AddDate(5, 0, 0), stderr: []string{"expired"}},
		{name: "revoked by the configured CRL", args: worker(gone), stderr: []string{"certificate revoked", "crl.pem"}},
		{name: "no such interpreter", args: worker(w1, "--python", filepath.Join(dir, "nopython")),
			stderr: []string{"no Python interpreter", "--python /usr/bin/python3"}},
		{name: "DASKCA_PYTHON names no interpreter", args: []string{"run", "worker", "tls://127.0.0.1:8786", "--config", w1},
			env: map[string]string{"DASKCA_PYTHON": filepath.Join(dir, "nopython")}, stderr: []string{"$DASKCA_PYTHON"}},
		{name: "interpreter without distributed", args: worker(w1, "--python", noDask),
			stderr: []string{"cannot import distributed", "No module named 'distributed'", "hint: pass the interpreter"}},
		{name: "negative nthreads", args: worker(w1, "--nthreads", "-5"), stderr: []string{"--nthreads -5"}},
		{name: "plaintext scheduler", args: []string{"run", "worker", "tcp://127.0.0.1:8786", "--config", w1, "--python", py},
			stderr: []string{"not tls://"}},
		{name: "plaintext listen", args: []string{"run", "scheduler", "--config", sched, "--listen", "tcp://127.0.0.1:0", "--python", py},
			stderr: []string{"serves TLS only"}},
		{name: "Go runner flag without --go-native", args: worker(w1, "--max-conns", "5"), stderr: []string{"--max-conns applies to --go-native"}},
		{name: "python with --go-native", args: worker(w1, "--go-native"), stderr: []string{"--python", "--go-native"}},
		{name: "dask args with --go-native", args: []string{"run", "scheduler", "--go-native", "--config", sched, "--", "--port", "1"},
			stderr: []string{"after --"}},
		{name: "--preload for dask", args: worker(w1, "--", "--preload", "x.py"), stderr: []string{"--preload after --", "distributed.worker.preload"}},
		{name: "extra positional", args: []string{"run", "scheduler", "tls://x:1", "--config", sched}, stderr: []string{"takes 0 argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Now
			if !tt.now.IsZero() {
				now = func() time.Time { return tt.now }
			}
			code, _, stderr := runCLIEnv(h, tt.env, now, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if n := strings.Count(stderr, "daskca: error:"); n != 1 {
				t.Errorf("%d error lines, want 1:\n%s", n, stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "starting dask") {
				t.Errorf("started Dask despite the error:\n%s", stderr)
			}
		})
	}
}

// TestPreflightErrorMessages pins how daskca run says each failed
// pre-flight check: one line in its own terms (flags, where the
// interpreter came from), the fix as a hint, exit status 2.
func TestPreflightErrorMessages(t *testing.T) {
	cause := errors.New("cause")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "config", err: &daskrun.PreflightError{Check: daskrun.CheckConfig, Err: cause},
			want: "daskca: error: cause\nhint: write the file with: daskca config NAME --format yaml > FILE\n"},
		{name: "material", err: &daskrun.PreflightError{Check: daskrun.CheckMaterial, Err: cause},
			want: "daskca: error: cause\nhint: distributed.comm.tls.worker.cert/key and tls.ca-file must name a valid worker certificate of this CA: " +
				"daskca config NAME --format yaml writes them\n"},
		{name: "revoked", err: &daskrun.PreflightError{Check: daskrun.CheckRevoked, Err: cause},
			want: "daskca: error: cause\nhint: issue a new certificate (daskca issue worker NAME --force) and write the config again\n"},
		{name: "dask args", err: &daskrun.PreflightError{Check: daskrun.CheckDaskArgs, Value: "--preload", Err: cause},
			want: "daskca: error: --preload after --: cause\n"},
		{name: "listen not tls", err: &daskrun.PreflightError{Check: daskrun.CheckListen, Value: "tcp://:0", Err: daskrun.ErrNotTLS},
			want: "daskca: error: --listen \"tcp://:0\": daskca run serves TLS only; use tls://HOST:PORT\n"},
		{name: "listen malformed", err: &daskrun.PreflightError{Check: daskrun.CheckListen, Value: "x", Err: cause},
			want: "daskca: error: --listen \"x\": cause\n"},
		{name: "scheduler not tls", err: &daskrun.PreflightError{Check: daskrun.CheckScheduler, Value: "tcp://s:1", Err: daskrun.ErrNotTLS},
			want: "daskca: error: scheduler address \"tcp://s:1\" is not tls:// (daskca run speaks TLS only)\n"},
		{name: "scheduler malformed", err: &daskrun.PreflightError{Check: daskrun.CheckScheduler, Value: "x", Err: cause},
			want: "daskca: error: scheduler address \"x\": cause\n"},
		{name: "no interpreter", err: &daskrun.PreflightError{Check: daskrun.CheckPython, Value: "py", Err: cause},
			want: "daskca: error: no Python interpreter \"py\" (from $DASKCA_PYTHON): cause\nhint: " + pythonHint + "\n"},
		{name: "no distributed", err: &daskrun.PreflightError{Check: daskrun.CheckPython, Value: "/bin/py",
			Err: fmt.Errorf("%w: exit status 1: ModuleNotFoundError", daskrun.ErrNoDistributed)},
			want: "daskca: error: /bin/py (from $DASKCA_PYTHON) cannot import distributed: exit status 1: ModuleNotFoundError\nhint: " + pythonHint + "\n"},
		{name: "plugin", err: &daskrun.PreflightError{Check: daskrun.CheckPlugin, Value: "/etc/dask/p.py", Key: "distributed.nanny.preload", Err: cause},
			want: "daskca: error: cause\nhint: distributed.nanny.preload names daskca's plugin at /etc/dask/p.py; " +
				"make its directory writable, or write the configuration again with daskca config\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if code := report(&b, preflightError(tt.err, identity.Worker, "$"+envPython)); code != exitUsage || b.String() != tt.want {
				t.Errorf("exit %d\n%s\nwant exit %d\n%s", code, b.String(), exitUsage, tt.want)
			}
		})
	}
	other := errors.New("disk full")
	if err := preflightError(other, identity.Worker, "PATH"); err != other {
		t.Errorf("an error that is not a failed check became %v", err)
	}
}
