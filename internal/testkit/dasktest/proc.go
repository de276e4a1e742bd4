package dasktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before SIGKILL. Dask shuts
// down in well under a second; a nanny waits for its worker a little longer.
const stopGrace = 10 * time.Second

// pollInterval is how often waits re-read the log file.
const pollInterval = 20 * time.Millisecond

// Proc is one running Dask process (scheduler, worker, or anything started
// with Runtime.Start). Its methods are safe for concurrent use.
type Proc struct {
	// Name labels the process in messages, e.g. "scheduler".
	Name string
	// Addr is the address the process announced in its log ("Scheduler
	// at:", "Start worker at:"), or empty when it announces none.
	Addr string
	// LogFile is the host path of the file holding its stdout and stderr.
	LogFile string

	pid      int
	done     chan struct{}
	err      error // set before done is closed
	stopOnce sync.Once
}

// Start runs rt's Python with args in a fresh directory of its own (its
// HOME, TMPDIR and working directory), with the base environment plus env.
// The process is stopped when the test ends, and its log printed if the test
// failed. Most tests want StartScheduler or StartWorker instead.
func (rt Runtime) Start(t testing.TB, name string, env []string, args ...string) *Proc {
	t.Helper()
	home := rt.TempDir(t)
	p := &Proc{Name: name, LogFile: filepath.Join(home, name+".log"), done: make(chan struct{})}
	log, err := os.OpenFile(p.LogFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatalf("dasktest: %v", err)
	}
	defer log.Close()
	cmd := rt.command(context.Background(), rt.Path(t, home), env, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("dasktest: starting %s in %s: %v", name, rt.Name, err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("dasktest: log of %s (%s, %s):\n%s", name, rt.Name, p.LogFile, p.Log())
		}
	})
	return p
}

// Pid returns the process id, which is also its process group id.
func (p *Proc) Pid() int { return p.pid }

// Log returns everything the process has written so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogFile, err)
	}
	return string(b)
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process ended; it blocks until it has.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Stop ends the process and everything it started: SIGTERM to its process
// group, SIGKILL after a grace period, then a SIGKILL for any stragglers
// left in the group. It waits for the process and is safe to call more than
// once.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
		default:
			_ = killGroup(p.pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
			}
		}
		// The group outlives its leader while a child (a nanny's worker) is
		// left; kill those too. Right after the leader's exit its pid
		// cannot have been handed to another group yet.
		_ = killGroup(p.pid, syscall.SIGKILL)
		<-p.done
		// SIGKILL is delivered asynchronously: wait (bounded) until the
		// kernel has taken every member of the group down.
		for deadline := time.Now().Add(stopGrace); len(groupPids(p.pid)) > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// killGroup signals the process group led by pid.
func killGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// WaitFor waits up to timeout for a log line containing substr and returns
// that line. It fails with ErrExited when the process ends first and with
// ErrTimeout when time runs out.
func (p *Proc) WaitFor(substr string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		exited := false
		select {
		case <-p.done:
			exited = true
		default:
		}
		if line, ok := findLine(p.Log(), substr); ok {
			return line, nil
		}
		if exited {
			return "", fmt.Errorf("waiting for %q from %s: %w (%v)", substr, p.Name, ErrExited, p.err)
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return "", fmt.Errorf("waiting %v for %q from %s: %w", timeout, substr, p.Name, ErrTimeout)
		}
	}
}

// WaitForLogLine waits up to timeout for a log line of p containing substr
// and returns it, failing the test when none comes (the log is printed when
// the test that started p ends).
func WaitForLogLine(t testing.TB, p *Proc, substr string, timeout time.Duration) string {
	t.Helper()
	line, err := p.WaitFor(substr, timeout)
	if err != nil {
		t.Fatalf("dasktest: %v", err)
	}
	return line
}

// findLine returns the first complete line of log containing substr. A
// last line still being written is not complete and is ignored.
func findLine(log, substr string) (string, bool) {
	for {
		line, rest, ok := strings.Cut(log, "\n")
		if !ok {
			return "", false
		}
		if strings.Contains(line, substr) {
			return line, true
		}
		log = rest
	}
}

// CountLines returns how many complete log lines of p contain substr.
func (p *Proc) CountLines(substr string) int {
	n := 0
	for line := range strings.Lines(p.Log()) {
		if strings.HasSuffix(line, "\n") && strings.Contains(line, substr) {
			n++
		}
	}
	return n
}
