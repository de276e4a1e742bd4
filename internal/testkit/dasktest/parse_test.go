package dasktest

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestAddressAfter(t *testing.T) {
	tests := []struct {
		name, line, marker, want string
	}{
		{"scheduler 2022.12", "2026-11-26 03:14:43,950 - distributed.scheduler - INFO -   Scheduler at:     tls://127.0.0.1:45121",
			LogSchedulerAt, "tls://127.0.0.1:45121"},
		{"worker", "2026-11-26 03:15:58,281 - distributed.worker - INFO -       Start worker at:      tls://127.0.0.1:33799",
			LogWorkerAt, "tls://127.0.0.1:33799"},
		{"nanny quotes", "2026-11-26 03:15:57,995 - distributed.nanny - INFO -         Start Nanny at: 'tls://127.0.0.1:44335'",
			"Start Nanny at:", "tls://127.0.0.1:44335"},
		{"ipv6", "x - INFO -   Scheduler at:  tls://[::1]:8786", LogSchedulerAt, "tls://[::1]:8786"},
		{"no marker", "distributed.scheduler - INFO - State start", LogSchedulerAt, ""},
		{"nothing after", "Scheduler at:   ", LogSchedulerAt, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addressAfter(tt.line, tt.marker); got != tt.want {
				t.Errorf("addressAfter = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzAddressAfter(f *testing.F) {
	f.Add("2026-11-26 - distributed.scheduler - INFO -   Scheduler at:     tls://127.0.0.1:45121", LogSchedulerAt)
	f.Add("Start Nanny at: 'tls://127.0.0.1:1'", "Start Nanny at:")
	f.Add("a\tb 'c", "b")
	f.Fuzz(func(t *testing.T, line, marker string) {
		got := addressAfter(line, marker)
		if got == "" {
			return
		}
		if !strings.Contains(line, marker) || !strings.Contains(line, got) {
			t.Fatalf("addressAfter(%q, %q) = %q, not from the line", line, marker, got)
		}
		if strings.ContainsAny(got, " \t\n") || strings.Trim(got, `'"`) != got {
			t.Fatalf("addressAfter(%q, %q) = %q, not one unquoted word", line, marker, got)
		}
	})
}

func TestFindLine(t *testing.T) {
	tests := []struct {
		name, log, substr, want string
		ok                      bool
	}{
		{"first match", "a\nRegistered to: x\nRegistered to: y\n", LogRegistered, "Registered to: x", true},
		{"incomplete last line", "a\nRegistered to: x", LogRegistered, "", false},
		{"absent", "a\nb\n", LogRegistered, "", false},
		{"empty log", "", "x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := findLine(tt.log, tt.substr)
			if got != tt.want || ok != tt.ok {
				t.Errorf("findLine = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHasFlag(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		flags []string
		want  bool
	}{
		{"separate value", []string{"--host", "tls://h"}, []string{"--host"}, true},
		{"equals value", []string{"--port=0"}, []string{"--port"}, true},
		{"any of several", []string{"--interface", "lo"}, []string{"--host", "--interface"}, true},
		{"prefix is not the flag", []string{"--hostname", "x"}, []string{"--host"}, false},
		{"absent", []string{"--tls-cert", "c"}, []string{"--host"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasFlag(tt.args, tt.flags...); got != tt.want {
				t.Errorf("hasFlag(%q, %q) = %v", tt.args, tt.flags, got)
			}
		})
	}
}

func TestHostHasPort(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--host", "tls://127.0.0.1"}, false},
		{[]string{"--host", "tls://127.0.0.1:0"}, true},
		{[]string{"--host=tcp://[::1]:8786"}, true},
		{[]string{"--host", "[::1]"}, false},
		{[]string{"--host", "localhost:9000"}, true},
		{[]string{"--host", "tls://a:1", "--host", "tls://b"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := hostHasPort(flagValue(tt.args, "--host")); got != tt.want {
				t.Errorf("hostHasPort = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRuntimeInside(t *testing.T) {
	chroot := Runtime{Name: "trixie", Root: "/var/cache/daskca/trixie"}
	tests := []struct {
		name string
		rt   Runtime
		path string
		want string
		ok   bool
	}{
		{"host keeps paths", Runtime{Name: "host"}, "/tmp/x/ca.pem", "/tmp/x/ca.pem", true},
		{"below root", chroot, "/var/cache/daskca/trixie/tmp/dasktest-1/ca.pem", "/tmp/dasktest-1/ca.pem", true},
		{"root itself", chroot, "/var/cache/daskca/trixie/", "/", true},
		{"outside root", chroot, "/tmp/x/ca.pem", "", false},
		{"sibling with the root as prefix", chroot, "/var/cache/daskca/trixie2/ca.pem", "", false},
		{"escape through dot-dot", chroot, "/var/cache/daskca/trixie/../x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.rt.inside(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("inside(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPythonErrorMessage(t *testing.T) {
	exit := exec.Command("/bin/false").Run()
	tests := []struct {
		name, stderr, want string
	}{
		{"last stderr line", "Traceback (most recent call last):\n  ...\nOSError: Timed out during handshake\n",
			"python: exit status 1: OSError: Timed out during handshake"},
		{"no stderr", "", "python: exit status 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := error(&PythonError{Err: exit, Stderr: tt.stderr})
			if err.Error() != tt.want {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.want)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Error("PythonError does not unwrap to its exit error")
			}
		})
	}
}
