package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

// runWait bounds every wait for a daskca run process; reached only when a
// test is failing.
const runWait = 30 * time.Second

// runProc is a `daskca run` process in its own session.
type runProc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRun starts the daskca binary bin (built by buildDaskca: the real
// main, whose signal handling is under test) with args; it is sent SIGTERM,
// then SIGKILL, when the test ends.
func startRun(t *testing.T, bin, name string, args ...string) *runProc {
	t.Helper()
	return startRunEnv(t, bin, name, nil, args...)
}

// launch starts cmd in a session of its own, its output gathered in the
// returned runProc; the caller registers how it is stopped.
func launch(t *testing.T, name string, cmd *exec.Cmd) *runProc {
	t.Helper()
	p := &runProc{name: name, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// stop sends SIGTERM and waits for the exit, killing the process if it
// does not end within runWait. It returns the exit code.
func (p *runProc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(runWait):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s ignored SIGTERM for %v", p.name, runWait)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitLine waits for a log line holding every part and returns it.
func (p *runProc) waitLine(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(runWait)
	for {
		for line := range strings.Lines(p.out.String()) {
			if containsAll(line, parts) {
				return line
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before logging %q:\n%s", p.name, p.err, parts, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v:\n%s", p.name, parts, runWait, p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// logValue returns the value of key=value in a text log line.
func logValue(t *testing.T, line, key string) string {
	t.Helper()
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatalf("no %s= in %q", key, line)
	return ""
}

// startRunScheduler runs `daskca run scheduler` on a free loopback port
// and returns it with its address.
func startRunScheduler(t *testing.T, bin, config string) (*runProc, string) {
	t.Helper()
	p := startRun(t, bin, "scheduler", "run", "scheduler", "--go-native", "--config", config, "--listen", "tls://127.0.0.1:0")
	return p, logValue(t, p.waitLine(t, "scheduler listening"), "address")
}

func startRunWorker(t *testing.T, bin, sched, config string, extra ...string) *runProc {
	t.Helper()
	args := append([]string{"run", "worker", "--go-native", sched, "--config", config, "--listen", "tls://127.0.0.1:0"}, extra...)
	p := startRun(t, bin, "worker", args...)
	p.waitLine(t, "worker listening")
	return p
}

// runHome is a daskca home with a scheduler, two workers and a client for
// 127.0.0.1, under dir, and a YAML configuration file per endpoint.
type runHome struct {
	home, pw, dir string
	bin           string // the daskca binary
}

func newRunHome(t *testing.T, dir, caName string) runHome {
	t.Helper()
	h := runHome{home: filepath.Join(dir, "home"), pw: filepath.Join(dir, "pw"), dir: dir, bin: buildDaskca(t)}
	testtier.QuickKeys(t, h.home)
	if err := os.WriteFile(h.pw, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, h.home, "init", "--name", caName, "--password-file", h.pw)
	for _, r := range [][]string{{"scheduler", "sched"}, {"worker", "w1"}, {"worker", "w2"}, {"client", "alice"}} {
		mustCLI(t, h.home, "issue", r[0], r[1], "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", h.pw)
		y := mustCLI(t, h.home, "config", r[1], "--format", "yaml")
		if err := os.WriteFile(h.config(r[1]), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// config is the path of the endpoint's YAML configuration.
func (h runHome) config(name string) string { return filepath.Join(h.dir, name+".yaml") }

// files returns the certificate, key and CA file of an endpoint.
func (h runHome) files(role, name string) (cert, key, ca string) {
	d := filepath.Join(h.home, "certs", role, name)
	return filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem"), filepath.Join(d, "ca.pem")
}

// serial returns an endpoint's serial as daskca show prints it.
func (h runHome) serial(t *testing.T, name string) string {
	t.Helper()
	var info struct{ Serial string }
	if err := json.Unmarshal([]byte(mustCLI(t, h.home, "show", name, "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	return info.Serial
}

// writeWorkerConfig writes a worker configuration that uses the given
// certificate files, with extra YAML appended.
func writeWorkerConfig(t *testing.T, path, cert, key, ca, extra string) string {
	t.Helper()
	y := fmt.Sprintf(`distributed:
  comm:
    require-encryption: true
    default-scheme: tls
    tls:
      ca-file: %s
      worker:
        cert: %s
        key: %s
%s`, ca, cert, key, extra)
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// probeJSON runs daskca probe -o json in-process.
func probeJSON(t *testing.T, home, addr, config string, extra ...string) (code int, res map[string]any, stderr string) {
	t.Helper()
	args := append([]string{"probe", addr, "--config", config, "-o", "json", "--timeout", "20s"}, extra...)
	code, out, stderr := runCLI(t, home, nil, args...)
	if err := json.Unmarshal([]byte(out), &res); err != nil && code != exitUsage {
		t.Fatalf("probe -o json printed %q (stderr %q): %v", out, stderr, err)
	}
	return code, res, stderr
}

func TestRunSchedulerAndWorker(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Run Test CA")
	sched, addr := startRunScheduler(t, h.bin, h.config("sched"))
	worker := startRunWorker(t, h.bin, addr, h.config("w1"))
	sched.waitLine(t, "worker registered", "role=worker", "name=w1", "serial="+h.serial(t, "w1"))
	worker.waitLine(t, "registered with the scheduler", "role=scheduler", "name=sched", "serial="+h.serial(t, "sched"))

	code, res, stderr := probeJSON(t, h.home, addr, h.config("alice"))
	if code != 0 {
		t.Fatalf("probe: exit %d: %v %s", code, res, stderr)
	}
	if id, _ := res["identity"].(map[string]any); id["type"] != "Scheduler" || id["workers"] != 1.0 {
		t.Errorf("probe identity = %v", res["identity"])
	}
	sched.waitLine(t, "msg=connection", "role=client", "name=alice", "serial="+h.serial(t, "alice"))

	if code := sched.stop(t); code != 0 {
		t.Errorf("scheduler exit code after SIGTERM = %d, want 0", code)
	}
	if !strings.Contains(sched.out.String(), "scheduler stopped") {
		t.Errorf("no clean stop in the log:\n%s", sched.out)
	}
	worker.waitLine(t, "lost the scheduler; reconnecting")
	worker.waitLine(t, "cannot register with the scheduler; retrying", "nothing listens there")
	if code := worker.stop(t); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
}

// TestRunRoleMatrix runs the role checks end to end through daskca run:
// only a worker certificate may register with a scheduler, and a worker
// only accepts a scheduler as its scheduler.
func TestRunRoleMatrix(t *testing.T) {
	t.Parallel()
	h := newRunHome(t, t.TempDir(), "Matrix CA")
	sched, addr := startRunScheduler(t, h.bin, h.config("sched"))
	loose := "daskca:\n  role-policy: dask\n"
	cert, key, ca := h.files("client", "alice")

	// A client certificate lacks serverAuth, so a worker cannot even
	// listen with it, under either policy; the scheduler's own refusal of
	// client certificates that try to register is proven with real Dask
	// workers, which do not check their own certificate.
	for _, extra := range []string{"", loose} {
		t.Run("client certificate as a worker "+extra, func(t *testing.T) {
			cfg := writeWorkerConfig(t, filepath.Join(t.TempDir(), "w.yaml"), cert, key, ca, extra)
			code, _, stderr := runCLI(t, h.home, nil, "run", "worker", "--go-native", addr, "--config", cfg)
			if code != exitError || !strings.Contains(stderr, "is not valid for a worker") {
				t.Errorf("exit %d, stderr %q; want exit 1 refusing the client certificate", code, stderr)
			}
		})
	}
	t.Run("scheduler certificate as a worker, dask policy", func(t *testing.T) {
		cert, key, ca := h.files("scheduler", "sched")
		cfg := writeWorkerConfig(t, filepath.Join(t.TempDir(), "w.yaml"), cert, key, ca, loose)
		w := startRunWorker(t, h.bin, addr, cfg)
		sched.waitLine(t, "connection refused", "has role scheduler")
		w.waitLine(t, "the peer rejected our certificate")
	})
	t.Run("worker pointed at a worker", func(t *testing.T) {
		w1 := startRunWorker(t, h.bin, addr, h.config("w1"))
		w1Addr := logValue(t, w1.waitLine(t, "worker listening"), "address")
		w2 := startRunWorker(t, h.bin, w1Addr, h.config("w2"))
		w2.waitLine(t, "we refused the peer's certificate", "has role worker")
	})
}
