package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
)

// TestRealDaskRotationOverlap runs real Dask without daskca's plugin
// (configurations written with --no-plugin) on the two-CA overlap bundle of
// a CA rotation: scheduler and workers on certificates of the new CA, a
// client still on a certificate of the old one, all trusting the bundle
// `ca rotate begin` wrote. Then, after `ca rotate finish`, it shows why
// docs/operations.md says to restart real Dask that runs without the
// plugin: the running scheduler keeps
// the overlap it loaded and still accepts the old client, while a scheduler
// started on the finished bundle refuses it.
func TestRealDaskRotationOverlap(t *testing.T) {
	c := newDaskCluster(t)
	alice := filepath.Join(c.home, "certs", "client", "alice")
	oldDir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		copyTo(t, filepath.Join(alice, f), filepath.Join(oldDir, f))
	}
	oldIssuer := issuerCN(t, filepath.Join(oldDir, "cert.pem"))

	mustCLI(t, c.home, "ca", "rotate", "begin", "--password-file", c.pw)
	mustCLI(t, c.home, "ca", "rotate", "issue", "--password-file", c.pw)
	for _, ep := range []string{"scheduler/sched", "worker/w1", "worker/w2"} {
		if got := issuerCN(t, filepath.Join(c.home, "certs", ep, "cert.pem")); got == oldIssuer {
			t.Fatalf("%s is still on the old CA %q", ep, got)
		}
	}
	if n := strings.Count(string(mustReadFile(t, filepath.Join(alice, "ca.pem"))), "BEGIN CERTIFICATE"); n != 2 {
		t.Fatalf("overlap bundle holds %d roots, want 2", n)
	}

	sched := startSnippetCluster(t, c, "--no-plugin")
	oldClient := oldClientScript(t, c, alice, oldDir)
	out, err := dasktest.RunPython(t, clientScript(oldClient, c.sched), nil, 90*time.Second)
	if err != nil || !strings.Contains(out, "workers: ['w1', 'w2']") {
		t.Fatalf("old-CA client on new-CA workers: %v\n%s\nscheduler log:\n%s", err, out, sched.Log())
	}
	if n := sched.CountLines(dasktest.LogTLSHandshakeFailed); n != 0 {
		t.Errorf("the scheduler refused %d handshakes during the overlap:\n%s", n, sched.Log())
	}

	mustCLI(t, c.home, "ca", "rotate", "finish", "--password-file", c.pw)
	// the running scheduler built its TLS context once: the old root is still trusted
	const connect = "distributed.Client(%q, security=security, timeout='15s').close()\nprint('connected')\n"
	if out, err := dasktest.RunPython(t, oldClient+fmt.Sprintf(connect, c.sched), nil, 60*time.Second); err != nil || !strings.Contains(out, "connected") {
		t.Errorf("the running scheduler dropped the old root without a restart: %v\n%s", err, out)
	}
	// a scheduler started after finish trusts the new root alone
	c2 := c
	c2.sched = "tls://127.0.0.1:" + freePort(t)
	env, argv := shellWords(t, mustCLI(t, c.home, "config", "sched", "--format", "cli", "--scheduler", c2.sched, "--no-plugin"))
	fresh := dasktest.StartScheduler(t, dasktest.SchedulerOptions{Args: argv[2:], Env: env})
	before := fresh.CountLines(dasktest.LogTLSHandshakeFailed)
	if _, err := dasktest.RunPython(t, oldClient+fmt.Sprintf(connect, c2.sched), nil, 60*time.Second); err == nil {
		t.Error("a scheduler started after finish accepted an old-CA client")
	}
	waitForCount(t, fresh, dasktest.LogTLSHandshakeFailed, before+1)
	newClient := mustCLI(t, c.home, "config", "alice", "--format", "python", "--no-plugin")
	if out, err := dasktest.RunPython(t, newClient+fmt.Sprintf(connect, c2.sched), nil, 60*time.Second); err != nil || !strings.Contains(out, "connected") {
		t.Errorf("new-CA client refused after finish: %v\n%s", err, out)
	}
}

// oldClientScript is alice's python snippet pointing at her old-CA
// certificate and key, and at the current (overlap) bundle.
func oldClientScript(t *testing.T, c daskCluster, alice, oldDir string) string {
	t.Helper()
	py := mustCLI(t, c.home, "config", "alice", "--format", "python", "--scheduler", c.sched, "--no-plugin")
	for _, f := range []string{"cert.pem", "key.pem"} {
		from, to := filepath.Join(alice, f), filepath.Join(oldDir, f)
		if !strings.Contains(py, from) {
			t.Fatalf("python snippet does not name %s:\n%s", from, py)
		}
		py = strings.Replace(py, from, to, 1)
	}
	return py
}

func issuerCN(t *testing.T, path string) string {
	t.Helper()
	b, _ := pem.Decode(mustReadFile(t, path))
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.Issuer.CommonName
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyTo(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, mustReadFile(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}
