package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
	"github.com/daskca/daskca/internal/testkit/testtier"
)

// These tests run the snippets daskca emits, literally, on real Dask
// (Debian's python3-distributed): a missing Dask fails them, never skips.

// daskCluster is a home with a CA, a scheduler, two workers and a client for
// 127.0.0.1, and the scheduler address the snippets are rendered for.
type daskCluster struct {
	home, pw, sched string
}

func newDaskCluster(t *testing.T) daskCluster {
	t.Helper()
	dasktest.Host(t) // before the home is made: skipped under -short, failed without Dask
	home, pw := newHome(t, "Dask Test CA")
	c := daskCluster{home: home, pw: pw, sched: "tls://127.0.0.1:" + freePort(t)}
	for _, r := range [][]string{{"scheduler", "sched"}, {"worker", "w1"}, {"worker", "w2"}, {"client", "alice"}} {
		mustCLI(t, home, "issue", r[0], r[1], "--dns", "localhost", "--ip", "127.0.0.1", "--password-file", pw)
	}
	return c
}

func newHome(t *testing.T, caName string) (home, pwFile string) {
	t.Helper()
	dir := t.TempDir()
	testtier.QuickKeys(t, dir)
	home, pwFile = filepath.Join(dir, "home"), filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, home, "init", "--name", caName, "--password-file", pwFile)
	return home, pwFile
}

func mustCLI(t *testing.T, home string, args ...string) string {
	t.Helper()
	code, out, stderr := runCLI(t, home, nil, args...)
	if code != 0 {
		t.Fatalf("daskca %v: exit %d: %s", args, code, stderr)
	}
	return out
}

