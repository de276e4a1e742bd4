package main

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/daskca/daskca/daskplugin"
	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// TestRunPluginPreloads checks how daskca run loads the plugin: the file
// the configuration names is written when missing or outdated (never
// through a symlink), a configuration that names none gets a private copy
// through the preload variable, and the nanny always gets --preload-nanny.
func TestRunPluginPreloads(t *testing.T) {
	dir := t.TempDir()
	named := filepath.Join(dir, "etc", daskplugin.FileName)
	if err := os.Mkdir(filepath.Dir(named), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		role      identity.Role
		pre       daskconfig.Preloads
		setup     func(t *testing.T)
		wantFlags func(tmp string) []string
		wantEnv   func(tmp string) []string
		err       string
	}{
		{name: "scheduler, plugin missing on disk", role: identity.Scheduler,
			pre:       daskconfig.Preloads{Scheduler: []string{named}},
			setup:     func(t *testing.T) { _ = os.Remove(named) },
			wantFlags: func(string) []string { return nil }, wantEnv: func(string) []string { return nil }},
		{name: "scheduler, outdated plugin", role: identity.Scheduler,
			pre:       daskconfig.Preloads{Scheduler: []string{"other.module", named}},
			setup:     func(t *testing.T) { mustWritePlugin(t, named, "# old\n") },
			wantFlags: func(string) []string { return nil }, wantEnv: func(string) []string { return nil }},
		{name: "worker with the plugin configured", role: identity.Worker,
			pre:   daskconfig.Preloads{Worker: []string{named}, Nanny: []string{"m.nanny", named}},
			setup: func(t *testing.T) { _ = os.Remove(named) },
			wantFlags: func(string) []string {
				return []string{"--preload-nanny", "m.nanny", "--preload-nanny", named}
			},
			wantEnv: func(string) []string { return nil }},
		{name: "worker configured without the plugin", role: identity.Worker,
			pre: daskconfig.Preloads{Worker: []string{"m.w"}},
			wantFlags: func(tmp string) []string {
				return []string{"--preload-nanny", filepath.Join(tmp, daskplugin.FileName)}
			},
			wantEnv: func(tmp string) []string {
				return []string{`DASK_DISTRIBUTED__WORKER__PRELOAD=["m.w", "` + filepath.Join(tmp, daskplugin.FileName) + `"]`}
			}},
		{name: "scheduler configured without the plugin", role: identity.Scheduler,
			wantFlags: func(string) []string { return nil },
			wantEnv: func(tmp string) []string {
				return []string{`DASK_DISTRIBUTED__SCHEDULER__PRELOAD=["` + filepath.Join(tmp, daskplugin.FileName) + `"]`}
			}},
		{name: "plugin path is a symlink", role: identity.Scheduler,
			pre: daskconfig.Preloads{Scheduler: []string{named}},
			setup: func(t *testing.T) {
				_ = os.Remove(named)
				if err := os.Symlink(filepath.Join(dir, "elsewhere.py"), named); err != nil {
					t.Fatal(err)
				}
			},
			err: "symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			tmp := t.TempDir()
			flags, env, err := pluginPreloads(daskconfig.Config{Preload: tt.pre}, tt.role, tmp)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(flags, tt.wantFlags(tmp)) || !reflect.DeepEqual(env, tt.wantEnv(tmp)) {
				t.Errorf("flags %q env %q; want %q %q", flags, env, tt.wantFlags(tmp), tt.wantEnv(tmp))
			}
			mustBePlugin := func(p string) {
				if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, daskplugin.Render()) {
					t.Errorf("%s is not the plugin (%v)", p, err)
				}
			}
			if slices.Contains(tt.pre.Scheduler, named) || slices.Contains(tt.pre.Worker, named) {
				mustBePlugin(named)
			}
			if private := filepath.Join(tmp, daskplugin.FileName); strings.Contains(strings.Join(append(flags, env...), " "), private) {
				mustBePlugin(private)
			}
		})
	}
}

func mustWritePlugin(t *testing.T, path, data string) {
	t.Helper()
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunChildEnv: with --config, Dask gets a private DASK_CONFIG holding
// the file and none of the variables of the keys daskca checked; other
// variables pass.
func TestRunChildEnv(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(cfg, []byte("distributed: {comm: {require-encryption: true}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "/elsewhere/ca.pem")
	t.Setenv("DASK_DISTRIBUTED__WORKER__PRELOAD", "[]")
	t.Setenv("DASK_CONFIG", "/elsewhere")
	t.Setenv("DASK_DISTRIBUTED__WORKER__MEMORY__TARGET", "0.5")
	tmp := t.TempDir()
	env, err := childEnv(cfg, tmp)
	if err != nil {
		t.Fatal(err)
	}
	want := "DASK_CONFIG=" + filepath.Join(tmp, "dask-config")
	for _, kv := range env {
		if strings.HasPrefix(kv, "DASK_DISTRIBUTED__COMM__TLS__CA_FILE=") || strings.HasPrefix(kv, "DASK_DISTRIBUTED__WORKER__PRELOAD=") ||
			strings.HasPrefix(kv, "DASK_CONFIG=") && kv != want {
			t.Errorf("child environment keeps %s", kv)
		}
	}
	if !slices.Contains(env, want) || !slices.Contains(env, "DASK_DISTRIBUTED__WORKER__MEMORY__TARGET=0.5") {
		t.Errorf("child environment lacks %s or the unrelated variable: %q", want, env)
	}
	if b, err := os.ReadFile(filepath.Join(tmp, "dask-config", "daskca.yaml")); err != nil || !bytes.Equal(b, mustReadFile(t, cfg)) {
		t.Errorf("DASK_CONFIG does not hold a copy of --config: %v", err)
	}
	if env, _ := childEnv("", t.TempDir()); !slices.Contains(env, "DASK_CONFIG=/elsewhere") {
		t.Error("without --config the environment is not Dask's own")
	}
}

// TestRunListenFlags checks how --listen becomes dask's flags: the
// scheduler's --host/--port (--protocol alone for every interface), the
// worker's --host and --worker-port (never --listen-address, with which
// port 0 would be announced as the worker's contact port).
func TestRunListenFlags(t *testing.T) {
	cfg := daskconfig.Config{DefaultScheme: "tls"}
	for _, tt := range []struct{ listen, want string }{
		{"", "--protocol tls --port 8786"},
		{"tls://:9000", "--protocol tls --port 9000"},
		{"tls://127.0.0.1:0", "--host tls://127.0.0.1 --port 0"},
		{"tls://[::1]:9000", "--host tls://[::1] --port 9000"},
		{"10.0.0.5:8786", "--host tls://10.0.0.5 --port 8786"},
	} {
		got, err := schedulerListen(cfg, tt.listen)
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("scheduler --listen %q = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ listen, want string }{
		{"tls://127.0.0.1:0", "--host 127.0.0.1"},
		{"tls://[::1]:9001", "--host [::1] --worker-port 9001"},
	} {
		got, err := workerFlags(cfg, nil, &runOpts{listen: tt.listen, name: "w"}, "tls://s:8786")
		if want := "tls://s:8786 --name w " + tt.want; err != nil || strings.Join(got, " ") != want {
			t.Errorf("worker --listen %q = %q, %v; want %q", tt.listen, got, err, want)
		}
	}
}

// TestCausedBySignal pins how runDask tells main's signal context from a
// context ended otherwise: the first must not forward the signal a second
// time.
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
