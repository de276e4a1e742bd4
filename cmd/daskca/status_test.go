package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// runCLIAt runs the command tree in-process on a pinned clock, with the
// test password in DASKCA_PASSWORD.
func runCLIAt(t *testing.T, home string, now time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCLIEnv(home, map[string]string{"DASKCA_PASSWORD": testPassword}, func() time.Time { return now }, args...)
}

// TestStatusExitCodes drives one home through time: status exits 0, 1 or 2
// as a monitoring check would, by the injected clock alone.
func TestStatusExitCodes(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Now().UTC().Truncate(time.Second)
	home := filepath.Join(t.TempDir(), "home")
	testtier.QuickKeys(t, home)
	must := func(now time.Time, args ...string) {
		t.Helper()
		if code, _, stderr := runCLIAt(t, home, now, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	must(t0, "init", "--name", "Status CA")
	must(t0, "issue", "worker", "w1", "--validity", "90d")
	must(t0, "issue", "worker", "w2", "--validity", "90d")
	must(t0, "issue", "client", "c1", "--validity", "30d")
	tests := []struct {
		name  string
		at    time.Duration
		args  []string
		code  int
		match string
	}{
		{"all fresh", day, nil, 0, "status: ok"},
		{"client in its window", 21 * day, nil, 1, "client +c1 +renew"},
		{"--within narrower than the window", 21 * day, []string{"--within", "5d"}, 0, "status: ok"},
		{"--within wider than the window", day, []string{"--within", "100d"}, 1, "worker +w1 +renew"},
		{"client expired", 31 * day, nil, 2, "client +c1 +expired"},
		{"json says the level", 31 * day, []string{"-o", "json"}, 2, `"status": "critical"`},
		{"prom says the level", 31 * day, []string{"-o", "prom"}, 2, "daskca_status 2"},
		{"bad format", day, []string{"-o", "yaml"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLIAt(t, home, t0.Add(tt.at), append([]string{"status"}, tt.args...)...)
			if ok, _ := regexp.MatchString(tt.match, out); code != tt.code || !ok {
				t.Errorf("exit %d, want %d; output lacks %q?\n%s%s", code, tt.code, tt.match, out, stderr)
			}
			if tt.match != "" && stderr != "" {
				t.Errorf("a monitoring result printed to stderr: %s", stderr)
			}
		})
	}

	// renewing what is due brings it back to 0; revoking a worker whose
	// files are still in place makes it 2; retiring it (files gone) 0.
	now := t0.Add(21 * day)
	must(now, "renew")
	if code, out, _ := runCLIAt(t, home, now, "status"); code != 0 {
		t.Errorf("after renew: exit %d\n%s", code, out)
	}
	must(now, "revoke", "w2", "--reason", "keyCompromise")
	if code, out, _ := runCLIAt(t, home, now, "status"); code != 2 || !regexp.MustCompile(`worker +w2 +revoked`).MatchString(out) {
		t.Errorf("revoked in use: exit %d, want 2\n%s", code, out)
	}
	if err := os.RemoveAll(filepath.Join(home, "certs", "worker", "w2")); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLIAt(t, home, now, "status"); code != 0 || !strings.Contains(out, "retired") {
		t.Errorf("revoked, files removed: exit %d, want 0\n%s", code, out)
	}
	// the CRL passes its nextUpdate: a warning until daskca crl runs
	later := now.Add(8 * day)
	if code, out, _ := runCLIAt(t, home, later, "status"); code != 1 || !strings.Contains(out, "run daskca crl") {
		t.Errorf("stale CRL: exit %d, want 1\n%s", code, out)
	}
	must(later, "crl")
	if code, out, _ := runCLIAt(t, home, later, "status"); code != 0 {
		t.Errorf("after crl: exit %d\n%s", code, out)
	}
}
