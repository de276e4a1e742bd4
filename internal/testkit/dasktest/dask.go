package dasktest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// DefaultStartTimeout bounds the wait for a scheduler or worker to come up.
// Both take one to three seconds here; the margin is for loaded CI machines.
const DefaultStartTimeout = 60 * time.Second

// Log markers printed by both Dask generations (2022.12 and 2024.12).
const (
	// LogSchedulerAt precedes the scheduler's listening address.
	LogSchedulerAt = "Scheduler at:"
	// LogWorkerAt precedes a worker's listening address.
	LogWorkerAt = "Start worker at:"
	// LogRegistered is printed by a worker once the scheduler accepted it.
	LogRegistered = "Registered to:"
	// LogRegisterWorker is printed by the scheduler for each worker it
	// accepts, followed by the worker's address in a version-dependent form.
	LogRegisterWorker = "Register worker"
	// LogReceiveClient is printed by the scheduler for each client that
	// connects, followed by the client's id.
	LogReceiveClient = "Receive client connection:"
	// LogTLSHandshakeFailed is in the one warning a listener logs for each
	// connection whose TLS handshake failed.
	LogTLSHandshakeFailed = "TLS handshake failed"
)

// SchedulerOptions says how to start a scheduler. With the zero value the
// scheduler would listen on tls://127.0.0.1 without a certificate, which
// Dask refuses: pass TLS flags or config, or --host tcp://127.0.0.1.
type SchedulerOptions struct {
	// Args are passed to the scheduler as given, before the harness's
	// defaults. Defaults are added only for flags absent here: --host
	// tls://127.0.0.1 (unless --host or --interface is given), --port 0
	// (unless --port is given or --host names a port, so Dask never takes
	// the fixed 8786) and --dashboard-address 127.0.0.1:0.
	Args []string
	// Env is added to the base environment (later entries win), e.g.
	// DASK_CONFIG=<dir> or DASK_DISTRIBUTED__COMM__TLS__CA_FILE=<path>.
	Env []string
	// StartTimeout bounds the wait for "Scheduler at:"; zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
}

// WorkerOptions says how to start a worker.
type WorkerOptions struct {
	// Args are passed to the worker after the scheduler address, before the
	// harness's defaults: --host 127.0.0.1 (unless --host, --listen-address
	// or --interface is given), --dashboard-address 127.0.0.1:0 and
	// --nthreads 1, each only when absent here. Pass --no-nanny to run the
	// worker in one process.
	Args []string
	// Env is added to the base environment, as for the scheduler.
	Env []string
	// WaitFor is the log line that means the worker is up; empty means
	// LogRegistered. A worker that is expected to be rejected can wait for
	// LogWorkerAt instead.
	WaitFor string
	// StartTimeout bounds that wait; zero means DefaultStartTimeout.
	StartTimeout time.Duration
}

// StartScheduler starts a scheduler on the host's Dask; see
// Runtime.StartScheduler.
func StartScheduler(t testing.TB, opts SchedulerOptions) *Proc {
	t.Helper()
	return Host(t).StartScheduler(t, opts)
}

// StartWorker starts a worker on the host's Dask; see Runtime.StartWorker.
func StartWorker(t testing.TB, schedAddr string, opts WorkerOptions) *Proc {
	t.Helper()
	return Host(t).StartWorker(t, schedAddr, opts)
}

// StartScheduler runs `python3 -m distributed.cli.dask_scheduler` in rt and
// waits until it announces its address, which it stores in Proc.Addr. It
// fails the test (printing the log) when the scheduler exits or stays
// silent past the start timeout.
func (rt Runtime) StartScheduler(t testing.TB, opts SchedulerOptions) *Proc {
	t.Helper()
	args := append([]string{"-m", "distributed.cli.dask_scheduler"}, opts.Args...)
	if !hasFlag(opts.Args, "--host", "--interface") {
		args = append(args, "--host", "tls://127.0.0.1")
	}
	if !hasFlag(opts.Args, "--port") && !hostHasPort(flagValue(opts.Args, "--host")) {
		args = append(args, "--port", "0")
	}
	if !hasFlag(opts.Args, "--dashboard-address") {
		args = append(args, "--dashboard-address", "127.0.0.1:0")
	}
	p := rt.Start(t, "scheduler", opts.Env, args...)
	line := WaitForLogLine(t, p, LogSchedulerAt, orDefault(opts.StartTimeout))
	p.Addr = addressAfter(line, LogSchedulerAt)
	if p.Addr == "" {
		t.Fatalf("dasktest: no address in scheduler line %q", line)
	}
	return p
}

// StartWorker runs `python3 -m distributed.cli.dask_worker schedAddr` in rt
// and waits for opts.WaitFor (by default until the scheduler has accepted
// it). Proc.Addr is the worker's own address from "Start worker at:". An
// empty schedAddr is left out, for workers that find their scheduler
// through config or --scheduler-file.
func (rt Runtime) StartWorker(t testing.TB, schedAddr string, opts WorkerOptions) *Proc {
	t.Helper()
	args := []string{"-m", "distributed.cli.dask_worker"}
	if schedAddr != "" {
		args = append(args, schedAddr)
	}
	args = append(args, opts.Args...)
	if !hasFlag(opts.Args, "--host", "--listen-address", "--interface") {
		args = append(args, "--host", "127.0.0.1")
	}
	if !hasFlag(opts.Args, "--dashboard-address") {
		args = append(args, "--dashboard-address", "127.0.0.1:0")
	}
	if !hasFlag(opts.Args, "--nthreads") {
		args = append(args, "--nthreads", "1")
	}
	p := rt.Start(t, "worker", opts.Env, args...)
	wait := opts.WaitFor
	if wait == "" {
		wait = LogRegistered
	}
	WaitForLogLine(t, p, wait, orDefault(opts.StartTimeout))
	if line, ok := findLine(p.Log(), LogWorkerAt); ok {
		p.Addr = addressAfter(line, LogWorkerAt)
	}
	return p
}

// hasFlag reports whether args hold any of the flags, as "--flag value" or
// "--flag=value".
func hasFlag(args []string, flags ...string) bool {
	for _, a := range args {
		for _, f := range flags {
			if a == f || strings.HasPrefix(a, f+"=") {
				return true
			}
		}
	}
	return false
}

// flagValue returns the value of the last occurrence of flag in args, or "".
func flagValue(args []string, flag string) string {
	v := ""
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			v = args[i+1]
		} else if after, ok := strings.CutPrefix(a, flag+"="); ok {
			v = after
		}
	}
	return v
}

// hostHasPort reports whether a Dask --host value such as tls://h:8786,
// [::1]:0 or h names a port.
func hostHasPort(host string) bool {
	if _, rest, ok := strings.Cut(host, "://"); ok {
		host = rest
	}
	_, _, err := net.SplitHostPort(host)
	return err == nil
}

// addressAfter returns the first word after marker in a log line, without
// the quotes some Dask lines put around addresses, or "" when there is none.
func addressAfter(line, marker string) string {
	_, rest, ok := strings.Cut(line, marker)
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	return strings.Trim(fields[0], `'"`)
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultStartTimeout
	}
	return d
}
