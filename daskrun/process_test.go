package daskrun

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCausedBySignal pins how Wait tells a program's signal context from
// a context ended otherwise: the first must not forward the signal a
// second time.
func TestCausedBySignal(t *testing.T) {
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGUSR1)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	<-sigCtx.Done()
	if !causedBySignal(sigCtx) {
		t.Errorf("a context ended by SIGUSR1 (cause %v) is not seen as ended by a signal", context.Cause(sigCtx))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if causedBySignal(ctx) {
		t.Error("a cancelled context is seen as ended by a signal")
	}
}

// shRun is a Run of sh -c script with a private directory of its own.
func shRun(t *testing.T, script string) *Run {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	return &Run{Python: "/bin/sh", Args: []string{"-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, tmp: tmp}
}

// startReady starts r with its output on a pipe and waits for the line
// the script writes once its traps are set.
func startReady(t *testing.T, r *Run) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	t.Cleanup(func() { pr.Close() })
	if err := r.Start(pw, nil); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(pr).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("the script wrote %q, %v", line, err)
	}
}

// TestWait checks how Dask's end becomes Wait's result (nil for 0, an
// ExitError with the shell's status otherwise) and that Wait forwards to
// the process group: a signal this process gets, and SIGTERM when the
// context is cancelled.
func TestWait(t *testing.T) {
	const trap = "trap 'exit 5' HUP; trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"
	tests := []struct {
		name   string
		script string
		act    func(t *testing.T, cancel context.CancelFunc)
		code   int // 0: nil
	}{
		{name: "exit 0", script: "exit 0"},
		{name: "exit 3", script: "exit 3", code: 3},
		{name: "killed by SIGKILL", script: "kill -KILL $$", code: 128 + 9},
		{name: "context cancelled: SIGTERM to the group", script: trap, code: 7,
			act: func(t *testing.T, cancel context.CancelFunc) { cancel() }},
		{name: "SIGHUP forwarded", script: trap, code: 5,
			act: func(t *testing.T, _ context.CancelFunc) {
				if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := shRun(t, tt.script)
			tmp := r.tmp
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.act != nil {
				startReady(t, r)
				pid := r.proc.cmd.Process.Pid
				if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
					t.Errorf("Dask's process group is %d (%v), want its own, %d", pgid, err, pid)
				}
				tt.act(t, cancel)
			} else if err := r.Start(nil, nil); err != nil {
				t.Fatal(err)
			}
			err := r.Wait(ctx)
			var ee *ExitError
			switch {
			case tt.code == 0 && err != nil:
				t.Errorf("Wait = %v, want nil", err)
			case tt.code != 0 && (!errors.As(err, &ee) || ee.Code != tt.code):
				t.Errorf("Wait = %v, want an ExitError with code %d", err, tt.code)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the private directory is left after Wait: %v", err)
			}
		})
	}
}

// TestStartFails: a Run that cannot start says what, and leaves nothing.
func TestStartFails(t *testing.T) {
	r := shRun(t, "exit 0")
	r.Python = filepath.Join(t.TempDir(), "gone")
	tmp := r.tmp
	if err := r.Start(nil, nil); err == nil {
		t.Fatal("started a missing interpreter")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the private directory is left: %v", err)
	}
	if err := r.Wait(context.Background()); err == nil {
		t.Error("Wait after a failed Start returned nil")
	}
}
