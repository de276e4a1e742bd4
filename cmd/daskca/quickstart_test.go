package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/dasktest"
)

func TestSelfCommand(t *testing.T) {
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "cmd", "daskca"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "cmd", "daskca", "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "my bin", "daskca")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	goRun := "/tmp/go-build123456/b001/exe/daskca"
	tests := []struct {
		name, exe, wd, onPath, want string
	}{
		{"go run in the module root", goRun, repo, "", "go run ./cmd/daskca"},
		{"go run elsewhere", goRun, t.TempDir(), "", "go run github.com/daskca/daskca/cmd/daskca"},
		{"go run from the build cache", "/root/.cache/go-build/f5/f5cb4e-d/daskca", repo, "", "go run ./cmd/daskca"},
		{"installed on PATH", bin, repo, bin, "daskca"},
		{"another daskca on PATH", bin, repo, "/usr/local/bin/daskca", "'" + bin + "'"},
		{"not on PATH", bin, repo, "", "'" + bin + "'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := selfCommand(func() (string, error) { return tt.exe, nil }, func() (string, error) { return tt.wd, nil },
				func(string) (string, error) {
					if tt.onPath == "" {
						return "", errors.New("not found")
					}
					return tt.onPath, nil
				})
			if got != tt.want {
				t.Errorf("selfCommand = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestQuickstartCommandsWork runs quickstart the way the README says, with
// go run from the module's root, then runs the commands it prints, as
// printed, and checks that the client computes on the demo cluster.
func TestQuickstartCommandsWork(t *testing.T) {
	dasktest.Python(t) // real Dask is needed: fail, never skip, without it
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo")
	qs := exec.Command("go", "run", "./cmd/daskca", "quickstart", "--home", demo, "--port", freePort(t))
	qs.Dir = root
	out, err := qs.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./cmd/daskca quickstart: %v\n%s", err, out)
	}
	var servers []string
	var compute string
	section := ""
	for line := range strings.Lines(string(out)) {
		switch {
		case strings.HasPrefix(line, "next, start the demo cluster"):
			section = "servers"
		case strings.HasPrefix(line, "then compute on it"):
			section = "compute"
		case strings.HasPrefix(line, "  ") && section == "servers":
			servers = append(servers, strings.TrimSpace(line))
		case strings.HasPrefix(line, "  ") && section == "compute":
			compute = strings.TrimSpace(line)
		}
	}
	if len(servers) != 3 || compute == "" {
		t.Fatalf("quickstart printed %d server commands and compute %q:\n%s", len(servers), compute, out)
	}
	for _, s := range servers {
		if !strings.HasPrefix(s, "go run ./cmd/daskca run ") {
			t.Errorf("a server command does not call daskca the way quickstart was run: %s", s)
		}
	}
	sched := startShell(t, root, "scheduler", servers[0])
	waitRealLine(t, sched, 0, "Scheduler at:")
	for i, s := range servers[1:] {
		waitRealLine(t, startShell(t, root, "worker"+string(rune('1'+i)), s), 0, "Registered to:")
	}
	run := exec.Command("sh", "-c", compute)
	run.Dir = root
	got, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "sum of squares computed on 2 workers: 285") {
		t.Fatalf("%s: %v\n%s\nscheduler:\n%s", compute, err, got, sched.out)
	}
}

// startShell runs a printed command line with sh in dir, in a session of
// its own whose whole process group is stopped when the test ends.
func startShell(t *testing.T, dir, name, line string) *runProc {
	t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = dir
	p := launch(t, name, cmd)
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(runWait):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, p.out)
		}
	})
	return p
}
