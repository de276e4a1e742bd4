package daskrun

import (
	"errors"
	"strings"
	"testing"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// wantPreflight checks that err is a *PreflightError of check about value,
// wrapping want when want is set.
func wantPreflight(t *testing.T, err error, check Check, value string, want error) {
	t.Helper()
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want a *PreflightError", err, err)
	}
	if pe.Check != check || pe.Value != value {
		t.Errorf("check %v value %q, want %v %q (%v)", pe.Check, pe.Value, check, value, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("err = %v, want it to wrap %v", err, want)
	}
}

// TestSchedulerListen checks how the listen address becomes dask
// scheduler's flags: --host/--port, --protocol alone for every interface,
// tls:// only.
func TestSchedulerListen(t *testing.T) {
	t.Parallel()
	cfg := daskconfig.Config{DefaultScheme: "tls"}
	tests := []struct {
		listen, want string
		notTLS, bad  bool
	}{
		{listen: "", want: "--protocol tls --port 8786"},
		{listen: "tls://:9000", want: "--protocol tls --port 9000"},
		{listen: "tls://127.0.0.1:0", want: "--host tls://127.0.0.1 --port 0"},
		{listen: "tls://[::1]:9000", want: "--host tls://[::1] --port 9000"},
		{listen: "10.0.0.5:8786", want: "--host tls://10.0.0.5 --port 8786"},
		{listen: "tcp://127.0.0.1:0", notTLS: true},
		{listen: "tls://127.0.0.1:port", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			got, err := schedulerListen(cfg, tt.listen)
			switch {
			case tt.notTLS:
				wantPreflight(t, err, CheckListen, tt.listen, ErrNotTLS)
			case tt.bad:
				wantPreflight(t, err, CheckListen, tt.listen, nil)
				if errors.Is(err, ErrNotTLS) {
					t.Errorf("a malformed address is reported as not tls://: %v", err)
				}
			case err != nil || strings.Join(got, " ") != tt.want:
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestWorkerFlags checks dask worker's flags: the scheduler (tls:// only),
// the name, the threads, and the listen address as --host and
// --worker-port (never --listen-address, with which port 0 would be
// announced as the worker's contact port).
func TestWorkerFlags(t *testing.T) {
	t.Parallel()
	cfg := daskconfig.Config{DefaultScheme: "tls"}
	tests := []struct {
		name                 string
		sched, listen, wname string
		nthreads             int
		want                 string
		check                Check
		value                string
		notTLS               bool
	}{
		{name: "scheduler only", sched: "tls://s:8786", want: "tls://s:8786"},
		{name: "default scheme", sched: "s:8786", want: "tls://s:8786"},
		{name: "name and threads", sched: "tls://s:8786", wname: "w", nthreads: 4, want: "tls://s:8786 --name w --nthreads 4"},
		{name: "zero threads is Dask's default", sched: "tls://s:8786", nthreads: 0, want: "tls://s:8786"},
		{name: "listen port 0", sched: "tls://s:8786", listen: "tls://127.0.0.1:0", wname: "w", want: "tls://s:8786 --name w --host 127.0.0.1"},
		{name: "listen IPv6 with port", sched: "tls://s:8786", listen: "tls://[::1]:9001", want: "tls://s:8786 --host [::1] --worker-port 9001"},
		{name: "plaintext scheduler", sched: "tcp://s:8786", check: CheckScheduler, value: "tcp://s:8786", notTLS: true},
		{name: "malformed scheduler", sched: "tls://s:x", check: CheckScheduler, value: "tls://s:x"},
		{name: "plaintext listen", sched: "tls://s:8786", listen: "tcp://0.0.0.0:0", check: CheckListen, value: "tcp://0.0.0.0:0", notTLS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := workerFlags(cfg, tt.sched, tt.listen, tt.wname, tt.nthreads)
			if tt.check != 0 {
				var want error
				if tt.notTLS {
					want = ErrNotTLS
				}
				wantPreflight(t, err, tt.check, tt.value, want)
				return
			}
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestRefusePreloadArgs: --preload, in either form, would replace the
// preload list that loads the plugin; other arguments pass.
func TestRefusePreloadArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		role    identity.Role
		args    []string
		refused string
	}{
		{name: "none", role: identity.Worker},
		{name: "other flags", role: identity.Worker, args: []string{"--memory-limit", "8GB", "--preload-nanny", "m"}},
		{name: "a value that looks like it", role: identity.Scheduler, args: []string{"--dashboard-prefix", "--preloaded"}},
		{name: "--preload", role: identity.Worker, args: []string{"--nthreads", "2", "--preload", "x.py"}, refused: "--preload"},
		{name: "--preload=", role: identity.Scheduler, args: []string{"--preload=x.py"}, refused: "--preload=x.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := refusePreloadArgs(tt.role, tt.args)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantPreflight(t, err, CheckDaskArgs, tt.refused, nil)
			if key := "distributed." + string(tt.role) + ".preload"; !strings.Contains(err.Error(), key) {
				t.Errorf("%q does not name %s", err, key)
			}
		})
	}
}
