package dasktest

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/daskca/daskca/internal/testkit/fataltest"
	"github.com/daskca/daskca/internal/testkit/testtier"
)

func TestWaitFor(t *testing.T) {
	rt := Host(t)
	t.Run("line then exit", func(t *testing.T) {
		p := rt.Start(t, "echo", nil, "-c", "print('hello from python')")
		line, err := p.WaitFor("hello", time.Minute)
		if err != nil || line != "hello from python" {
			t.Fatalf("WaitFor = %q, %v", line, err)
		}
		if _, err := p.WaitFor("never printed", time.Minute); !errors.Is(err, ErrExited) {
			t.Fatalf("WaitFor after exit = %v, want ErrExited", err)
		}
	})
	t.Run("silence", func(t *testing.T) {
		p := rt.Start(t, "sleeper", nil, "-c", "import time; print('up', flush=True); time.sleep(600)")
		WaitForLogLine(t, p, "up", time.Minute)
		if _, err := p.WaitFor("never printed", 100*time.Millisecond); !errors.Is(err, ErrTimeout) {
			t.Fatalf("WaitFor = %v, want ErrTimeout", err)
		}
		if n := p.CountLines("up"); n != 1 {
			t.Errorf("CountLines = %d, want 1", n)
		}
	})
}

// stubbornChild starts a child that ignores SIGTERM, then waits to be
// terminated; only the group-wide SIGKILL after the leader's exit ends it.
const stubbornChild = `
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('child up', flush=True); time.sleep(600)"])
time.sleep(600)
`

func TestStopKillsTheGroup(t *testing.T) {
	rt := Host(t)
	p := rt.Start(t, "parent", nil, "-c", stubbornChild)
	WaitForLogLine(t, p, "child up", time.Minute)
	if n := len(groupPids(p.Pid())); n != 2 {
		t.Fatalf("%d live processes in the group, want parent and child", n)
	}
	p.Stop()
	if pids := groupPids(p.Pid()); len(pids) != 0 {
		t.Fatalf("processes %v of the group survived Stop", pids)
	}
	p.Stop() // a second Stop is harmless
	if p.Err() == nil {
		t.Error("a terminated process reports success")
	}
}

func TestCleanEnvironment(t *testing.T) {
	t.Setenv("DASK_DISTRIBUTED__COMM__DEFAULT_SCHEME", "tls")
	const script = `import json, os; print(json.dumps(dict(os.environ)))`
	out, err := RunPython(t, script, []string{"DASKTEST_X=1", "LANG=C"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	for k := range env {
		if strings.HasPrefix(k, "DASK_") {
			t.Errorf("%s leaked into the process environment", k)
		}
	}
	if env["DASKTEST_X"] != "1" || env["LANG"] != "C" {
		t.Errorf("given variables missing or not overriding: DASKTEST_X=%q LANG=%q", env["DASKTEST_X"], env["LANG"])
	}
	if env["HOME"] == "" || env["HOME"] != env["TMPDIR"] {
		t.Errorf("HOME=%q TMPDIR=%q, want one fresh directory", env["HOME"], env["TMPDIR"])
	}
}

func TestRunPythonFailures(t *testing.T) {
	tests := []struct {
		name, script string
		timeout      time.Duration
		want         error
		stderr       string
	}{
		{"exception", "raise SystemExit('boom')", time.Minute, nil, "boom"},
		{"timeout", "import time; time.sleep(600)", 500 * time.Millisecond, ErrTimeout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunPython(t, tt.script, nil, tt.timeout)
			var perr *PythonError
			if !errors.As(err, &perr) {
				t.Fatalf("err = %v, want a *PythonError", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(perr.Stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", perr.Stderr, tt.stderr)
			}
		})
	}
}

func TestTrixieAbsent(t *testing.T) {
	// Trixie skips under -short before it looks, and Runtimes needs the
	// host's Dask.
	testtier.Full(t, "real Dask")
	t.Setenv(EnvTrixieDir, t.TempDir())
	t.Run("optional", func(t *testing.T) {
		t.Setenv(EnvRequireTrixie, "")
		if _, ok := Trixie(t); ok {
			t.Fatal("an empty directory counted as a trixie chroot")
		}
		if n := len(Runtimes(t)); n != 1 {
			t.Fatalf("%d runtimes, want the host only", n)
		}
	})
	t.Run("required", func(t *testing.T) {
		t.Setenv(EnvRequireTrixie, "1")
		msg := fataltest.Must(t, func(tb testing.TB) { Trixie(tb) })
		if !strings.Contains(msg, "scripts/dask-trixie") {
			t.Errorf("failure %q does not say how to build the chroot", msg)
		}
	})
}

func TestParseProcAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"0100007F:1F90", "127.0.0.1:8080", true},
		{"00000000:22B2", "0.0.0.0:8882", true},
		{"00000000000000000000000001000000:0050", "[::1]:80", true},
		{"0000000000000000FFFF00000100007F:0050", "127.0.0.1:80", true},
		{"0100007F", "", false},
		{"zz00007F:0050", "", false},
		{"0100007F:10000", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseProcAddr(tt.in)
			if (err == nil) != tt.ok || (tt.ok && got.String() != tt.want) {
				t.Errorf("parseProcAddr = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func FuzzParseProcAddr(f *testing.F) {
	f.Add("0100007F:1F90")
	f.Add("00000000000000000000000001000000:0050")
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := parseProcAddr(s)
		if err != nil {
			return
		}
		if !ap.Addr().IsValid() {
			t.Fatalf("parseProcAddr(%q) = %v without error", s, ap)
		}
		if _, err := netip.ParseAddrPort(ap.String()); err != nil {
			t.Fatalf("parseProcAddr(%q) = %v, which does not round-trip: %v", s, ap, err)
		}
	})
}
