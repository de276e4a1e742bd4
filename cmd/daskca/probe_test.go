package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport"
	"github.com/daskca/daskca/transport/daskconfig"
)

// startGoScheduler runs a transport.Scheduler in-process with the home's
// scheduler certificate and returns its address.
func startGoScheduler(t *testing.T, h runHome) string {
	t.Helper()
	cfg, err := daskconfig.LoadFile(h.config("sched"))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := transport.NewSecurity(cfg, identity.Scheduler, transport.SecurityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := transport.ListenScheduler(context.Background(), sec, transport.SchedulerOptions{Listen: "tls://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

func TestProbeExitCodes(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Probe CA")
	addr := startGoScheduler(t, h)
	closed := "tls://127.0.0.1:" + freePort(t)

	// A client of another CA whose bundle also trusts ours, accepting any
	// role (its trust domain differs): only the scheduler's check of the
	// client certificate can fail.
	other := newRunHome(t, t.TempDir(), "Other CA")
	_, _, otherCA := other.files("client", "alice")
	_, _, ourCA := h.files("client", "alice")
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, append(mustReadFile(t, ourCA), mustReadFile(t, otherCA)...), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign.yaml")
	y := strings.NewReplacer(otherCA, bundle).Replace(mustCLI(t, other.home, "config", "alice", "--format", "yaml")) + "daskca:\n  role-policy: dask\n"
	if err := os.WriteFile(foreign, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		addr   string
		config string
		extra  []string
		code   int
		status string
		stderr string
	}{
		{"ok", addr, h.config("alice"), nil, 0, "ok", ""},
		{"expiring", addr, h.config("alice"), []string{"--warn-within", "400d"}, 1, "warning", ""},
		{"with a worker certificate", addr, h.config("w1"), nil, 0, "ok", ""},
		{"nothing listening", closed, h.config("alice"), nil, 2, "failed", ""},
		{"foreign client certificate", addr, foreign, nil, 2, "failed", ""},
		{"bad output flag", addr, h.config("alice"), []string{"-o", "table"}, 2, "", "-o"},
		{"missing config", addr, filepath.Join(t.TempDir(), "none.yaml"), nil, 2, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, res, stderr := probeJSON(t, h.home, tt.addr, tt.config, tt.extra...)
			if code != tt.code || (tt.status != "" && res["status"] != tt.status) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, status %v, stderr %q; want %d, %s, %q", code, res["status"], stderr, tt.code, tt.status, tt.stderr)
			}
			if res != nil && res["exit_code"] != nil && res["exit_code"] != float64(code) {
				t.Errorf("exit_code %v in the JSON, exit %d", res["exit_code"], code)
			}
		})
	}
	t.Run("foreign certificate says what happened", func(t *testing.T) {
		_, res, _ := probeJSON(t, h.home, addr, foreign)
		if e, _ := res["error"].(string); !strings.Contains(e, "the peer rejected our certificate") {
			t.Errorf("error = %q", e)
		}
	})
}

func TestProbeText(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Probe Text CA")
	addr := startGoScheduler(t, h)
	code, out, stderr := runCLI(t, h.home, nil, "probe", addr, "--config", h.config("alice"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"tls:", "TLS 1.3", "our certificate:", "client \"CN=alice,OU=client\"",
		"peer certificate:", "CN=sched,OU=scheduler", "(role scheduler, name sched)", "localhost, 127.0.0.1",
		"serial:", h.serial(t, "sched"), "expires:", "dask handshake:", "python 3.11.2, pickle protocol 5",
		"identity:", "Scheduler Scheduler-", "0 worker(s)", "status:", "ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("probe output lacks %q:\n%s", want, out)
		}
	}
}

func TestProbeDaskSearchPath(t *testing.T) {
	h := newRunHome(t, t.TempDir(), "Search Path CA")
	addr := startGoScheduler(t, h)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tls.yaml"), mustReadFile(t, h.config("alice")), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DASK_CONFIG", dir)
	code, out, stderr := runCLI(t, h.home, map[string]string{"HOME": t.TempDir()}, "probe", addr)
	if code != 0 || !strings.Contains(out, "our certificate:   client") {
		t.Errorf("probe with DASK_CONFIG: exit %d\n%s%s", code, out, stderr)
	}
}
