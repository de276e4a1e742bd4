package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
	"github.com/daskca/daskca/issue"
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

// TestStatusEnrolledShortLived: status judges a certificate of a few hours
// that a host enrolled by its host's renewal schedule: exit 0 while daskca
// enroll --watch would still renew it in time, 1 once its renewal is
// overdue and 2 once it expired, each with a line saying what to do on
// that host.
func TestStatusEnrolledShortLived(t *testing.T) {
	dir, pw := newHome(t, "Short CA")
	server := startServe(t, dir, pw)
	tok := strings.TrimSpace(mustCLI(t, dir, "token", "create", "worker", "--name", "node01", "--validity", "4h"))
	node := filepath.Join(t.TempDir(), "node01")
	mustCLI(t, "", "enroll", "--server", server, "--token", tok, "--name", "node01", "--dir", node)
	leaf := leafCert(t, mustRead(t, filepath.Join(node, "cert.pem")))
	issued := leaf.NotBefore.Add(issue.Backdate)
	life := leaf.NotAfter.Sub(issued)
	at := func(frac float64) time.Time { return issued.Add(time.Duration(frac * float64(life))) }
	tests := []struct {
		name  string
		now   time.Time
		args  []string
		code  int
		match []string
	}{
		{"fresh", at(0.1), nil, 0, []string{`worker +node01 +ok`, "status: ok"}},
		{"past two thirds, --watch still in time", at(0.72), nil, 0, []string{`worker +node01 +ok`, "status: ok"}},
		{"--within longer than its lifetime", at(0.1), []string{"--within", "30d"}, 0, []string{"status: ok"}},
		{"renewal overdue", at(0.8), nil, 1, []string{`worker +node01 +overdue`, `warning: enrolled worker/node01 .* was not renewed by its host`, "check daskca enroll --renew --watch on node01"}},
		{"overdue, json", at(0.8), []string{"-o", "json"}, 1, []string{`"state": "overdue"`, `"enrolled": true`}},
		{"expired", at(1.01), nil, 2, []string{`worker +node01 +expired`, "enrol node01 again with a new token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLIAt(t, dir, tt.now, append([]string{"status"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, stderr)
			}
			for _, m := range tt.match {
				if !regexp.MustCompile(m).MatchString(out) {
					t.Errorf("output lacks %q:\n%s", m, out)
				}
			}
		})
	}
}

func leafCert(t *testing.T, pemData string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(pemData))
	if b == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