// freePort returns a loopback port that was free a moment ago: the snippets
// must name the scheduler's address before it starts.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// startSnippetCluster starts a real scheduler from the cli snippet, one worker
// from the yaml snippet (DASK_CONFIG) and one from the env snippet.
func startSnippetCluster(t *testing.T, c daskCluster, extra ...string) (sched *dasktest.Proc) {
	t.Helper()
	flags := append([]string{"--scheduler", c.sched}, extra...)
	env, argv := shellWords(t, mustCLI(t, c.home, append([]string{"config", "sched", "--format", "cli"}, flags...)...))
	if strings.Join(argv[:2], " ") != "dask scheduler" {
		t.Fatalf("cli snippet does not start with dask scheduler: %v", argv)
	}
	sched = dasktest.StartScheduler(t, dasktest.SchedulerOptions{Args: argv[2:], Env: env})
	if sched.Addr != c.sched {
		t.Fatalf("scheduler listens on %s, snippet says %s", sched.Addr, c.sched)
	}

	cfgDir := t.TempDir()
	y := mustCLI(t, c.home, append([]string{"config", "w1", "--format", "yaml"}, flags...)...)
	if err := os.WriteFile(filepath.Join(cfgDir, "dask-tls.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	dasktest.StartWorker(t, "", dasktest.WorkerOptions{Env: []string{"DASK_CONFIG=" + cfgDir}, Args: []string{"--name", "w1"}})

	envVars := exportLines(t, mustCLI(t, c.home, append([]string{"config", "w2", "--format", "env"}, flags...)...))
	dasktest.StartWorker(t, "", dasktest.WorkerOptions{Env: envVars, Args: []string{"--name", "w2"}})
	return sched
}

// clientScript is the python snippet followed by a computation on the cluster.
func clientScript(snippetPy, sched string) string {
	return snippetPy + fmt.Sprintf(`
client = distributed.Client(%q, security=security, timeout="30s")
client.wait_for_workers(2, timeout=30)
assert client.submit(lambda x: x + 1, 41).result(timeout=30) == 42
workers = client.scheduler_info()["workers"]
assert all(a.startswith("tls://") for a in workers), workers
print("workers:", sorted(w["name"] for w in workers.values()))
client.close()
`, sched)
}

func TestRealDaskSnippets(t *testing.T) {
	c := newDaskCluster(t)
	for _, tt := range []struct {
		name  string
		flags []string
	}{
		{"separate files, TLS 1.2+", nil},
		{"combined files, TLS 1.3", []string{"--combined", "--min-tls", "1.3"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sched := startSnippetCluster(t, c, tt.flags...)
			py := mustCLI(t, c.home, append([]string{"config", "alice", "--format", "python", "--scheduler", c.sched}, tt.flags...)...)
			out, err := dasktest.RunPython(t, clientScript(py, c.sched), nil, 90*time.Second)
			if err != nil {
				t.Fatalf("client: %v\nscheduler log:\n%s", err, sched.Log())
			}
			if !strings.Contains(out, "workers: ['w1', 'w2']") {
				t.Errorf("client saw %q, want both workers", out)
			}
			if !strings.Contains(sched.Log(), "Import preload module: "+filepath.Join(c.home, "daskca_plugin.py")) {
				t.Errorf("the scheduler did not load daskca's plugin from the cli snippet:\n%s", sched.Log())
			}
			if contains(tt.flags, "1.3") {
				checkTLSVersions(t, c, sched)
			}
		})
	}
}

// checkTLSVersions asserts with OpenSSL that a scheduler configured for TLS
// 1.3 refuses TLS 1.2 and accepts 1.3.
func checkTLSVersions(t *testing.T, c daskCluster, sched *dasktest.Proc) {
	t.Helper()
	files := filepath.Join(c.home, "certs", "client", "alice")
	host := strings.TrimPrefix(c.sched, "tls://")
	for _, v := range []struct {
		flag string
		ok   bool
	}{{"-tls1_2", false}, {"-tls1_3", true}} {
		cmd := exec.Command("openssl", "s_client", "-connect", host, v.flag, "-CAfile", filepath.Join(files, "ca.pem"),
			"-cert", filepath.Join(files, "cert.pem"), "-key", filepath.Join(files, "key.pem"), "-verify_return_error", "-brief")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if ok := err == nil && strings.Contains(string(out), "Protocol version: TLSv1.3"); ok != v.ok {
			t.Errorf("openssl s_client %s: succeeded=%v, want %v\n%s", v.flag, ok, v.ok, out)
		}
	}
}

// TestRealDaskRefuses shows what Dask itself refuses, without daskca's
// plugin (configurations written with --no-plugin).
func TestRealDaskRefuses(t *testing.T) {
	c := newDaskCluster(t)
	sched := startSnippetCluster(t, c, "--no-plugin")
	files := filepath.Join(c.home, "certs", "client", "alice")

	t.Run("client certificate from another CA", func(t *testing.T) {
		otherHome, otherPW := newHome(t, "Unrelated CA")
		mustCLI(t, otherHome, "issue", "client", "mallory", "--dns", "localhost", "--password-file", otherPW)
		py := mustCLI(t, otherHome, "config", "mallory", "--format", "python", "--no-plugin")
		// Trust our CA so that only the server's check of the client certificate can fail.
		py = strings.Replace(py, filepath.Join(otherHome, "certs", "client", "mallory", "ca.pem"), filepath.Join(files, "ca.pem"), 1)
		before := sched.CountLines(dasktest.LogTLSHandshakeFailed)
		_, err := dasktest.RunPython(t, py+fmt.Sprintf("distributed.Client(%q, security=security, timeout='10s')\n", c.sched), nil, 60*time.Second)
		if err == nil {
			t.Fatal("a client certificate from another CA was accepted")
		}
		waitForCount(t, sched, dasktest.LogTLSHandshakeFailed, before+1)
	})

	t.Run("client without certificate", func(t *testing.T) {
		before := sched.CountLines(dasktest.LogTLSHandshakeFailed)
		script := fmt.Sprintf(`
import socket, ssl
ctx = ssl.create_default_context(cafile=%q)
ctx.check_hostname = False
with socket.create_connection(("127.0.0.1", %s), timeout=10) as raw:
    with ctx.wrap_socket(raw) as tls:
        tls.recv(1)  # TLS 1.3 reports a refused client certificate on the first read
print("accepted")
`, filepath.Join(files, "ca.pem"), strings.TrimPrefix(c.sched, "tls://127.0.0.1:"))
		out, err := dasktest.RunPython(t, script, nil, 60*time.Second)
		if err == nil || strings.Contains(out, "accepted") {
			t.Fatalf("a client without a certificate was accepted: %s", out)
		}
		waitForCount(t, sched, dasktest.LogTLSHandshakeFailed, before+1)
	})

	t.Run("tcp address under the emitted config", func(t *testing.T) {
		cfgDir := t.TempDir()
		y := mustCLI(t, c.home, "config", "alice", "--format", "yaml", "--scheduler", c.sched, "--no-plugin")
		if err := os.WriteFile(filepath.Join(cfgDir, "tls.yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		script := fmt.Sprintf(`
import distributed
try:
    distributed.Client(%q, timeout="10s")
except Exception as e:
    print("refused:", e)
else:
    print("connected")
`, strings.Replace(c.sched, "tls://", "tcp://", 1))
		out, err := dasktest.RunPython(t, script, []string{"DASK_CONFIG=" + cfgDir}, 60*time.Second)
		if err != nil || !strings.Contains(out, "encryption required by Dask configuration") {
			t.Errorf("tcp:// under the emitted config: %v\n%s", err, out)
		}
	})
}

func waitForCount(t *testing.T, p *dasktest.Proc, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.CountLines(substr) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the scheduler logged %q %d times, want %d\n%s", substr, p.CountLines(substr), n, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shellWords splits the one-line command daskca emits: leading NAME=value
// assignments, then words, with single-quoted parts.
func shellWords(t *testing.T, line string) (env, argv []string) {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range strings.TrimSpace(line) {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == '\\' || r == '"' || r == '$' || r == '`':
			t.Fatalf("unexpected shell syntax %q in %q", r, line)
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		env, words = append(env, words[0]), words[1:]
	}
	return env, words
}

// exportLines reads `export NAME='value'` lines as NAME=value.
func exportLines(t *testing.T, s string) []string {
	t.Helper()
	var env []string
	for _, line := range strings.Split(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			t.Fatalf("unexpected env line %q", line)
		}
		e, _ := shellWords(t, rest)
		env = append(env, e...)
	}
	return env
}
